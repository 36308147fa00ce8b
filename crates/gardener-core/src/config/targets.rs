//! `[[backup.targets]]`: places backups are copied to — a directory (an
//! external drive, a mounted NAS share), an SFTP server reached with the
//! system's ssh, or S3-compatible storage — and how often copies are read
//! back (`[backup] check_targets`); and where an SFTP target's `sftp://` URL
//! points, which the config checks and the SFTP target connects to.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::RetentionConfig;

/// What kind of place a target is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// A directory on another disk.
    Dir,
    /// A directory on a server, over SFTP.
    Sftp,
    /// A bucket (and prefix) of an S3-compatible service.
    S3,
}

impl TargetKind {
    /// The word in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dir => "dir",
            Self::Sftp => "sftp",
            Self::S3 => "s3",
        }
    }
}

/// One `[[backup.targets]]` table.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Shown everywhere; `--target NAME` picks it (letters, digits, `-`, `_`).
    pub name: String,
    /// `dir`, `sftp` or `s3`.
    pub kind: TargetKind,
    /// `dir`: the directory (`~` is the home directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// `sftp`: `sftp://user@host[:port]/directory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `sftp`: an ssh config file used instead of `~/.ssh/config` (`ssh -F`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_config: Option<PathBuf>,
    /// `s3`: the service's URL (`https://s3.eu-central-003.backblazeb2.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// `s3`: the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// `s3`: a prefix inside the bucket (`mac-mini/`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// `s3`: the region (`us-east-1` when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `s3`: a file beside `gardener.toml` (mode 0600) with `access_key_id`
    /// and `secret_access_key`: credentials never go in `gardener.toml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<PathBuf>,
    /// Which copies this target keeps (`[backup.retention]` when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionConfig>,
}

/// `[backup] check_targets`: how old a target's last check may get before
/// the backup job reads one of its copies back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckEvery(pub u64);

impl Default for CheckEvery {
    fn default() -> Self {
        Self(7 * 86_400)
    }
}

impl fmt::Display for CheckEvery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}",
            humantime::format_duration(Duration::from_secs(self.0))
        )
    }
}

impl FromStr for CheckEvery {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let secs = humantime::parse_duration(s)
            .map_err(|_| format!("`{s}` is not a duration like \"7d\" or \"36h\""))?
            .as_secs();
        if secs < 3600 {
            return Err(format!("`{s}` is shorter than an hour"));
        }
        Ok(Self(secs))
    }
}

impl Serialize for CheckEvery {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CheckEvery {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Checks each target: a unique, simple name, the keys its kind needs and
/// none it does not. Returns the offending key and what is wrong.
pub(super) fn validate(targets: &[TargetConfig]) -> Result<(), (String, String)> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, t) in targets.iter().enumerate() {
        let key = |k: &str| format!("backup.targets[{i}].{k}");
        let valid = !t.name.is_empty()
            && t.name.len() <= 40
            && t.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if !valid {
            return Err((
                key("name"),
                format!(
                    "target name `{}` must be 1 to 40 letters, digits, `-` or `_`",
                    t.name
                ),
            ));
        }
        if !seen.insert(t.name.as_str()) {
            return Err((
                key("name"),
                format!("target name `{}` is used twice", t.name),
            ));
        }
        let given: [(&str, bool); 7] = [
            ("path", t.path.is_some()),
            ("url", t.url.is_some()),
            ("ssh_config", t.ssh_config.is_some()),
            ("endpoint", t.endpoint.is_some()),
            ("bucket", t.bucket.is_some()),
            ("region", t.region.is_some()),
            ("credentials", t.credentials.is_some()),
        ];
        let (needed, allowed): (&[&str], &[&str]) = match t.kind {
            TargetKind::Dir => (&["path"], &["path"]),
            TargetKind::Sftp => (&["url"], &["url", "ssh_config"]),
            TargetKind::S3 => (
                &["endpoint", "bucket", "credentials"],
                &["endpoint", "bucket", "region", "credentials"],
            ),
        };
        let kind = t.kind.as_str();
        if let Some((k, _)) = given.iter().find(|(k, set)| *set && !allowed.contains(k)) {
            return Err((key(k), format!("a `{kind}` target has no `{k}`")));
        }
        if !t.prefix.is_empty() && t.kind != TargetKind::S3 {
            return Err((key("prefix"), format!("a `{kind}` target has no `prefix`")));
        }
        if let Some(k) = needed
            .iter()
            .find(|k| !given.iter().any(|(g, set)| g == *k && *set))
        {
            return Err((key(k), format!("a `{kind}` target needs `{k}`")));
        }
        check_kind(t).map_err(|(k, m)| (key(k), m))?;
    }
    Ok(())
}

fn check_kind(t: &TargetConfig) -> Result<(), (&'static str, String)> {
    if let Some(p) = &t.path {
        let s = p.to_string_lossy();
        if !(p.is_absolute() || s.starts_with("~/")) {
            return Err(("path", format!("`{s}` must be absolute or start with ~/")));
        }
    }
    if let Some(u) = &t.url {
        SftpLocation::parse(u).map_err(|e| ("url", e))?;
    }
    if let Some(e) = &t.endpoint {
        let parsed = url::Url::parse(e).map_err(|err| ("endpoint", format!("`{e}`: {err}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err((
                "endpoint",
                format!("`{e}` must start with https:// or http://"),
            ));
        }
    }
    if let Some(c) = &t.credentials
        && (c.components().count() != 1 || c.to_string_lossy().starts_with('.'))
    {
        return Err((
            "credentials",
            format!(
                "`{}` must be a file name beside gardener.toml, like \"offsite.credentials\"",
                c.display()
            ),
        ));
    }
    if t.prefix.starts_with('/') || t.prefix.contains("..") {
        return Err((
            "prefix",
            format!("`{}` must not start with / or contain ..", t.prefix),
        ));
    }
    Ok(())
}

