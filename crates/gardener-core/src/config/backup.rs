//! `[backup]`: what is backed up, where to, how hard it is compressed, how
//! long backups are kept and when they run.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `[backup]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupConfig {
    /// Directory the archives are written to (default: `[paths] backups`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<PathBuf>,
    /// The user data backed up, each under its own name in the archive.
    pub sources: Vec<BackupSource>,
    /// Also back up `gardener.toml` (as `gardener-config`) and Gardener's
    /// service files (as `services`).
    pub include_gardener: bool,
    /// Also back up Ollama's model manifests (`ollama-manifests`): the list of
    /// models, small, enough to pull them again.
    pub include_ollama_manifests: bool,
    /// Also back up the model blobs themselves (`ollama-blobs`, many GB; stored
    /// at zstd's fastest level since they do not compress).
    pub include_model_blobs: bool,
    /// Glob patterns left out of every backup. A pattern without `/` matches a
    /// file or directory name anywhere; one with `/` matches the path inside
    /// the archive (`app-data/cache/**`).
    pub exclude: Vec<String>,
    /// zstd level, 1 (fastest) ..= 19.
    pub level: i32,
    /// Compression threads; 0 means one per core.
    pub threads: u32,
    /// Stop the app while its data is read, so the copy is consistent, and
    /// start it again afterwards. On a filesystem that can clone files (APFS,
    /// btrfs, XFS) the app is stopped only while the data is cloned.
    pub pause_app: bool,
    /// Read every new backup back and check it before calling it done.
    pub verify: bool,
    /// When a backup starts a new chain (stores every file) rather than
    /// storing only what changed: `"7d"` (a duration since the chain's full
    /// backup), a count of backups per chain (`7`), or `"always"`.
    pub full_every: FullEvery,
    /// When scheduled backups run: `"daily HH:MM"`, `"weekly DAY HH:MM"` or
    /// `"off"`.
    pub schedule: Schedule,
    /// Which backups `gardener backup prune` keeps.
    pub retention: RetentionConfig,
    /// Places every new backup is copied to (encrypted), with the chain it needs.
    pub targets: Vec<super::TargetConfig>,
    /// Encrypt copies on `dir` targets too (an external drive gets lost too).
    pub encrypt_dir_targets: bool,
    /// How old a target's last check may be before the backup job reads one
    /// of its copies back.
    pub check_targets: super::CheckEvery,
}

/// One named path in `[backup] sources`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSource {
    /// Name of its directory inside the archive (letters, digits, `.`, `_`, `-`).
    pub name: String,
    /// A directory or a file; `~` is the home directory.
    pub path: PathBuf,
    /// Whether a backup may go ahead when it is missing or empty (otherwise
    /// that fails the backup, so a moved folder or an unmounted volume is
    /// noticed rather than backed up as nothing).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// `[backup.retention]`: like restic's `forget --keep-*`. A backup is kept
/// when any rule keeps it; the newest verified backup is always kept.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// The newest N backups.
    pub keep_last: u32,
    /// The newest backup of each of the last N days that have one.
    pub keep_daily: u32,
    /// The newest backup of each of the last N weeks (Monday to Sunday).
    pub keep_weekly: u32,
    /// The newest backup of each of the last N months.
    pub keep_monthly: u32,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            destination: None,
            sources: vec![BackupSource {
                name: "app-data".into(),
                path: PathBuf::from("~/.codebase-gardener"),
                optional: false,
            }],
            include_gardener: true,
            include_ollama_manifests: true,
            include_model_blobs: false,
            exclude: ["__pycache__", "*.pyc", ".DS_Store"]
                .map(String::from)
                .to_vec(),
            level: 3,
            threads: 0,
            pause_app: true,
            verify: true,
            full_every: FullEvery::Every(7 * 86_400),
            schedule: Schedule::Daily { hour: 3, minute: 0 },
            retention: RetentionConfig::default(),
            targets: Vec::new(),
            encrypt_dir_targets: true,
            check_targets: super::CheckEvery::default(),
        }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            keep_last: 3,
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 6,
        }
    }
}

/// Names Gardener gives its own sources; user sources cannot take them.
pub const RESERVED_SOURCE_NAMES: [&str; 4] = [
    "gardener-config",
    "services",
    "ollama-manifests",
    "ollama-blobs",
];

/// Day of the week, Monday first (as ISO 8601 and systemd count).
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// When scheduled backups run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// No scheduled backups.
    Off,
    /// Every day at this local time.
    Daily {
        /// 0..=23.
        hour: u8,
        /// 0..=59.
        minute: u8,
    },
    /// Once a week at this local time.
    Weekly {
        /// 0 = Monday ..= 6 = Sunday.
        weekday: u8,
        /// 0..=23.
        hour: u8,
        /// 0..=59.
        minute: u8,
    },
}

impl Schedule {
    /// The longest gap between two scheduled backups, in seconds (`None` when off).
    pub fn period_secs(self) -> Option<u64> {
        match self {
            Self::Off => None,
            Self::Daily { .. } => Some(86_400),
            Self::Weekly { .. } => Some(7 * 86_400),
        }
    }
}

