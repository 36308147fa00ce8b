//! Command-line flags of `gardener-app`: `--open setup|dashboard` starts with
//! that window open (tests, screenshots); `--window setup|dashboard` (with
//! `--view NAME` for the dashboard) is how the menu-bar process starts the
//! process that shows a window.

use crate::window::{DASHBOARD, SETUP, View};

/// A window the app shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Setup,
    Dashboard,
}

impl Window {
    /// The window's name on the command line, and its label.
    pub fn name(self) -> &'static str {
        match self {
            Self::Setup => SETUP,
            Self::Dashboard => DASHBOARD,
        }
    }
}

/// What the command line asked for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// Open this window at startup.
    pub open: Option<Window>,
    /// Be this window's process: no tray, exit when the window closes.
    pub window: Option<Window>,
    /// The dashboard's view to show first.
    pub view: Option<View>,
}

impl Args {
    /// Reads the flags. Unknown arguments are logged and ignored rather than
    /// fatal, because launchers (Finder, desktop files) may add their own.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Self {
        let mut parsed = Self::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, value) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
                None => {
                    let takes_value = matches!(arg.as_str(), "--open" | "--window" | "--view");
                    (arg.clone(), if takes_value { args.next() } else { None })
                }
            };
            let window = match value.as_deref() {
                Some("setup") => Some(Window::Setup),
                Some("dashboard") => Some(Window::Dashboard),
                _ => None,
            };
            match (flag.as_str(), window, value.as_deref()) {
                ("--open", Some(w), _) => parsed.open = Some(w),
                ("--window", Some(w), _) => parsed.window = Some(w),
                ("--view", _, v) if v.and_then(View::named).is_some() => {
                    parsed.view = v.and_then(View::named);
                }
                ("--view", _, other) => {
                    tracing::warn!(view = ?other, known = ?View::ALL, "unknown dashboard view");
                }
                ("--open" | "--window", None, other) => {
                    tracing::warn!(%flag, window = ?other, "unknown window (known: setup, dashboard)");
                }
                _ => tracing::warn!(%arg, "ignoring unknown argument"),
            }
        }
        parsed
    }

    /// The dashboard's first view.
    pub fn view(&self) -> View {
        self.view.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Args {
        Args::parse(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn no_arguments_opens_nothing() {
        assert_eq!(parse(&[]), Args::default());
        assert_eq!(parse(&[]).view(), View::Overview);
    }

    #[test]
    fn windows_in_both_spellings() {
        assert_eq!(parse(&["--open", "setup"]).open, Some(Window::Setup));
        assert_eq!(parse(&["--open=dashboard"]).open, Some(Window::Dashboard));
        assert_eq!(parse(&["--window", "setup"]).window, Some(Window::Setup));
        assert_eq!(
            parse(&["--window=dashboard"]).window,
            Some(Window::Dashboard)
        );
        assert_eq!(parse(&["--open", "setup"]).window, None);
        let d = parse(&["--window", "dashboard", "--view", "backups"]);
        assert_eq!(
            (d.window, d.view()),
            (Some(Window::Dashboard), View::Backups)
        );
    }

    #[test]
    fn unknown_windows_views_and_stray_arguments_are_ignored() {
        assert_eq!(parse(&["--open", "settings"]), Args::default());
        assert_eq!(parse(&["--open"]), Args::default());
        assert_eq!(parse(&["--window"]), Args::default());
        assert_eq!(parse(&["--view", "../etc"]), Args::default());
        assert_eq!(parse(&["-psn_0_12345"]), Args::default());
        assert_eq!(parse(&["--verbose=1"]), Args::default());
    }
}
