//! Incremental backups through core: what each backup of a chain stores,
//! that each restores to exactly the tree it recorded, `rehash`, when a new
//! chain starts, missing and damaged parents named (and the next backup
//! full), hostile chains refused with nothing live touched, and a seeded
//! random walk of create, change and prune.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{Fixture, Node, Rng, compress, decompress, snapshot};
use crate::backup::manifest::{CHECKSUMS_NAME, Checksums, MANIFEST_NAME, Manifest};
use crate::backup::{
    self, BackupKind, Cancel, CreateOptions, CreateReport, Error, RestoreOptions, catalog,
};
use crate::config::FullEvery;

/// A path's node and, for files, its modification time in nanoseconds.
type Tree = BTreeMap<PathBuf, (Node, Option<i128>)>;

fn tree(root: &Path) -> Tree {
    snapshot(root, &[])
        .into_iter()
        .map(|(p, n)| {
            let mtime = matches!(n, Node::File { .. }).then(|| {
                let m = fs::symlink_metadata(&p).unwrap();
                i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec())
            });
            (p.strip_prefix(root).unwrap().to_path_buf(), (n, mtime))
        })
        .collect()
}

fn create(f: &Fixture) -> CreateReport {
    create_with(f, CreateOptions::default())
}

fn create_with(f: &Fixture, opts: CreateOptions) -> CreateReport {
    let opts = CreateOptions {
        verify: Some(true),
        ..opts
    };
    backup::create(&f.ctx, &f.manager, &opts, &mut |_| {}).unwrap()
}

/// Restores `archive` into a new directory; its tree.
fn restored(f: &Fixture, archive: &Path) -> Result<Tree, Error> {
    let out = tempfile::tempdir().unwrap();
    let to = out.path().join("out");
    let opts = RestoreOptions {
        to: Some(to.clone()),
        ..RestoreOptions::default()
    };
    backup::restore(&f.ctx, &f.manager, archive, &opts, &mut |_| {})?;
    Ok(tree(&to.join(super::SOURCE)))
}

fn verify(archive: &Path) -> backup::VerifyReport {
    backup::verify(archive, &Cancel::new(), &mut |_| {}).unwrap()
}

fn write(f: &Fixture, rel: &str, content: &[u8]) {
    let p = f.live().join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, content).unwrap();
}

fn populate(f: &Fixture) {
    for i in 0..30 {
        write(
            f,
            &format!("notes/n{i:02}.md"),
            format!("note {i}\n").repeat(i + 1).as_bytes(),
        );
    }
    write(f, "memory.db", &Rng::new(3).bytes(300_000));
    write(f, "projects/a/readme.md", b"# a\n");
    fs::create_dir_all(f.live().join("empty")).unwrap();
    std::os::unix::fs::symlink("notes/n00.md", f.live().join("link")).unwrap();
}

#[test]
fn an_unchanged_tree_makes_an_incremental_backup_that_stores_no_file() {
    let f = Fixture::new();
    populate(&f);
    let full = create(&f);
    assert_eq!(full.backup.kind, BackupKind::Full);
    assert_eq!(full.full_because.as_deref(), Some("the first backup"));
    let inc = create(&f);
    let b = &inc.backup;
    assert_eq!(b.kind, BackupKind::Incremental, "{:?}", inc.full_because);
    assert_eq!(b.parent.as_deref(), Some(full.backup.id.as_str()));
    assert_eq!(b.needs, [full.backup.id.as_str()]);
    assert_eq!((b.stored_files, b.stored_bytes), (0, 0));
    assert_eq!(b.files, full.backup.files);
    assert!(
        b.size < full.backup.size / 10,
        "{} vs {}",
        b.size,
        full.backup.size
    );
    assert!(b.is_verified());
    assert_eq!(restored(&f, &b.path).unwrap(), tree(&f.live()));
    // GNU tar still reads it: a plain tar.zst.
    let listing = std::process::Command::new("tar")
        .args(["--zstd", "-tf"])
        .arg(&b.path)
        .output()
        .unwrap();
    assert!(listing.status.success());
    let names = String::from_utf8(listing.stdout).unwrap();
    assert!(names.starts_with(MANIFEST_NAME), "{names}");
    assert!(
        !names.contains("memory.db"),
        "an unchanged file is not stored again"
    );
}

