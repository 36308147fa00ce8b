//! Command-line flags of `gardener-app`: `--open setup` starts with the setup
//! window open (tests, screenshots); `--window setup` is how the menu-bar
//! process starts the process that shows the setup window.

/// What the command line asked for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// Open the setup window at startup.
    pub open_setup: bool,
    /// Be the setup window's process: no tray, exit when the window closes.
    pub setup_window: bool,
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
                    let takes_value = matches!(arg.as_str(), "--open" | "--window");
                    (arg.clone(), if takes_value { args.next() } else { None })
                }
            };
            match (flag.as_str(), value.as_deref()) {
                ("--open", Some("setup")) => parsed.open_setup = true,
                ("--window", Some("setup")) => parsed.setup_window = true,
                ("--open" | "--window", other) => {
                    tracing::warn!(%flag, window = ?other, "unknown window (known: setup)");
                }
                _ => tracing::warn!(%arg, "ignoring unknown argument"),
            }
        }
        parsed
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
    }

    #[test]
    fn open_setup_in_both_spellings() {
        assert!(parse(&["--open", "setup"]).open_setup);
        assert!(parse(&["--open=setup"]).open_setup);
        assert!(parse(&["--window", "setup"]).setup_window);
        assert!(parse(&["--window=setup"]).setup_window);
        assert!(!parse(&["--open", "setup"]).setup_window);
    }

    #[test]
    fn unknown_window_and_stray_arguments_are_ignored() {
        assert_eq!(parse(&["--open", "dashboard"]), Args::default());
        assert_eq!(parse(&["--open"]), Args::default());
        assert_eq!(parse(&["--window"]), Args::default());
        assert_eq!(parse(&["-psn_0_12345"]), Args::default());
        assert_eq!(parse(&["--verbose=1"]), Args::default());
    }
}
