//! One module per subcommand.

pub mod backup;
pub mod config;
pub mod copies;
pub mod doctor;
pub mod install;
pub mod logs;
pub mod models;
pub mod monitor;
pub mod ollama;
pub mod service;
pub mod status;
pub mod uninstall;

use gardener_core::error::ErrorCode;

use crate::output::CliError;

/// A single-threaded Tokio runtime for the subcommands that probe over HTTP:
/// one thread is plenty for a handful of local requests.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError {
            code: ErrorCode::Runtime,
            message: format!("cannot start the async runtime: {e}"),
            exit: crate::output::FAILED,
        })
}
