//! Build script: embeds tauri.conf.json and the static page.

fn main() {
    if let Err(error) = tauri_build::try_build(tauri_build::Attributes::new()) {
        eprintln!("tauri build step failed: {error:#}");
        std::process::exit(1);
    }
}
