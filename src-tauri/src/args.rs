//! Command-line flags of `gardener-app`. There is only `--open setup`, used by
//! tests and screenshots to start with the setup window already open.

/// What the command line asked for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// Open the setup window at startup.
    pub open_setup: bool,
}

impl Args {
    /// Reads the flags. Unknown arguments are logged and ignored rather than
    /// fatal, because launchers (Finder, desktop files) may add their own.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Self {
        let mut parsed = Self::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let window = match arg.as_str() {
                "--open" => args.next(),
                _ => arg.strip_prefix("--open=").map(str::to_owned),
            };
            match (arg.starts_with("--open"), window.as_deref()) {
                (true, Some("setup")) => parsed.open_setup = true,
                (true, other) => {
                    tracing::warn!(window = ?other, "--open: unknown window (known: setup)");
                }
                (false, _) => tracing::warn!(%arg, "ignoring unknown argument"),
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
    }

    #[test]
    fn unknown_window_and_stray_arguments_are_ignored() {
        assert_eq!(parse(&["--open", "dashboard"]), Args::default());
        assert_eq!(parse(&["--open"]), Args::default());
        assert_eq!(parse(&["-psn_0_12345"]), Args::default());
    }
}
