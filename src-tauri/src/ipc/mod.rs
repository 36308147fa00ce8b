//! The commands the windows may invoke, one file per subject. A command's
//! file says which window may call it: `setup.rs` the setup window, `both.rs`
//! both windows, every other file the dashboard. These functions are the only
//! list of commands: `make bindings` generates from them each window's handler
//! (`handlers.rs`), the names build.rs declares (`list.rs`), the capability
//! files granting each window exactly its own, and the UI's typed calls
//! (`ui/src/bindings/commands.ts`); `make check-bindings` fails when those are
//! stale. Each command is one call into `gardener-core`; errors reach the page
//! as `{ code, message }`.

pub mod backups;
pub mod both;
pub mod dashboard;
pub mod models;
pub mod ollama;
pub mod settings;
pub mod setup;
pub mod targets;

use std::sync::Arc;

use gardener_core::Platform;
use gardener_core::context::Context;
pub use gardener_core::error::ErrorCode;
use tauri::State;

use crate::dashboard::Dash;

/// The error every command returns to the UI: core's failure, `{ code,
/// message }`. `code` is stable and meant for program logic; `message` is
/// for people, its causes included.
pub type IpcError = gardener_core::error::Failure;

// Each window's invoke handler, and the command names build.rs declares:
// generated from the command functions by `make bindings`.
mod handlers;
#[cfg(test)]
mod list;

pub use handlers::{dashboard_handler, setup_handler};

pub type Shared<'a> = State<'a, Arc<Dash>>;

pub fn error(code: ErrorCode, message: impl Into<String>) -> IpcError {
    IpcError::new(code, message)
}

pub fn context() -> Result<Context, IpcError> {
    Context::load(None, Platform::current()).map_err(IpcError::from)
}

/// Runs blocking core work on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> Result<T, IpcError> + Send + 'static,
) -> Result<T, IpcError> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| IpcError::internal(format!("{what} stopped unexpectedly: {e}")))?
}
