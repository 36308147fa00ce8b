//! What the end of a long piece of work says to a person, as a
//! notification's headline and sentence: a backup with its copies, a
//! restore, copies made on their own, a model's download. The menu bar and the dashboard say it
//! in these words.

use crate::backup::{CreateReport, RestoreReport};
use crate::copies::copy::{CopyOutcome, done_words};
use crate::error::{ErrorCode, Failure};
use crate::models::{Pulled, human};
use crate::services::ServiceId;

/// A notification's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct News {
    /// What happened, in a few words.
    pub title: String,
    /// The details, with the figures.
    pub body: String,
}

impl News {
    fn new(title: &str, body: impl Into<String>) -> Self {
        Self {
            title: title.to_owned(),
            body: body.into(),
        }
    }
}

/// How a backup (and the copies made after it) ended.
pub fn backup_ended(result: &Result<(CreateReport, Vec<CopyOutcome>), Failure>) -> News {
    match result {
        Ok((report, copies)) => News::new("Backup done", done_words(report, copies)),
        Err(e) if e.code == ErrorCode::Cancelled => {
            News::new("Backup cancelled", "Nothing was left behind.")
        }
        Err(e) => News::new("Backup failed", e.message.clone()),
    }
}

/// How a restore ended: which services it restarted, or why it was undone
/// or failed.
pub fn restore_ended(result: &Result<RestoreReport, Failure>) -> News {
    match result {
        Ok(report) if report.services.is_empty() => News::new(
            "Restore done",
            format!("Restored {}; no service needed restarting.", report.id),
        ),
        Ok(report) => {
            let names: Vec<&str> = report
                .services
                .iter()
                .map(|s| match s {
                    ServiceId::Ollama => "Ollama",
                    ServiceId::App => "Codebase Gardener",
                })
                .collect();
            News::new(
                "Restore done",
                format!(
                    "Restored {}; {} restarted and healthy.",
                    report.id,
                    names.join(" and ")
                ),
            )
        }
        Err(e) if e.code == ErrorCode::RolledBack => News::new("Restore undone", e.message.clone()),
        Err(e) => News::new("Restore failed", e.message.clone()),
    }
}

/// How the pull of `model` ended. Ollama keeps the layers it has, so a
/// pull stopped early resumes where it was when started again.
pub fn pull_ended(model: &str, result: &Result<Pulled, Failure>) -> News {
    match result {
        Ok(pulled) => News::new(
            "Model pulled",
            format!(
                "{} ({}) is ready, pulled in {:.0} s.",
                pulled.model,
                human(pulled.bytes),
                pulled.seconds
            ),
        ),
        Err(e) if e.code == ErrorCode::Cancelled => News::new(
            "Pull cancelled",
            format!("The pull of {model} stopped; pulling it again resumes where it left off."),
        ),
        Err(e) => News::new(
            "Pull failed",
            format!(
                "{}. Pulling it again resumes where it left off.",
                e.message.trim_end_matches('.')
            ),
        ),
    }
}

/// The copies that failed, one line each (`None` when none did).
pub fn copies_failed(outcomes: &[CopyOutcome]) -> Option<News> {
    let failed: Vec<String> = outcomes
        .iter()
        .filter_map(|o| Some(format!("{}: {}", o.target, o.error.as_ref()?)))
        .collect();
    (!failed.is_empty()).then(|| News::new("Copy failed", failed.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(services: Vec<ServiceId>) -> RestoreReport {
        RestoreReport {
            id: "gardener-x".into(),
            dry_run: false,
            restored: vec!["~/.codebase-gardener".into()],
            diff: Default::default(),
            safety_copies: Vec::new(),
            services,
            seconds: 1.0,
        }
    }

    #[test]
    fn a_restore_ends_with_a_notification_that_says_how() {
        let both = restore_ended(&Ok(report(vec![ServiceId::Ollama, ServiceId::App])));
        assert_eq!(both.title, "Restore done");
        assert_eq!(
            both.body,
            "Restored gardener-x; Ollama and Codebase Gardener restarted and healthy."
        );
        let none = restore_ended(&Ok(report(Vec::new())));
        assert_eq!(
            none.body,
            "Restored gardener-x; no service needed restarting."
        );
        let why = "the app did not answer";
        let undone = restore_ended(&Err(Failure::new(ErrorCode::RolledBack, why)));
        assert_eq!(undone, News::new("Restore undone", why));
        let failed = restore_ended(&Err(Failure::new(ErrorCode::Corrupt, "bad")));
        assert_eq!(failed.title, "Restore failed");
    }

    #[test]
    fn a_cancelled_backup_is_not_a_failed_one() {
        let cancelled = backup_ended(&Err(Failure::new(ErrorCode::Cancelled, "cancelled")));
        assert_eq!(
            cancelled,
            News::new("Backup cancelled", "Nothing was left behind.")
        );
        let failed = backup_ended(&Err(Failure::new(ErrorCode::Io, "disk full")));
        assert_eq!(failed, News::new("Backup failed", "disk full"));
    }

    #[test]
    fn a_pull_ends_with_the_model_its_size_or_why_it_stopped() {
        let pulled = Pulled {
            model: "llama3.2:3b".into(),
            bytes: 2_019_393_189,
            seconds: 41.6,
        };
        assert_eq!(
            pull_ended("llama3.2:3b", &Ok(pulled)),
            News::new(
                "Model pulled",
                "llama3.2:3b (2.0 GB) is ready, pulled in 42 s."
            )
        );
        let cancelled = pull_ended(
            "qwen",
            &Err(Failure::new(ErrorCode::Cancelled, "cancelled")),
        );
        assert_eq!(cancelled.title, "Pull cancelled");
        assert!(
            cancelled.body.contains("The pull of qwen stopped"),
            "{cancelled:?}"
        );
        let why = "Ollama could not pull nope: pull model manifest: file does not exist";
        let failed = pull_ended("nope", &Err(Failure::new(ErrorCode::PullFailed, why)));
        assert_eq!(
            failed,
            News::new(
                "Pull failed",
                format!("{why}. Pulling it again resumes where it left off.")
            )
        );
    }

    #[test]
    fn only_failed_copies_are_news() {
        let copy = |target: &str, error: Option<&str>| CopyOutcome {
            target: target.into(),
            report: None,
            code: error.map(|_| ErrorCode::Unreachable),
            error: error.map(str::to_owned),
        };
        assert_eq!(copies_failed(&[copy("nas", None)]), None);
        let news = copies_failed(&[
            copy("nas", None),
            copy("offsite", Some("cannot reach it")),
            copy("usb", Some("not mounted")),
        ])
        .unwrap();
        assert_eq!(news.title, "Copy failed");
        assert_eq!(news.body, "offsite: cannot reach it\nusb: not mounted");
    }
}
