//! Decompression on a thread of its own, a few blocks ahead of the reader.

use std::io::{self, Read};
use std::path::Path;

use super::super::{Error, Result};
use super::BUF;

/// Decompresses on a thread of its own, a few blocks ahead of the reader,
/// so that decompressing overlaps hashing and writing (as `zstd -d | tar
/// -x` overlaps them in two processes). Dropping the reader stops it.
pub(super) struct Decompressing {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    block: Vec<u8>,
    pos: usize,
}

const AHEAD: usize = 4;

impl Decompressing {
    /// Decompresses `compressed`, named `path` in errors.
    pub(super) fn start(path: &Path, compressed: Box<dyn Read + Send>) -> Result<Self> {
        let mut dec = zstd::Decoder::new(compressed).map_err(Error::io("read", path))?;
        let (tx, rx) = std::sync::mpsc::sync_channel(AHEAD);
        std::thread::Builder::new()
            .name("backup-decompress".into())
            .spawn(move || {
                loop {
                    let mut block = vec![0u8; BUF];
                    let mut filled = 0;
                    let result = loop {
                        match block.get_mut(filled..).map(|b| dec.read(b)) {
                            Some(Ok(0)) | None => break Ok(filled),
                            Some(Ok(n)) => filled += n,
                            Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                            Some(Err(e)) => break Err(e),
                        }
                    };
                    // What came before an error is delivered first, so the
                    // reader reports the damage at the right entry.
                    let (n, err) = match result {
                        Ok(n) => (n, None),
                        Err(e) => (filled, Some(e)),
                    };
                    if n > 0 {
                        block.truncate(n);
                        if tx.send(Ok(block)).is_err() {
                            break;
                        }
                    }
                    if let Some(e) = err {
                        let _ = tx.send(Err(e));
                        break;
                    }
                    if n < BUF {
                        break;
                    }
                }
            })
            .map_err(Error::io("start a thread for", path))?;
        Ok(Self {
            rx,
            block: Vec::new(),
            pos: 0,
        })
    }
}

impl Read for Decompressing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.block.len() {
            match self.rx.recv() {
                Ok(Ok(block)) => {
                    self.block = block;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                // The thread ended: the stream is over.
                Err(_) => return Ok(0),
            }
        }
        let rest = self.block.get(self.pos..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos += n;
        Ok(n)
    }
}
