//! `gardener ollama settings|set|apply`: the Ollama settings Gardener knows
//! (kept in gardener.toml's `[ollama.env]`, so they survive restarts and
//! upgrades), changing one, and restarting Ollama with them.

use std::process::ExitCode;

use gardener_core::Platform;
use gardener_core::context::Context;
use gardener_core::install::Progress;
use gardener_core::ollama_settings::{self as settings, Applied, Source};

use crate::Globals;
use crate::output::{self, CliError};

/// The ollama subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// Each setting Gardener knows: its value (or "default") and what it does.
    Settings,
    /// Write a setting into gardener.toml's [ollama.env] and show what it
    /// changes in Ollama's service file.
    Set {
        /// The variable, as Ollama names it (`OLLAMA_NUM_PARALLEL`).
        name: String,
        /// Its new value (empty: remove it, as --unset does).
        #[arg(
            required_unless_present = "unset",
            conflicts_with = "unset",
            allow_hyphen_values = true
        )]
        value: Option<String>,
        /// Remove the setting from gardener.toml (Gardener's or Ollama's default applies).
        #[arg(long)]
        unset: bool,
        /// Then restart Ollama with it and confirm its process has it.
        #[arg(long)]
        apply: bool,
    },
    /// Install Ollama's service file from gardener.toml, restart Ollama and
    /// confirm its process runs with the settings.
    Apply,
}

fn err(e: settings::Error) -> CliError {
    CliError::domain(e.code(), e.is_usage(), e.to_string())
}

fn load(g: &Globals) -> Result<Context, CliError> {
    Ok(Context::load(g.config.as_deref(), Platform::current())?)
}

/// Runs the subcommand.
pub fn run(g: &Globals, args: &Args) -> Result<ExitCode, CliError> {
    match args {
        Args::Settings => show(g),
        Args::Set {
            name,
            value,
            unset,
            apply,
        } => {
            let value = if *unset { None } else { value.as_deref() };
            set(g, name, value, *apply)
        }
        Args::Apply => {
            let applied = apply(g, &load(g)?)?;
            if g.json {
                output::print_json(&applied);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn show(g: &Globals) -> Result<ExitCode, CliError> {
    let ctx = load(g)?;
    let all = settings::current(&ctx).map_err(err)?;
    if g.json {
        output::print_json(&serde_json::json!({ "config_file": ctx.config_file, "settings": all }));
        return Ok(ExitCode::SUCCESS);
    }
    let width = all.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in &all {
        let value = match (&s.value, s.source) {
            (Some(v), Source::Gardener) => format!("{v} (Gardener's default)"),
            (Some(v), _) => v.clone(),
            (None, _) => "default".to_owned(),
        };
        println!("{:<width$}  {value}", s.name);
        println!("{:<width$}  {}", "", s.about);
    }
    println!(
        "\nChange one with `gardener ollama set NAME VALUE`; they are kept in [ollama.env] of {}",
        ctx.config_file.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn set(
    g: &Globals,
    name: &str,
    value: Option<&str>,
    and_apply: bool,
) -> Result<ExitCode, CliError> {
    let written =
        settings::write(g.config.as_deref(), Platform::current(), name, value).map_err(err)?;
    let (name, config_file) = (&written.name, &written.form.config_file);
    let manages_ollama = written.form.external.is_none();
    if !g.json {
        match &written.value {
            Some(v) => println!("✓ {name} = {v:?} written to {config_file}"),
            None => println!("✓ {name} removed from {config_file}"),
        }
        if !manages_ollama {
            println!("  Gardener does not run Ollama here (`[ollama] external = true`).");
        } else if written.diff.is_empty() {
            println!("  Ollama's service file does not change.");
        } else {
            println!("  Ollama's service file {} changes:", written.service_file);
            for line in &written.diff {
                println!("    {line}");
            }
        }
    }
    let applied = if and_apply {
        Some(apply(g, &load(g)?)?)
    } else {
        if !g.json && manages_ollama {
            println!("  Run `gardener ollama apply` to restart Ollama with it.");
        }
        None
    };
    if g.json {
        output::print_json(&serde_json::json!({
            "name": name,
            "value": written.value,
            "config_file": config_file,
            "service_file": written.service_file,
            "diff": written.diff,
            "applied": applied,
        }));
    }
    Ok(ExitCode::SUCCESS)
}

fn apply(g: &Globals, ctx: &Context) -> Result<Applied, CliError> {
    let show = !g.json;
    let mut progress = |p: Progress| {
        if show {
            match p {
                Progress::Started { description, .. } => eprintln!("  … {description}"),
                Progress::Finished { result, .. } => eprintln!("    {result}"),
            }
        }
    };
    let manager = ctx.manager();
    let applied = settings::apply(ctx, manager.as_ref(), &mut progress).map_err(err)?;
    if show {
        match applied.latency_ms.filter(|_| applied.restarted) {
            Some(ms) => println!(
                "✓ Ollama restarted and answered in {ms} ms; its process (pid {}) runs with:",
                applied.pid
            ),
            None => println!(
                "✓ Ollama already runs with these settings, so it was not restarted (its loaded models stay); its process (pid {}) runs with:",
                applied.pid
            ),
        }
        for (name, value) in &applied.running {
            println!("    {name}={}", value.as_deref().unwrap_or("(default)"));
        }
    }
    Ok(applied)
}
