//! Build script: lets Tauri embed tauri.conf.json, the capabilities and the
//! front end (ui/dist) into the binary, and checks the capability files.

/// Each window's command names, generated from the command functions.
mod commands {
    include!("src/ipc/list.rs");
}

fn main() {
    println!("cargo::rerun-if-changed=src/ipc/list.rs");
    // Declaring the app's commands makes them deny-by-default: a window can
    // invoke one only if a capability grants its generated `allow-…` permission.
    let mut names: Vec<&'static str> = commands::SETUP
        .iter()
        .chain(commands::DASHBOARD)
        .copied()
        .collect();
    names.sort_unstable();
    names.dedup();
    let manifest = tauri_build::AppManifest::new().commands(names.leak());
    let attributes = tauri_build::Attributes::new().app_manifest(manifest);
    if let Err(error) = tauri_build::try_build(attributes) {
        eprintln!("tauri build step failed: {error:#}");
        std::process::exit(1);
    }
}
