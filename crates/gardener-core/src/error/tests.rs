//! Codes keep their spelling on every path out, and each domain error
//! becomes a failure with its own code and its causes.

use std::fmt;
use std::path::PathBuf;

use super::*;
use crate::monitor::probe::ProbeError;
use crate::services::ServiceId;

#[derive(Debug)]
struct Layer(&'static str, Option<Box<Layer>>);

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Layer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.1.as_deref().map(|e| e as _)
    }
}

#[test]
fn every_code_is_spelled_by_as_str_as_serde_spells_it_both_ways() {
    for &code in ErrorCode::ALL {
        let json = serde_json::to_value(code).unwrap();
        assert_eq!(json, serde_json::Value::from(code.as_str()), "{code:?}");
        let back: ErrorCode = serde_json::from_value(json).unwrap();
        assert_eq!(back, code);
        assert_eq!(code.to_string(), code.as_str());
    }
}

#[test]
fn codes_are_unique_and_kebab_case() {
    let mut seen = std::collections::BTreeSet::new();
    for code in ErrorCode::ALL {
        let text = code.as_str();
        assert!(seen.insert(text), "{text} twice");
        assert!(
            text.split('-')
                .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase())),
            "{text}"
        );
    }
}

#[test]
fn the_codes_scripts_and_windows_read_keep_their_spelling() {
    let spelled: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    for text in [
        "paths",
        "config",
        "service",
        "io",
        "preflight",
        "unhealthy",
        "other-platform",
        "not-installed",
        "not-managed",
        "corrupt",
        "refused",
        "busy",
        "cancelled",
        "usage",
        "rolled-back",
        "source-missing",
        "unreachable",
        "denied",
        "missing",
        "key",
        "ollama-unreachable",
        "not-loaded",
        "unload-failed",
        "model-missing",
        "model-loaded",
        "no-space",
        "pull-failed",
        "ollama-refused",
        "monitor",
        "metrics-bind",
        "metrics",
        "log-missing",
        "setup",
        "autostart",
        "runtime",
        "ipc",
        "internal",
    ] {
        assert!(spelled.contains(&text), "{text} is gone");
    }
}

