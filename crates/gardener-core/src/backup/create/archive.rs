//! The archive writer: tar → multithreaded zstd (a new frame wherever the
//! level changes) into `<id>.tar.zst.partial`, the manifest first and the
//! checksums last, then fsync. The caller writes the index and then
//! [`Unfinished::commit`]s: rename, fsync the directory. Anything short of
//! that leaves at most a `.partial`, removed by the next backup.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::super::hash::{Exact, Hashing};
use super::super::manifest::{CHECKSUMS_NAME, Checksums, Entry, Kind, MANIFEST_NAME, Manifest};
use super::super::{Cancel, Error, Phase, Progress, Result};
use crate::fsutil;

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

/// One source's listing, where its files are read from, and its level.
pub(super) struct Listed {
    /// Entries with the path their content is read from.
    pub entries: Vec<(Entry, PathBuf)>,
    /// zstd level, when not the configured one.
    pub level: Option<i32>,
}

/// A written and synced archive, not yet under its final name.
pub(super) struct Unfinished {
    partial: Partial,
    final_path: PathBuf,
    dest: PathBuf,
    /// The manifest written, with the warnings found while reading added.
    pub manifest: Manifest,
    /// BLAKE3 of every file stored.
    pub hashes: BTreeMap<String, String>,
    /// The manifest entry's bytes, as written.
    pub manifest_json: Vec<u8>,
}

impl Unfinished {
    /// Where the archive will be.
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Gives the archive its final name, durably.
    pub fn commit(mut self) -> Result<(Manifest, PathBuf)> {
        fs::rename(&self.partial.path, &self.final_path)
            .map_err(Error::io("rename", &self.final_path))?;
        self.partial.done = true;
        fsutil::sync_dir(&self.dest).map_err(Error::io("fsync", &self.dest))?;
        Ok((self.manifest, self.final_path))
    }
}

/// How to compress.
pub(super) struct Compression {
    pub level: i32,
    pub threads: u32,
}

type Tar = tar::Builder<BufWriter<Zst<BufWriter<File>>>>;

