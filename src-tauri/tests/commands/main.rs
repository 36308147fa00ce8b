//! Generates everything that lists the windows' commands from the
//! `#[tauri::command]` functions in `src/ipc/` (`make bindings` runs
//! `export_bindings_commands`; `make check-bindings` fails when the committed
//! files differ): the page's functions (`ui/src/bindings/commands.ts`), the
//! capability files, the names build.rs declares (`src/ipc/list.rs`) and the
//! invoke handlers (`src/ipc/handlers.rs`). A command's file says which window
//! may call it: `setup.rs` the setup window, `both.rs` both, any other the
//! dashboard.

mod render;
mod resolve;
mod signature;

use std::path::{Path, PathBuf};

use resolve::Workspace;
use signature::Command;

/// Who may call the commands of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    Setup,
    Dashboard,
    Both,
}

impl Window {
    fn of(file: &str) -> Self {
        match file {
            "setup" => Self::Setup,
            "both" => Self::Both,
            _ => Self::Dashboard,
        }
    }

    /// Whether a command of this kind is granted to window `w` (`Setup` or `Dashboard`).
    pub fn serves(self, w: Window) -> bool {
        self == w || self == Window::Both
    }

    pub fn heading(self, file: &str) -> String {
        let who = match self {
            Self::Setup => "the setup window",
            Self::Both => "both windows",
            Self::Dashboard => "the dashboard",
        };
        format!("ipc/{file}.rs, for {who}")
    }
}

/// A command and the file it is in.
#[derive(Debug)]
pub struct Found {
    /// The file's name without `.rs` (its module under `ipc`).
    pub file: String,
    pub window: Window,
    pub command: Command,
}

struct Paths {
    manifest: PathBuf,
    bindings: PathBuf,
}

impl Paths {
    fn new() -> Self {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        // Where ts-rs writes the types, as `make bindings` sets it.
        let bindings = std::env::var_os("TS_RS_EXPORT_DIR")
            .map_or_else(|| manifest.join("../ui/src/bindings"), PathBuf::from);
        Self { manifest, bindings }
    }
}

/// The type `path`'s TypeScript name, seen from module `ipc::<file>`,
/// refused when ts-rs has not written a binding for it.
fn binding(
    ws: &Workspace,
    bindings: &Path,
    file: &str,
    path: &syn::Path,
) -> Result<String, String> {
    let module = match file {
        "mod" => ws.module(&["ipc"]),
        file => ws.module(&["ipc", file]),
    };
    let rust: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let rust = rust.join("::");
    let name = ws.ts_name(&module, path).map_err(|e| {
        format!(
            "`{rust}`: {e} (a type the page sends or receives must be defined in this \
             workspace, with a ts-rs export)"
        )
    })?;
    let written = bindings.join(format!("{name}.ts"));
    if !written.exists() {
        return Err(format!(
            "`{rust}` has no TypeScript binding ({} does not exist): give it \
             #[cfg_attr(feature = \"ts\", derive(ts_rs::TS), ts(export))]",
            written.display()
        ));
    }
    Ok(name)
}

/// Every command in `src/ipc/`: the setup window's first, then the
/// dashboard's by file, then both windows'; in each file in source order.
fn discover(paths: &Paths) -> Result<Vec<Found>, String> {
    let dir = paths.manifest.join("src/ipc");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            Some(name.strip_suffix(".rs")?.to_owned())
        })
        .collect();
    files.sort_by_key(|f| (Window::of(f) as u8, f.clone()));
    let ws = Workspace::new(&paths.manifest);
    let mut found: Vec<Found> = Vec::new();
    for file in files {
        let path = dir.join(format!("{file}.rs"));
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let parsed =
            syn::parse_file(&text).map_err(|e| format!("cannot parse {}: {e}", path.display()))?;
        for item in parsed.items {
            let syn::Item::Fn(function) = item else {
                continue;
            };
            let Some(attr) = function.attrs.iter().find(|a| is_command(a)) else {
                continue;
            };
            // `rename_all` would change the argument keys the page sends.
            if !matches!(&attr.meta, syn::Meta::Path(_))
                && !attr.parse_args::<syn::Ident>().is_ok_and(|a| a == "async")
            {
                return Err(format!(
                    "{}: `{}`: the generated calls support #[tauri::command] and \
                     #[tauri::command(async)] only",
                    path.display(),
                    function.sig.ident
                ));
            }
            let mut named = |p: &syn::Path| binding(&ws, &paths.bindings, &file, p);
            let command = signature::read(&function, &mut named)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if let Some(other) = found.iter().find(|f| f.command.name == command.name) {
                return Err(format!(
                    "command `{}` is in both ipc/{}.rs and ipc/{file}.rs",
                    command.name, other.file
                ));
            }
            found.push(Found {
                window: Window::of(&file),
                file: file.clone(),
                command,
            });
        }
    }
    Ok(found)
}

/// `#[tauri::command]` (or `#[command]`, imported).
fn is_command(attr: &syn::Attribute) -> bool {
    let path = attr.path();
    path.is_ident("command")
        || (path.segments.len() == 2
            && path.segments.first().is_some_and(|s| s.ident == "tauri")
            && path.segments.last().is_some_and(|s| s.ident == "command"))
}

/// Each generated file and its text.
fn generate(paths: &Paths) -> Result<Vec<(PathBuf, String)>, String> {
    let found = discover(paths)?;
    let capabilities = paths.manifest.join("capabilities");
    let mut files = vec![
        (
            paths.bindings.join("commands.ts"),
            render::typescript(&found),
        ),
        (
            paths.manifest.join("src/ipc/list.rs"),
            render::list(&found)?,
        ),
        (
            paths.manifest.join("src/ipc/handlers.rs"),
            render::handlers(&found)?,
        ),
    ];
    for (name, window) in [("setup", Window::Setup), ("dashboard", Window::Dashboard)] {
        let path = capabilities.join(format!("{name}.json"));
        let existing = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let text = render::capability(&existing, &found, window)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        files.push((path, text));
    }
    Ok(files)
}

/// Writes the files, leaving alone those already up to date (so that Cargo
/// does not rebuild for nothing).
#[cfg(feature = "ts")]
#[test]
fn export_bindings_commands() {
    let files = generate(&Paths::new()).unwrap_or_else(|e| panic!("{e}"));
    for (path, text) in files {
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        }
    }
}

#[cfg(test)]
mod tests;