#[test]
fn an_unknown_code_does_not_deserialize() {
    assert!(serde_json::from_str::<ErrorCode>(r#""ollama""#).is_err());
    assert!(serde_json::from_str::<ErrorCode>(r#""RolledBack""#).is_err());
}

#[test]
fn a_failure_serializes_as_code_and_message() {
    let json = serde_json::to_value(Failure::internal("boom")).unwrap();
    assert_eq!(
        json,
        serde_json::json!({ "code": "internal", "message": "boom" })
    );
    let back: Failure =
        serde_json::from_str(r#"{"code":"rolled-back","message":"undone"}"#).unwrap();
    assert_eq!(back, Failure::new(ErrorCode::RolledBack, "undone"));
}

#[test]
fn the_message_carries_every_cause_once() {
    let inner = Layer("permission denied", None);
    let middle = Layer(
        "cannot read gardener.toml: permission denied",
        Some(Box::new(inner)),
    );
    let outer = Layer("config", Some(Box::new(middle)));
    assert_eq!(
        with_causes(&outer),
        "config: cannot read gardener.toml: permission denied"
    );
}

fn denied() -> std::io::Error {
    std::io::Error::from(std::io::ErrorKind::PermissionDenied)
}

fn refused() -> ProbeError {
    ProbeError::Refused {
        addr: "127.0.0.1:11434".into(),
    }
}

/// `error` as a failure: its code, and its message as `with_causes` says it.
fn failure<E: std::error::Error + Into<Failure>>(error: E) -> (ErrorCode, String) {
    let message = with_causes(&error);
    let f: Failure = error.into();
    assert_eq!(f.message, message);
    (f.code, f.message)
}

#[test]
fn install_and_service_errors_keep_their_codes() {
    let service = crate::services::Error::Timeout {
        service: ServiceId::App,
        what: "stop",
        secs: 30,
    };
    assert_eq!(failure(service).0, ErrorCode::Service);
    let wrapped = crate::install::Error::Service(crate::services::Error::Spawn {
        program: "systemctl".into(),
        source: denied(),
    });
    let (code, message) = failure(wrapped);
    assert_eq!(code, ErrorCode::Service);
    assert!(
        message.starts_with("could not run `systemctl`"),
        "{message}"
    );
    let not_installed = crate::install::Error::NotInstalled {
        service: ServiceId::Ollama,
    };
    assert_eq!(failure(not_installed).0, ErrorCode::NotInstalled);
    let undone = crate::install::Error::RolledBack {
        error: Box::new(crate::install::Error::Blocked {
            failures: vec!["disk full".into()],
        }),
        undone: Vec::new(),
        problems: Vec::new(),
    };
    assert_eq!(failure(undone).0, ErrorCode::Preflight);
    assert_eq!(failure(crate::paths::Error::NoHome).0, ErrorCode::Paths);
}

#[test]
fn config_and_log_errors_say_their_cause() {
    let config = crate::config::Error::Read {
        path: PathBuf::from("/home/u/gardener.toml"),
        source: denied(),
    };
    let (code, message) = failure(config);
    assert_eq!(code, ErrorCode::Config);
    assert_eq!(message.matches("permission denied").count(), 1, "{message}");
    let log = crate::logs::Error::Io {
        action: "read",
        path: PathBuf::from("/tmp/ollama.log"),
        source: denied(),
    };
    assert_eq!(failure(log).0, ErrorCode::Io);
}

#[test]
fn backup_and_copy_errors_keep_their_codes() {
    assert_eq!(
        failure(crate::backup::Error::Cancelled).0,
        ErrorCode::Cancelled
    );
    let busy = crate::backup::Error::Busy {
        path: PathBuf::from("/b/.lock"),
    };
    assert_eq!(failure(busy).0, ErrorCode::Busy);
    let undone = crate::backup::Error::RolledBack("the app did not answer".into());
    assert_eq!(failure(undone).0, ErrorCode::RolledBack);
    let key = crate::copies::Error::Key("no recovery key".into());
    assert_eq!(failure(key).0, ErrorCode::Key);
    let inner = crate::copies::Error::Backup(crate::backup::Error::Hostile {
        path: PathBuf::from("/b/x.tar.zst"),
        message: "entry `../x`".into(),
    });
    assert_eq!(failure(inner).0, ErrorCode::Refused);
}

#[test]
fn monitor_errors_keep_their_codes() {
    let client = crate::monitor::run_loop::Error::Client(refused());
    assert_eq!(failure(client).0, ErrorCode::Monitor);
    let down = crate::monitor::unload::Error::Unreachable {
        host: "127.0.0.1:11434".into(),
        source: refused(),
    };
    let (code, message) = failure(down);
    assert_eq!(code, ErrorCode::OllamaUnreachable);
    assert_eq!(
        message,
        "cannot reach Ollama at 127.0.0.1:11434: connection refused: nothing is listening on 127.0.0.1:11434"
    );
    let absent = crate::monitor::unload::Error::NotLoaded {
        model: "qwen".into(),
        loaded: Vec::new(),
    };
    assert_eq!(
        failure(absent),
        (ErrorCode::NotLoaded, "qwen is not loaded".into())
    );
    let failed = crate::monitor::unload::Error::Failed {
        model: "qwen".into(),
        source: ProbeError::Status { code: 500 },
    };
    assert_eq!(failure(failed).0, ErrorCode::UnloadFailed);
}

#[test]
fn models_errors_keep_their_codes() {
    use crate::models::Error;
    let missing = Error::NotFound {
        model: "mistral:7b".into(),
        installed: "llama3.2:3b".into(),
    };
    assert_eq!(
        failure(missing),
        (
            ErrorCode::ModelMissing,
            "mistral:7b is not installed (installed: llama3.2:3b)".into()
        )
    );
    let loaded = Error::Loaded {
        model: "qwen".into(),
    };
    assert!(loaded.is_usage());
    assert_eq!(failure(loaded).0, ErrorCode::ModelLoaded);
    let space = Error::NoSpace {
        model: "qwen".into(),
        needs: 4_100_000_000,
        free: 2_000_000_000,
        path: "/home".into(),
    };
    assert_eq!(
        failure(space),
        (
            ErrorCode::NoSpace,
            "qwen does not fit: it needs 4.1 GB more, 2.0 GB free on /home".into()
        )
    );
    let said = Error::PullFailed {
        model: "x".into(),
        said: "pull model manifest: file does not exist".into(),
    };
    assert_eq!(failure(said).0, ErrorCode::PullFailed);
    let cut = Error::Interrupted {
        model: "x".into(),
        detail: "unexpected EOF".into(),
    };
    assert_eq!(failure(cut).0, ErrorCode::PullFailed);
    let refused_delete = Error::Refused {
        action: "delete",
        model: "x".into(),
        source: ProbeError::Status { code: 500 },
    };
    assert_eq!(
        failure(refused_delete),
        (
            ErrorCode::OllamaRefused,
            "Ollama did not delete x: answered HTTP 500".into()
        )
    );
    assert_eq!(failure(Error::Cancelled).0, ErrorCode::Cancelled);
    let down = Error::Unreachable {
        host: "127.0.0.1:11434".into(),
        source: refused(),
    };
    assert_eq!(failure(down).0, ErrorCode::OllamaUnreachable);
}
