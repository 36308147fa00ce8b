//! The recovery key: an age X25519 identity Gardener generates at first use
//! and keeps, mode 0600, as `backup-key.txt` in its config directory
//! (`~/Library/Application Support/Gardener` on macOS). Copies are encrypted
//! to it; without it they cannot be read, so the user must save it
//! elsewhere. The file is in age's own format: `age -d -i backup-key.txt`
//! decrypts a copy.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use serde::Serialize;

use super::{Error, Result};
use crate::context::Context;
use crate::fsutil;

/// The key file's name in the config directory.
pub const FILE_NAME: &str = "backup-key.txt";

/// What to tell a person about the key, wherever it is shown.
pub const WARNING: &str = "Save this key somewhere other than this computer (a password manager, \
     or printed and put away). The copies of your backups are encrypted to it: without it, \
     nobody — not you, not Gardener — can read them.";

/// Where the key lives.
pub fn path(ctx: &Context) -> PathBuf {
    ctx.paths.config_dir.join(FILE_NAME)
}

/// The recovery key.
pub struct Key {
    identity: age::x25519::Identity,
    path: PathBuf,
}

/// The key as `gardener backup key show` shows it.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export, rename = "RecoveryKey"))]
pub struct Shown {
    /// Where the file is.
    pub path: PathBuf,
    /// The public half (`age1…`): what copies are encrypted to.
    pub public: String,
    /// The whole file, secret included.
    pub file: String,
    /// Why it must be saved elsewhere.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub warning: &'static str,
    /// Whether it was made just now.
    pub created: bool,
}

impl Key {
    /// Reads the key at `path`.
    pub fn load_from(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Key(if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "no recovery key at {}: copies cannot be read without the key that \
                     encrypted them; put the key you saved there (mode 0600)",
                    path.display()
                )
            } else {
                format!("cannot read the recovery key {}: {e}", path.display())
            })
        })?;
        let secret = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .ok_or_else(|| {
                Error::Key(format!(
                    "{} holds no AGE-SECRET-KEY line: it is not a recovery key",
                    path.display()
                ))
            })?;
        let identity = age::x25519::Identity::from_str(secret)
            .map_err(|_| Error::Key(format!("{}: its key is damaged", path.display())))?;
        Ok(Self {
            identity,
            path: path.to_path_buf(),
        })
    }

    /// The key, made and saved (0600) when there is none yet; whether it was made.
    pub fn load_or_create(ctx: &Context) -> Result<(Self, bool)> {
        let path = path(ctx);
        if path.exists() {
            return Ok((Self::load_from(&path)?, false));
        }
        let identity = age::x25519::Identity::generate();
        let key = Self { identity, path };
        let dir = ctx.paths.config_dir.clone();
        fsutil::create_dir(&dir, 0o700)
            .map_err(|e| Error::Key(format!("cannot create {}: {e}", dir.display())))?;
        fsutil::atomic_write(&key.path, key.file_text().as_bytes(), 0o600)
            .map_err(|e| Error::Key(format!("cannot write {}: {e}", key.path.display())))?;
        tracing::info!("made a new recovery key at {}", key.path.display());
        Ok((key, true))
    }

    /// The public half, `age1…`.
    pub fn public(&self) -> String {
        self.identity.to_public().to_string()
    }

    /// The file's text, in age's identity format.
    fn file_text(&self) -> String {
        format!(
            "# Gardener's recovery key for the copies of your backups.\n# created: {}\n\
             # public key: {}\n{}\n",
            crate::backup::rfc3339_seconds(jiff::Timestamp::now()),
            self.public(),
            self.identity.to_string().expose_secret()
        )
    }

    /// What `key show` prints.
    pub fn shown(&self, created: bool) -> Result<Shown> {
        let file = std::fs::read_to_string(&self.path)
            .map_err(|e| Error::Key(format!("cannot read {}: {e}", self.path.display())))?;
        Ok(Shown {
            path: self.path.clone(),
            public: self.public(),
            file,
            warning: WARNING,
            created,
        })
    }

    /// A writer that encrypts into `out`; `finish` it when done.
    pub fn encrypt<W: Write>(&self, out: W) -> std::io::Result<age::stream::StreamWriter<W>> {
        let recipient = self.identity.to_public();
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(std::io::Error::other)?;
        encryptor.wrap_output(out)
    }

    /// A reader that decrypts `input`.
    pub fn decrypt<R: Read>(&self, input: R) -> Result<age::stream::StreamReader<R>> {
        let decryptor = age::Decryptor::new(input)
            .map_err(|e| Error::Key(format!("not an age file, or damaged at its start: {e}")))?;
        decryptor
            .decrypt(std::iter::once(&self.identity as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::NoMatchingKeys => Error::Key(format!(
                    "the recovery key {} is not the one this copy was encrypted to",
                    self.path.display()
                )),
                other => Error::Key(format!("cannot decrypt: {other}")),
            })
    }
}