fn parse_time(s: &str) -> Option<(u8, u8)> {
    let (h, m) = s.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m) = (h.parse::<u8>().ok()?, m.parse::<u8>().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let bad_time = |t: &str| format!("`{t}` is not a time like \"03:00\" (24-hour clock)");
        match words.as_slice() {
            ["off"] => Ok(Self::Off),
            ["daily", t] => {
                let (hour, minute) = parse_time(t).ok_or_else(|| bad_time(t))?;
                Ok(Self::Daily { hour, minute })
            }
            ["weekly", day, t] => {
                let lower = day.to_ascii_lowercase();
                let weekday = WEEKDAYS
                    .iter()
                    .position(|d| lower.starts_with(d))
                    .ok_or_else(|| format!("`{day}` is not a day of the week (mon … sun)"))?;
                let (hour, minute) = parse_time(t).ok_or_else(|| bad_time(t))?;
                Ok(Self::Weekly {
                    weekday: u8::try_from(weekday).unwrap_or(0),
                    hour,
                    minute,
                })
            }
            _ => Err(format!(
                "`{s}` is not a schedule; write \"daily 03:00\", \"weekly sun 03:00\" or \"off\""
            )),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Off => f.write_str("off"),
            Self::Daily { hour, minute } => write!(f, "daily {hour:02}:{minute:02}"),
            Self::Weekly {
                weekday,
                hour,
                minute,
            } => {
                let day = WEEKDAYS.get(usize::from(*weekday)).unwrap_or(&"sun");
                write!(f, "weekly {day} {hour:02}:{minute:02}")
            }
        }
    }
}

impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `[backup] full_every`: when a new chain starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FullEvery {
    /// Every backup is full.
    Always,
    /// A chain holds at most this many backups, its full one included.
    Count(u32),
    /// A chain starts again once its full backup is this many seconds old.
    Every(u64),
}

impl FullEvery {
    /// Whether a backup after a chain of `len` backups whose full one is
    /// `age_secs` old must be full.
    pub fn due(self, len: u32, age_secs: u64) -> bool {
        match self {
            Self::Always => true,
            Self::Count(n) => len >= n,
            Self::Every(secs) => age_secs >= secs,
        }
    }
}

impl fmt::Display for FullEvery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Always => f.write_str("always"),
            Self::Count(n) => write!(f, "{n}"),
            Self::Every(secs) => {
                write!(
                    f,
                    "{}",
                    humantime::format_duration(Duration::from_secs(*secs))
                )
            }
        }
    }
}

impl FromStr for FullEvery {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "`{s}` is not a duration (\"7d\", \"36h\"), a count of backups (7) or \"always\""
            )
        };
        if s == "always" {
            return Ok(Self::Always);
        }
        if let Ok(n) = s.parse::<u32>() {
            return Self::count(i64::from(n));
        }
        let secs = humantime::parse_duration(s).map_err(|_| bad())?.as_secs();
        if secs < 3600 {
            return Err(format!(
                "`{s}` is shorter than an hour; write \"always\" for every backup"
            ));
        }
        Ok(Self::Every(secs))
    }
}

impl FullEvery {
    fn count(n: i64) -> Result<Self, String> {
        match u32::try_from(n) {
            Ok(1) => Ok(Self::Always),
            Ok(n) if n > 1 => Ok(Self::Count(n)),
            _ => Err(format!(
                "{n} backups per chain is not possible; write at least 1 (or \"always\")"
            )),
        }
    }
}

impl Serialize for FullEvery {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Count(n) => s.serialize_u32(*n),
            other => s.collect_str(other),
        }
    }
}

