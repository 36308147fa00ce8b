//! Keeps the tray menu's status line current from a background thread, so the
//! service probes behind `status_line` never run on the UI thread.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread;
use std::time::Duration;

use tauri::Runtime;
use tauri::menu::MenuItem;

/// How often the status line is refreshed when nothing asks for it sooner.
/// Tauri has no "menu is about to open" event on every platform (none on
/// Linux), so a slow poll is the common ground.
const INTERVAL: Duration = Duration::from_secs(10);

enum Message {
    Refresh,
    Stop,
}

/// Handle to the refresher thread; kept in Tauri's managed state.
pub struct StatusRefresher {
    sender: Sender<Message>,
}

impl StatusRefresher {
    /// Starts the thread; it shows the first status right away.
    pub fn spawn<R: Runtime>(item: MenuItem<R>) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::channel();
        thread::Builder::new()
            .name("tray-status".to_owned())
            .spawn(move || {
                let mut shown = String::new();
                loop {
                    let line = gardener_core::install::status_line(None);
                    if line != shown {
                        tracing::debug!(%line, "tray status changed");
                        if let Err(error) = item.set_text(&line) {
                            tracing::warn!(%error, "cannot update the tray status line");
                        }
                        shown = line;
                    }
                    // The wait doubles as the stop signal, so quitting never
                    // waits out the interval.
                    let next = receiver.recv_timeout(INTERVAL);
                    // Hover events can queue several refreshes; one is enough.
                    let stop = receiver.try_iter().any(|m| matches!(m, Message::Stop));
                    match next {
                        Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                        _ if stop => break,
                        Ok(Message::Refresh) | Err(RecvTimeoutError::Timeout) => {}
                    }
                }
                tracing::debug!("tray status thread stopped");
            })?;
        Ok(Self { sender })
    }

    /// Asks for a refresh now (e.g. the pointer is over the tray icon).
    pub fn refresh(&self) {
        // A send error means the thread has stopped: the app is exiting.
        let _ = self.sender.send(Message::Refresh);
    }

    /// Ends the thread after its current refresh.
    pub fn stop(&self) {
        let _ = self.sender.send(Message::Stop);
    }
}
