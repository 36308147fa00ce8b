use std::path::{Path, PathBuf};

use super::*;
use crate::config::TEMPLATE;
use crate::paths::Paths;

#[test]
fn every_setting_takes_its_values_and_refuses_others_by_name() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "OLLAMA_KEEP_ALIVE",
            &["5m", "1h", "1h30m", "-1", "300", "0"],
            &["", "soon", "5 minutes", "m"],
        ),
        (
            "OLLAMA_MAX_LOADED_MODELS",
            &["1", "3"],
            &["0", "-1", "two", "1.5"],
        ),
        ("OLLAMA_NUM_PARALLEL", &["1", "4"], &["0", "-2", "many"]),
        (
            "OLLAMA_CONTEXT_LENGTH",
            &["256", "8192"],
            &["255", "0", "8k"],
        ),
        (
            "OLLAMA_FLASH_ATTENTION",
            &["0", "1", "true", "false"],
            &["yes", "2", "TRUE"],
        ),
        (
            "OLLAMA_KV_CACHE_TYPE",
            &["f16", "q8_0", "q4_0"],
            &["q8", "f32", "Q8_0"],
        ),
    ];
    assert_eq!(cases.len(), KNOWN.len());
    for (name, good, bad) in cases {
        for v in *good {
            assert_eq!(validate(name, v).unwrap().name, *name, "{name}={v}");
        }
        for v in *bad {
            let e = validate(name, v).unwrap_err();
            let m = e.to_string();
            assert!(
                matches!(e, Error::BadValue { .. }) && e.is_usage(),
                "{name}={v}"
            );
            assert!(m.contains(name) && m.contains("it takes"), "{m}");
        }
    }
}

#[test]
fn names_are_matched_whatever_their_case() {
    assert_eq!(
        find("ollama_num_parallel").unwrap().name,
        "OLLAMA_NUM_PARALLEL"
    );
}

#[test]
fn host_and_models_are_refused_with_the_key_that_sets_them() {
    for (name, key) in [
        ("OLLAMA_HOST", "`[ollama] host`"),
        ("OLLAMA_MODELS", "`[ollama] models_dir`"),
    ] {
        let m = find(name).unwrap_err().to_string();
        assert!(m.contains(name) && m.contains(key), "{m}");
    }
}

#[test]
fn unknown_names_are_refused_with_the_known_ones() {
    let m = find("OLLAMA_DEBUG").unwrap_err().to_string();
    assert!(m.contains("OLLAMA_DEBUG"), "{m}");
    for k in KNOWN {
        assert!(m.contains(k.name), "{m}");
    }
    assert!(m.contains("by hand under [ollama.env]"), "{m}");
}

fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gardener.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

const EDITED: &str = "# my notes\n[ollama]\nhost = \"127.0.0.1:11500\" # moved\n\n[ollama.env]\n# parallel for the team\nOLLAMA_DEBUG = \"1\"\n\n[monitor]\ninterval_secs = 7\n";

#[test]
fn setting_keeps_comments_and_other_keys() {
    let (_dir, path) = file(EDITED);
    assert_eq!(
        set(&path, "ollama_num_parallel", Some("3")).unwrap(),
        "OLLAMA_NUM_PARALLEL"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        EDITED.replace(
            "OLLAMA_DEBUG = \"1\"\n",
            "OLLAMA_DEBUG = \"1\"\nOLLAMA_NUM_PARALLEL = \"3\"\n"
        )
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let config = Config::load(&path).unwrap();
    assert_eq!(config.ollama.env["OLLAMA_NUM_PARALLEL"], "3");
    assert_eq!(config.monitor.interval_secs, 7);
}

#[test]
fn unsetting_removes_the_key_and_an_empty_value_does_too() {
    let (_dir, path) = file(EDITED);
    set(&path, "OLLAMA_NUM_PARALLEL", Some("3")).unwrap();
    set(&path, "OLLAMA_NUM_PARALLEL", None).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), EDITED);
    set(&path, "OLLAMA_KEEP_ALIVE", Some("1h")).unwrap();
    set(&path, "OLLAMA_KEEP_ALIVE", Some("")).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), EDITED);
}

#[test]
fn a_bad_value_writes_nothing() {
    let (_dir, path) = file(EDITED);
    for (name, value) in [
        ("OLLAMA_NUM_PARALLEL", "0"),
        ("OLLAMA_HOST", "127.0.0.1:1"),
        ("OLLAMA_X", "1"),
    ] {
        assert!(set(&path, name, Some(value)).is_err());
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), EDITED);
}

#[test]
fn a_missing_file_is_written_from_the_template() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/gardener.toml");
    set(&path, "OLLAMA_CONTEXT_LENGTH", Some("8192")).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(TEMPLATE.lines().next().unwrap()));
    assert!(text.contains("OLLAMA_CONTEXT_LENGTH = \"8192\""), "{text}");
}

