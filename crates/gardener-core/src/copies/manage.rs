//! Targets as people look after them: what each holds and whether it answers
//! (what `gardener backup targets` prints and the dashboard shows), and
//! adding or removing a `[[backup.targets]]` table in gardener.toml with its
//! comments and layout kept, an S3 target's credentials written beside it
//! (0600), never into gardener.toml.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::state::{CheckRecord, CopiesState, Failure};
use super::{Error, Result, id_of, open};
use crate::config::{Config, TargetConfig, TargetKind};
use crate::context::Context;

/// One target: where it is, whether it answers, and what it holds.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TargetSummary {
    /// The target's name.
    pub name: String,
    /// `dir`, `sftp` or `s3`.
    pub kind: TargetKind,
    /// Where it is, for people.
    pub location: String,
    /// Whether it could be listed just now.
    pub reachable: bool,
    /// Why not, when it could not.
    pub error: Option<String>,
    /// How many backups it holds (as recorded when it cannot be listed).
    pub copies: usize,
    /// Their size in bytes.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes: u64,
    /// The ids of the backups it holds, newest first.
    pub backups: Vec<String>,
    /// When a copy to it last succeeded, RFC 3339.
    pub last_copy: Option<String>,
    /// The last time one of its copies was read back.
    pub last_check: Option<CheckRecord>,
    /// The last copy that failed, while no later one succeeded.
    pub last_failure: Option<Failure>,
}

/// Every configured target, each listed once over its connection (a target
/// that cannot be reached shows what was recorded of it).
pub fn overview(ctx: &Context) -> Vec<TargetSummary> {
    let state = CopiesState::load(ctx);
    ctx.config
        .backup
        .targets
        .iter()
        .map(|cfg| {
            let known = state.targets.get(&cfg.name).cloned().unwrap_or_default();
            let opened = open(ctx, cfg);
            let location = opened
                .as_ref()
                .map_or_else(|_| String::new(), |t| t.location());
            let (reachable, error, mut held) = match opened.and_then(|t| t.list()) {
                Ok(objects) => (
                    true,
                    None,
                    objects
                        .iter()
                        .filter_map(|o| id_of(&o.key).map(|id| (id.to_owned(), o.size)))
                        .collect::<Vec<_>>(),
                ),
                Err(e) => (
                    false,
                    Some(e.to_string()),
                    known
                        .copies
                        .iter()
                        .map(|(id, c)| (id.clone(), c.size))
                        .collect(),
                ),
            };
            // Ids sort by time; newest first, as the backups list does.
            held.sort_by(|a, b| b.0.cmp(&a.0));
            TargetSummary {
                name: cfg.name.clone(),
                kind: cfg.kind,
                location,
                reachable,
                error,
                copies: held.len(),
                bytes: held.iter().map(|(_, size)| size).sum(),
                backups: held.into_iter().map(|(id, _)| id).collect(),
                last_copy: known.last_copy.clone(),
                last_check: known.last_check().cloned(),
                last_failure: known.last_failure.clone(),
            }
        })
        .collect()
}

/// A target to add, as the dashboard's form gives it. The S3 secret goes
/// into the credentials file and nowhere else (not even `Debug`).
#[derive(Clone, Default, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct NewTarget {
    /// Letters, digits, `-` or `_`.
    pub name: String,
    /// `dir`, `sftp` or `s3`.
    pub kind: Option<TargetKind>,
    /// `dir`: the directory.
    pub path: Option<String>,
    /// `sftp`: `sftp://user@host[:port]/directory`.
    pub url: Option<String>,
    /// `s3`: the service's URL.
    pub endpoint: Option<String>,
    /// `s3`: the bucket.
    pub bucket: Option<String>,
    /// `s3`: a prefix inside the bucket.
    pub prefix: Option<String>,
    /// `s3`: the region.
    pub region: Option<String>,
    /// `s3`: the access key id.
    pub access_key_id: Option<String>,
    /// `s3`: the secret access key.
    pub secret_access_key: Option<String>,
}

impl fmt::Debug for NewTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewTarget")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

