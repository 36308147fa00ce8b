//! A corpus of hostile archives, one per rule of the reader: each starts
//! from a valid hand-built archive and changes exactly one thing, so the
//! refusal proves that rule (not some other check) holds. Every case is
//! both verified and restored over live data, and the restore must leave
//! the home exactly as it was.

use std::fs;
use std::path::PathBuf;

use tar::EntryType;

use super::{Fixture, LIVE, SOURCE, compress};
use crate::backup::manifest::{
    CHECKSUMS_NAME, Checksums, Entry, FORMAT_VERSION, Kind, MANIFEST_NAME, Manifest, SourceKind,
    SourceRecord,
};
use crate::backup::{self, Cancel, Error, RestoreOptions};

const MTIME: i64 = 1_700_000_000;
const MIB: usize = 1 << 20;

/// One raw tar entry, written as given (no path validation).
#[derive(Clone)]
struct Item {
    name: Vec<u8>,
    kind: EntryType,
    mode: u32,
    data: Vec<u8>,
    /// Header size when it must differ from the data's length.
    header_size: Option<u64>,
    link: Option<Vec<u8>>,
}

impl Item {
    fn new(kind: EntryType, name: &str, mode: u32, data: &[u8]) -> Self {
        Self {
            name: name.as_bytes().to_vec(),
            kind,
            mode,
            data: data.to_vec(),
            header_size: None,
            link: None,
        }
    }

    fn file(name: &str, data: &[u8]) -> Self {
        Self::new(EntryType::Regular, name, 0o644, data)
    }

    fn dir(name: &str) -> Self {
        Self::new(EntryType::Directory, name, 0o755, b"")
    }

    fn linked(kind: EntryType, name: &str, target: &str) -> Self {
        Self {
            link: Some(target.as_bytes().to_vec()),
            ..Self::new(kind, name, 0o777, b"")
        }
    }

    fn header(&self) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        let gnu = h.as_gnu_mut().unwrap();
        let name = gnu
            .name
            .get_mut(..self.name.len())
            .expect("name fits a header");
        name.copy_from_slice(&self.name);
        if let Some(l) = &self.link {
            let link = gnu.linkname.get_mut(..l.len()).expect("link fits a header");
            link.copy_from_slice(l);
        }
        h.set_entry_type(self.kind);
        h.set_mode(self.mode);
        h.set_size(self.header_size.unwrap_or(self.data.len() as u64));
        h.set_mtime(MTIME as u64);
        h.set_uid(1000);
        h.set_gid(1000);
        if matches!(self.kind, EntryType::Char | EntryType::Block) {
            h.set_device_major(1).unwrap();
            h.set_device_minor(3).unwrap();
        }
        h.set_cksum();
        h
    }
}

fn m_entry(path: &str, kind: Kind, size: u64, mode: u32, target: Option<&str>) -> Entry {
    Entry {
        path: path.into(),
        kind,
        size,
        mode,
        mtime: MTIME,
        mtime_nsec: 0,
        target: target.map(String::from),
        ..Entry::default()
    }
}

fn m_file(path: &str, size: usize) -> Entry {
    m_entry(path, Kind::File, size as u64, 0o644, None)
}

fn m_dir(path: &str) -> Entry {
    m_entry(path, Kind::Dir, 0, 0o755, None)
}

fn m_link(path: &str, target: &str) -> Entry {
    m_entry(path, Kind::Symlink, 0, 0o777, Some(target))
}

/// A PAX extended header entry holding one `key=value` record.
fn pax(key: &str, value: &[u8]) -> Item {
    let body = [b" ", key.as_bytes(), b"=", value, b"\n"].concat();
    // The record's length counts its own digits.
    let mut len = body.len() + 1;
    while (body.len() + len.to_string().len()) != len {
        len = body.len() + len.to_string().len();
    }
    let record = [len.to_string().as_bytes(), &body].concat();
    Item::new(EntryType::XHeader, "PaxHeaders/x", 0o644, &record)
}

