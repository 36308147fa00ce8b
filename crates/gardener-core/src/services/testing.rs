//! Test doubles for the service managers: a scripted [`Runner`] that checks and
//! records every command, and realistic specs for both services.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{
    Action, Invocation, Output, ProcessType, Runner, ServiceId, ServiceManager, ServiceSpec,
    ServiceStatus,
};
use crate::paths::Platform;

/// A manager for which no service is installed: nothing is stopped or
/// started, and any attempt to run an action is a test failure.
pub(crate) struct NoServices {
    pub dir: PathBuf,
}

impl ServiceManager for NoServices {
    fn platform(&self) -> Platform {
        Platform::Linux
    }
    fn file_path(&self, id: ServiceId) -> PathBuf {
        self.dir.join(id.unit_name())
    }
    fn render(&self, _: &ServiceSpec) -> super::Result<String> {
        Ok(String::new())
    }
    fn reload_commands(&self) -> Vec<Invocation> {
        Vec::new()
    }
    fn reload(&self) -> super::Result<()> {
        Ok(())
    }
    fn commands(&self, _: Action, _: ServiceId) -> Vec<Invocation> {
        Vec::new()
    }
    fn run(&self, action: Action, id: ServiceId, _: std::time::Duration) -> super::Result<()> {
        panic!("no service is installed, yet {action:?} {id} was run");
    }
    fn status(&self, id: ServiceId) -> super::Result<ServiceStatus> {
        Ok(ServiceStatus::not_installed(id))
    }
}

/// One expected command and what it answers.
struct Step {
    argv: Vec<String>,
    reply: std::result::Result<Output, std::io::ErrorKind>,
    /// Answers every later call too, for polls whose count depends on timing.
    forever: bool,
}

#[derive(Default)]
struct Script {
    steps: VecDeque<Step>,
    calls: Vec<Invocation>,
}

/// A [`Runner`] that answers from a script and fails the test on any command
/// it was not told to expect, in order. Clones share the script, so a test
/// keeps one clone to inspect after handing another to a manager.
#[derive(Clone, Default)]
pub(crate) struct ScriptedRunner(Arc<Mutex<Script>>);

impl ScriptedRunner {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Expects `argv` next and answers with `code`, `stdout`, `stderr`.
    pub(crate) fn expect(&self, argv: &[&str], code: i32, stdout: &str, stderr: &str) -> &Self {
        self.push(argv, Ok(output(Some(code), stdout, stderr)))
    }

    /// Expects `argv` for this and every later call.
    pub(crate) fn expect_forever(&self, argv: &[&str], code: i32, stdout: &str) {
        self.push(argv, Ok(output(Some(code), stdout, "")));
        if let Some(step) = self.0.lock().unwrap().steps.back_mut() {
            step.forever = true;
        }
    }

    /// Expects `argv` next and answers as if it was killed by a signal.
    pub(crate) fn expect_killed(&self, argv: &[&str]) -> &Self {
        self.push(argv, Ok(output(None, "", "")))
    }

    /// Expects `argv` next and fails to start it.
    pub(crate) fn expect_spawn_error(&self, argv: &[&str], kind: std::io::ErrorKind) -> &Self {
        self.push(argv, Err(kind))
    }

    fn push(&self, argv: &[&str], reply: std::result::Result<Output, std::io::ErrorKind>) -> &Self {
        let step = Step {
            argv: argv.iter().map(|s| (*s).to_owned()).collect(),
            reply,
            forever: false,
        };
        self.0.lock().unwrap().steps.push_back(step);
        self
    }

    /// Every command run so far, in order.
    pub(crate) fn calls(&self) -> Vec<Invocation> {
        self.0.lock().unwrap().calls.clone()
    }

    /// Fails the test if some expected command was never run.
    pub(crate) fn assert_done(&self) {
        let script = self.0.lock().unwrap();
        let left: Vec<_> = script
            .steps
            .iter()
            .filter(|s| !s.forever)
            .map(|s| s.argv.join(" "))
            .collect();
        assert!(left.is_empty(), "expected commands never ran: {left:#?}");
    }

