//! The dashboard's one long operation at a time (a backup, a check, a
//! restore, a copy, a model's download, restarting Ollama with new
//! settings): off the async executor, cancellable, its progress
//! throttled to the page; then what follows its end — a word to the monitor,
//! a notification through the menu bar — and closing the window if that was
//! asked for meanwhile.

use std::sync::atomic::Ordering;

use gardener_core::Platform;
use std::time::{Duration, Instant};

use gardener_core::backup::{Cancel, Paced, Progress, Throttle};
use gardener_core::backup::{CreateReport, RestoreReport};
use gardener_core::context::Context;
use gardener_core::copies::copy::CopyOutcome;
use gardener_core::error::{ErrorCode, Failure};
use gardener_core::install::Progress as InstallProgress;
use gardener_core::models::PullProgress;
use gardener_core::models::Pulled;
use gardener_core::news::{self, News};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{Runtime, WebviewWindow};

use super::{Dash, DashEvent, show_working};
use crate::lock::lock;
use crate::menu_bar::work::progress_line;
use crate::window::View;
use crate::window_pipe::{Asked, WorkLine};

/// What follows the end of a long operation.
#[derive(Debug, Default)]
pub struct Then {
    /// Asked of the monitor (a sample at once, taking up restored settings).
    pub ask: Option<Asked>,
    /// Said in a notification, which opens this view when clicked.
    pub news: Option<(News, View)>,
}

/// How a long operation shows on the menu while it runs: on which line, in
/// which words.
pub struct OnMenu<P> {
    on: WorkLine,
    words: Box<dyn Fn(&P) -> String + Send>,
}

impl OnMenu<Progress> {
    /// A backup, check, restore or copy: the backup line, as the menu's own
    /// Back Up Now words it ("Checking the backup… 80%").
    pub fn backup() -> Self {
        Self {
            on: WorkLine::Backup,
            words: Box::new(progress_line),
        }
    }
}

impl OnMenu<PullProgress> {
    /// A pull: Ollama's line, "Ollama — pulling llama3.2:3b… 45%".
    pub fn pull(model: String) -> Self {
        let words = move |p: &PullProgress| match (p.completed * 100).checked_div(p.total) {
            Some(pct) => format!("Ollama — pulling {model}… {}%", pct.min(100)),
            None => format!("Ollama — pulling {model}…"),
        };
        Self {
            on: WorkLine::Ollama,
            words: Box::new(words),
        }
    }
}

impl OnMenu<InstallProgress> {
    /// Ollama restarting with new settings.
    pub fn restart() -> Self {
        Self {
            on: WorkLine::Ollama,
            words: Box::new(|_| "Ollama — restarting with new settings…".to_owned()),
        }
    }
}

/// The menu's line changes at most this often (each change redraws the
/// menu), and only when its words do.
const MENU_EVERY: Duration = Duration::from_secs(1);

/// The words last shown on the menu, and when.
#[derive(Default)]
struct MenuPace {
    last: Option<(Instant, String)>,
}

impl MenuPace {
    /// `text`, when it should be shown now.
    fn due(&mut self, text: String) -> Option<String> {
        let show = self
            .last
            .as_ref()
            .is_none_or(|(at, shown)| *shown != text && at.elapsed() >= MENU_EVERY);
        show.then(|| {
            self.last = Some((Instant::now(), text.clone()));
            text
        })
    }
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
            news: Some((news::backup_ended(result), View::Backups)),
        }
    }

    /// After a restore: a backup holds gardener.toml too, so the monitor
    /// starts over from the restored one; and how it went.
    pub fn after_restore(result: &Result<RestoreReport, Failure>) -> Self {
        Self {
            ask: result.is_ok().then_some(Asked::ConfigChanged),
            news: Some((news::restore_ended(result), View::Backups)),
        }
    }

    /// After a pull: the model is ready, or why it is not.
    pub fn after_pull(model: String) -> impl FnOnce(&Result<Pulled, Failure>) -> Self {
        move |result| Self {
            ask: None,
            news: Some((news::pull_ended(&model, result), View::Models)),
        }
    }

    /// After copies: the ones that failed.
    pub fn after_copies(result: &Result<Vec<CopyOutcome>, Failure>) -> Self {
        Self {
            ask: None,
            news: result
                .as_deref()
                .ok()
                .and_then(news::copies_failed)
                .map(|n| (n, View::Backups)),
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
        menu: OnMenu<P>,
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
        let fed = self.fed();
        let on = menu.on;
        let result = tauri::async_runtime::spawn_blocking(move || {
            let ctx = Context::load(None, Platform::current())?;
            let (mut throttle, mut pace) = (Throttle::default(), MenuPace::default());
            work(&ctx, &cancel, &mut |p| {
                if throttle.ready(p) {
                    let _ = on_progress.send(p.clone());
                    if let Some(text) = pace.due((menu.words)(p)).filter(|_| fed) {
                        show_working(on, Some(text));
                    }
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
        if fed {
            show_working(on, None);
        }
        let then = then(&result);
        if let Some(asked) = then.ask
            && let Err(why) = self.ask(asked).await
        {
            tracing::warn!("the monitor was not told: {why}");
        }
        if let Some((news, view)) = then.news {
            self.tell(news, view).await;
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
    async fn tell(&self, news: News, view: View) {
        let asked = Asked::Notify {
            title: news.title,
            body: news.body,
            view,
        };
        if let Err(why) = self.ask(asked).await {
            tracing::warn!("no notification: {why}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pull_reads_on_the_menu_as_its_share_done() {
        let menu = OnMenu::pull("qwen3:8b".into());
        let at = |completed, total| PullProgress {
            status: "pulling 6a0746a1ec1a".into(),
            digest: None,
            completed,
            total,
        };
        assert_eq!(menu.on, WorkLine::Ollama);
        assert_eq!((menu.words)(&at(45, 100)), "Ollama — pulling qwen3:8b… 45%");
        assert_eq!((menu.words)(&at(0, 0)), "Ollama — pulling qwen3:8b…");
        assert_eq!(OnMenu::backup().on, WorkLine::Backup);
    }

    #[test]
    fn the_menu_line_changes_at_most_once_a_second_and_only_with_new_words() {
        let mut pace = MenuPace::default();
        assert_eq!(
            pace.due("a".into()).as_deref(),
            Some("a"),
            "the first shows"
        );
        assert_eq!(pace.due("b".into()), None, "too soon");
        pace.last = pace.last.take().map(|(at, t)| (at - MENU_EVERY, t));
        assert_eq!(pace.due("a".into()), None, "the same words");
        assert_eq!(pace.due("b".into()).as_deref(), Some("b"));
    }
}
