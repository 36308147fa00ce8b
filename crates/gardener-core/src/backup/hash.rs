//! Readers that hash, count and bound what passes through them.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use super::Cancel;

/// Hashes everything read through it with BLAKE3.
pub struct Hashing<R> {
    inner: R,
    hasher: blake3::Hasher,
    /// Bytes read so far.
    pub count: u64,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: blake3::Hasher::new(),
            count: 0,
        }
    }

    /// The reader underneath.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The hash of what was read, as lowercase hex.
    pub fn hex(&self) -> String {
        self.hasher.finalize().to_hex().to_string()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        self.count += n as u64;
        Ok(n)
    }
}

/// Exactly `size` bytes of a file that may change while it is read: a file
/// that shrank is padded with zeros, one that grew is cut, and either is
/// flagged so the backup can say so. Checks the cancel switch on every read.
pub struct Exact<R> {
    inner: R,
    remaining: u64,
    /// The file ended before `size` bytes.
    pub short: bool,
    cancel: Cancel,
}

impl<R: Read> Exact<R> {
    pub fn new(inner: R, size: u64, cancel: Cancel) -> Self {
        Self {
            inner,
            remaining: size,
            short: false,
            cancel,
        }
    }
}

impl<R> Exact<R> {
    /// The reader underneath.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }
}

/// The error a cancelled read returns (not `Interrupted`, which `io::copy` retries).
pub fn cancelled() -> io::Error {
    io::Error::other("cancelled")
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.is_cancelled() {
            return Err(cancelled());
        }
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let Some(buf) = buf.get_mut(..want) else {
            return Ok(0);
        };
        let n = if self.short { 0 } else { self.inner.read(buf)? };
        let n = if n == 0 {
            self.short = true;
            buf.fill(0);
            want
        } else {
            n
        };
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Counts bytes and fails once more than `limit` have come through: the
/// bound on decompression an archive's manifest allows. Count and limit are
/// shared cells because the tar reader owns this reader while the caller
/// raises the limit (once the manifest is known) and reads the count.
pub struct Bounded<R> {
    inner: R,
    /// Bytes read so far.
    pub count: Rc<Cell<u64>>,
    /// Most bytes allowed.
    pub limit: Rc<Cell<u64>>,
}

impl<R: Read> Bounded<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        Self {
            inner,
            count: Rc::new(Cell::new(0)),
            limit: Rc::new(Cell::new(limit)),
        }
    }
}

/// Marker text of the error [`Bounded`] returns.
pub const TOO_BIG: &str = "archive expands beyond the size its manifest declares";

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        if self.count.get() > self.limit.get() {
            return Err(io::Error::other(TOO_BIG));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_pads_a_shrunk_file_and_cuts_a_grown_one() {
        let mut short = Exact::new(&b"abc"[..], 5, Cancel::new());
        let mut out = Vec::new();
        short.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc\0\0");
        assert!(short.short);
        let mut long = Exact::new(&b"abcdef"[..], 4, Cancel::new());
        out.clear();
        long.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abcd");
        assert!(!long.short);
    }

    #[test]
    fn exact_stops_when_cancelled() {
        let c = Cancel::new();
        c.cancel();
        let mut r = Exact::new(&b"abc"[..], 3, c);
        assert_eq!(r.read(&mut [0; 3]).unwrap_err().to_string(), "cancelled");
    }

    #[test]
    fn bounded_fails_past_its_limit_and_hashing_matches_blake3() {
        let mut b = Bounded::new(&[7u8; 100][..], 64);
        let mut out = Vec::new();
        assert_eq!(b.read_to_end(&mut out).unwrap_err().to_string(), TOO_BIG);
        let mut h = Hashing::new(&b"hello"[..]);
        std::io::copy(&mut h, &mut std::io::sink()).unwrap();
        assert_eq!(h.hex(), blake3::hash(b"hello").to_hex().to_string());
        assert_eq!(h.count, 5);
    }
}