    pub(crate) fn boxed(&self) -> Box<dyn Runner> {
        Box::new(self.clone())
    }
}

impl Runner for ScriptedRunner {
    fn run(&self, inv: &Invocation) -> std::io::Result<Output> {
        let mut script = self.0.lock().unwrap();
        script.calls.push(inv.clone());
        let Some(step) = script.steps.front() else {
            drop(script);
            panic!("unexpected command: {inv}");
        };
        if step.argv != inv.0 {
            let want = step.argv.join(" ");
            drop(script);
            panic!("expected `{want}`, got `{inv}`");
        }
        let reply = step.reply.clone();
        if !step.forever {
            script.steps.pop_front();
        }
        reply.map_err(std::io::Error::from)
    }
}

pub(crate) fn output(code: Option<i32>, stdout: &str, stderr: &str) -> Output {
    Output {
        code,
        stdout: stdout.to_owned(),
        stderr: stderr.to_owned(),
    }
}

const GIB: u64 = 1024 * 1024 * 1024;

/// Ollama as Gardener installs it on a Mac, with a models dir containing a space.
pub(crate) fn ollama_spec() -> ServiceSpec {
    let support = "/Users/ann/Library/Application Support/Gardener";
    let env = [
        ("OLLAMA_FLASH_ATTENTION", "1".to_owned()),
        ("OLLAMA_HOST", "127.0.0.1:11434".to_owned()),
        ("OLLAMA_KEEP_ALIVE", "5m".to_owned()),
        ("OLLAMA_KV_CACHE_TYPE", "q8_0".to_owned()),
        ("OLLAMA_MAX_LOADED_MODELS", "2".to_owned()),
        ("OLLAMA_MODELS", format!("{support}/models")),
        ("OLLAMA_NUM_PARALLEL", "2".to_owned()),
    ];
    ServiceSpec {
        id: ServiceId::Ollama,
        description: "Ollama model server for Codebase Gardener".into(),
        program: "/opt/homebrew/bin/ollama".into(),
        args: vec!["serve".into()],
        env: env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        working_dir: "/Users/ann".into(),
        stdout_log: "/Users/ann/Library/Logs/Gardener/ollama.out.log".into(),
        stderr_log: "/Users/ann/Library/Logs/Gardener/ollama.err.log".into(),
        restart_delay_secs: 5,
        memory_high: Some(4 * GIB),
        memory_max: Some(5 * GIB),
        process_type: ProcessType::Interactive,
    }
}

/// The app, with the awkward values a real config can contain: spaces in
/// paths, `%` and `$` in arguments, quotes and a backslash in the environment.
pub(crate) fn app_spec() -> ServiceSpec {
    let support = PathBuf::from("/Users/ann/Library/Application Support/Gardener");
    let mut env = BTreeMap::new();
    env.insert(
        "GARDENER_BANNER".into(),
        r#"Ann's "garden" \o/ 100% $HOME"#.into(),
    );
    env.insert("GARDENER_WORKERS".into(), "2".into());
    env.insert("OLLAMA_HOST".into(), "http://127.0.0.1:11434".into());
    env.insert("PYTHONUNBUFFERED".into(), "1".into());
    ServiceSpec {
        id: ServiceId::App,
        description: "Codebase Gardener web app (100% local)".into(),
        program: support.join("venv/bin/python3"),
        args: vec![
            "-m".into(),
            "codebase_gardener".into(),
            "--port".into(),
            "7860".into(),
            "--data-dir".into(),
            support.join("data").display().to_string(),
            "--title".into(),
            "Ann's garden: 100% local, $0".into(),
        ],
        env,
        working_dir: support.join("app"),
        stdout_log: "/Users/ann/Library/Logs/Gardener/app.out.log".into(),
        stderr_log: "/Users/ann/Library/Logs/Gardener/app.err.log".into(),
        restart_delay_secs: 1,
        memory_high: Some(2 * GIB),
        memory_max: Some(3 * GIB),
        process_type: ProcessType::Standard,
    }
}