#[test]
fn every_backup_of_a_chain_restores_the_tree_it_recorded() {
    let f = Fixture::new();
    populate(&f);
    let mut recorded = vec![(create(&f).backup, tree(&f.live()))];
    let steps: [&dyn Fn(&Fixture); 6] = [
        &|f| write(f, "notes/n03.md", b"changed\n"),
        &|f| {
            fs::remove_file(f.live().join("notes/n04.md")).unwrap();
            write(f, "notes/new.md", b"new\n");
            fs::rename(
                f.live().join("notes/n05.md"),
                f.live().join("notes/renamed.md"),
            )
            .unwrap();
        },
        &|f| {
            let p = f.live().join("notes/n06.md");
            fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
            fs::remove_file(f.live().join("link")).unwrap();
            std::os::unix::fs::symlink("notes/n07.md", f.live().join("link")).unwrap();
        },
        &|f| {
            fs::remove_dir_all(f.live().join("projects")).unwrap();
            fs::remove_file(f.live().join("notes/n08.md")).unwrap();
            fs::create_dir_all(f.live().join("notes/n08.md")).unwrap();
            write(f, "notes/n08.md/inside.txt", b"a file became a directory\n");
        },
        &|f| write(f, "memory.db", &Rng::new(4).bytes(310_000)),
        // The one file the second backup stored changes again.
        &|f| write(f, "notes/n03.md", b"changed again\n"),
    ];
    for step in steps {
        step(&f);
        let r = create(&f);
        assert_eq!(r.backup.kind, BackupKind::Incremental);
        recorded.push((r.backup, tree(&f.live())));
    }
    let stored: Vec<u64> = recorded.iter().map(|(b, _)| b.stored_files).collect();
    assert_eq!(
        stored,
        [32, 1, 2, 1, 1, 1, 1],
        "files stored by each backup"
    );
    for (b, want) in &recorded {
        assert!(verify(&b.path).ok(), "{}", b.id);
        assert_eq!(&restored(&f, &b.path).unwrap(), want, "{}", b.id);
    }
    // The last one needs only the archives that still hold its files.
    let ids: Vec<&str> = recorded.iter().map(|(b, _)| b.id.as_str()).collect();
    assert_eq!(
        recorded[6].0.needs,
        [ids[0], ids[2], ids[3], ids[4], ids[5]]
    );
}

#[test]
fn rehash_stores_a_file_whose_content_changed_behind_the_same_stat() {
    let f = Fixture::new();
    populate(&f);
    let full = create(&f);
    // As if n01.md had changed without its size, times or inode changing:
    // the parent's index records other content for it.
    let index_path = backup::index::path_for(&full.backup.path);
    let mut index = backup::index::Index::load(&full.backup.path).unwrap();
    let forged = blake3::hash(b"what it held before").to_hex().to_string();
    index.hashes.insert("app-data/notes/n01.md".into(), forged);
    index.write(&full.backup.path).unwrap();
    assert!(index_path.is_file());
    let plain = create(&f);
    assert_eq!(plain.backup.stored_files, 0, "same stat: not read");
    let rehashed = create_with(
        &f,
        CreateOptions {
            rehash: true,
            ..CreateOptions::default()
        },
    );
    assert_eq!(rehashed.backup.stored_files, 1);
    assert_eq!(
        restored(&f, &rehashed.backup.path).unwrap(),
        tree(&f.live())
    );
    // The backup that trusted the forged hash does not verify: its record
    // says other content than its parent holds.
    let report = verify(&plain.backup.path);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("app-data/notes/n01.md: held by")),
        "{:?}",
        report.problems
    );
}

#[test]
fn a_new_chain_starts_when_due_asked_for_or_the_sources_change() {
    let mut f = Fixture::new();
    f.ctx.config.backup.full_every = FullEvery::Count(3);
    populate(&f);
    let kinds: Vec<(BackupKind, Option<String>)> = (0..4)
        .map(|_| {
            let r = create(&f);
            (r.backup.kind, r.full_because)
        })
        .collect();
    assert_eq!(kinds[1].0, BackupKind::Incremental);
    assert_eq!(kinds[2].0, BackupKind::Incremental);
    assert_eq!(kinds[3].0, BackupKind::Full);
    assert_eq!(
        kinds[3].1.as_deref(),
        Some("the chain has 3 backups ([backup] full_every = 3)")
    );
    let asked = create_with(
        &f,
        CreateOptions {
            full: true,
            ..CreateOptions::default()
        },
    );
    assert_eq!(
        asked.full_because.as_deref(),
        Some("asked for a full backup")
    );
    f.ctx.config.backup.include_gardener = true;
    let r = create(&f);
    assert_eq!(
        r.full_because.as_deref(),
        Some("the list of sources changed")
    );
}

/// A full backup and an incremental one that takes files from it.
fn chain_of_two(f: &Fixture) -> (CreateReport, CreateReport) {
    populate(f);
    let full = create(f);
    write(f, "notes/n02.md", b"changed\n");
    let inc = create(f);
    assert_eq!(inc.backup.needs, [full.backup.id.as_str()]);
    (full, inc)
}

