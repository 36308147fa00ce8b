//! Log files: rotating the services' logs (copy-truncate, older generations
//! zstd-compressed), reading their last lines, following them as they grow,
//! and Gardener's own daily logs.
//!
//! The services write to `<logs>/<id>.log` and `<id>.err.log`, opened in
//! append mode by launchd or systemd (`append:`), neither of which ever
//! rotates them; [`rotate_if_needed`] does. Rotated generations of
//! `ollama.log` are `ollama.log.1` (plain, the newest is the one people read),
//! then `ollama.log.2.zst`, `ollama.log.3.zst`, … up to `[logs] keep`.

#[cfg(test)]
mod tests;
pub mod watch;

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tracing_appender::rolling::{Builder, RollingFileAppender, Rotation};

use crate::context::Context;
use crate::fsutil;
use crate::services::ServiceId;

/// Errors from rotating, reading or opening logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done ("compress", "truncate", …).
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Gardener's own log file could not be opened.
    #[error("cannot open Gardener's log in {}: {source}", dir.display())]
    Appender {
        /// The logs directory.
        dir: PathBuf,
        /// Why.
        source: tracing_appender::rolling::InitError,
    },
}

impl Error {
    /// Stable machine-readable code for JSON output and the UI.
    pub fn code(&self) -> crate::error::ErrorCode {
        crate::error::ErrorCode::Io
    }

    /// True when the file (or directory) does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// Results of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

/// zstd level for rotated generations: fast, and logs compress well anyway.
const ZSTD_LEVEL: i32 = 3;
/// Rotated files, and the temp files they are written through.
const FILE_MODE: u32 = 0o600;
/// How often [`follow`] looks for new lines.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Bytes read per step when reading a file backwards or following it.
const BLOCK: u64 = 64 * 1024;
/// Most bytes one [`Follower::poll`] reads, so a burst cannot balloon memory;
/// the rest comes on the next poll.
const MAX_POLL_BYTES: u64 = 8 * 1024 * 1024;
/// A "line" this long without a newline is emitted as is.
const MAX_PARTIAL: usize = 1024 * 1024;

/// What one rotation did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rotated {
    /// The log, now truncated to 0 bytes.
    pub path: PathBuf,
    /// Where its contents went (`<name>.1`).
    pub to: PathBuf,
    /// Bytes moved there.
    pub bytes: u64,
    /// Generations deleted because they were beyond `keep`.
    pub removed: Vec<PathBuf>,
}

/// `<name>.<n>` (n = 1) or `<name>.<n>.zst` (n ≥ 2).
pub fn generation_path(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    if n <= 1 {
        s.push(".1");
    } else {
        s.push(format!(".{n}.zst"));
    }
    PathBuf::from(s)
}

/// Rotates `path` when it is larger than `max_size` bytes, keeping `keep`
/// generations (`keep` below 1 counts as 1). `Ok(None)`: nothing to do
/// (small enough, or absent).
///
/// The log is rotated by copy-truncate rather than rename: launchd and
/// systemd opened it once, in append mode, and keep writing through that fd
/// for the life of the service, so after a rename the service would keep
/// writing into the renamed file and the log would never shrink; we cannot
/// make them reopen it without restarting the service. The price is a small
/// window: lines written after the copy finishes and before the truncation
/// are lost. We keep it small: copy, fsync, rename into place, copy again
/// whatever arrived meanwhile, then truncate at once (the write handle is
/// opened beforehand so the truncation is a single syscall). Because the
/// writers use `O_APPEND`, their next write lands at the new end (offset 0)
/// rather than at their old offset, so the file does not become sparse.
///
/// Errors never cost the current log: if `.1` cannot be compressed, nothing
/// is shifted and the log is not touched; if the copy fails, the log is not
/// truncated.
pub fn rotate_if_needed(path: &Path, max_size: u64, keep: u32) -> Result<Option<Rotated>> {
    let len = match fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("inspect", path)(e)),
    };
    if len <= max_size {
        return Ok(None);
    }
    let keep = keep.max(1);
    let dir = parent_of(path);
    let first = generation_path(path, 1);
    let mut removed = Vec::new();

    if keep >= 2 && exists(&first)? {
        // Compress before moving anything, so a failure changes nothing.
        let compressed = compress_to_temp(&first, dir)?;
        let last = generation_path(path, keep);
        if remove_if_exists(&last)? {
            removed.push(last);
        }
        for n in (2..keep).rev() {
            let from = generation_path(path, n);
            match fs::rename(&from, generation_path(path, n + 1)) {
                Ok(()) => {}
                // Gaps are fine (a generation deleted by hand, or fewer rotations so far).
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("rename", &from)(e)),
            }
        }
        let second = generation_path(path, 2);
        compressed
            .persist(&second)
            .map_err(|e| io_err("write", &second)(e.error))?;
        // Now in `.2.zst`; removed so a failure below cannot leave it twice.
        fs::remove_file(&first).map_err(io_err("remove", &first))?;
    }
    // With keep = 1 the old `.1` is simply replaced by the rename below.
    prune_beyond(path, keep, &mut removed)?;

    let bytes = copy_truncate(path, &first, dir)?;
    fsutil::sync_dir(dir).map_err(io_err("sync", dir))?;
    tracing::info!(log = %path.display(), bytes, "rotated");
    Ok(Some(Rotated {
        path: path.to_path_buf(),
        to: first,
        bytes,
        removed,
    }))
}

