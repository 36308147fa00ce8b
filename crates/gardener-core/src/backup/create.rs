//! Writing a backup: list the sources (with the app paused, or cloned while
//! paused), stream tar → multithreaded zstd into `<id>.tar.zst.partial`,
//! manifest first and checksums last, then fsync, rename, fsync the
//! directory. A crash or cancel leaves at most a `.partial`, never listed
//! and removed by the next backup.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::catalog::{self, BackupInfo, Lock};
use super::hash::{Exact, Hashing};
use super::manifest::{
    CHECKSUMS_NAME, Checksums, Entry, FORMAT_VERSION, Kind, MANIFEST_NAME, Manifest,
};
use super::sources::{self, Excludes, Source};
use super::{Cancel, Error, Phase, Progress, Result, clone, pause};
use crate::fsutil;
use crate::install::Context;
use crate::services::ServiceManager;

/// How to run one backup.
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    /// Verify after writing; `None` follows `[backup] verify`.
    pub verify: Option<bool>,
    /// Started by the timer (recorded, and shown in the catalog).
    pub scheduled: bool,
    /// Checked between blocks.
    pub cancel: Cancel,
}

/// What a backup did.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CreateReport {
    /// The new backup, as `list` shows it.
    pub backup: BackupInfo,
    /// Paths skipped, files that changed while read.
    pub warnings: Vec<String>,
    /// Seconds the app was stopped (`None`: not paused).
    pub app_paused_secs: Option<f64>,
    /// Whether the data was read from a filesystem clone.
    pub cloned: bool,
    /// Wall time of the whole backup.
    pub seconds: f64,
}

const READ_BUF: usize = 1 << 20;

/// zstd output that can change level between sources: each change ends
/// the current frame and starts another (a zstd stream may hold many).
struct Zst<W: Write> {
    enc: Option<zstd::Encoder<'static, W>>,
    level: i32,
    threads: u32,
}

fn encoder<W: Write>(w: W, level: i32, threads: u32) -> io::Result<zstd::Encoder<'static, W>> {
    let mut enc = zstd::Encoder::new(w, level)?;
    enc.include_checksum(true)?;
    if threads > 1 {
        enc.multithread(threads)?;
    }
    Ok(enc)
}

impl<W: Write> Zst<W> {
    fn new(w: W, level: i32, threads: u32) -> io::Result<Self> {
        Ok(Self {
            enc: Some(encoder(w, level, threads)?),
            level,
            threads,
        })
    }

    fn set_level(&mut self, level: i32) -> io::Result<()> {
        if level == self.level {
            return Ok(());
        }
        let w = self.take()?.finish()?;
        self.enc = Some(encoder(w, level, self.threads)?);
        self.level = level;
        Ok(())
    }

    fn take(&mut self) -> io::Result<zstd::Encoder<'static, W>> {
        self.enc
            .take()
            .ok_or_else(|| io::Error::other("zstd stream already finished"))
    }

    fn finish(mut self) -> io::Result<W> {
        self.take()?.finish()
    }
}

impl<W: Write> Write for Zst<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.enc {
            Some(e) => e.write(buf),
            None => Err(io::Error::other("zstd stream already finished")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.enc {
            Some(e) => e.flush(),
            None => Ok(()),
        }
    }
}

