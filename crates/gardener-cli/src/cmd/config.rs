//! `gardener config path|show|validate`.

use std::process::ExitCode;

use gardener_core::Platform;
use gardener_core::context::Context;

use crate::Globals;
use crate::output::{self, CliError};

/// The config subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// Print where the config file is (it may not exist yet).
    Path,
    /// Print the effective configuration, defaults included.
    Show,
    /// Check the config file; errors name the line and key.
    Validate,
}

/// Runs the subcommand.
pub fn run(g: &Globals, args: &Args) -> Result<ExitCode, CliError> {
    let ctx = Context::load(g.config.as_deref(), Platform::current())?;
    match args {
        Args::Path => {
            if g.json {
                output::print_json(
                    &serde_json::json!({ "path": ctx.config_file, "exists": ctx.config_exists }),
                );
            } else {
                println!("{}", ctx.config_file.display());
                if !ctx.config_exists {
                    eprintln!(
                        "(does not exist yet: defaults apply; `gardener install` writes a commented one)"
                    );
                }
            }
        }
        Args::Show => {
            if g.json {
                output::print_json(&ctx.config);
            } else {
                print!("{}", ctx.config.to_toml());
            }
        }
        Args::Validate => {
            // Loading already validated it; reaching here means it is valid.
            if g.json {
                output::print_json(
                    &serde_json::json!({ "path": ctx.config_file, "exists": ctx.config_exists, "valid": true }),
                );
            } else if ctx.config_exists {
                println!("✓ {} is valid", ctx.config_file.display());
            } else {
                println!(
                    "✓ no config file at {}: defaults apply",
                    ctx.config_file.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