/// The four service logs, in order: Ollama stdout, stderr, app stdout, stderr.
pub fn service_logs(ctx: &Context) -> Vec<PathBuf> {
    ServiceId::ALL
        .into_iter()
        .flat_map(|id| {
            let (out, err) = ctx.log_files(id);
            [out, err]
        })
        .collect()
}

/// Rotates each of the four service logs and the backup timer's two that
/// has outgrown `[logs] max_size`; one result per log, so one failure does
/// not stop the others.
pub fn rotate_services(ctx: &Context) -> Vec<(PathBuf, Result<Option<Rotated>>)> {
    let c = &ctx.config.logs;
    let (out, err) = ctx.backup_log_files();
    service_logs(ctx)
        .into_iter()
        .chain([out, err])
        .map(|p| {
            let r = rotate_if_needed(&p, c.max_size.as_u64(), c.keep);
            (p, r)
        })
        .collect()
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn exists(path: &Path) -> Result<bool> {
    path.try_exists().map_err(io_err("inspect", path))
}

fn remove_if_exists(path: &Path) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err("remove", path)(e)),
    }
}

fn temp_in(dir: &Path) -> Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(".gardener-")
        .suffix(".partial")
        .permissions(fs::Permissions::from_mode(FILE_MODE))
        .tempfile_in(dir)
        .map_err(io_err("create a temporary file in", dir))
}

/// Streams `src` through zstd into a synced temp file next to it.
fn compress_to_temp(src: &Path, dir: &Path) -> Result<tempfile::NamedTempFile> {
    let input = File::open(src).map_err(io_err("open", src))?;
    let mut tmp = temp_in(dir)?;
    zstd::stream::copy_encode(input, tmp.as_file_mut(), ZSTD_LEVEL)
        .map_err(io_err("compress", src))?;
    tmp.as_file()
        .sync_all()
        .map_err(io_err("sync", tmp.path()))?;
    Ok(tmp)
}

/// Deletes generations numbered above `keep` (left over from a larger
/// `keep`, or an uncompressed `.N` from an older scheme).
fn prune_beyond(path: &Path, keep: u32, removed: &mut Vec<PathBuf>) -> Result<()> {
    let dir = parent_of(path);
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Ok(());
    };
    let prefix = format!("{name}.");
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
            continue;
        };
        let number = rest.strip_suffix(".zst").unwrap_or(rest);
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // Digits only, so a parse failure means "too big": beyond keep too.
        if !number.parse::<u32>().is_ok_and(|n| n <= keep) {
            let p = entry.path();
            if remove_if_exists(&p)? {
                removed.push(p);
            }
        }
    }
    Ok(())
}

/// Copies `path` into `first` (temp + rename) and truncates `path`; returns
/// the bytes copied. See [`rotate_if_needed`] for the window this leaves.
fn copy_truncate(path: &Path, first: &Path, dir: &Path) -> Result<u64> {
    let mut src = File::open(path).map_err(io_err("open", path))?;
    let truncator = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err("open for truncation", path))?;
    let mut tmp = temp_in(dir)?;
    let mut bytes = io::copy(&mut src, tmp.as_file_mut()).map_err(io_err("copy", path))?;
    tmp.as_file()
        .sync_all()
        .map_err(io_err("sync", tmp.path()))?;
    let mut out = tmp
        .persist(first)
        .map_err(|e| io_err("write", first)(e.error))?;
    // Lines appended while we copied and synced; `src` continues where it stopped.
    bytes += io::copy(&mut src, &mut out).map_err(io_err("copy", path))?;
    truncator.set_len(0).map_err(io_err("truncate", path))?;
    out.sync_all().map_err(io_err("sync", first))?;
    Ok(bytes)
}

