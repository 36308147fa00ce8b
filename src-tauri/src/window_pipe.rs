//! The pipe between the menu-bar process and the dashboard's process: the
//! menu bar writes the recent past, then every sample, one JSON object per line
//! to the window's stdin; the window asks for service actions on its stdout
//! and gets the outcome back on stdin. So one monitor samples the machine
//! and owns the services' restarts, whichever window asked, and the monitor
//! serializes snapshots only while a dashboard is open.

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, ChildStdout};
use std::sync::mpsc::{SyncSender, TrySendError};

use gardener_core::error::{ErrorCode, Failure};
use gardener_core::monitor::Snapshot;
use gardener_core::monitor::alerts::Event;
use gardener_core::monitor::run_loop::{Recent, Request};
use gardener_core::services::{Action, ServiceId};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::window::View;

/// Set in the environment of a window's process that the tray feeds.
pub const ENV: &str = "GARDENER_FEED";

/// Lines queued for a window that is slow to read; beyond that, samples are
/// dropped rather than held in memory or waited for by the monitor.
const QUEUE: usize = 64;

/// What a service action's outcome is: the names of the models unloaded
/// (empty for the others), or how it failed, with the failure's own code.
pub type Outcome = Result<Vec<String>, Failure>;

/// Menu-bar process → window.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ToWindow {
    /// First: the history, the alert events and the newest sample.
    Recent(Box<Recent>),
    /// After every sample.
    Tick {
        snapshot: Box<Snapshot>,
        events: Vec<Event>,
    },
    /// The outcome of the window's ask `id`.
    Reply { id: u64, outcome: Outcome },
    /// Turn to this view (a second Open Dashboard…, a notification clicked).
    Show { view: View },
}

/// Something the window asks the monitor to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Asked {
    /// Start, stop or restart a service.
    Control { action: Action, service: ServiceId },
    /// Unload one model, or all of them.
    Unload { model: Option<String> },
    /// `gardener.toml` was changed: start the monitor over from it.
    ConfigChanged,
    /// Take a sample now (after a backup or restore).
    SampleNow,
    /// Open the setup window (the tray starts it).
    OpenSetup,
    /// Tell the person how a long operation of the dashboard ended, as a
    /// notification (the menu-bar process has the notifications) that opens
    /// `view` when clicked.
    Notify {
        title: String,
        body: String,
        view: View,
    },
    /// What the dashboard's long operation is doing, for the menu's line
    /// `on` (`None`: it ended). Not answered.
    Working { on: WorkLine, text: Option<String> },
}

/// The menu's status line a long operation of the dashboard shows on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkLine {
    /// Ollama's (a pull, a restart with new settings).
    Ollama,
    /// The last backup's (a backup, check, restore or copy).
    Backup,
}

/// Window → menu-bar process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ask {
    /// Echoed in the reply.
    pub id: u64,
    /// What to do.
    pub asked: Asked,
}

/// What a window is told when the monitor it asks is not running.
pub const NOT_RUNNING: &str = "the monitor is not running (see the first line of the menu)";

/// [`NOT_RUNNING`] as the failure a window is sent.
pub fn not_running() -> Failure {
    Failure::new(ErrorCode::Monitor, NOT_RUNNING)
}

/// Hands `asked` (not `ConfigChanged`, which the caller does) to a monitor
/// through `send` and waits for its outcome.
pub async fn serve(asked: Asked, send: impl FnOnce(Request) -> bool) -> Outcome {
    match asked {
        Asked::Control { action, service } => {
            let (reply, answer) = oneshot::channel();
            if !send(Request::Control {
                action,
                service,
                reply,
            }) {
                return Err(not_running());
            }
            answer
                .await
                .map_err(|_| not_running())?
                .map(|()| Vec::new())
        }
        Asked::Unload { model } => {
            let (reply, answer) = oneshot::channel();
            if !send(Request::UnloadModels { only: model, reply }) {
                return Err(not_running());
            }
            answer.await.map_err(|_| not_running())?
        }
        Asked::SampleNow => {
            if send(Request::SampleNow) {
                Ok(Vec::new())
            } else {
                Err(not_running())
            }
        }
        Asked::ConfigChanged => Ok(Vec::new()),
        Asked::OpenSetup => Err(Failure::new(
            ErrorCode::Setup,
            "choose Set Up… in the menu-bar app's menu",
        )),
        // Without the menu-bar app the window's own report is all there is.
        Asked::Notify { .. } | Asked::Working { .. } => Ok(Vec::new()),
    }
}

/// One JSON line.
pub fn line(message: &impl Serialize) -> Option<String> {
    match serde_json::to_string(message) {
        Ok(mut text) => {
            text.push('\n');
            Some(text)
        }
        Err(error) => {
            tracing::error!(%error, "cannot encode a message for the window");
            None
        }
    }
}

/// The tray's end of a window's pipe: where lines for it are queued.
#[derive(Clone, Debug)]
pub struct Feed(SyncSender<String>);