/// What an archive holds: the manifest, the entries between it and the
/// checksums, entries after the checksums and raw bytes after the end.
struct Spec {
    manifest: Manifest,
    items: Vec<Item>,
    late: Vec<Item>,
    trailer: Vec<u8>,
}

const A_TXT: &[u8] = b"from the archive\n";
const B_BIN: &[u8] = &[0, 1, 2, 3, 254, 255, b'\n'];

impl Spec {
    /// A valid archive of one directory source at `~/live`.
    fn valid() -> Self {
        let mut s = Self {
            manifest: Manifest {
                format: FORMAT_VERSION,
                id: "gardener-20240101T000000Z".into(),
                created: "2024-01-01T00:00:00Z".into(),
                host: "test".into(),
                gardener_version: "0.0.0".into(),
                scheduled: false,
                sources: vec![SourceRecord {
                    name: SOURCE.into(),
                    path: LIVE.into(),
                    kind: SourceKind::Dir,
                    optional: false,
                }],
                entries: Vec::new(),
                total_bytes: 0,
                warnings: Vec::new(),
                chain_started: "2024-01-01T00:00:00Z".into(),
                ..Manifest::default()
            },
            items: Vec::new(),
            late: Vec::new(),
            trailer: Vec::new(),
        };
        s.push(m_dir("app-data"), Item::dir("app-data"));
        s.push(
            m_file("app-data/a.txt", A_TXT.len()),
            Item::file("app-data/a.txt", A_TXT),
        );
        s.push(m_dir("app-data/empty"), Item::dir("app-data/empty"));
        s.push(m_dir("app-data/sub"), Item::dir("app-data/sub"));
        s.push(
            m_file("app-data/sub/b.bin", B_BIN.len()),
            Item::file("app-data/sub/b.bin", B_BIN),
        );
        s.push(
            m_link("app-data/link", "sub/b.bin"),
            Item::linked(EntryType::Symlink, "app-data/link", "sub/b.bin"),
        );
        s
    }

    /// Adds a path to both the manifest and the tar.
    fn push(&mut self, entry: Entry, item: Item) {
        self.manifest.entries.push(entry);
        self.items.push(item);
    }

    fn entry(&mut self, path: &str) -> &mut Entry {
        self.manifest
            .entries
            .iter_mut()
            .find(|e| e.path == path)
            .expect("path in the manifest")
    }

    fn item(&mut self, path: &str) -> &mut Item {
        self.items
            .iter_mut()
            .find(|i| i.name == path.as_bytes())
            .expect("path in the tar")
    }

    /// Writes the archive: manifest first (with a consistent total),
    /// checksums last (with correct hashes of what the tar holds).
    fn build(&self, f: &Fixture, name: &str) -> PathBuf {
        let mut m = self.manifest.clone();
        m.total_bytes = m
            .entries
            .iter()
            .filter(|e| e.kind == Kind::File)
            .map(|e| e.size)
            .sum();
        let manifest = serde_json::to_vec(&m).unwrap();
        let files = m
            .entries
            .iter()
            .filter(|e| e.kind == Kind::File)
            .filter_map(|e| {
                let item = self
                    .items
                    .iter()
                    .find(|i| i.name == e.path.as_bytes() && i.kind == EntryType::Regular)?;
                Some((
                    e.path.clone(),
                    blake3::hash(&item.data).to_hex().to_string(),
                ))
            })
            .collect();
        let sums = Checksums {
            format: FORMAT_VERSION,
            id: m.id.clone(),
            manifest_blake3: blake3::hash(&manifest).to_hex().to_string(),
            files,
            changed_while_read: Vec::new(),
        };
        let sums = serde_json::to_vec(&sums).unwrap();
        let mut tar = tar::Builder::new(Vec::new());
        let meta = |name: &str, data: &[u8]| Item {
            mode: 0o600,
            ..Item::file(name, data)
        };
        let all = std::iter::once(meta(MANIFEST_NAME, &manifest))
            .chain(self.items.iter().cloned())
            .chain(std::iter::once(meta(CHECKSUMS_NAME, &sums)))
            .chain(self.late.iter().cloned());
        for item in all {
            tar.append(&item.header(), item.data.as_slice()).unwrap();
        }
        let mut bytes = tar.into_inner().unwrap();
        bytes.extend_from_slice(&self.trailer);
        let dir = f.path().join("archives");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.tar.zst"));
        fs::write(&path, compress(&bytes)).unwrap();
        path
    }
}