#[test]
fn a_missing_parent_is_named_nothing_live_is_touched_and_the_next_backup_is_full() {
    let f = Fixture::new();
    let (full, inc) = chain_of_two(&f);
    fs::remove_file(&full.backup.path).unwrap();
    let report = verify(&inc.backup.path);
    let first = report.problems.first().cloned().unwrap_or_default();
    assert!(
        first.contains(&format!("held by {}, which is missing", full.backup.id)),
        "{:?}",
        report.problems
    );
    let before = f.snapshot();
    let err = backup::restore(
        &f.ctx,
        &f.manager,
        &inc.backup.path,
        &RestoreOptions::default(),
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(&full.backup.id) && err.contains("missing"),
        "{err}"
    );
    f.assert_untouched(&before, "missing parent");
    let listed = catalog::list(&backup::destination(&f.ctx)).unwrap();
    assert_eq!(listed[0].missing, [full.backup.id.as_str()]);
    let next = create(&f);
    assert_eq!(
        next.backup.kind,
        BackupKind::Full,
        "{:?}",
        next.full_because
    );
}

#[test]
fn a_truncated_or_corrupted_parent_is_named_and_the_next_backup_is_full() {
    for damage in ["truncated", "corrupted"] {
        let f = Fixture::new();
        let (full, inc) = chain_of_two(&f);
        let bytes = fs::read(&full.backup.path).unwrap();
        let damaged = match damage {
            "truncated" => bytes[..bytes.len() / 2].to_vec(),
            _ => {
                let mut raw = decompress(&full.backup.path);
                let at = raw.windows(10).position(|w| w == b"note 10\nno").unwrap();
                raw[at] ^= 0x20;
                compress(&raw)
            }
        };
        fs::write(&full.backup.path, damaged).unwrap();
        let dest = backup::destination(&f.ctx);
        let report =
            crate::backup::verify_recorded(&dest, &inc.backup.path, &Cancel::new(), &mut |_| {})
                .unwrap();
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains(&format!("held by {}, which is damaged", full.backup.id))),
            "{damage}: {:?}",
            report.problems
        );
        let before = f.snapshot();
        let err = backup::restore(
            &f.ctx,
            &f.manager,
            &inc.backup.path,
            &RestoreOptions::default(),
            &mut |_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(&full.backup.id), "{damage}: {err}");
        f.assert_untouched(&before, damage);
        let next = create(&f);
        assert_eq!(
            next.backup.kind,
            BackupKind::Full,
            "{damage}: {:?}",
            next.full_because
        );
    }
}

/// Rewrites the manifest of `archive` with `change`, keeping it otherwise
/// valid (the checksums name the new manifest), and drops its index.
fn rewrite_manifest(archive: &Path, change: impl FnOnce(&mut Manifest)) {
    let raw = decompress(archive);
    let mut reader = tar::Archive::new(raw.as_slice());
    let mut items: Vec<(tar::Header, String, Vec<u8>)> = Vec::new();
    for entry in reader.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
        let link = entry.link_name_bytes().map(|l| l.into_owned());
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        let mut header = entry.header().clone();
        if let Some(l) = link {
            header.set_link_name_literal(&l).unwrap();
        }
        items.push((header, name, data));
    }
    let mut manifest: Manifest = serde_json::from_slice(&items[0].2).unwrap();
    change(&mut manifest);
    items[0].2 = serde_json::to_vec(&manifest).unwrap();
    let last = items.len() - 1;
    assert_eq!(items[last].1, CHECKSUMS_NAME);
    let mut sums: Checksums = serde_json::from_slice(&items[last].2).unwrap();
    sums.manifest_blake3 = blake3::hash(&items[0].2).to_hex().to_string();
    items[last].2 = serde_json::to_vec(&sums).unwrap();
    let mut out = tar::Builder::new(Vec::new());
    for (mut h, name, data) in items {
        h.set_size(data.len() as u64);
        out.append_data(&mut h, &name, data.as_slice()).unwrap();
    }
    fs::write(archive, compress(&out.into_inner().unwrap())).unwrap();
    let _ = fs::remove_file(backup::index::path_for(archive));
}

