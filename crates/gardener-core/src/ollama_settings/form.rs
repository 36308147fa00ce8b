//! Ollama's settings as a form shows them (each with its value, where the
//! value comes from, and what it does; what to do when Gardener does not run
//! Ollama), and writing one with the change it makes to Ollama's service
//! file.

use std::path::Path;

use serde::Serialize;

use super::{Error, Result, Setting, apply::assignments, current, service_change, set};
use crate::Platform;
use crate::context::Context;

/// What the form shows.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Form {
    /// gardener.toml, where `[ollama.env]` is kept.
    pub config_file: String,
    /// Every setting Gardener knows, in a fixed order.
    pub settings: Vec<Setting>,
    /// When Gardener does not run Ollama (`[ollama] external = true`): what
    /// to set where instead. Applying is then refused.
    pub external: Option<String>,
}

/// The form for `ctx`'s config.
///
/// # Errors
/// [`Error::Config`] when gardener.toml cannot be read.
pub fn form(ctx: &Context) -> Result<Form> {
    Ok(Form {
        config_file: ctx.config_file.display().to_string(),
        settings: current(ctx)?,
        external: (!ctx.manages_ollama()).then(|| {
            Error::External {
                names: assignments(&ctx.config.ollama.env),
            }
            .to_string()
        }),
    })
}

/// A setting written.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Written {
    /// The variable, as Ollama spells it.
    pub name: String,
    /// Its new value (`None`: removed, a default applies).
    pub value: Option<String>,
    /// Ollama's service file.
    pub service_file: String,
    /// The lines of the service file that change (`- old`, `+ new`); empty
    /// when none do or when Gardener does not run Ollama.
    pub diff: Vec<String>,
    /// The form after the change.
    pub form: Form,
}

/// Writes `name = value` (removes it with `None` or an empty value) into
/// the `[ollama.env]` of the config at `config` (the default file with
/// `None`), and says what it changes. A value the setting does not take is
/// refused and nothing is written.
///
/// # Errors
/// [`Error::BadValue`], [`Error::Unknown`], [`Error::Derived`],
/// [`Error::Config`].
pub fn write(
    config: Option<&Path>,
    platform: Platform,
    name: &str,
    value: Option<&str>,
) -> Result<Written> {
    let before = Context::load(config, platform)?;
    let name = set(&before.config_file, name, value)?;
    let after = Context::load(config, platform)?;
    let change = service_change(&before, &after)?;
    let diff = if after.manages_ollama() {
        change.diff_lines()
    } else {
        Vec::new()
    };
    Ok(Written {
        name: name.to_owned(),
        value: value.filter(|v| !v.is_empty()).map(str::to_owned),
        service_file: change.path,
        diff,
        form: form(&after)?,
    })
}