/// The live tree a hostile restore must leave alone.
fn populate_live(f: &Fixture) {
    let live = f.live();
    fs::write(live.join("a.txt"), b"live a\n").unwrap();
    fs::create_dir_all(live.join("sub")).unwrap();
    fs::write(live.join("sub/c.txt"), b"live c\n").unwrap();
    fs::write(live.join("sub/b.bin"), b"live b\n").unwrap();
    std::os::unix::fs::symlink("sub/c.txt", live.join("link")).unwrap();
}

fn restore(f: &Fixture, archive: &std::path::Path) -> backup::Result<backup::RestoreReport> {
    backup::restore(
        &f.ctx,
        &f.manager,
        archive,
        &RestoreOptions::default(),
        &mut |_| {},
    )
}

/// Builds the valid archive changed by `mutate`, and asserts that verify
/// reports it and a restore over live data refuses it, both naming
/// `rule`, with nothing changed anywhere in the home.
fn assert_refused(case: &str, rule: &[&str], mutate: impl FnOnce(&mut Spec, &Fixture)) {
    let f = Fixture::new();
    populate_live(&f);
    let mut spec = Spec::valid();
    mutate(&mut spec, &f);
    let archive = spec.build(&f, case);
    let names = |text: &str| rule.iter().any(|r| text.contains(r));

    let report = backup::verify(&archive, &Cancel::new(), &mut |_| {}).unwrap();
    eprintln!("{case}: verify: {:?}", report.problems);
    assert!(!report.ok(), "{case}: verify passed a hostile archive");
    assert!(
        report.problems.iter().any(|p| names(p)),
        "{case}: no problem names {rule:?}: {:?}",
        report.problems
    );

    let before = f.snapshot();
    let err = restore(&f, &archive).expect_err(case);
    eprintln!("{case}: restore: {err}");
    assert!(
        matches!(err, Error::Hostile { .. } | Error::Corrupt { .. }),
        "{case}: wrong kind of error: {err:?}"
    );
    assert!(
        names(&err.to_string()),
        "{case}: `{err}` does not name {rule:?}"
    );
    f.assert_untouched(&before, case);
}

#[test]
fn the_valid_hand_built_archive_verifies_and_restores() {
    let f = Fixture::new();
    populate_live(&f);
    let archive = Spec::valid().build(&f, "valid");
    let report = backup::verify(&archive, &Cancel::new(), &mut |_| {}).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.files, 2);

    let restored = restore(&f, &archive).unwrap();
    let live = f.live();
    assert_eq!(fs::read(live.join("a.txt")).unwrap(), A_TXT);
    assert_eq!(fs::read(live.join("sub/b.bin")).unwrap(), B_BIN);
    assert_eq!(
        fs::read_link(live.join("link")).unwrap(),
        PathBuf::from("sub/b.bin")
    );
    assert!(live.join("empty").is_dir());
    assert!(
        !live.join("sub/c.txt").exists(),
        "the old tree was swapped out"
    );
    assert_eq!(fs::read(f.canary()).unwrap(), super::CANARY);
    // The replaced tree is kept as a safety copy, next to the live one.
    assert_eq!(restored.safety_copies.len(), 1, "{restored:?}");
    let copies = super::staging_dirs(f.path());
    let old = copies.first().unwrap().join("live/a.txt");
    assert_eq!(fs::read(old).unwrap(), b"live a\n");
}

#[test]
fn dotdot_path_in_the_manifest_is_refused() {
    assert_refused("dotdot-manifest", &["`..`"], |s, _| {
        s.push(
            m_file("app-data/../../evil", 5),
            Item::file("app-data/../../evil", b"evil\n"),
        );
    });
}

#[test]
fn dotdot_path_only_in_the_tar_is_refused() {
    assert_refused("dotdot-tar", &["`..`"], |s, _| {
        s.items.push(Item::file("app-data/../../evil", b"evil\n"));
    });
}

