//! Reading an archive back, trusting nothing: the manifest must come first
//! and pass [`Manifest::check`], every entry must be one the manifest lists
//! with the same type, size and target, only files, directories and
//! symlinks are accepted, decompression is bounded by what the manifest
//! declares, and every file's BLAKE3 must match the checksums at the end.
//! `verify` and `restore` share this one pass; an incremental backup's
//! files held by earlier backups are read from their archives by the same pass.

mod decompress;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use decompress::Decompressing;

use super::hash::{Bounded, Hashing, TOO_BIG};
use super::manifest::{
    CHECKSUMS_NAME, Checksums, Entry, Kind, MANIFEST_NAME, MAX_META_BYTES, Manifest, check_path,
    resolve_link,
};
use super::{Cancel, Error, Phase, Progress, Result};

const BUF: usize = 1 << 20;
const BLOCK: u64 = 512;

/// Where the content of an archive goes while it is read.
pub trait Sink {
    /// A directory entry (parents always come first).
    fn dir(&mut self, entry: &Entry) -> Result<()>;
    /// A file entry: where to write its content (`None`: only hash it).
    fn open_file(&mut self, entry: &Entry) -> Result<Option<File>>;
    /// The file's content was written completely.
    fn close_file(&mut self, entry: &Entry, file: File) -> Result<()>;
    /// A symlink entry (its target was checked to stay inside its source).
    fn symlink(&mut self, entry: &Entry) -> Result<()>;
    /// Whether this entry is wanted at all (`--only`); others are only hashed.
    fn wants(&self, path: &str) -> bool;
}

/// A sink that keeps nothing: verification.
pub struct Discard;

impl Sink for Discard {
    fn dir(&mut self, _: &Entry) -> Result<()> {
        Ok(())
    }
    fn open_file(&mut self, _: &Entry) -> Result<Option<File>> {
        Ok(None)
    }
    fn close_file(&mut self, _: &Entry, _: File) -> Result<()> {
        Ok(())
    }
    fn symlink(&mut self, _: &Entry) -> Result<()> {
        Ok(())
    }
    fn wants(&self, _: &str) -> bool {
        false
    }
}

/// What one pass over an archive found.
pub struct Scanned {
    /// The manifest (checked).
    pub manifest: Manifest,
    /// Content problems (hash mismatches, missing entries, damage).
    pub problems: Vec<String>,
    /// Files read.
    pub files: u64,
    /// Content bytes read.
    pub bytes: u64,
    /// BLAKE3 of every file read, as computed from its content.
    pub hashes: BTreeMap<String, String>,
}

fn read_meta(entry: &mut impl Read, size: u64, what: &str, path: &Path) -> Result<Vec<u8>> {
    if size > MAX_META_BYTES {
        return Err(Error::Hostile {
            path: path.to_path_buf(),
            message: format!("{what} of {size} bytes is larger than any Gardener writes"),
        });
    }
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    entry
        .take(size)
        .read_to_end(&mut buf)
        .map_err(|e| damaged(path, &e))?;
    Ok(buf)
}

fn damaged(path: &Path, e: &io::Error) -> Error {
    let text = e.to_string();
    if text == TOO_BIG {
        return Error::Hostile {
            path: path.to_path_buf(),
            message: TOO_BIG.into(),
        };
    }
    Error::Corrupt {
        path: path.to_path_buf(),
        message: format!("the archive is damaged or cut short: {text}"),
    }
}

fn round_up(n: u64) -> u64 {
    n.div_ceil(BLOCK).saturating_mul(BLOCK)
}

/// The most a well-formed archive with this manifest can decompress to:
/// each entry's header(s) and padded content, long-name blocks, the
/// checksums and the end-of-archive blocks.
fn decompressed_bound(m: &Manifest, manifest_len: u64) -> u64 {
    let mut total = 3 * BLOCK + round_up(manifest_len) + 20 * BLOCK;
    let mut sums = 4096u64;
    for e in m.entries.iter().filter(|e| e.stored()) {
        let names = e.path.len() as u64 + e.target.as_ref().map_or(0, |t| t.len() as u64);
        total = total
            .saturating_add(3 * BLOCK)
            .saturating_add(2 * round_up(names))
            .saturating_add(round_up(e.size));
        sums = sums.saturating_add(e.path.len() as u64 * 2 + 80);
    }
    total.saturating_add(3 * BLOCK + round_up(sums))
}

/// Reads only the manifest (the first entry): fast, for listing.
pub fn read_manifest(path: &Path) -> Result<Manifest> {
    let file = File::open(path).map_err(Error::io("open", path))?;
    read_manifest_stream(path, file)
}