/// The `.partial` file, removed unless the backup completes.
struct Partial {
    path: PathBuf,
    done: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A new backup id from the clock: `gardener-YYYYMMDDTHHMMSSZ`, with a
/// suffix if one already exists for this second.
fn new_id(dest: &Path, now: jiff::Timestamp) -> String {
    let base = format!("gardener-{}", now.strftime("%Y%m%dT%H%M%SZ"));
    let mut id = base.clone();
    let mut n = 2;
    while catalog::archive_path(dest, &id).exists() {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// One source's listing, and where its files are read from.
struct Listed {
    entries: Vec<(Entry, PathBuf)>,
    level: Option<i32>,
}

fn list_all(
    ctx: &Context,
    srcs: &[Source],
    excludes: &Excludes,
    warnings: &mut Vec<String>,
) -> Result<(Vec<super::manifest::SourceRecord>, Vec<Listed>)> {
    let mut records = Vec::new();
    let mut listed = Vec::new();
    for s in srcs {
        let w = sources::walk(s, &s.root, &ctx.paths.home, excludes, warnings)?;
        records.push(w.record);
        listed.push(Listed {
            entries: w.entries,
            level: s.level,
        });
    }
    Ok((records, listed))
}

/// Makes a backup of everything `ctx`'s config names.
pub fn create(
    ctx: &Context,
    manager: &dyn ServiceManager,
    opts: &CreateOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<CreateReport> {
    let started = Instant::now();
    let dest = super::destination(ctx);
    fsutil::create_dir(&dest, 0o700).map_err(Error::io("create", &dest))?;
    let _lock = Lock::acquire(&dest)?;
    catalog::remove_stale_partials(&dest)?;
    // The timer appends this run's output to these; nothing else may be
    // rotating them when the menu-bar app is not open.
    let (out, err) = crate::install::backup_logs(ctx);
    for log in [out, err] {
        let c = &ctx.config.logs;
        if let Err(e) = crate::logs::rotate_if_needed(&log, c.max_size.as_u64(), c.keep) {
            tracing::warn!("{e}");
        }
    }
    let mut notes = Vec::new();
    notes.extend(pause::recover(ctx, manager));
    notes.extend(super::restore::recover(ctx, manager));
    let mut warnings = Vec::new();
    let result = create_locked(ctx, manager, opts, &dest, &mut warnings, progress);
    let state_warning = catalog::record_attempt(ctx, &result, opts.scheduled);
    let mut report = result?;
    report.warnings.splice(0..0, notes);
    report.warnings.extend(state_warning);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn create_locked(
    ctx: &Context,
    manager: &dyn ServiceManager,
    opts: &CreateOptions,
    dest: &Path,
    warnings: &mut Vec<String>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<CreateReport> {
    let cfg = &ctx.config.backup;
    let now = jiff::Timestamp::now();
    let id = new_id(dest, now);
    let srcs = sources::configured(ctx);
    let excludes = Excludes::new(&cfg.exclude, vec![dest.to_path_buf()])?;
    progress(&Progress {
        phase: Phase::Scan,
        bytes: 0,
        total_bytes: 0,
        files: 0,
        total_files: 0,
    });
    // Stop the app (when asked) for as short as possible: only while its data
    // is listed and cloned where the filesystem can, else for the whole archive.
    let mut paused = if cfg.pause_app {
        pause::Paused::pause(ctx, manager)?
    } else {
        None
    };
    opts.cancel.check()?;
    let (records, mut listed) = list_all(ctx, &srcs, &excludes, warnings)?;
    let user_sources = cfg.sources.len();
    let mut clones = clone::Clones::default();
    let mut paused_secs = None;
    if paused.is_some() {
        progress(&Progress {
            phase: Phase::Snapshot,
            bytes: 0,
            total_bytes: 0,
            files: 0,
            total_files: 0,
        });
        let to_clone = listed
            .iter_mut()
            .take(user_sources)
            .map(|l| &mut l.entries)
            .collect();
        match clone::clone_sources(srcs.get(..user_sources).unwrap_or_default(), to_clone, &id) {
            Ok(c) => {
                clones = c;
                if let Some(p) = paused.take() {
                    paused_secs = Some(p.resume()?);
                }
            }
            Err(why) => tracing::info!("no clone, the app stays paused for the archive: {why}"),
        }
    }
    let cloned = !clones.is_empty();
    let written = write_archive(
        ctx, dest, &id, now, opts, records, &listed, warnings, progress,
    );
    drop(clones);
    if let Some(p) = paused.take() {
        paused_secs = Some(p.resume()?);
    }
    let (manifest, path) = written?;
    let size = fs::metadata(&path)
        .map_err(Error::io("inspect", &path))?
        .len();
    let mut backup = BackupInfo::from_manifest(&manifest, &path, size);
    catalog::Catalog::update(dest, |c| c.insert(backup.clone()))?;
    let verify = opts.verify.unwrap_or(cfg.verify);
    if verify {
        let report = super::read::verify(&path, &opts.cancel, progress)?;
        backup.verified = Some(report.record());
        catalog::Catalog::update(dest, |c| c.insert(backup.clone()))?;
        if !report.ok() {
            return Err(Error::Corrupt {
                path,
                message: format!(
                    "the new backup failed its own verification: {}",
                    report.problems.join("; ")
                ),
            });
        }
    }
    Ok(CreateReport {
        backup,
        warnings: manifest.warnings,
        app_paused_secs: paused_secs,
        cloned,
        seconds: 0.0,
    })
}

#[allow(clippy::too_many_arguments)]
fn write_archive(
    ctx: &Context,
    dest: &Path,
    id: &str,
    now: jiff::Timestamp,
    opts: &CreateOptions,
    sources: Vec<super::manifest::SourceRecord>,
    listed: &[Listed],
    warnings: &[String],
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Manifest, PathBuf)> {
    let cfg = &ctx.config.backup;
    let entries: Vec<Entry> = listed
        .iter()
        .flat_map(|l| l.entries.iter().map(|(e, _)| e.clone()))
        .collect();
    let total_bytes = entries
        .iter()
        .filter(|e| e.kind == Kind::File)
        .map(|e| e.size)
        .sum();
    let total_files = entries.iter().filter(|e| e.kind == Kind::File).count() as u64;
    let mut manifest = Manifest {
        format: FORMAT_VERSION,
        id: id.to_owned(),
        created: super::rfc3339_seconds(now),
        host: host_name(),
        gardener_version: env!("CARGO_PKG_VERSION").to_owned(),
        scheduled: opts.scheduled,
        sources,
        entries,
        total_bytes,
        warnings: warnings.to_vec(),
    };
    let final_path = catalog::archive_path(dest, id);
    let partial_path = final_path.with_extension("zst.partial");
    let mut partial = Partial {
        path: partial_path.clone(),
        done: false,
    };
    let io_err = |action| Error::io(action, &partial_path);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial_path)
        .map_err(io_err("create"))?;
    let threads = match cfg.threads {
        0 => {
            std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(1))
        }
        n => n,
    };
    let base_level = cfg.level;
    let zst = Zst::new(
        BufWriter::with_capacity(READ_BUF, file),
        base_level,
        threads,
    )
    .map_err(io_err("compress"))?;
    let mut tar = tar::Builder::new(BufWriter::with_capacity(READ_BUF, zst));
    // One block buffer for all files: tar's own copy goes 8 KiB at a time.
    let mut block = vec![0u8; READ_BUF];
    tar.mode(tar::HeaderMode::Complete);
    let manifest_json = serde_json::to_vec(&manifest).map_err(|e| Error::Usage(e.to_string()))?;
    append_meta(&mut tar, MANIFEST_NAME, &manifest_json, now).map_err(io_err("write"))?;
    let mut checksums = Checksums {
        format: FORMAT_VERSION,
        id: id.to_owned(),
        manifest_blake3: blake3::hash(&manifest_json).to_hex().to_string(),
        files: Default::default(),
        changed_while_read: Vec::new(),
    };
    let mut done = Progress {
        phase: Phase::Archive,
        bytes: 0,
        total_bytes,
        files: 0,
        total_files,
    };
    progress(&done);
    let (uid, gid) = (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    );
    for l in listed {
        set_level(&mut tar, l.level.unwrap_or(base_level)).map_err(io_err("compress"))?;
        for (e, abs) in &l.entries {
            opts.cancel.check()?;
            let mut h = tar::Header::new_gnu();
            h.set_mode(e.mode);
            h.set_mtime(u64::try_from(e.mtime).unwrap_or(0));
            h.set_uid(u64::from(uid));
            h.set_gid(u64::from(gid));
            match e.kind {
                Kind::Dir => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    tar.append_data(&mut h, &e.path, io::empty())
                        .map_err(io_err("write"))?;
                }
                Kind::Symlink => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    tar.append_link(&mut h, &e.path, e.target.as_deref().unwrap_or(""))
                        .map_err(io_err("write"))?;
                }
                Kind::File => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(e.size);
                    let f = open_nofollow(abs).map_err(Error::io("read", abs))?;
                    let exact = Exact::new(f, e.size, opts.cancel.clone());
                    let mut reader = Hashing::new(exact);
                    let before = done.clone();
                    // Large files report progress as they go, every 8 MiB.
                    let mut on_block = |copied: u64| {
                        progress(&Progress {
                            bytes: before.bytes + copied,
                            ..before.clone()
                        });
                    };
                    let appended = append_file(
                        &mut tar,
                        &mut h,
                        &e.path,
                        &mut reader,
                        &mut block,
                        &mut on_block,
                    );
                    if let Err(err) = appended {
                        opts.cancel.check()?;
                        return Err(Error::io("back up", abs)(err));
                    }
                    let hashing = reader;
                    let changed = hashing_changed(&hashing, e);
                    if changed {
                        let msg = format!("{} changed while it was read", e.path);
                        manifest.warnings.push(msg);
                        checksums.changed_while_read.push(e.path.clone());
                    }
                    checksums.files.insert(e.path.clone(), hashing.hex());
                    done.bytes += e.size;
                    done.files += 1;
                    progress(&done);
                }
            }
        }
    }
    set_level(&mut tar, base_level).map_err(io_err("compress"))?;
    let sums = serde_json::to_vec(&checksums).map_err(|e| Error::Usage(e.to_string()))?;
    append_meta(&mut tar, CHECKSUMS_NAME, &sums, now).map_err(io_err("write"))?;
    let zst = tar
        .into_inner()
        .map_err(io_err("write"))?
        .into_inner()
        .map_err(|e| io_err("write")(e.into_error()))?;
    let file = zst
        .finish()
        .map_err(io_err("compress"))?
        .into_inner()
        .map_err(|e| io_err("write")(e.into_error()))?;
    file.sync_all().map_err(io_err("fsync"))?;
    drop(file);
    opts.cancel.check()?;
    fs::rename(&partial_path, &final_path).map_err(Error::io("rename", &final_path))?;
    partial.done = true;
    fsutil::sync_dir(dest).map_err(Error::io("fsync", dest))?;
    Ok((manifest, final_path))
}

/// Whether the file read for `e` was not what the listing saw: it ended
/// early, or its size or mtime differ now.
fn hashing_changed(h: &Hashing<Exact<File>>, e: &Entry) -> bool {
    if h.get_ref().short {
        return true;
    }
    match h.get_ref().get_ref().metadata() {
        Ok(m) => {
            use std::os::unix::fs::MetadataExt;
            m.len() != e.size || m.mtime() != e.mtime || m.mtime_nsec() != i64::from(e.mtime_nsec)
        }
        Err(_) => true,
    }
}

/// Appends a file entry: the header (and long-name entries) through tar,
/// then exactly `header.size()` bytes of `data` in large blocks, then the
/// padding to the next 512-byte block.
fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    header: &mut tar::Header,
    path: &str,
    data: &mut impl io::Read,
    block: &mut [u8],
    on_block: &mut dyn FnMut(u64),
) -> io::Result<()> {
    let size = header.size()?;
    // With no data tar writes the header alone and pads nothing.
    tar.append_data(header, path, io::empty())?;
    let out = tar.get_mut();
    let mut copied = 0u64;
    loop {
        let n = match data.read(block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(block.get(..n).unwrap_or_default())?;
        let before = copied;
        copied += n as u64;
        if copied >> 23 != before >> 23 {
            on_block(copied);
        }
    }
    if copied != size {
        return Err(io::Error::other(format!(
            "read {copied} bytes where {size} were expected"
        )));
    }
    let pad = (512 - size % 512) % 512;
    out.write_all(&[0u8; 512][..usize::try_from(pad).unwrap_or(0)])
}

/// Ends the zstd frame and starts one at `level` (after handing over what
/// the buffer above it holds).
fn set_level<W: Write>(tar: &mut tar::Builder<BufWriter<Zst<W>>>, level: i32) -> io::Result<()> {
    let buffered = tar.get_mut();
    buffered.flush()?;
    buffered.get_mut().set_level(level)
}

fn open_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

fn append_meta<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    data: &[u8],
    now: jiff::Timestamp,
) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o600);
    h.set_size(data.len() as u64);
    h.set_mtime(u64::try_from(now.as_second()).unwrap_or(0));
    tar.append_data(&mut h, name, data)
}
