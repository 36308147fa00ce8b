use super::*;

fn entry(path: &str, kind: Kind, size: u64) -> Entry {
    Entry {
        path: path.into(),
        kind,
        size,
        mode: if kind == Kind::Dir { 0o755 } else { 0o644 },
        mtime: 1_700_000_000,
        mtime_nsec: 0,
        target: None,
        ..Entry::default()
    }
}

fn manifest(entries: Vec<Entry>) -> Manifest {
    let total_bytes = entries
        .iter()
        .filter(|e| e.kind == Kind::File)
        .map(|e| e.size)
        .sum();
    Manifest {
        format: FORMAT_VERSION,
        id: "gardener-20261126T030000Z".into(),
        created: "2026-11-26T03:00:00Z".into(),
        host: "mini".into(),
        gardener_version: "0.1.0".into(),
        scheduled: false,
        sources: vec![SourceRecord {
            name: "app-data".into(),
            path: "~/.codebase-gardener".into(),
            kind: SourceKind::Dir,
            optional: false,
        }],
        entries,
        total_bytes,
        warnings: vec![],
        chain_started: "2026-11-26T03:00:00Z".into(),
        ..Manifest::default()
    }
}

#[test]
fn paths_with_dotdot_absolute_or_empty_parts_are_refused() {
    for bad in [
        "",
        "/etc/passwd",
        "a/../b",
        "..",
        "a//b",
        "./a",
        "a/.",
        "a\\b",
        "a\0b",
        MANIFEST_NAME,
    ] {
        assert!(check_path(bad).is_err(), "{bad:?} accepted");
    }
    for good in ["app-data", "app-data/x y/ü.txt", "a/..b/c..", "a/.hidden"] {
        assert_eq!(check_path(good), Ok(()), "{good:?}");
    }
}

#[test]
fn links_resolve_lexically_inside_their_source_only() {
    assert_eq!(resolve_link("app/a/l", "../b").as_deref(), Some("app/b"));
    assert_eq!(
        resolve_link("app/a/l", "./x/./y").as_deref(),
        Some("app/a/x/y")
    );
    assert_eq!(
        resolve_link("app/l", "../other/x"),
        None,
        "leaves the source"
    );
    assert_eq!(resolve_link("app/a/l", "../../../etc/passwd"), None);
    assert_eq!(resolve_link("app/l", "/etc/passwd"), None, "absolute");
    assert_eq!(resolve_link("app/l", ""), None, "empty");
}

#[test]
fn a_well_formed_manifest_passes() {
    let mut link = entry("app-data/l", Kind::Symlink, 0);
    link.target = Some("f".into());
    let m = manifest(vec![
        entry("app-data", Kind::Dir, 0),
        entry("app-data/d", Kind::Dir, 0),
        entry("app-data/d/f", Kind::File, 10),
        entry("app-data/f", Kind::File, 5),
        link,
    ]);
    let by_path = m.check().unwrap();
    assert_eq!(by_path.len(), 5);
    assert_eq!(m.file_count(), 2);
    assert_eq!(m.source_of("app-data/d/f").unwrap().name, "app-data");
}

#[test]
fn every_manifest_rule_is_enforced() {
    let base = || {
        vec![
            entry("app-data", Kind::Dir, 0),
            entry("app-data/f", Kind::File, 5),
        ]
    };
    let cases: Vec<(&str, Manifest)> = vec![
        ("format", {
            let mut m = manifest(base());
            m.format = 99;
            m
        }),
        (
            "parent",
            manifest(vec![
                entry("app-data", Kind::Dir, 0),
                entry("app-data/x/f", Kind::File, 1),
            ]),
        ),
        ("top-level", manifest(vec![entry("other", Kind::Dir, 0)])),
        ("setuid", {
            let mut v = base();
            v[1].mode = 0o4755;
            manifest(v)
        }),
        ("outside", {
            let mut v = base();
            let mut l = entry("app-data/l", Kind::Symlink, 0);
            l.target = Some("../../.ssh/id_ed25519".into());
            v.push(l);
            manifest(v)
        }),
        ("twice", {
            let mut v = base();
            v.push(entry("app-data/f", Kind::File, 5));
            manifest(v)
        }),
        ("total", {
            let mut m = manifest(base());
            m.total_bytes = 1;
            m
        }),
        ("size", {
            let mut v = base();
            v.push(entry("app-data/d", Kind::Dir, 7));
            let mut m = manifest(v);
            m.total_bytes = 5;
            m
        }),
        (
            "..",
            manifest(vec![
                entry("app-data", Kind::Dir, 0),
                entry("app-data/../x", Kind::File, 0),
            ]),
        ),
    ];
    for (what, m) in cases {
        let err = m.check().expect_err(what);
        let text = err.to_string();
        let expected = match what {
            "format" => "not supported",
            "parent" => "parent directory",
            "top-level" => "top-level",
            "setuid" => "setuid",
            "outside" => "outside its source",
            "twice" => "listed twice",
            "total" => "does not match",
            "size" => "with a size",
            _ => "`..`",
        };
        assert!(text.contains(expected), "{what}: {text}");
    }
}

#[test]
fn home_paths_expand_and_shorten() {
    let home = Path::new("/home/ada");
    assert_eq!(
        expand_home("~/.codebase-gardener", home),
        home.join(".codebase-gardener")
    );
    assert_eq!(expand_home("/srv/x", home), PathBuf::from("/srv/x"));
    assert_eq!(shorten_home(&home.join("a/b"), home), "~/a/b");
    assert_eq!(shorten_home(Path::new("/srv/x"), home), "/srv/x");
}