/// [`read_manifest`] from a stream (a copy on a target); `path` names it in errors.
pub fn read_manifest_stream(path: &Path, compressed: impl Read) -> Result<Manifest> {
    let dec = zstd::Decoder::new(compressed).map_err(Error::io("read", path))?;
    let mut archive = tar::Archive::new(Bounded::new(dec, MAX_META_BYTES + 4 * BLOCK));
    let mut entries = archive.entries().map_err(|e| damaged(path, &e))?;
    let first = entries
        .next()
        .ok_or_else(|| not_gardener(path))?
        .map_err(|e| damaged(path, &e))?;
    parse_manifest(first, path).map(|(m, _)| m)
}

fn not_gardener(path: &Path) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        message: format!("not a Gardener backup: the first entry is not {MANIFEST_NAME}"),
    }
}

fn parse_manifest(
    mut first: tar::Entry<'_, impl Read>,
    path: &Path,
) -> Result<(Manifest, Vec<u8>)> {
    let name = first.path_bytes().into_owned();
    if name != MANIFEST_NAME.as_bytes() || first.header().entry_type() != tar::EntryType::Regular {
        return Err(not_gardener(path));
    }
    let size = first.header().size().map_err(|e| damaged(path, &e))?;
    let bytes = read_meta(&mut first, size, "manifest", path)?;
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
        path: path.to_path_buf(),
        message: format!("the manifest is damaged: {e}"),
    })?;
    Ok((m, bytes))
}

fn hostile(path: &Path, message: String) -> Error {
    Error::Hostile {
        path: path.to_path_buf(),
        message,
    }
}

/// The type of a tar entry, refusing everything but files, directories and
/// symlinks (hard links, devices, fifos, …) and special mode bits.
fn entry_kind(entry: &tar::Entry<'_, impl Read>, name: &str, path: &Path) -> Result<Kind> {
    let header = entry.header();
    let mode = header.mode().map_err(|e| damaged(path, &e))?;
    let kind = match header.entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
        tar::EntryType::Directory => Kind::Dir,
        tar::EntryType::Symlink => Kind::Symlink,
        tar::EntryType::Link => {
            let target = link_target(entry);
            let inside = resolve_link(name, &target).is_some();
            let outside = if inside {
                ""
            } else {
                " outside the restore root"
            };
            return Err(hostile(
                path,
                format!("entry `{name}`: hard link to `{target}`{outside}"),
            ));
        }
        tar::EntryType::Char | tar::EntryType::Block => {
            return Err(hostile(path, format!("entry `{name}`: device file")));
        }
        tar::EntryType::Fifo => return Err(hostile(path, format!("entry `{name}`: fifo"))),
        other => {
            return Err(hostile(
                path,
                format!("entry `{name}`: unsupported entry type {other:?}"),
            ));
        }
    };
    if mode & 0o7000 != 0 {
        return Err(hostile(
            path,
            format!("entry `{name}`: mode {mode:o} has setuid, setgid or sticky bits"),
        ));
    }
    Ok(kind)
}

fn link_target(entry: &tar::Entry<'_, impl Read>) -> String {
    entry
        .link_name_bytes()
        .map(|t| String::from_utf8_lossy(&t).into_owned())
        .unwrap_or_default()
}

/// The manifest's entry for a tar entry, which must be listed once, as
/// stored here, with the same type and size.
fn expected<'m>(
    by_path: &BTreeMap<&str, &'m Entry>,
    seen: &mut BTreeSet<String>,
    name: &str,
    kind: Kind,
    size: u64,
    path: &Path,
) -> Result<&'m Entry> {
    let Some(expected) = by_path.get(name).copied() else {
        return Err(hostile(
            path,
            format!("entry `{name}` is not in the manifest"),
        ));
    };
    if !seen.insert(name.to_owned()) {
        return Err(hostile(path, format!("entry `{name}` appears twice")));
    }
    if let Some(holder) = &expected.held_by {
        return Err(hostile(
            path,
            format!("entry `{name}` is stored, but the manifest says backup {holder} holds it"),
        ));
    }
    if expected.kind != kind {
        return Err(hostile(
            path,
            format!(
                "entry `{name}` is a {kind:?} but the manifest lists a {:?}",
                expected.kind
            ),
        ));
    }
    if size != expected.size {
        return Err(hostile(
            path,
            format!(
                "entry `{name}` holds {size} bytes but the manifest says {}",
                expected.size
            ),
        ));
    }
    Ok(expected)
}

/// One pass's running state: what was read, hashed and found wrong.
struct Pass<'a> {
    path: &'a Path,
    cancel: &'a Cancel,
    progress: &'a mut dyn FnMut(&Progress),
    done: Progress,
    hashes: BTreeMap<String, String>,
    buf: Vec<u8>,
    /// Tree entries met so far.
    seen: BTreeSet<String>,
    /// The checksums entry, once read (it must come last).
    checksums: Option<Checksums>,
    /// What was found wrong, one line each.
    problems: Vec<String>,
}

