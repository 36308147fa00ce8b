//! Build script: lets Tauri embed tauri.conf.json, the capabilities and the
//! front end (ui/dist) into the binary, and checks the capability files.

fn main() {
    // Declaring the app's commands makes them deny-by-default: a window can
    // invoke one only if a capability grants its generated `allow-…` permission.
    let manifest = tauri_build::AppManifest::new().commands(&[
        // The setup window's.
        "setup_plan",
        "setup_apply",
        // Both windows': the recovery key, to be saved elsewhere.
        "recovery_key",
        // The dashboard's.
        "dashboard_subscribe",
        "service_control",
        "models_unload",
        "log_open",
        "log_poll",
        "backups_list",
        "backup_create",
        "backup_verify",
        "backup_cancel",
        "restore_preview",
        "restore_apply",
        "alerts_pause",
        "settings_load",
        "settings_check",
        "settings_save",
        "settings_set_interval",
        "autostart_set",
        "setup_open",
        "dashboard_painted",
        "targets_list",
        "target_test",
        "target_add",
        "target_remove",
        "backup_copy",
        "copy_verify",
        "copy_fetch",
    ]);
    let attributes = tauri_build::Attributes::new().app_manifest(manifest);
    if let Err(error) = tauri_build::try_build(attributes) {
        eprintln!("tauri build step failed: {error:#}");
        std::process::exit(1);
    }
}