#[test]
fn a_bad_value_written_by_hand_is_a_config_error_naming_the_key() {
    let (_dir, path) = file("[ollama.env]\nOLLAMA_KV_CACHE_TYPE = \"q5\"\n");
    let m = Config::load(&path).unwrap_err().to_string();
    assert!(
        m.contains("ollama.env.OLLAMA_KV_CACHE_TYPE") && m.contains("q8_0"),
        "{m}"
    );
}

fn context(home: &Path, config_file: PathBuf) -> Context {
    let paths = Paths::linux(
        home.to_path_buf(),
        &home.join(".config"),
        &home.join(".local/share"),
        &home.join(".local/state"),
    );
    let config = Config::load(&config_file).unwrap();
    Context::new(paths, config_file.clone(), config_file.exists(), config)
}

#[test]
fn settings_say_where_each_value_comes_from() {
    let (dir, path) =
        file("[ollama.env]\nOLLAMA_NUM_PARALLEL = \"3\"\nOLLAMA_KV_CACHE_TYPE = \"\"\n");
    let settings = current(&context(dir.path(), path)).unwrap();
    let get = |n: &str| settings.iter().find(|s| s.name == n).unwrap();
    assert_eq!(
        (
            get("OLLAMA_NUM_PARALLEL").value.as_deref(),
            get("OLLAMA_NUM_PARALLEL").source
        ),
        (Some("3"), Source::File)
    );
    assert_eq!(
        (
            get("OLLAMA_KEEP_ALIVE").value.as_deref(),
            get("OLLAMA_KEEP_ALIVE").source
        ),
        (Some("5m"), Source::Gardener)
    );
    assert_eq!(
        (
            get("OLLAMA_KV_CACHE_TYPE").value.as_deref(),
            get("OLLAMA_KV_CACHE_TYPE").source
        ),
        (None, Source::Ollama)
    );
    assert_eq!(get("OLLAMA_CONTEXT_LENGTH").source, Source::Ollama);
}

#[test]
fn the_service_change_shows_the_new_line() {
    let (dir, path) = file(EDITED);
    let before = context(dir.path(), path.clone());
    set(&path, "OLLAMA_NUM_PARALLEL", Some("3")).unwrap();
    let after = context(dir.path(), path);
    let change = service_change(&before, &after).unwrap();
    assert!(
        change.path.ends_with("gardener-ollama.service"),
        "{}",
        change.path
    );
    assert_eq!(
        change.diff_lines(),
        vec!["+ Environment=\"OLLAMA_NUM_PARALLEL=3\"".to_owned()]
    );
}

#[test]
fn proc_environ_is_split_on_nul() {
    let env = parse_proc_environ(b"PATH=/usr/bin\0OLLAMA_NUM_PARALLEL=3\0EMPTY=\0A=b=c\0\0");
    assert_eq!(env["OLLAMA_NUM_PARALLEL"], "3");
    assert_eq!(env["EMPTY"], "");
    assert_eq!(env["A"], "b=c");
    assert_eq!(env.len(), 4);
}

#[test]
fn launchctl_print_gives_the_jobs_own_environment_only() {
    let text = include_str!("../services/launchd/testdata/running.txt");
    let env = parse_launchctl_environment(text);
    assert_eq!(env["OLLAMA_KEEP_ALIVE"], "5m");
    assert_eq!(env["OLLAMA_FLASH_ATTENTION"], "1");
    assert_eq!(
        env["OLLAMA_MODELS"],
        "/Users/ann/Library/Application Support/Gardener/models"
    );
    assert!(
        !env.contains_key("SSH_AUTH_SOCK"),
        "inherited environment is another block"
    );
    assert!(
        !env.contains_key("PATH"),
        "default environment is another block"
    );
    assert!(parse_launchctl_environment("gui/501/x = {\n\tstate = running\n}\n").is_empty());
    let crlf =
        "gui/501/x = {\r\n   environment = {  \r\n      OLLAMA_NUM_PARALLEL => 3\r\n   }\r\n}\r\n";
    assert_eq!(
        parse_launchctl_environment(crlf)["OLLAMA_NUM_PARALLEL"],
        "3"
    );
}

#[test]
fn an_external_ollama_is_not_applied_and_says_what_to_set_where() {
    let (dir, path) =
        file("[ollama]\nexternal = true\n[ollama.env]\nOLLAMA_NUM_PARALLEL = \"3\"\n");
    let ctx = context(dir.path(), path);
    let manager = ctx.manager();
    let e = apply(&ctx, manager.as_ref(), &mut |_| {}).unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("OLLAMA_NUM_PARALLEL=3") && m.contains("launchctl setenv"),
        "{m}"
    );
    assert_eq!(e.code(), ErrorCode::NotManaged);
}