impl Feed {
    /// Queues `message`; false once the window's process has gone.
    pub fn send(&self, message: &ToWindow) -> bool {
        let Some(text) = line(message) else {
            return true;
        };
        match self.0.try_send(text) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                tracing::debug!("the dashboard is not reading; a sample was dropped");
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

/// In the menu-bar process: connects a window's process started with piped
/// stdin and stdout. Lines queued on the returned feed are written to its
/// stdin; what it asks on its stdout goes to `asked`.
pub fn connect(
    stdin: ChildStdin,
    stdout: ChildStdout,
    asked: impl Fn(Ask) + Send + 'static,
) -> std::io::Result<Feed> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<String>(QUEUE);
    std::thread::Builder::new()
        .name("window-feed".into())
        .spawn(move || {
            let mut stdin = stdin;
            for text in rx {
                // A window that closed stops reading: nothing more to send.
                if stdin.write_all(text.as_bytes()).is_err() || stdin.flush().is_err() {
                    break;
                }
            }
        })?;
    std::thread::Builder::new()
        .name("window-asks".into())
        .spawn(move || read_asks(stdout, &asked))?;
    Ok(Feed(tx))
}

fn read_asks(stdout: ChildStdout, asked: &dyn Fn(Ask)) {
    for text in BufReader::new(stdout).lines() {
        let Ok(text) = text else { break };
        match serde_json::from_str::<Ask>(&text) {
            Ok(ask) => {
                tracing::info!(asked = ?ask.asked, "asked by the dashboard");
                asked(ask);
            }
            Err(error) => {
                tracing::warn!(%error, line = %text, "the dashboard sent something unreadable");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_tagged_json_object_per_line() {
        let ask = Ask {
            id: 7,
            asked: Asked::Control {
                action: Action::Restart,
                service: ServiceId::Ollama,
            },
        };
        let text = line(&ask).unwrap();
        assert!(text.ends_with('\n') && !text.trim_end().contains('\n'));
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["asked"]["type"], "control");
        assert_eq!(serde_json::from_str::<Ask>(&text).unwrap(), ask);

        let reply = ToWindow::Reply {
            id: 7,
            outcome: Err(Failure::new(ErrorCode::NotInstalled, "no")),
        };
        let notify = Ask {
            id: 8,
            asked: Asked::Notify {
                title: "Restore done".into(),
                body: "Restored gardener-x".into(),
                view: View::Backups,
            },
        };
        let back: Ask = serde_json::from_str(&line(&notify).unwrap()).unwrap();
        assert_eq!(back, notify);
        let working = Ask {
            id: 0,
            asked: Asked::Working {
                on: WorkLine::Ollama,
                text: Some("Ollama — pulling qwen… 45%".into()),
            },
        };
        let text = line(&working).unwrap();
        assert!(text.contains(r#""type":"working","on":"ollama""#), "{text}");
        assert_eq!(serde_json::from_str::<Ask>(&text).unwrap(), working);

        let back: ToWindow = serde_json::from_str(&line(&reply).unwrap()).unwrap();
        assert!(
            matches!(back, ToWindow::Reply { id: 7, outcome: Err(why) } if why.message == "no")
        );
    }

    #[test]
    fn a_monitor_reply_keeps_its_code_through_the_json_line() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let not_loaded = gardener_core::monitor::unload::Error::NotLoaded {
            model: "qwen".into(),
            loaded: Vec::new(),
        };
        let outcome = runtime.block_on(serve(
            Asked::Unload {
                model: Some("qwen".into()),
            },
            |request| match request {
                Request::UnloadModels { reply, .. } => reply.send(Err(not_loaded.into())).is_ok(),
                other => panic!("unexpected {other:?}"),
            },
        ));
        let text = line(&ToWindow::Reply { id: 3, outcome }).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            json["outcome"]["Err"],
            serde_json::json!({ "code": "not-loaded", "message": "qwen is not loaded" })
        );
        let Ok(ToWindow::Reply { id: 3, outcome }) = serde_json::from_str(&text) else {
            panic!("not a reply: {text}");
        };
        let failure = outcome.unwrap_err();
        assert_eq!(failure.code, ErrorCode::NotLoaded);
        assert_eq!(failure.message, "qwen is not loaded");
    }

    #[test]
    fn a_full_queue_drops_samples_and_a_gone_window_ends_the_feed() {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let feed = Feed(tx);
        let tick = ToWindow::Recent(Box::default());
        assert!(feed.send(&tick));
        assert!(feed.send(&tick), "full: dropped, the feed goes on");
        assert_eq!(rx.try_iter().count(), 1);
        drop(rx);
        assert!(!feed.send(&tick));
    }

    #[test]
    fn asks_reach_the_monitor_as_requests() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let unload = serve(
                Asked::Unload {
                    model: Some("qwen".into()),
                },
                |request| match request {
                    Request::UnloadModels { only, reply } => {
                        assert_eq!(only.as_deref(), Some("qwen"));
                        reply.send(Ok(vec!["qwen".into()])).is_ok()
                    }
                    other => panic!("unexpected {other:?}"),
                },
            )
            .await;
            assert_eq!(unload, Ok(vec!["qwen".to_owned()]));
            let stopped = serve(
                Asked::Control {
                    action: Action::Stop,
                    service: ServiceId::App,
                },
                |request| match request {
                    Request::Control {
                        action: Action::Stop,
                        service: ServiceId::App,
                        reply,
                    } => reply
                        .send(Err(Failure::new(ErrorCode::NotInstalled, "not installed")))
                        .is_ok(),
                    other => panic!("unexpected {other:?}"),
                },
            )
            .await;
            assert_eq!(
                stopped,
                Err(Failure::new(ErrorCode::NotInstalled, "not installed"))
            );
            let nobody = serve(Asked::Unload { model: None }, |_| false).await;
            let nobody = nobody.unwrap_err();
            assert!(nobody.message.contains("not running"));
            assert_eq!(nobody.code, ErrorCode::Monitor);
        });
    }
}