/// The last lines of a file and where it ended when they were read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tail {
    /// Up to the requested number of lines, oldest first, without newlines.
    pub lines: Vec<String>,
    /// The file's size when read: follow from here to miss nothing.
    pub end: u64,
}

/// The last `n` lines of `path` (lossy UTF-8, newlines removed).
pub fn tail_lines(path: &Path, n: usize) -> Result<Vec<String>> {
    tail(path, n).map(|t| t.lines)
}

/// The last `n` lines of `path` and its size, reading backwards from the end
/// in blocks, so only about those lines are read however large the file is
/// (one enormous line is still read whole).
pub fn tail(path: &Path, n: usize) -> Result<Tail> {
    let file = File::open(path).map_err(io_err("open", path))?;
    let end = file.metadata().map_err(io_err("inspect", path))?.len();
    if n == 0 || end == 0 {
        return Ok(Tail {
            lines: Vec::new(),
            end,
        });
    }
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let mut pos = end;
    let mut newlines = 0usize;
    // The newline that ends the last line does not start another one.
    let mut skip_final = true;
    // n lines need the n newlines before them (or the start of the file).
    while pos > 0 && newlines < n {
        let start = pos.saturating_sub(BLOCK);
        let mut block = vec![0u8; usize::try_from(pos - start).unwrap_or(0)];
        file.read_exact_at(&mut block, start)
            .map_err(io_err("read", path))?;
        let mut counted = &block[..];
        if skip_final {
            skip_final = false;
            if let Some(stripped) = counted.strip_suffix(b"\n") {
                counted = stripped;
            }
        }
        newlines += counted.iter().filter(|&&b| b == b'\n').count();
        blocks.push(block);
        pos = start;
    }
    let mut buf: Vec<u8> = blocks.into_iter().rev().flatten().collect();
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
    let all: Vec<&[u8]> = buf.split(|&b| b == b'\n').collect();
    let lines = all[all.len().saturating_sub(n)..]
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    Ok(Tail { lines, end })
}

/// Reads lines appended to a file, one poll at a time, surviving rotation:
/// a file that shrank below what was read (copy-truncate) is read again from
/// the start; a file replaced by another (new inode) is finished and the new
/// one opened; a file that disappears is waited for.
///
/// A truncation followed, before the next poll, by more bytes than had been
/// read cannot be told from growth; at 250 ms polls and multi-MiB rotation
/// thresholds this does not happen in practice.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    file: Option<(File, (u64, u64))>,
    offset: u64,
    partial: Vec<u8>,
}

impl Follower {
    /// Follows `path` from byte `from_offset` (e.g. [`Tail::end`]; 0 for the
    /// whole file).
    pub fn new(path: &Path, from_offset: u64) -> Self {
        Self {
            path: path.to_path_buf(),
            file: None,
            offset: from_offset,
            partial: Vec::new(),
        }
    }

    /// The file followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The complete lines written since the last poll (none when nothing
    /// new); a line without its newline yet waits for the next poll.
    pub fn poll(&mut self) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        let current = match fs::metadata(&self.path) {
            Ok(m) => Some((m.dev(), m.ino())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err("inspect", &self.path)(e)),
        };
        if let Some((_, id)) = &self.file
            && current != Some(*id)
        {
            // Replaced or removed: what was written to the old file before
            // that still counts.
            self.read_new(&mut lines)?;
            self.flush_partial(&mut lines);
            self.file = None;
            self.offset = 0;
        }
        if self.file.is_none() {
            if current.is_none() {
                // Whatever appears later is a new file: read it all.
                self.offset = 0;
                return Ok(lines);
            }
            match File::open(&self.path) {
                Ok(f) => {
                    let m = f.metadata().map_err(io_err("inspect", &self.path))?;
                    self.file = Some((f, (m.dev(), m.ino())));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(lines),
                Err(e) => return Err(io_err("open", &self.path)(e)),
            }
        }
        self.read_new(&mut lines)?;
        Ok(lines)
    }