impl Pass<'_> {
    /// Copies a file entry's content to `out` (if any) while hashing it.
    /// Returns false when the archive ended inside it (noted as a problem).
    fn file(
        &mut self,
        entry: &mut impl Read,
        name: &str,
        size: u64,
        mut out: Option<&mut File>,
    ) -> Result<bool> {
        let mut h = Hashing::new(entry);
        loop {
            let n = match h.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => return Err(damaged(self.path, &e)),
            };
            if let (Some(f), Some(chunk)) = (out.as_mut(), self.buf.get(..n)) {
                f.write_all(chunk).map_err(Error::io("write", name))?;
            }
            let before = self.done.bytes;
            self.done.bytes += n as u64;
            // Large files: progress and a chance to cancel every 8 MiB.
            if self.done.bytes >> 23 != before >> 23 {
                self.cancel.check()?;
                (self.progress)(&self.done);
            }
        }
        if h.count != size {
            self.problems
                .push(format!("{name}: cut short ({} of {size} bytes)", h.count));
            return Ok(false);
        }
        self.hashes.insert(name.to_owned(), h.hex());
        self.done.files += 1;
        (self.progress)(&self.done);
        Ok(true)
    }

    /// Reads the zstd stream to its end: the final frame's checksum and any
    /// cut-off tail only show there.
    fn drain(&mut self, rest: &mut impl Read) {
        loop {
            match rest.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => {
                    if self.buf.get(..n).is_some_and(|b| b.iter().any(|&x| x != 0)) {
                        self.problems
                            .push("data after the end of the archive".into());
                        break;
                    }
                }
                Err(e) => {
                    self.problems.push(match damaged(self.path, &e) {
                        Error::Hostile { message, .. } | Error::Corrupt { message, .. } => message,
                        other => other.to_string(),
                    });
                    break;
                }
            }
        }
    }
}