#[test]
fn absolute_paths_are_refused() {
    let evil = |f: &Fixture| f.outside().join("evil").to_string_lossy().into_owned();
    assert_refused("absolute-manifest", &["absolute"], |s, f| {
        s.push(m_file(&evil(f), 5), Item::file(&evil(f), b"evil\n"));
    });
    assert_refused("absolute-tar", &["absolute"], |s, f| {
        s.items.push(Item::file(&evil(f), b"evil\n"));
    });
}

#[test]
fn symlinks_leaving_their_source_are_refused() {
    for (case, target) in [
        ("symlink-etc", "../../../../etc".to_owned()),
        ("symlink-sibling", "../outside".to_owned()),
    ] {
        assert_refused(case, &["outside"], |s, _| {
            s.push(
                m_link("app-data/l", &target),
                Item::linked(EntryType::Symlink, "app-data/l", &target),
            );
        });
    }
    assert_refused("symlink-absolute", &["outside"], |s, f| {
        let target = f.outside().to_string_lossy().into_owned();
        s.push(
            m_link("app-data/abs", &target),
            Item::linked(EntryType::Symlink, "app-data/abs", &target),
        );
    });
    // The manifest's target is fine; the tar's is not what it says.
    assert_refused(
        "symlink-tar-target",
        &["not where the manifest says"],
        |s, _| {
            s.item("app-data/link").link = Some(b"../../../../etc".to_vec());
        },
    );
}

#[test]
fn hard_links_are_refused() {
    for (case, target, rule) in [
        (
            "hardlink-etc",
            "/etc/passwd",
            "hard link to `/etc/passwd` outside",
        ),
        ("hardlink-up", "../x", "hard link to `../x` outside"),
        (
            "hardlink-canary",
            "../outside/canary.txt",
            "outside the restore root",
        ),
        // Even one inside the source: a restore never makes hard links.
        ("hardlink-inside", "a.txt", "hard link"),
    ] {
        assert_refused(case, &[rule], |s, _| {
            s.push(
                m_file("app-data/h", 0),
                Item::linked(EntryType::Link, "app-data/h", target),
            );
        });
    }
}

#[test]
fn device_files_are_refused() {
    for (case, kind) in [
        ("char-device", EntryType::Char),
        ("block-device", EntryType::Block),
    ] {
        assert_refused(case, &["device"], |s, _| {
            s.push(
                m_file("app-data/dev", 0),
                Item::new(kind, "app-data/dev", 0o644, b""),
            );
        });
    }
}

#[test]
fn fifos_are_refused() {
    assert_refused("fifo", &["fifo"], |s, _| {
        s.push(
            m_file("app-data/pipe", 0),
            Item::new(EntryType::Fifo, "app-data/pipe", 0o644, b""),
        );
    });
}

#[test]
fn setuid_setgid_and_sticky_bits_are_refused() {
    for (case, mode) in [
        ("setuid-tar", 0o4755),
        ("setgid-tar", 0o2755),
        ("sticky-tar", 0o1755),
    ] {
        assert_refused(case, &["setuid, setgid or sticky"], |s, _| {
            s.entry("app-data/a.txt").mode = 0o755;
            let item = s.item("app-data/a.txt");
            item.mode = mode;
        });
    }
    assert_refused("setuid-both", &["setuid"], |s, _| {
        s.entry("app-data/a.txt").mode = 0o4755;
        s.item("app-data/a.txt").mode = 0o4755;
    });
}

#[test]
fn an_entry_not_in_the_manifest_is_refused() {
    assert_refused("not-in-manifest", &["not in the manifest"], |s, _| {
        s.items.push(Item::file("app-data/extra.txt", b"extra\n"));
    });
}

