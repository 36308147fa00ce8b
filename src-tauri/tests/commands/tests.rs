//! The generator's type mapping and outputs, on made-up commands and on the
//! app's real modules (for resolving names the way the command files do).

use super::*;

fn command(source: &str) -> Result<Command, String> {
    let item: syn::ItemFn = syn::parse_str(source).expect("a function");
    signature::read(&item, &mut |p: &syn::Path| {
        Err(format!("unexpected named type {:?}", p.get_ident()))
    })
}

/// Reads `source` as a command in `src/ipc/<file>.rs`, with the real bindings.
fn command_in(file: &str, source: &str) -> Result<Command, String> {
    let paths = Paths::new();
    let ws = Workspace::new(&paths.manifest);
    let item: syn::ItemFn = syn::parse_str(source).expect("a function");
    signature::read(&item, &mut |p: &syn::Path| {
        binding(&ws, &paths.bindings, file, p)
    })
}

fn types(c: &Command) -> Vec<(&str, &str, bool)> {
    c.params
        .iter()
        .map(|p| (p.key.as_str(), p.ts.as_str(), p.channel))
        .collect()
}

#[test]
fn maps_primitives_options_and_vectors() {
    let c = command(
        "fn f(a: String, b: bool, c: u64, at_ms: f64, e: usize, f: Option<String>, \
         g: Vec<Option<bool>>, h: Option<Vec<i32>>) -> Result<Vec<String>, IpcError> {}",
    )
    .unwrap();
    assert_eq!(
        types(&c),
        [
            ("a", "string", false),
            ("b", "boolean", false),
            ("c", "number", false),
            ("atMs", "number", false),
            ("e", "number", false),
            ("f", "string | null", false),
            ("g", "(boolean | null)[]", false),
            ("h", "number[] | null", false),
        ]
    );
    assert_eq!(c.returns, "string[]");
}

#[test]
fn unit_no_return_and_plain_return() {
    assert_eq!(
        command("fn f() -> Result<(), IpcError> {}")
            .unwrap()
            .returns,
        "null"
    );
    assert_eq!(command("fn f() {}").unwrap().returns, "null");
    assert_eq!(command("fn f() -> bool {}").unwrap().returns, "boolean");
    assert_eq!(
        command("fn f() -> Option<u64> {}").unwrap().returns,
        "number | null"
    );
}

#[test]
fn skips_what_tauri_injects() {
    let c = command(
        "async fn f<R: Runtime>(app: AppHandle<R>, window: WebviewWindow<R>, w: tauri::Window<R>, \
         s: State<'_, Arc<Dash>>, dash: Shared<'_>, id: String) -> bool {}",
    )
    .unwrap();
    assert_eq!(types(&c), [("id", "string", false)]);
}

#[test]
fn a_channel_becomes_a_callback() {
    let c = command_in(
        "setup",
        "fn setup_apply(use_running_ollama: bool, on_progress: Channel<Progress>) \
         -> Result<SetUpReport, IpcError> {}",
    )
    .unwrap();
    // setup.rs's `Progress` is gardener_core::install::Progress, which ts-rs
    // exports as `InstallProgress`.
    assert_eq!(
        types(&c),
        [
            ("useRunningOllama", "boolean", false),
            ("onProgress", "InstallProgress", true)
        ]
    );
    let found = [Found {
        file: "setup".to_owned(),
        window: Window::Setup,
        command: c,
    }];
    let ts = render::typescript(&found);
    assert!(
        ts.contains("import { Channel } from \"@tauri-apps/api/core\";"),
        "{ts}"
    );
    assert!(ts.contains("import type { InstallProgress } from \"./InstallProgress\";"));
    assert!(ts.contains("import type { SetUpReport } from \"./SetUpReport\";"));
    assert!(ts.contains(
        "export function setupApply(useRunningOllama: boolean, onProgress: (message: InstallProgress) => void): Promise<Result<SetUpReport>> {\n  \
         return call<SetUpReport>(\"setup_apply\", { useRunningOllama, onProgress: channel(onProgress) });\n}"
    ), "{ts}");
}

#[test]
fn names_resolve_through_imports_and_renames() {
    let ts =
        |file: &str, ty: &str| command_in(file, &format!("fn f() -> {ty} {{}}")).map(|c| c.returns);
    assert_eq!(ts("backups", "Progress").unwrap(), "Progress");
    assert_eq!(ts("setup", "Progress").unwrap(), "InstallProgress");
    assert_eq!(
        ts("both", "gardener_core::copies::key::Shown").unwrap(),
        "RecoveryKey"
    );
    assert_eq!(ts("dashboard", "Vec<LogStream>").unwrap(), "LogStream[]");
    assert_eq!(ts("mod", "IpcError").unwrap(), "IpcError");
}

