//! Tests of encrypting a copy on several threads: it decrypts to the archive,
//! and a cancelled or failed copy never ends as a whole encrypted stream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use age::secrecy::ExposeSecret;

use super::*;

fn key_in(dir: &std::path::Path) -> Key {
    let path = dir.join("key.txt");
    let identity = age::x25519::Identity::generate();
    std::fs::write(&path, format!("{}\n", identity.to_string().expose_secret())).unwrap();
    Key::load_from(&path).unwrap()
}

/// A file of `len` bytes that do not repeat within a block.
fn archive(dir: &std::path::Path, len: usize) -> std::path::PathBuf {
    let path = dir.join("a.tar.zst");
    let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn what_is_encrypted_on_three_threads_decrypts_to_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_in(dir.path());
    let path = archive(dir.path(), 3 * ToThread::BLOCK + 12_345);
    let mut out = Vec::new();
    let mut reported = 0;
    encrypt_beside(
        &key,
        &mut File::open(&path).unwrap(),
        &mut out,
        &Cancel::new(),
        &mut |n| reported += n,
    )
    .unwrap();
    assert_eq!(reported, out.len() as u64);
    let mut back = Vec::new();
    key.decrypt(&out[..])
        .unwrap()
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, std::fs::read(&path).unwrap());
}

#[test]
fn a_cancelled_or_failed_copy_never_ends_as_a_whole_encrypted_stream() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_in(dir.path());
    // More blocks than the threads can hold between them (4 queued each way and one in
    // each hand), so the reader cannot have reached the end when the cancel comes.
    let path = archive(dir.path(), 24 * ToThread::BLOCK);

    // Cancelled after the first block was written: an error, and what was written so far
    // does not decrypt as a complete stream.
    let cancel = Cancel::new();
    let mut out = Vec::new();
    let stop = cancel.clone();
    let err = encrypt_beside(
        &key,
        &mut File::open(&path).unwrap(),
        &mut out,
        &cancel,
        &mut |_| stop.cancel(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("cancelled"), "{err}");
    let mut back = Vec::new();
    let whole = key
        .decrypt(&out[..])
        .map(|mut r| r.read_to_end(&mut back).is_ok())
        .unwrap_or(false);
    assert!(
        !whole,
        "a cut-short copy decrypted as whole ({} bytes)",
        back.len()
    );

    // The target failing: its error is the one given.
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let err = encrypt_beside(
        &key,
        &mut File::open(&path).unwrap(),
        &mut Full,
        &Cancel::new(),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::StorageFull, "{err}");
}
