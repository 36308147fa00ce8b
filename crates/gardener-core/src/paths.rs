//! Where Gardener keeps things on each platform: config, data, logs, backups and
//! the directory the service manager reads user services from.
//!
//! On the running platform the `directories` crate decides (it honours `HOME` and
//! the `XDG_*` variables, so tests run in a temporary home). For the other
//! platform (rendering a macOS plan on Linux, say) the same layout is derived
//! from the home directory.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The platforms Gardener installs services on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Platform {
    /// launchd user agents in `~/Library/LaunchAgents`.
    Macos,
    /// systemd user units in `$XDG_CONFIG_HOME/systemd/user`.
    Linux,
}

impl Platform {
    /// The platform this binary runs on. Anything that is not macOS is treated as
    /// a systemd system.
    pub fn current() -> Self {
        if cfg!(target_os = "macos") {
            Self::Macos
        } else {
            Self::Linux
        }
    }

    /// Lowercase name, as used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Macos => "macos",
            Self::Linux => "linux",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "macos" | "darwin" => Ok(Self::Macos),
            "linux" => Ok(Self::Linux),
            other => Err(format!(
                "unknown platform `{other}` (expected `macos` or `linux`)"
            )),
        }
    }
}

/// Errors finding the user's directories.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Neither `HOME` nor the password database gave a home directory.
    #[error("cannot find your home directory: set HOME")]
    NoHome,
}

impl Error {
    /// Stable machine-readable code for JSON output and the UI.
    pub fn code(&self) -> crate::error::ErrorCode {
        crate::error::ErrorCode::Paths
    }
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, Error>;

/// Every directory Gardener uses, for one platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Paths {
    /// The platform these paths are for.
    pub platform: Platform,
    /// The user's home directory (what `~` expands to).
    pub home: PathBuf,
    /// Directory holding `gardener.toml`.
    pub config_dir: PathBuf,
    /// Default location of the config file.
    pub config_file: PathBuf,
    /// Default `[paths] data`: Gardener's own state.
    pub data_dir: PathBuf,
    /// Default `[paths] logs`: the services' stdout/stderr and Gardener's logs.
    pub logs_dir: PathBuf,
    /// Default `[paths] backups`.
    pub backups_dir: PathBuf,
    /// Where the service manager looks for user services.
    pub service_dir: PathBuf,
}

/// Name of the config file inside the config directory.
pub const CONFIG_FILE_NAME: &str = "gardener.toml";

impl Paths {
    /// The paths for `platform` as seen from the current environment.
    pub fn discover(platform: Platform) -> Result<Self> {
        let base = directories::BaseDirs::new().ok_or(Error::NoHome)?;
        let home = base.home_dir().to_path_buf();
        if platform == Platform::current() && platform == Platform::Linux {
            let state = base
                .state_dir()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| home.join(".local/state"));
            return Ok(Self::linux(
                home.clone(),
                base.config_dir(),
                base.data_dir(),
                &state,
            ));
        }
        Ok(match platform {
            Platform::Macos => Self::macos(home),
            Platform::Linux => Self::linux(
                home.clone(),
                &home.join(".config"),
                &home.join(".local/share"),
                &home.join(".local/state"),
            ),
        })
    }

    /// The macOS layout under `home`.
    pub fn macos(home: PathBuf) -> Self {
        let support = home.join("Library/Application Support/Gardener");
        Self {
            platform: Platform::Macos,
            config_file: support.join(CONFIG_FILE_NAME),
            config_dir: support.clone(),
            data_dir: support.clone(),
            logs_dir: home.join("Library/Logs/Gardener"),
            backups_dir: support.join("Backups"),
            service_dir: home.join("Library/LaunchAgents"),
            home,
        }
    }

    /// The Linux (XDG) layout from explicit base directories.
    pub fn linux(home: PathBuf, config_home: &Path, data_home: &Path, state_home: &Path) -> Self {
        let config_dir = config_home.join("gardener");
        let data_dir = data_home.join("gardener");
        Self {
            platform: Platform::Linux,
            config_file: config_dir.join(CONFIG_FILE_NAME),
            config_dir,
            backups_dir: data_dir.join("backups"),
            data_dir,
            logs_dir: state_home.join("gardener/logs"),
            service_dir: config_home.join("systemd/user"),
            home,
        }
    }

    /// Expands a leading `~` or `~/` to the home directory; other paths are
    /// returned unchanged.
    pub fn expand(&self, path: &Path) -> PathBuf {
        match path.strip_prefix("~") {
            // `join("")` would add a trailing slash.
            Ok(rest) if rest.as_os_str().is_empty() => self.home.clone(),
            Ok(rest) => self.home.join(rest),
            Err(_) => path.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macos_layout_lives_in_library() {
        let p = Paths::macos(PathBuf::from("/Users/ann"));
        assert_eq!(
            p.config_file,
            Path::new("/Users/ann/Library/Application Support/Gardener/gardener.toml")
        );
        assert_eq!(p.service_dir, Path::new("/Users/ann/Library/LaunchAgents"));
        assert_eq!(p.logs_dir, Path::new("/Users/ann/Library/Logs/Gardener"));
    }

    #[test]
    fn linux_layout_follows_xdg_bases() {
        let p = Paths::linux(
            PathBuf::from("/home/ann"),
            Path::new("/cfg"),
            Path::new("/data"),
            Path::new("/state"),
        );
        assert_eq!(p.config_file, Path::new("/cfg/gardener/gardener.toml"));
        assert_eq!(p.service_dir, Path::new("/cfg/systemd/user"));
        assert_eq!(p.data_dir, Path::new("/data/gardener"));
        assert_eq!(p.logs_dir, Path::new("/state/gardener/logs"));
    }

    #[test]
    fn tilde_expands_only_at_the_start() {
        let p = Paths::macos(PathBuf::from("/Users/ann"));
        assert_eq!(
            p.expand(Path::new("~")).as_os_str(),
            "/Users/ann",
            "no trailing slash"
        );
        assert_eq!(
            p.expand(Path::new("~/.ollama/models")),
            Path::new("/Users/ann/.ollama/models")
        );
        assert_eq!(p.expand(Path::new("/opt/~x")), Path::new("/opt/~x"));
        assert_eq!(p.expand(Path::new("~bob/x")), Path::new("~bob/x"));
    }

    #[test]
    fn platform_names_round_trip() {
        for p in [Platform::Macos, Platform::Linux] {
            assert_eq!(p.as_str().parse::<Platform>(), Ok(p));
        }
        assert!("windows".parse::<Platform>().is_err());
    }
}