#[test]
fn a_type_without_a_binding_is_refused() {
    // gardener_core::install::Context, imported in ipc/mod.rs, is not exported by ts-rs.
    let error = command_in("mod", "fn f(ctx: Context) {}").unwrap_err();
    assert!(
        error.contains("`Context` has no TypeScript binding"),
        "{error}"
    );
    assert!(error.contains("Context.ts does not exist"), "{error}");
    let error = command_in("setup", "fn f(x: Nowhere) {}").unwrap_err();
    assert!(error.contains("cannot find `Nowhere`"), "{error}");
}

#[test]
fn other_errors_and_types_are_refused() {
    let error = command("fn f() -> Result<u8, String> {}").unwrap_err();
    assert!(error.contains("Result<T, IpcError>"), "{error}");
    let error = command("fn f(x: (u8, u8)) {}").unwrap_err();
    assert!(
        error.contains("no TypeScript type for `(u8 , u8)`"),
        "{error}"
    );
    let error = command("fn f() -> Channel<u8> {}").unwrap_err();
    assert!(error.contains("only be a parameter"), "{error}");
}

#[test]
fn doc_comments_become_tsdoc_with_typescript_names() {
    let c = command(
        "/// Copies backup `id` to `target_name` (every target with `None`);\n\
         /// `backup_cancel` stops it.\n\
         ///\n\
         /// Then */ ends.\n\
         fn backup_copy(id: String, target_name: Option<String>) {}",
    )
    .unwrap();
    let found = [Found {
        file: "backups".to_owned(),
        window: Window::Dashboard,
        command: c,
    }];
    let ts = render::typescript(&found);
    assert!(
        ts.contains(
            "/**\n \
             * Copies backup `id` to `targetName` (every target with `null`);\n \
             * `backup_cancel` stops it.\n \
             *\n \
             * Then *\\/ ends.\n \
             */\n\
             export function backupCopy(id: string, targetName: string | null): Promise<Result<null>> {\n  \
             return call<null>(\"backup_copy\", { id, targetName });\n}"
        ),
        "{ts}"
    );
    assert!(!ts.contains("Channel"), "no channel, no import: {ts}");
}

#[test]
fn camel_case_like_tauri() {
    assert_eq!(signature::camel("use_running_ollama"), "useRunningOllama");
    assert_eq!(signature::camel("at_ms"), "atMs");
    assert_eq!(signature::camel("id"), "id");
}

#[test]
fn capability_keeps_all_but_the_commands() {
    let existing = r#"{
  "$schema": "../gen/schemas/desktop-schema.json",
  "identifier": "setup",
  "description": "Only what it needs.",
  "windows": ["setup"],
  "permissions": ["allow-gone", "notification:default", "allow-setup-plan"]
}"#;
    let found: Vec<Found> = [
        ("setup", "setup_plan"),
        ("both", "recovery_key"),
        ("backups", "backups_list"),
    ]
    .into_iter()
    .map(|(file, name)| Found {
        file: file.to_owned(),
        window: Window::of(file),
        command: command(&format!("fn {name}() {{}}")).unwrap(),
    })
    .collect();
    assert_eq!(
        render::capability(existing, &found, Window::Setup).unwrap(),
        r#"{
  "$schema": "../gen/schemas/desktop-schema.json",
  "identifier": "setup",
  "description": "Only what it needs.",
  "windows": ["setup"],
  "permissions": [
    "notification:default",
    "allow-setup-plan",
    "allow-recovery-key"
  ]
}
"#
    );
}

#[test]
fn generates_from_the_app_commands() {
    let paths = Paths::new();
    let files = generate(&paths).unwrap();
    let text = |name: &str| {
        files
            .iter()
            .find(|(path, _)| path.ends_with(name))
            .map(|(_, text)| text.as_str())
            .unwrap()
    };
    assert!(text("list.rs").contains(
        "pub const SETUP: &[&str] = &[\"setup_plan\", \"setup_apply\", \"recovery_key\"];"
    ));
    let handlers = text("handlers.rs");
    assert!(
        handlers.contains("tauri::generate_handler![\n        super::setup::setup_plan,"),
        "{handlers}"
    );
    assert!(handlers.contains("super::both::recovery_key"));
    let setup = text("setup.json");
    assert!(setup.contains("\"allow-setup-apply\""));
    assert!(!setup.contains("allow-backup-create"));
    let dashboard = text("dashboard.json");
    assert!(dashboard.contains("\"allow-recovery-key\""));
    assert!(!dashboard.contains("allow-setup-plan"));
    assert!(text("commands.ts").contains("export function dashboardSubscribe(onEvent: (message: DashEvent) => void): Promise<Result<null>> {"));
}