/// Writes `manifest` and the content of every entry of `listed` it stores
/// into `<final_path>.partial`, and fsyncs it.
pub(super) fn write(
    final_path: PathBuf,
    mut manifest: Manifest,
    listed: &[Listed],
    compression: &Compression,
    cancel: &Cancel,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Unfinished> {
    let dest = final_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let partial_path = final_path.with_extension("zst.partial");
    let partial = Partial {
        path: partial_path.clone(),
        done: false,
    };
    let io_err = |action| Error::io(action, &partial_path);
    let mut tar = start(&partial_path, compression)?;
    let created = manifest
        .created
        .parse::<jiff::Timestamp>()
        .map_or(0, |t| t.as_second());
    let manifest_json = serde_json::to_vec(&manifest).map_err(|e| Error::Usage(e.to_string()))?;
    append_meta(&mut tar, MANIFEST_NAME, &manifest_json, created).map_err(io_err("write"))?;
    let mut checksums = Checksums {
        format: manifest.format,
        id: manifest.id.clone(),
        manifest_blake3: blake3::hash(&manifest_json).to_hex().to_string(),
        files: BTreeMap::new(),
        changed_while_read: Vec::new(),
    };
    let mut writer = Writer {
        tar: &mut tar,
        block: vec![0u8; READ_BUF],
        done: Progress {
            phase: Phase::Archive,
            bytes: 0,
            total_bytes: manifest.stored_bytes(),
            files: 0,
            total_files: manifest.stored_files().count() as u64,
        },
        ids: (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        ),
        cancel,
        progress,
    };
    (writer.progress)(&writer.done);
    for l in listed {
        set_level(writer.tar, l.level.unwrap_or(compression.level)).map_err(io_err("compress"))?;
        for (e, abs) in l.entries.iter().filter(|(e, _)| e.stored()) {
            writer.entry(e, abs, &mut checksums)?;
        }
    }
    set_level(&mut tar, compression.level).map_err(io_err("compress"))?;
    for p in &checksums.changed_while_read {
        manifest
            .warnings
            .push(format!("{p} changed while it was read"));
    }
    let sums = serde_json::to_vec(&checksums).map_err(|e| Error::Usage(e.to_string()))?;
    append_meta(&mut tar, CHECKSUMS_NAME, &sums, created).map_err(io_err("write"))?;
    finish(tar).map_err(io_err("write"))?;
    cancel.check()?;
    Ok(Unfinished {
        partial,
        final_path,
        dest,
        manifest,
        hashes: checksums.files,
        manifest_json,
    })
}

/// Creates the partial file (readable by its owner only) and the tar and
/// zstd streams into it.
fn start(partial_path: &Path, compression: &Compression) -> Result<Tar> {
    let io_err = |action| Error::io(action, partial_path);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(partial_path)
        .map_err(io_err("create"))?;
    let zst = Zst::new(
        BufWriter::with_capacity(READ_BUF, file),
        compression.level,
        compression.threads,
    )
    .map_err(io_err("compress"))?;
    let mut tar = tar::Builder::new(BufWriter::with_capacity(READ_BUF, zst));
    tar.mode(tar::HeaderMode::Complete);
    Ok(tar)
}

/// Ends the tar and zstd streams and fsyncs the file.
fn finish(tar: Tar) -> io::Result<()> {
    let zst = tar.into_inner()?.into_inner().map_err(|e| e.into_error())?;
    let file = zst.finish()?.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

/// Appends entries to one archive.
struct Writer<'a> {
    tar: &'a mut Tar,
    /// One block buffer for all files: tar's own copy goes 8 KiB at a time.
    block: Vec<u8>,
    done: Progress,
    ids: (u32, u32),
    cancel: &'a Cancel,
    progress: &'a mut dyn FnMut(&Progress),
}

impl Writer<'_> {
    fn entry(&mut self, e: &Entry, abs: &Path, checksums: &mut Checksums) -> Result<()> {
        self.cancel.check()?;
        let io_err = |err| Error::io("write", abs)(err);
        let mut h = tar::Header::new_gnu();
        h.set_mode(e.mode);
        h.set_mtime(u64::try_from(e.mtime).unwrap_or(0));
        h.set_uid(u64::from(self.ids.0));
        h.set_gid(u64::from(self.ids.1));
        match e.kind {
            Kind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                self.tar
                    .append_data(&mut h, &e.path, io::empty())
                    .map_err(io_err)
            }
            Kind::Symlink => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                self.tar
                    .append_link(&mut h, &e.path, e.target.as_deref().unwrap_or(""))
                    .map_err(io_err)
            }
            Kind::File => self.file(h, e, abs, checksums),
        }
    }

    fn file(
        &mut self,
        mut h: tar::Header,
        e: &Entry,
        abs: &Path,
        checksums: &mut Checksums,
    ) -> Result<()> {
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(e.size);
        let f = open_nofollow(abs).map_err(Error::io("read", abs))?;
        let mut reader = Hashing::new(Exact::new(f, e.size, self.cancel.clone()));
        let before = self.done.clone();
        let progress = &mut self.progress;
        // Large files report progress as they go, every 8 MiB.
        let mut on_block = |copied: u64| {
            progress(&Progress {
                bytes: before.bytes + copied,
                ..before.clone()
            });
        };
        let appended = append_file(
            self.tar,
            &mut h,
            &e.path,
            &mut reader,
            &mut self.block,
            &mut on_block,
        );
        if let Err(err) = appended {
            self.cancel.check()?;
            return Err(Error::io("back up", abs)(err));
        }
        if hashing_changed(&reader, e) {
            checksums.changed_while_read.push(e.path.clone());
        }
        checksums.files.insert(e.path.clone(), reader.hex());
        self.done.bytes += e.size;
        self.done.files += 1;
        (self.progress)(&self.done);
        Ok(())
    }
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
    mtime: i64,
) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o600);
    h.set_size(data.len() as u64);
    h.set_mtime(u64::try_from(mtime).unwrap_or(0));
    tar.append_data(&mut h, name, data)
}