impl super::Config {
    /// Appends `target` as a `[[backup.targets]]` table to the file at
    /// `path`, keeping its comments and layout; the whole file is checked
    /// first (a name used twice, a missing key) and left as it was if wrong.
    pub fn add_target(path: &std::path::Path, target: &TargetConfig) -> super::Result<()> {
        let table: toml_edit::DocumentMut = toml::to_string(target)
            .map_err(|e| e.to_string())
            .and_then(|t| t.parse().map_err(|e: toml_edit::TomlError| e.to_string()))
            .map_err(|message| super::Error::Invalid {
                path: path.to_path_buf(),
                line: None,
                column: None,
                key: Some("backup.targets".into()),
                message,
            })?;
        Self::edit(path, |doc| {
            let backup = doc
                .entry("backup")
                .or_insert_with(toml_edit::table)
                .as_table_like_mut();
            if let Some(backup) = backup {
                let targets = backup
                    .entry("targets")
                    .or_insert(toml_edit::Item::ArrayOfTables(
                        toml_edit::ArrayOfTables::new(),
                    ));
                if let Some(list) = targets.as_array_of_tables_mut() {
                    list.push(table.as_table().clone());
                }
            }
        })?;
        let saved = Self::load(path)?;
        if saved.backup.targets.iter().any(|t| t.name == target.name) {
            Ok(())
        } else {
            Err(super::Error::Invalid {
                path: path.to_path_buf(),
                line: None,
                column: None,
                key: Some("backup.targets".into()),
                message: "`backup` or `backup.targets` is written inline; add the target \
                          in the Settings editor"
                    .into(),
            })
        }
    }

    /// Removes the `[[backup.targets]]` table named `name` from the file at
    /// `path`, keeping the rest of it as it was.
    pub fn remove_target(path: &std::path::Path, name: &str) -> super::Result<()> {
        Self::edit(path, |doc| {
            let Some(backup) = doc.get_mut("backup").and_then(|b| b.as_table_like_mut()) else {
                return;
            };
            let now_empty = match backup
                .get_mut("targets")
                .and_then(|t| t.as_array_of_tables_mut())
            {
                Some(list) => {
                    list.retain(|t| t.get("name").and_then(|n| n.as_str()) != Some(name));
                    list.is_empty()
                }
                None => false,
            };
            if now_empty {
                backup.remove("targets");
            }
        })
    }
}

/// Where an `sftp://user@host[:port]/dir` URL points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SftpLocation {
    /// `user@host` or `host`.
    pub destination: String,
    /// The port, when not ssh's own default.
    pub port: Option<u16>,
    /// The directory on the server.
    pub dir: String,
}

impl SftpLocation {
    /// Parses an `sftp://` URL; a password in it is refused.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
        if url.scheme() != "sftp" {
            return Err(format!("`{text}` must start with sftp://"));
        }
        if url.password().is_some() {
            return Err(
                "a password does not belong in the URL: use an ssh key (ssh-copy-id)".into(),
            );
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty() && !h.starts_with('-'))
            .ok_or_else(|| format!("`{text}` names no host"))?;
        let user = url.username();
        if user.starts_with('-') {
            return Err(format!("`{text}`: the user name cannot start with -"));
        }
        let dir = percent(url.path()).map_err(|e| format!("`{text}`: {e}"))?;
        if dir.is_empty() || dir == "/" || dir.contains('\n') || dir.contains('"') {
            return Err(format!(
                "`{text}` needs a directory on the server, like sftp://me@host/srv/gardener"
            ));
        }
        Ok(Self {
            destination: if user.is_empty() {
                host.to_owned()
            } else {
                format!("{user}@{host}")
            },
            port: url.port(),
            dir: dir.trim_end_matches('/').to_owned(),
        })
    }
}

fn percent(path: &str) -> std::result::Result<String, String> {
    percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .map(|p| p.into_owned())
        .map_err(|_| "the path is not valid UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_user_host_port_and_directory() {
        let l = SftpLocation::parse("sftp://me@backup.lan/srv/gardener/").unwrap();
        assert_eq!(l.destination, "me@backup.lan");
        assert_eq!((l.port, l.dir.as_str()), (None, "/srv/gardener"));
        let l = SftpLocation::parse("sftp://backup.lan:2222/srv/my%20backups").unwrap();
        assert_eq!(l.destination, "backup.lan");
        assert_eq!((l.port, l.dir.as_str()), (Some(2222), "/srv/my backups"));
        for bad in [
            "http://host/x",
            "sftp://me:secret@host/x",
            "sftp://host",
            "sftp://host/",
            "sftp://-oProxyCommand=x/y",
            "sftp://host/a%22b",
        ] {
            assert!(SftpLocation::parse(bad).is_err(), "{bad}");
        }
    }
}