impl<'de> Deserialize<'de> for FullEvery {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Text {
            Count(i64),
            Words(String),
        }
        match Text::deserialize(d)? {
            Text::Count(n) => Self::count(n),
            Text::Words(s) => s.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// Checks what types cannot: source names, levels, sensible retention.
pub(super) fn validate(b: &BackupConfig) -> Result<(), (String, String)> {
    let err = |k: &str, m: String| Err((format!("backup.{k}"), m));
    if !(1..=19).contains(&b.level) {
        return err(
            "level",
            "must be between 1 and 19 (3 is zstd's default)".into(),
        );
    }
    if b.threads > 256 {
        return err("threads", "must be at most 256 (0 = one per core)".into());
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in &b.sources {
        let valid = !s.name.is_empty()
            && !s.name.starts_with('.')
            && s.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid {
            return err(
                "sources",
                format!(
                    "source name `{}` must be letters, digits, `.`, `_` or `-` (not starting with `.`)",
                    s.name
                ),
            );
        }
        if RESERVED_SOURCE_NAMES.contains(&s.name.as_str()) || s.name.starts_with("gardener-") {
            return err(
                "sources",
                format!(
                    "source name `{}` is reserved for Gardener's own data; pick another",
                    s.name
                ),
            );
        }
        if !seen.insert(s.name.as_str()) {
            return err("sources", format!("source name `{}` is used twice", s.name));
        }
        let p = s.path.to_string_lossy();
        if !(s.path.is_absolute() || p == "~" || p.starts_with("~/")) {
            return err(
                "sources",
                format!(
                    "path `{p}` of source `{}` must be absolute or start with ~/",
                    s.name
                ),
            );
        }
    }
    for pattern in &b.exclude {
        if let Err(e) = globset::Glob::new(pattern) {
            return err(
                "exclude",
                format!("`{pattern}` is not a valid pattern: {e}"),
            );
        }
    }
    super::targets::validate(&b.targets)
        .map_err(|(k, m)| (k.replacen("backup.", "", 1), m))
        .or_else(|(k, m)| err(&k, m))?;
    let r = &b.retention;
    if r.keep_last + r.keep_daily + r.keep_weekly + r.keep_monthly == 0 {
        return err(
            "retention",
            "keeps nothing; set at least one of keep_last, keep_daily, keep_weekly, keep_monthly"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse_and_print_back() {
        for (text, want) in [
            ("daily 03:00", Schedule::Daily { hour: 3, minute: 0 }),
            ("daily 3:05", Schedule::Daily { hour: 3, minute: 5 }),
            (
                "weekly sunday 23:59",
                Schedule::Weekly {
                    weekday: 6,
                    hour: 23,
                    minute: 59,
                },
            ),
            ("off", Schedule::Off),
        ] {
            let parsed: Schedule = text.parse().unwrap();
            assert_eq!(parsed, want, "{text}");
            assert_eq!(parsed.to_string().parse::<Schedule>().unwrap(), want);
        }
        assert_eq!(
            Schedule::Daily { hour: 3, minute: 5 }.to_string(),
            "daily 03:05"
        );
    }

    #[test]
    fn bad_schedules_say_what_to_write() {
        for bad in [
            "daily",
            "daily 24:00",
            "daily 3:5",
            "weekly 03:00",
            "hourly",
            "",
        ] {
            let e = bad.parse::<Schedule>().unwrap_err();
            assert!(
                e.contains("03:00") || e.contains("day of the week"),
                "{bad}: {e}"
            );
        }
        assert!(
            "weekly funday 03:00"
                .parse::<Schedule>()
                .unwrap_err()
                .contains("`funday` is not a day")
        );
    }

    #[test]
    fn reserved_duplicate_and_odd_names_are_refused() {
        let mut b = BackupConfig::default();
        b.sources.push(BackupSource {
            name: "services".into(),
            path: "/x".into(),
            optional: false,
        });
        assert!(validate(&b).unwrap_err().1.contains("reserved"));
        b.sources[1].name = "app-data".into();
        assert!(validate(&b).unwrap_err().1.contains("used twice"));
        b.sources[1].name = "../up".into();
        assert!(validate(&b).unwrap_err().1.contains("must be letters"));
        b.sources[1].name = "notes".into();
        b.sources[1].path = "relative/dir".into();
        assert!(validate(&b).unwrap_err().1.contains("absolute"));
        b.sources[1].path = "~/notes".into();
        assert_eq!(validate(&b), Ok(()));
    }

    #[test]
    fn full_every_takes_a_duration_a_count_or_always() {
        #[derive(Deserialize)]
        struct T {
            full_every: FullEvery,
        }
        let parse =
            |v: &str| toml::from_str::<T>(&format!("full_every = {v}")).map(|t| t.full_every);
        assert_eq!(parse("\"7d\"").unwrap(), FullEvery::Every(7 * 86_400));
        assert_eq!(parse("\"36h\"").unwrap(), FullEvery::Every(36 * 3600));
        assert_eq!(parse("7").unwrap(), FullEvery::Count(7));
        assert_eq!(parse("\"7\"").unwrap(), FullEvery::Count(7));
        assert_eq!(parse("1").unwrap(), FullEvery::Always);
        assert_eq!(parse("\"always\"").unwrap(), FullEvery::Always);
        for bad in ["0", "-3", "\"soon\"", "\"10m\""] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains("not") || e.contains("shorter"), "{bad}: {e}");
        }
        for v in [
            FullEvery::Every(7 * 86_400),
            FullEvery::Count(5),
            FullEvery::Always,
        ] {
            let text =
                toml::to_string(&std::collections::BTreeMap::from([("full_every", v)])).unwrap();
            assert_eq!(toml::from_str::<T>(&text).unwrap().full_every, v, "{text}");
        }
        assert!(FullEvery::Count(3).due(3, 0) && !FullEvery::Count(3).due(2, 0));
        assert!(FullEvery::Every(100).due(1, 100) && !FullEvery::Every(100).due(50, 99));
        assert!(FullEvery::Always.due(0, 0));
    }

    #[test]
    fn a_retention_that_keeps_nothing_is_refused() {
        let mut b = BackupConfig {
            retention: RetentionConfig {
                keep_last: 0,
                keep_daily: 0,
                keep_weekly: 0,
                keep_monthly: 0,
            },
            ..BackupConfig::default()
        };
        assert_eq!(validate(&b).unwrap_err().0, "backup.retention");
        b.level = 22;
        assert_eq!(validate(&b).unwrap_err().0, "backup.level");
    }
}
