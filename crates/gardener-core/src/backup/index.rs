//! The index kept beside each archive (`<id>.index.json.zst`): the manifest
//! (the whole tree with inodes and ctimes, and for each file which backup
//! holds its content) plus the BLAKE3 of every file the archive stores. The
//! next backup compares the live tree against it and takes the hashes of
//! unchanged files from it, without decompressing the archive. It is written
//! durably before the archive gets its final name, checked when read, and
//! rebuilt from the archive (which stays the truth) when lost or damaged.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::archive_reader::{self, Discard};
use super::catalog::SUFFIX as ARCHIVE_SUFFIX;
use super::manifest::{Entry, Kind, MAX_META_BYTES, Manifest};
use super::{Cancel, Error, Phase, Result};
use crate::fsutil;

/// Suffix of an index file, after the backup's id.
pub const SUFFIX: &str = ".index.json.zst";
/// Version of the index layout.
const INDEX_FORMAT: u32 = 1;

/// A backup's tree with every file's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// [`INDEX_FORMAT`].
    pub format: u32,
    /// The archive's manifest.
    pub manifest: Manifest,
    /// BLAKE3 of every file the archive stores, by archive path.
    pub hashes: BTreeMap<String, String>,
}

/// Where the index of the archive at `archive` lives.
pub fn path_for(archive: &Path) -> PathBuf {
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id = name.strip_suffix(ARCHIVE_SUFFIX).unwrap_or(&name);
    archive.with_file_name(format!("{id}{SUFFIX}"))
}

impl Index {
    /// The index of a just-written archive.
    pub fn new(manifest: Manifest, hashes: BTreeMap<String, String>) -> Self {
        Self {
            format: INDEX_FORMAT,
            manifest,
            hashes,
        }
    }

    /// The hash of a file in the tree, and the backup holding its content.
    pub fn record(&self, e: &Entry) -> Option<(String, String)> {
        match (&e.held_by, &e.blake3) {
            (Some(by), Some(hash)) => Some((hash.clone(), by.clone())),
            _ => self
                .hashes
                .get(&e.path)
                .map(|h| (h.clone(), self.manifest.id.clone())),
        }
    }

    /// Files of the tree by path.
    pub fn files(&self) -> BTreeMap<&str, &Entry> {
        self.manifest
            .entries
            .iter()
            .filter(|e| e.kind == Kind::File)
            .map(|e| (e.path.as_str(), e))
            .collect()
    }

    /// Checks what was read back: a sound manifest and exactly one hash for
    /// each file the archive stores.
    fn check(&self, id: &str) -> std::result::Result<(), String> {
        if self.format != INDEX_FORMAT {
            return Err(format!(
                "index format {} is not {INDEX_FORMAT}",
                self.format
            ));
        }
        if self.manifest.id != id {
            return Err(format!("it belongs to backup {}", self.manifest.id));
        }
        self.manifest.check().map_err(|r| r.0)?;
        let stored: Vec<&str> = self
            .manifest
            .stored_files()
            .map(|e| e.path.as_str())
            .collect();
        let sound = stored.len() == self.hashes.len()
            && stored.iter().all(|p| {
                self.hashes
                    .get(*p)
                    .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            });
        if sound {
            Ok(())
        } else {
            Err("its hashes do not match the files the archive stores".into())
        }
    }

    /// Writes the index of `archive` durably (temp file, fsync, rename, fsync
    /// the directory).
    pub fn write(&self, archive: &Path) -> Result<()> {
        let manifest =
            serde_json::to_vec(&self.manifest).map_err(|e| Error::Usage(e.to_string()))?;
        write_raw(archive, &manifest, &self.hashes)
    }

    /// Reads the index of `archive`; when it is missing or does not check
    /// out, rebuilds it from the archive (one full read) and writes it again.
    pub fn load(archive: &Path) -> Result<Self> {
        match Self::read(archive) {
            Ok(index) => Ok(index),
            Err(why) => {
                tracing::info!("rebuilding the index of {}: {why}", archive.display());
                let index = Self::rebuild(archive)?;
                if let Err(e) = index.write(archive) {
                    tracing::warn!("the rebuilt index was not saved: {e}");
                }
                Ok(index)
            }
        }
    }

    fn read(archive: &Path) -> std::result::Result<Self, String> {
        let path = path_for(archive);
        let file = fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut json = Vec::new();
        zstd::Decoder::new(file)
            .map_err(|e| e.to_string())?
            .take(2 * MAX_META_BYTES)
            .read_to_end(&mut json)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let index: Self = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        index.check(name.strip_suffix(SUFFIX).unwrap_or(&name))?;
        Ok(index)
    }

    /// The index from the archive itself: every stored file read and hashed.
    pub fn rebuild(archive: &Path) -> Result<Self> {
        let scanned = archive_reader::scan(
            archive,
            &mut Discard,
            &Cancel::new(),
            Phase::Verify,
            &mut |_| {},
        )?;
        if !scanned.problems.is_empty() {
            return Err(Error::Corrupt {
                path: archive.to_path_buf(),
                message: scanned.problems.join("; "),
            });
        }
        Ok(Self::new(scanned.manifest, scanned.hashes))
    }
}

/// Writes the index of a new archive from the manifest's JSON exactly as the
/// archive holds it (not serialized a second time) and the hashes of the
/// files it stores.
pub fn write_raw(
    archive: &Path,
    manifest_json: &[u8],
    hashes: &BTreeMap<String, String>,
) -> Result<()> {
    let path = path_for(archive);
    let hashes = serde_json::to_vec(hashes).map_err(|e| Error::Usage(e.to_string()))?;
    let mut json = Vec::with_capacity(manifest_json.len() + hashes.len() + 64);
    json.extend_from_slice(format!("{{\"format\":{INDEX_FORMAT},\"manifest\":").as_bytes());
    json.extend_from_slice(manifest_json);
    json.extend_from_slice(b",\"hashes\":");
    json.extend_from_slice(&hashes);
    json.push(b'}');
    // The fastest level: it is read back by this machine only, and written by every backup.
    let packed = zstd::encode_all(json.as_slice(), 1).map_err(Error::io("compress", &path))?;
    fsutil::atomic_write(&path, &packed, 0o600).map_err(Error::io("write", &path))
}

/// Removes index files whose archive is gone (a backup killed between the
/// two renames, or an archive deleted by hand). The caller holds the lock.
pub fn remove_orphans(dest: &Path) -> Result<()> {
    for item in fs::read_dir(dest).map_err(Error::io("read", dest))? {
        let item = item.map_err(Error::io("read", dest))?;
        let name = item.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_suffix(SUFFIX)
            && !dest.join(format!("{id}{ARCHIVE_SUFFIX}")).exists()
        {
            let p = item.path();
            fs::remove_file(&p).map_err(Error::io("remove", &p))?;
        }
    }
    Ok(())
}