#[test]
fn sizes_disagreeing_with_the_manifest_are_refused() {
    assert_refused("size-bigger", &["manifest says"], |s, _| {
        s.item("app-data/a.txt").data = vec![b'x'; 4096];
    });
    assert_refused("size-smaller", &["manifest says"], |s, _| {
        s.item("app-data/a.txt").data = b"x".to_vec();
    });
    // A PAX `size` record overrides the header for the tar reader: the
    // header agrees with the manifest, the data that follows does not.
    assert_refused("size-pax", &["manifest says"], |s, _| {
        let at = s
            .items
            .iter()
            .position(|i| i.name == b"app-data/a.txt")
            .unwrap();
        s.items.insert(at, pax("size", b"4096"));
        let item = s.item("app-data/a.txt");
        item.header_size = Some(A_TXT.len() as u64);
        item.data = vec![b'x'; 4096];
    });
}

#[test]
fn decompression_beyond_the_manifest_is_stopped() {
    assert_refused("bomb-zeros", &["expands beyond"], |s, _| {
        s.trailer = vec![0; 64 * MIB];
    });
    assert_refused("bomb-bytes", &["expands beyond"], |s, _| {
        s.trailer = vec![0xAA; 64 * MIB];
    });
    // The tar reader keeps a GNU long name or PAX header in memory whole.
    assert_refused("bomb-long-name", &["expands beyond"], |s, _| {
        let long = Item::new(
            EntryType::GNULongName,
            "././@LongLink",
            0o644,
            &vec![b'a'; 64 * MIB],
        );
        s.items.push(long);
    });
    assert_refused("bomb-pax", &["expands beyond"], |s, _| {
        s.items.push(pax("comment", &vec![b'a'; 64 * MIB]));
    });
}

#[test]
fn writing_through_a_symlink_is_refused() {
    // A link to its own directory is fine by itself; a file below it is not.
    assert_refused("through-dot", &["parent directory"], |s, _| {
        s.push(
            m_link("app-data/d", "."),
            Item::linked(EntryType::Symlink, "app-data/d", "."),
        );
        s.push(
            m_file("app-data/d/x", 5),
            Item::file("app-data/d/x", b"evil\n"),
        );
    });
    assert_refused("through-escaping-dir", &["outside"], |s, _| {
        s.push(
            m_link("app-data/esc", "../outside"),
            Item::linked(EntryType::Symlink, "app-data/esc", "../outside"),
        );
        s.push(
            m_file("app-data/esc/canary.txt", 5),
            Item::file("app-data/esc/canary.txt", b"evil\n"),
        );
    });
    // The classic: a link that stays inside, then a file through it.
    assert_refused("through-inside-link", &["parent directory"], |s, _| {
        s.push(
            m_link("app-data/s", "sub"),
            Item::linked(EntryType::Symlink, "app-data/s", "sub"),
        );
        s.push(
            m_file("app-data/s/file", 5),
            Item::file("app-data/s/file", b"evil\n"),
        );
    });
    // The manifest says directory; the tar makes it a link first.
    assert_refused("through-link-for-dir", &["manifest lists a Dir"], |s, _| {
        s.push(
            m_dir("app-data/s"),
            Item::linked(EntryType::Symlink, "app-data/s", "sub"),
        );
        s.push(
            m_file("app-data/s/file", 5),
            Item::file("app-data/s/file", b"evil\n"),
        );
    });
    // The manifest has the link only; the file through it is tar-only.
    assert_refused("through-tar-only-file", &["not in the manifest"], |s, _| {
        s.push(
            m_link("app-data/s", "sub"),
            Item::linked(EntryType::Symlink, "app-data/s", "sub"),
        );
        s.items.push(Item::file("app-data/s/file", b"evil\n"));
    });
}

#[test]
fn duplicate_entries_are_refused() {
    assert_refused("duplicate-tar", &["appears twice"], |s, _| {
        s.items.push(Item::file("app-data/a.txt", A_TXT));
    });
    assert_refused("duplicate-manifest", &["listed twice"], |s, _| {
        s.push(
            m_file("app-data/a.txt", A_TXT.len()),
            Item::file("app-data/a.txt", A_TXT),
        );
    });
}

#[test]
fn an_entry_after_the_checksums_is_refused() {
    assert_refused("after-checksums", &["after the checksums"], |s, _| {
        s.late.push(Item::file("app-data/late.txt", b"late\n"));
    });
}