/// One pass over the archive at `path`, feeding `sink`. Refusals (entries a
/// restore must not write) and unreadable damage are errors; content that
/// does not match its checksum is listed in [`Scanned::problems`].
pub fn scan(
    path: &Path,
    sink: &mut dyn Sink,
    cancel: &Cancel,
    phase: Phase,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Scanned> {
    let file = File::open(path).map_err(Error::io("open", path))?;
    scan_stream(path, Box::new(file), sink, cancel, phase, progress)
}

/// [`scan`] of an archive read from `compressed` (a copy fetched from a
/// target, decrypted on the way); `path` names it in errors.
pub fn scan_stream(
    path: &Path,
    compressed: Box<dyn Read + Send>,
    sink: &mut dyn Sink,
    cancel: &Cancel,
    phase: Phase,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Scanned> {
    let dec = Decompressing::start(path, compressed)?;
    let bounded = Bounded::new(dec, MAX_META_BYTES + 4 * BLOCK);
    let (count, limit) = (bounded.count.clone(), bounded.limit.clone());
    let mut archive = tar::Archive::new(bounded);
    let mut entries = archive.entries().map_err(|e| damaged(path, &e))?;
    let first = entries
        .next()
        .ok_or_else(|| not_gardener(path))?
        .map_err(|e| damaged(path, &e))?;
    let (manifest, manifest_bytes) = parse_manifest(first, path)?;
    let by_path = manifest.check().map_err(|r| hostile(path, r.0))?;
    limit.set(
        count
            .get()
            .saturating_add(decompressed_bound(&manifest, manifest_bytes.len() as u64)),
    );
    let mut pass = Pass {
        path,
        cancel,
        progress,
        done: Progress {
            phase,
            bytes: 0,
            total_bytes: manifest.stored_bytes(),
            files: 0,
            total_files: manifest.stored_files().count() as u64,
        },
        hashes: BTreeMap::new(),
        buf: vec![0u8; BUF],
        seen: BTreeSet::new(),
        checksums: None,
        problems: Vec::new(),
    };
    (pass.progress)(&pass.done);
    for item in entries {
        cancel.check()?;
        let mut entry = match item {
            Ok(e) => e,
            Err(e) => match damaged(path, &e) {
                Error::Corrupt { message, .. } => {
                    pass.problems.push(message);
                    break;
                }
                other => return Err(other),
            },
        };
        if !pass.entry(&mut entry, &by_path, sink)? {
            break;
        }
    }
    let mut rest = archive.into_inner();
    pass.drain(&mut rest);
    compare(
        &manifest,
        &manifest_bytes,
        pass.checksums.as_ref(),
        &pass.hashes,
        &pass.seen,
        &mut pass.problems,
    );
    Ok(Scanned {
        files: pass.done.files,
        bytes: pass.done.bytes,
        hashes: pass.hashes,
        manifest,
        problems: pass.problems,
    })
}

impl Pass<'_> {
    /// One entry after the manifest: the checksums, or a tree entry checked
    /// against the manifest (`by_path`) and fed to `sink`. Returns false
    /// when the pass must stop: the archive ended inside a file, or the
    /// checksums are damaged.
    fn entry(
        &mut self,
        entry: &mut tar::Entry<'_, impl Read>,
        by_path: &BTreeMap<&str, &Entry>,
        sink: &mut dyn Sink,
    ) -> Result<bool> {
        let path = self.path;
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8(raw)
            .map_err(|_| hostile(path, "an entry's path is not valid UTF-8".into()))?;
        if self.checksums.is_some() {
            return Err(hostile(path, format!("entry `{name}` after the checksums")));
        }
        if name == CHECKSUMS_NAME && entry.header().entry_type() == tar::EntryType::Regular {
            return self.read_checksums(entry);
        }
        check_path(&name).map_err(|r| hostile(path, r.0))?;
        let kind = entry_kind(entry, &name, path)?;
        // The size the tar reader will read, which a PAX `size` record
        // overrides: the header's own field could agree with the manifest
        // while more data follows.
        let size = entry.size();
        let expected = expected(by_path, &mut self.seen, &name, kind, size, path)?;
        let wanted = sink.wants(&name);
        match kind {
            Kind::Dir if wanted => sink.dir(expected)?,
            Kind::Symlink => {
                let target = link_target(entry);
                if Some(target.as_str()) != expected.target.as_deref() {
                    return Err(hostile(
                        path,
                        format!(
                            "symlink `{name}` points to `{target}`, not where the manifest says"
                        ),
                    ));
                }
                if wanted {
                    sink.symlink(expected)?;
                }
            }
            Kind::File => {
                let mut out = if wanted {
                    sink.open_file(expected)?
                } else {
                    None
                };
                if !self.file(entry, &name, size, out.as_mut())? {
                    return Ok(false);
                }
                if let Some(f) = out {
                    sink.close_file(expected, f)?;
                }
            }
            Kind::Dir => {}
        }
        Ok(true)
    }

    /// The checksums entry; false when it is damaged (noted as a problem).
    fn read_checksums(&mut self, entry: &mut tar::Entry<'_, impl Read>) -> Result<bool> {
        let size = entry.header().size().map_err(|e| damaged(self.path, &e))?;
        let bytes = read_meta(entry, size, "checksums", self.path)?;
        match serde_json::from_slice::<Checksums>(&bytes) {
            Ok(c) => {
                self.checksums = Some(c);
                Ok(true)
            }
            Err(e) => {
                self.problems
                    .push(format!("the checksums are damaged: {e}"));
                Ok(false)
            }
        }
    }
}

fn compare(
    manifest: &Manifest,
    manifest_bytes: &[u8],
    checksums: Option<&Checksums>,
    hashes: &BTreeMap<String, String>,
    seen: &BTreeSet<String>,
    problems: &mut Vec<String>,
) {
    let missing: Vec<&str> = manifest
        .entries
        .iter()
        .filter(|e| e.stored() && !seen.contains(&e.path))
        .map(|e| e.path.as_str())
        .collect();
    if let Some(first) = missing.first() {
        problems.push(match missing.len() {
            1 => format!("missing from the archive: {first}"),
            n => format!("missing from the archive: {first} and {} more", n - 1),
        });
    }
    let Some(sums) = checksums else {
        if problems.is_empty() {
            problems.push("the archive ends before its checksums (cut short?)".into());
        }
        return;
    };
    if sums.id != manifest.id {
        problems.push(format!(
            "the checksums belong to backup {}, not {}",
            sums.id, manifest.id
        ));
    }
    if sums.manifest_blake3 != blake3::hash(manifest_bytes).to_hex().as_str() {
        problems.push("the manifest does not match its checksum (damaged)".into());
    }
    for (p, got) in hashes {
        match sums.files.get(p) {
            Some(want) if want == got => {}
            Some(_) => problems.push(format!(
                "{p}: content does not match its checksum (damaged)"
            )),
            None => problems.push(format!("{p}: no checksum recorded")),
        }
    }
    let stored: BTreeSet<&str> = manifest.stored_files().map(|e| e.path.as_str()).collect();
    for p in sums.files.keys() {
        if !stored.contains(p.as_str()) {
            problems.push(format!(
                "checksum for {p}, which the archive does not store"
            ));
        }
    }
}