#[test]
fn hostile_chains_are_refused_and_nothing_live_is_touched() {
    let ghost = "gardener-20000101T000000Z";
    let cases: [(&str, &Forge, &str); 4] = [
        (
            "a cycle",
            &|m, _| {
                let me = m.id.clone();
                m.needs = vec![me.clone()];
                for e in m.entries.iter_mut().filter(|e| e.held_by.is_some()) {
                    e.held_by = Some(me.clone());
                }
            },
            "a cycle",
        ),
        (
            "a backup that does not exist",
            &|m, _| {
                m.needs = vec![ghost.into()];
                for e in m.entries.iter_mut().filter(|e| e.held_by.is_some()) {
                    e.held_by = Some(ghost.into());
                }
            },
            "which is missing",
        ),
        (
            "a file the parent does not hold",
            &|m, parent| {
                let mut e = m
                    .entries
                    .iter()
                    .find(|e| e.held_by.is_some())
                    .unwrap()
                    .clone();
                e.path = "app-data/notes/ghost.md".into();
                e.held_by = Some(parent.into());
                m.total_bytes += e.size;
                m.entries.push(e);
            },
            "which does not hold it",
        ),
        (
            "a hash other than the parent's",
            &|m, _| {
                let e = m.entries.iter_mut().find(|e| e.held_by.is_some()).unwrap();
                e.blake3 = Some(blake3::hash(b"other").to_hex().to_string());
            },
            "whose copy is not the one recorded here",
        ),
    ];
    for (case, change, said) in cases {
        let f = Fixture::new();
        let (full, inc) = chain_of_two(&f);
        rewrite_manifest(&inc.backup.path, |m| change(m, &full.backup.id));
        let before = f.snapshot();
        let err = backup::restore(
            &f.ctx,
            &f.manager,
            &inc.backup.path,
            &RestoreOptions::default(),
            &mut |_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(said), "{case}: {err}");
        f.assert_untouched(&before, case);
        let report = verify(&inc.backup.path);
        assert!(!report.ok(), "{case}: verify passed");
    }
}

/// Changes a child's manifest, given its parent's id.
type Forge = dyn Fn(&mut Manifest, &str);

/// The ids listed in the destination, newest first.
fn listed(f: &Fixture) -> Vec<backup::BackupInfo> {
    catalog::list(&backup::destination(&f.ctx)).unwrap()
}

#[test]
fn random_creates_changes_and_prunes_keep_every_listed_backup_restorable() {
    for seed in 1..=12 {
        let mut rng = Rng::new(seed);
        let mut f = Fixture::new();
        let r = &mut f.ctx.config.backup;
        r.full_every = match rng.below(3) {
            0 => FullEvery::Always,
            1 => FullEvery::Count(2 + u32::try_from(rng.below(4)).unwrap()),
            _ => FullEvery::Every(7 * 86_400),
        };
        r.retention.keep_last = 1 + u32::try_from(rng.below(3)).unwrap();
        r.retention.keep_daily = u32::try_from(rng.below(2)).unwrap();
        r.retention.keep_weekly = 0;
        r.retention.keep_monthly = 0;
        populate(&f);
        let mut recorded: BTreeMap<String, Tree> = BTreeMap::new();
        for step in 0..9 {
            match rng.below(3) {
                0 => {
                    let r = create(&f);
                    recorded.insert(r.backup.id, tree(&f.live()));
                }
                1 => {
                    for _ in 0..=rng.below(4) {
                        let i = rng.below(40);
                        let rel = format!("notes/n{i:02}.md");
                        if rng.below(4) == 0 {
                            let _ = fs::remove_file(f.live().join(&rel));
                        } else {
                            let n = usize::try_from(rng.below(5000)).unwrap();
                            write(&f, &rel, &rng.bytes(n));
                        }
                    }
                }
                _ => {
                    backup::prune(&f.ctx, false).unwrap();
                }
            }
            for b in listed(&f) {
                let case = format!("seed {seed}, step {step}, {}", b.id);
                assert!(b.missing.is_empty(), "{case}: needs {:?}", b.missing);
                let report = verify(&b.path);
                assert!(report.ok(), "{case}: {:?}", report.problems);
                assert_eq!(
                    restored(&f, &b.path).unwrap(),
                    recorded[&b.id],
                    "{case}: restored tree"
                );
            }
        }
    }
}

#[test]
fn a_format_1_backup_lists_verifies_restores_and_starts_a_new_chain() {
    let f = Fixture::new();
    populate(&f);
    let old = create(&f);
    let want = tree(&f.live());
    rewrite_manifest(&old.backup.path, |m| {
        m.format = 1;
        for e in &mut m.entries {
            (e.inode, e.ctime, e.ctime_nsec) = (0, 0, 0);
        }
        m.chain_started.clear();
    });
    let listed = listed(&f);
    assert_eq!((listed[0].format, listed[0].kind), (1, BackupKind::Full));
    assert!(verify(&old.backup.path).ok());
    assert_eq!(restored(&f, &old.backup.path).unwrap(), want);
    let next = create(&f);
    assert_eq!(next.backup.kind, BackupKind::Full);
    assert_eq!(
        next.full_because,
        Some(format!("{} was made by an older Gardener", old.backup.id))
    );
    assert!(
        !backup::index::path_for(&old.backup.path).exists(),
        "its archive was not read whole"
    );
}
