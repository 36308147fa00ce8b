//! The dashboard's one long operation at a time (a backup, a check, a
//! restore, a copy, a model's download, restarting Ollama with new
//! settings): off the async executor, cancellable, its progress
//! throttled to the page; then what follows its end — a word to the monitor,
//! a notification through the menu bar — and closing the window if that was
//! asked for meanwhile.

use std::sync::atomic::Ordering;

use gardener_core::Platform;
use gardener_core::backup::{Cancel, Paced, Throttle};
use gardener_core::backup::{CreateReport, RestoreReport};
use gardener_core::context::Context;
use gardener_core::copies::copy::CopyOutcome;
use gardener_core::error::{ErrorCode, Failure};
use gardener_core::models::Pulled;
use gardener_core::news::{self, News};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{Runtime, WebviewWindow};

use super::{Dash, DashEvent};
use crate::lock::lock;
use crate::window_pipe::Asked;

/// What follows the end of a long operation.
#[derive(Debug, Default)]
pub struct Then {
    /// Asked of the monitor (a sample at once, taking up restored settings).
    pub ask: Option<Asked>,
    /// Said in a notification.
    pub news: Option<News>,
}

impl Then {
    /// Nothing follows.
    pub fn nothing<T>(_: &Result<T, Failure>) -> Self {
        Self::default()
    }

    /// After a backup: a sample at once (so the menu's last-backup line and
    /// the overdue rule see it), and how it went.
    pub fn after_backup(result: &Result<(CreateReport, Vec<CopyOutcome>), Failure>) -> Self {
        Self {
            ask: Some(Asked::SampleNow),
            news: Some(news::backup_ended(result)),
        }
    }

    /// After a restore: a backup holds gardener.toml too, so the monitor
    /// starts over from the restored one; and how it went.
    pub fn after_restore(result: &Result<RestoreReport, Failure>) -> Self {
        Self {
            ask: result.is_ok().then_some(Asked::ConfigChanged),
            news: Some(news::restore_ended(result)),
        }
    }

    /// After a pull: the model is ready, or why it is not.
    pub fn after_pull(model: String) -> impl FnOnce(&Result<Pulled, Failure>) -> Self {
        move |result| Self {
            ask: None,
            news: Some(news::pull_ended(&model, result)),
        }
    }

    /// After copies: the ones that failed.
    pub fn after_copies(result: &Result<Vec<CopyOutcome>, Failure>) -> Self {
        Self {
            ask: None,
            news: result.as_deref().ok().and_then(news::copies_failed),
        }
    }
}

impl Dash {
    /// Runs `work` (given the config as it is now) as the window's one long
    /// operation, then does what `then` makes of its result, then closes the
    /// window if asked to.
    pub async fn while_busy<R, P, T, E>(
        &self,
        window: &WebviewWindow<R>,
        on_progress: Channel<P>,
        work: impl FnOnce(&Context, &Cancel, &mut dyn FnMut(&P)) -> Result<T, E> + Send + 'static,
        then: impl FnOnce(&Result<T, Failure>) -> Then,
    ) -> Result<T, Failure>
    where
        R: Runtime,
        P: Paced + Serialize + Clone + Send + 'static,
        T: Send + 'static,
        E: Into<Failure>,
    {
        let cancel = self.start_busy()?;
        let result = tauri::async_runtime::spawn_blocking(move || {
            let ctx = Context::load(None, Platform::current())?;
            let mut throttle = Throttle::default();
            work(&ctx, &cancel, &mut |p| {
                if throttle.ready(p) {
                    let _ = on_progress.send(p.clone());
                }
            })
            .map_err(Into::into)
        })
        .await
        .unwrap_or_else(|e| {
            Err(Failure::internal(format!(
                "the work stopped unexpectedly: {e}"
            )))
        });
        let close = self.finish_busy();
        let then = then(&result);
        if let Some(asked) = then.ask
            && let Err(why) = self.ask(asked).await
        {
            tracing::warn!("the monitor was not told: {why}");
        }
        if let Some(news) = then.news {
            self.tell(news).await;
        }
        if close && let Err(e) = window.close() {
            tracing::warn!("cannot close the dashboard: {e}");
        }
        result
    }

    /// Marks the window busy; one long operation at a time.
    fn start_busy(&self) -> Result<Cancel, Failure> {
        let mut busy = lock(&self.busy);
        if busy.is_some() {
            return Err(Failure::new(
                ErrorCode::Busy,
                "a backup, check, restore, pull or restart is already running in this window",
            ));
        }
        let cancel = Cancel::new();
        *busy = Some(cancel.clone());
        Ok(cancel)
    }

    /// The long operation is over; true when the window should close now.
    pub fn finish_busy(&self) -> bool {
        lock(&self.busy).take();
        self.close_when_done.swap(false, Ordering::SeqCst)
    }

    /// Stops the running operation (it cleans up after itself); false when
    /// none runs.
    pub fn cancel_busy(&self) -> bool {
        lock(&self.busy).as_ref().map(Cancel::cancel).is_some()
    }

    /// The window is asked to close. While a backup, check or restore runs,
    /// it must stay (closing ends the process, and with it the work: a
    /// restore stopped half-way leaves the services stopped until the next
    /// backup command); true then, and it closes when the work is done.
    pub fn close_requested(&self) -> bool {
        if lock(&self.busy).is_none() {
            return false;
        }
        self.close_when_done.store(true, Ordering::SeqCst);
        self.to_ui(DashEvent::Closing);
        true
    }

    /// A notification through the menu-bar app, which has them; a failure
    /// to send one is only logged (the window shows the outcome too).
    async fn tell(&self, news: News) {
        let asked = Asked::Notify {
            title: news.title,
            body: news.body,
        };
        if let Err(why) = self.ask(asked).await {
            tracing::warn!("no notification: {why}");
        }
    }
}
