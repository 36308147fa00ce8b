//! The command both windows may call: showing the recovery key.

use super::IpcError;

/// The recovery key that copies off the machine are encrypted to (made now
/// if there is none), for the person to save somewhere else: shown only
/// when they ask for it.
#[tauri::command]
pub async fn recovery_key() -> Result<gardener_core::copies::key::Shown, IpcError> {
    tauri::async_runtime::spawn_blocking(|| {
        let ctx = gardener_core::context::Context::load(None, gardener_core::Platform::current())?;
        let (key, created) = gardener_core::copies::key::Key::load_or_create(&ctx)?;
        Ok(key.shown(created)?)
    })
    .await
    .map_err(|error| IpcError::internal(format!("reading the key stopped unexpectedly: {error}")))?
}