    /// Reads from the open file from `offset` on, restarting at 0 if it shrank.
    fn read_new(&mut self, lines: &mut Vec<String>) -> Result<()> {
        let Self {
            path,
            file,
            offset,
            partial,
        } = self;
        let Some((file, _)) = file else {
            return Ok(());
        };
        let len = file.metadata().map_err(io_err("inspect", path))?.len();
        if len < *offset {
            flush_partial(partial, lines);
            *offset = 0;
        }
        let stop_at = len.min(offset.saturating_add(MAX_POLL_BYTES));
        let mut buf = vec![0u8; usize::try_from(BLOCK).unwrap_or(65536)];
        while *offset < stop_at {
            let got = file
                .read_at(&mut buf, *offset)
                .map_err(io_err("read", path))?;
            if got == 0 {
                break;
            }
            *offset += got as u64;
            split_lines(partial, &buf[..got], lines);
        }
        Ok(())
    }

    fn flush_partial(&mut self, lines: &mut Vec<String>) {
        flush_partial(&mut self.partial, lines);
    }
}

/// Moves the complete lines of `partial` + `bytes` into `lines`, keeping the
/// unfinished rest in `partial`.
fn split_lines(partial: &mut Vec<u8>, mut bytes: &[u8], lines: &mut Vec<String>) {
    while let Some(i) = bytes.iter().position(|&b| b == b'\n') {
        partial.extend_from_slice(&bytes[..i]);
        lines.push(String::from_utf8_lossy(partial).into_owned());
        partial.clear();
        bytes = &bytes[i + 1..];
    }
    partial.extend_from_slice(bytes);
    if partial.len() >= MAX_PARTIAL {
        flush_partial(partial, lines);
    }
}

/// Emits an unfinished line as it is (its file was truncated or replaced,
/// or it is too long to hold).
fn flush_partial(partial: &mut Vec<u8>, lines: &mut Vec<String>) {
    if !partial.is_empty() {
        lines.push(String::from_utf8_lossy(partial).into_owned());
        partial.clear();
    }
}

/// Calls `on_line` for each line written to `path` from byte `from_offset`
/// on, polling every [`POLL_INTERVAL`], until `stop` returns true. Survives
/// rotation (see [`Follower`]).
pub fn follow(
    path: &Path,
    from_offset: u64,
    on_line: &mut dyn FnMut(&str),
    stop: &dyn Fn() -> bool,
) -> Result<()> {
    let mut follower = Follower::new(path, from_offset);
    while !stop() {
        for line in follower.poll()? {
            on_line(&line);
            if stop() {
                return Ok(());
            }
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    Ok(())
}

/// The prefix of Gardener's daily log files.
pub const GARDENER_LOG_PREFIX: &str = "gardener";
/// Their extension.
pub const GARDENER_LOG_SUFFIX: &str = "log";

/// A writer for Gardener's own log: `<logs_dir>/gardener.YYYY-MM-DD.log`,
/// a new file each day (dates in UTC: tracing-appender names files by UTC
/// date), keeping the newest `keep_days` files (at least 1). Creates the
/// directory (mode 0700) if needed.
///
/// tracing-appender prunes every regular file whose name starts with
/// `gardener` and ends with `log` in that directory, oldest first; the
/// service logs (`ollama.log`, `app.log`, …) do not match.
pub fn gardener_log_appender(logs_dir: &Path, keep_days: u32) -> Result<RollingFileAppender> {
    fsutil::create_dir(logs_dir, 0o700).map_err(io_err("create directory", logs_dir))?;
    Builder::new()
        .rotation(Rotation::DAILY)
        .filename_prefix(GARDENER_LOG_PREFIX)
        .filename_suffix(GARDENER_LOG_SUFFIX)
        .max_log_files(usize::try_from(keep_days.max(1)).unwrap_or(usize::MAX))
        .build(logs_dir)
        .map_err(|source| Error::Appender {
            dir: logs_dir.to_path_buf(),
            source,
        })
}

/// Whether `name` is one of Gardener's daily logs: `gardener.YYYY-MM-DD.log`.
pub fn is_gardener_log_name(name: &str) -> bool {
    let Some(date) = name
        .strip_prefix("gardener.")
        .and_then(|r| r.strip_suffix(".log"))
    else {
        return false;
    };
    date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

/// Gardener's newest daily log in `logs_dir`, if any. The date in the name
/// sorts lexically, so the greatest name is the newest day.
pub fn latest_gardener_log(logs_dir: &Path) -> Option<PathBuf> {
    fs::read_dir(logs_dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            is_gardener_log_name(&name).then_some(name)
        })
        .max()
        .map(|name| logs_dir.join(name))
}