fn given(v: Option<&String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The credentials file an S3 target added here gets, beside gardener.toml.
fn credentials_file(ctx: &Context, name: &str) -> PathBuf {
    let dir = ctx.config_file.parent().map_or_else(
        || ctx.paths.config_dir.clone(),
        std::path::Path::to_path_buf,
    );
    dir.join(format!("{name}.credentials"))
}

fn config_error(e: &crate::config::Error) -> Error {
    Error::Config(e.to_string())
}

/// Adds `new` to gardener.toml (checked as the whole file is: a bad name or
/// a missing key is named and nothing is written). An S3 target's keys go
/// into `<name>.credentials` beside it, 0600.
pub fn add(ctx: &Context, new: &NewTarget) -> Result<TargetConfig> {
    let name = new.name.trim().to_owned();
    let kind = new
        .kind
        .ok_or_else(|| Error::Config("choose the kind of target: dir, sftp or s3".into()))?;
    if ctx.config.backup.targets.iter().any(|t| t.name == name) {
        return Err(Error::Config(format!(
            "there is already a target named `{name}`"
        )));
    }
    let mut cfg = TargetConfig {
        name: name.clone(),
        kind,
        path: given(new.path.as_ref()).map(PathBuf::from),
        url: given(new.url.as_ref()),
        ssh_config: None,
        endpoint: given(new.endpoint.as_ref()),
        bucket: given(new.bucket.as_ref()),
        prefix: given(new.prefix.as_ref()).unwrap_or_default(),
        region: given(new.region.as_ref()),
        credentials: None,
        retention: None,
    };
    let mut written = None;
    if kind == TargetKind::S3 {
        let (Some(id), Some(secret)) = (
            given(new.access_key_id.as_ref()),
            given(new.secret_access_key.as_ref()),
        ) else {
            return Err(Error::Config(
                "an s3 target needs its access key id and secret access key".into(),
            ));
        };
        let file = credentials_file(ctx, &name);
        let text = toml::to_string(&serde_json::json!({
            "access_key_id": id,
            "secret_access_key": secret,
        }))
        .map_err(|e| Error::Config(format!("cannot write the credentials: {e}")))?;
        crate::fsutil::atomic_write(&file, text.as_bytes(), 0o600).map_err(|e| {
            Error::Config(format!(
                "cannot write the credentials file {}: {e}",
                file.display()
            ))
        })?;
        cfg.credentials = file.file_name().map(PathBuf::from);
        written = Some(file);
    }
    if let Err(e) = Config::add_target(&ctx.config_file, &cfg) {
        if let Some(file) = written {
            let _ = std::fs::remove_file(file);
        }
        return Err(config_error(&e));
    }
    Ok(cfg)
}

/// Takes target `name` out of gardener.toml. Its copies stay where they are;
/// a credentials file that was written for it beside gardener.toml goes.
pub fn remove(ctx: &Context, name: &str) -> Result<()> {
    let cfg = super::find(ctx, name)?.clone();
    Config::remove_target(&ctx.config_file, name).map_err(|e| config_error(&e))?;
    if let Some(file) = &cfg.credentials {
        let ours = credentials_file(ctx, name);
        let beside = ctx.config_file.parent().map(|d| d.join(file));
        let shared = ctx
            .config
            .backup
            .targets
            .iter()
            .any(|t| t.name != name && t.credentials.as_ref() == Some(file));
        if beside.as_ref() == Some(&ours) && !shared {
            let _ = std::fs::remove_file(ours);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::paths::Paths;

    const CONFIG: &str = "# my settings\n[backup]\n# keep these\nfull_every = 7\n";

    fn ctx_in(home: &std::path::Path) -> Context {
        let paths = Paths::linux(
            home.to_path_buf(),
            &home.join(".config"),
            &home.join(".local/share"),
            &home.join(".local/state"),
        );
        let file = paths.config_file.clone();
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        if !file.exists() {
            std::fs::write(&file, CONFIG).unwrap();
        }
        let config = Config::load(&file).unwrap();
        Context::new(paths, file, true, config)
    }

    fn s3(name: &str) -> NewTarget {
        NewTarget {
            name: name.into(),
            kind: Some(TargetKind::S3),
            endpoint: Some("https://s3.example.test".into()),
            bucket: Some("b".into()),
            prefix: Some("mini/".into()),
            access_key_id: Some("AKIDTEST".into()),
            secret_access_key: Some("very-secret-value".into()),
            ..NewTarget::default()
        }
    }

    #[test]
    fn added_targets_keep_the_file_s_comments_and_the_secret_stays_out_of_it() {
        let home = tempfile::tempdir().unwrap();
        let ctx = ctx_in(home.path());
        let dir = NewTarget {
            name: "nas".into(),
            kind: Some(TargetKind::Dir),
            path: Some(" /Volumes/Backup/gardener ".into()),
            ..NewTarget::default()
        };
        add(&ctx, &dir).unwrap();
        let ctx = ctx_in(home.path());
        add(&ctx, &s3("offsite")).unwrap();

        let text = std::fs::read_to_string(&ctx.config_file).unwrap();
        assert!(text.starts_with(CONFIG), "{text}");
        assert!(!text.contains("very-secret-value"), "{text}");
        assert!(format!("{:?}", s3("x")).find("secret").is_none());
        let config = Config::load(&ctx.config_file).unwrap();
        let names: Vec<&str> = config
            .backup
            .targets
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, ["nas", "offsite"]);
        assert_eq!(
            config.backup.targets[0].path.as_deref(),
            Some(std::path::Path::new("/Volumes/Backup/gardener"))
        );
        assert_eq!(config.backup.full_every, crate::config::FullEvery::Count(7));
        let creds = ctx.config_file.with_file_name("offsite.credentials");
        let mode = std::fs::metadata(&creds).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(
            std::fs::read_to_string(&creds)
                .unwrap()
                .contains("very-secret-value")
        );

        // Removing one keeps the other and the comments; its credentials go.
        let ctx = ctx_in(home.path());
        remove(&ctx, "offsite").unwrap();
        assert!(!creds.exists());
        let text = std::fs::read_to_string(&ctx.config_file).unwrap();
        assert!(text.starts_with(CONFIG), "{text}");
        let config = Config::load(&ctx.config_file).unwrap();
        assert_eq!(config.backup.targets.len(), 1);
        let ctx = ctx_in(home.path());
        remove(&ctx, "nas").unwrap();
        let config = Config::load(&ctx.config_file).unwrap();
        assert!(config.backup.targets.is_empty());
    }

    #[test]
    fn a_bad_target_is_named_and_nothing_is_written() {
        let home = tempfile::tempdir().unwrap();
        let ctx = ctx_in(home.path());
        add(&ctx, &s3("offsite")).unwrap();
        let ctx = ctx_in(home.path());
        let before = std::fs::read_to_string(&ctx.config_file).unwrap();

        let twice = add(&ctx, &s3("offsite")).unwrap_err().to_string();
        assert!(
            twice.contains("already a target named `offsite`"),
            "{twice}"
        );
        let bad_name = add(&ctx, &s3("off site")).unwrap_err().to_string();
        assert!(bad_name.contains("letters, digits"), "{bad_name}");
        assert!(
            !ctx.config_file
                .with_file_name("off site.credentials")
                .exists()
        );
        let relative = NewTarget {
            name: "usb".into(),
            kind: Some(TargetKind::Dir),
            path: Some("backups".into()),
            ..NewTarget::default()
        };
        let why = add(&ctx, &relative).unwrap_err().to_string();
        assert!(why.contains("must be absolute"), "{why}");
        let no_secret = NewTarget {
            secret_access_key: None,
            ..s3("b2")
        };
        let why = add(&ctx, &no_secret).unwrap_err().to_string();
        assert!(why.contains("secret access key"), "{why}");
        let unknown = remove(&ctx, "nope").unwrap_err();
        assert_eq!(unknown.code().as_str(), "usage");
        assert_eq!(std::fs::read_to_string(&ctx.config_file).unwrap(), before);
    }
}
