//! Wording shared by the monitor's summary, the CLI and backups: how long ago
//! something happened, in the few words a menu line has room for.

/// `secs` in words: "just now", "5 min ago", "3 h ago", "2 days ago".
pub fn ago(secs: u64) -> String {
    match secs {
        0..120 => "just now".into(),
        120..7_200 => format!("{} min ago", secs / 60),
        7_200..172_800 => format!("{} h ago", secs / 3_600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_round_down_to_the_unit_that_fits() {
        assert_eq!(ago(0), "just now");
        assert_eq!(ago(119), "just now");
        assert_eq!(ago(120), "2 min ago");
        assert_eq!(ago(7_199), "119 min ago");
        assert_eq!(ago(7_200), "2 h ago");
        assert_eq!(ago(172_800), "2 days ago");
    }
}
