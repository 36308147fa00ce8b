//! Tests for config parsing, defaults, merging and located errors.

use std::path::Path;

use super::*;

fn parse(src: &str) -> Result<Config> {
    Config::parse(src, Path::new("/etc/gardener.toml"))
}

fn err(src: &str) -> String {
    parse(src).unwrap_err().to_string()
}

#[test]
fn empty_file_gives_defaults() {
    let c = parse("").unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(c.ollama.host, "127.0.0.1:11434");
    assert_eq!(c.app.command[0], "codebase-gardener");
    assert_eq!(
        c.app.env["CODEBASE_GARDENER_DATA_DIR"],
        "~/.codebase-gardener"
    );
    assert_eq!(c.ollama.env["OLLAMA_MAX_LOADED_MODELS"], "2");
}

#[test]
fn missing_file_gives_defaults() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        Config::load(&dir.path().join("nope.toml")).unwrap(),
        Config::default()
    );
}

#[test]
fn template_uncommented_equals_defaults() {
    let uncommented: String = TEMPLATE
        .lines()
        .map(|l| {
            let is_setting = l
                .strip_prefix("# ")
                .and_then(|rest| rest.split_once(" = "))
                .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            if is_setting { &l[2..] } else { l }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(uncommented.contains("\nhost = \"127.0.0.1:11434\""));
    assert_eq!(parse(&uncommented).unwrap(), Config::default());
    assert_eq!(parse(TEMPLATE).unwrap(), Config::default());
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let e = err("[ollama]\nhots = \"127.0.0.1:1\"\n");
    assert!(
        e.starts_with("/etc/gardener.toml:2:1: key `ollama.hots`: unknown key `hots`"),
        "{e}"
    );
}

#[test]
fn unknown_table_is_an_error() {
    let e = err("[olama]\n");
    assert!(
        e.contains(":1:") && e.contains("unknown key `olama`"),
        "{e}"
    );
}

#[test]
fn wrong_type_names_the_key() {
    let e = err("[services]\nrestart_delay_secs = \"soon\"\n");
    assert!(
        e.contains(":2:") && e.contains("`services.restart_delay_secs`"),
        "{e}"
    );
}

#[test]
fn syntax_error_has_a_line() {
    let e = err("[ollama\nhost = 1\n");
    assert!(e.starts_with("/etc/gardener.toml:1:"), "{e}");
}

#[test]
fn non_loopback_host_is_refused_with_its_line() {
    let e = err("# comment\n[ollama]\nhost = \"0.0.0.0:11434\"\n");
    assert!(e.contains(":3:1: key `ollama.host`"), "{e}");
    assert!(e.contains("loopback"), "{e}");
}

#[test]
fn localhost_and_ipv6_loopback_are_accepted() {
    for host in ["localhost:11434", "[::1]:11434", "127.0.0.2:8080"] {
        parse(&format!("[ollama]\nhost = \"{host}\"\n")).unwrap();
    }
    assert!(err("[ollama]\nhost = \"localhost\"\n").contains("no valid port"));
}

#[test]
fn remote_health_url_is_refused() {
    let e = err("[app]\nhealth_url = \"http://example.com/\"\n");
    assert!(
        e.contains("key `app.health_url`") && e.contains("not on this machine"),
        "{e}"
    );
    let e = err("[app]\nhealth_url = \"ftp://127.0.0.1/\"\n");
    assert!(e.contains("http://"), "{e}");
}

#[test]
fn env_tables_merge_over_defaults_and_empty_removes() {
    let c =
        parse("[ollama.env]\nOLLAMA_NUM_PARALLEL = \"2\"\nOLLAMA_KV_CACHE_TYPE = \"\"\n").unwrap();
    assert_eq!(c.ollama.env["OLLAMA_NUM_PARALLEL"], "2");
    assert_eq!(c.ollama.env["OLLAMA_KEEP_ALIVE"], "5m");
    assert!(!c.ollama.env.contains_key("OLLAMA_KV_CACHE_TYPE"));
}

#[test]
fn reserved_ollama_env_points_to_the_right_key() {
    let e = err("[ollama.env]\nOLLAMA_HOST = \"127.0.0.1:1\"\n");
    assert!(e.contains(":2:1: key `ollama.env.OLLAMA_HOST`"), "{e}");
    assert!(e.contains("set that key instead"), "{e}");
}

#[test]
fn bad_env_name_is_refused() {
    let e = err("[app.env]\n\"1BAD\" = \"x\"\n");
    assert!(e.contains("key `app.env.1BAD`"), "{e}");
}

#[test]
fn restart_delay_below_two_seconds_is_refused() {
    let e = err("[services]\nrestart_delay_secs = 1\n");
    assert!(
        e.contains(":2:1: key `services.restart_delay_secs`") && e.contains("start limit"),
        "{e}"
    );
}

#[test]
fn sizes_parse_and_are_checked() {
    let c = parse("[ollama]\nmemory_high = \"6GiB\"\nmemory_max = \"8GiB\"\n").unwrap();
    assert_eq!(c.ollama.memory_max.unwrap().as_u64(), 8 << 30);
    let e = err("[ollama]\nmemory_high = \"9GiB\"\nmemory_max = \"8GiB\"\n");
    assert!(
        e.contains("key `ollama.memory_high`") && e.contains("above memory_max"),
        "{e}"
    );
    let e = err("[app]\nmemory_max = \"lots\"\n");
    assert!(
        e.contains("key `app.memory_max`") && e.contains("4GiB"),
        "{e}"
    );
}

#[test]
fn empty_app_command_is_refused() {
    let e = err("[app]\ncommand = []\n");
    assert!(
        e.contains("key `app.command`") && e.contains("empty"),
        "{e}"
    );
}

#[test]
fn relative_paths_are_refused() {
    let e = err("[paths]\nlogs = \"logs\"\n");
    assert!(
        e.contains("key `paths.logs`") && e.contains("relative"),
        "{e}"
    );
}

#[test]
fn effective_config_round_trips_through_toml() {
    let c = parse("[ollama]\nexternal = true\n[app.env]\nX = \"1\"\n").unwrap();
    let back = parse(&c.to_toml()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn set_external_keeps_comments_and_other_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gardener.toml");
    std::fs::write(
        &path,
        "# mine\n[ollama]\nhost = \"127.0.0.1:1234\" # port\n",
    )
    .unwrap();
    Config::set_external_ollama(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("# mine") && text.contains("# port"), "{text}");
    let c = Config::load(&path).unwrap();
    assert!(c.ollama.external);
    assert_eq!(c.ollama.host, "127.0.0.1:1234");
    assert_eq!(crate::fsutil::mode_of(&path).unwrap(), Some(0o600));
}

#[test]
fn set_external_writes_the_template_when_absent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/gardener.toml");
    Config::set_external_ollama(&path).unwrap();
    let c = Config::load(&path).unwrap();
    assert!(c.ollama.external);
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("# Gardener configuration.")
    );
}

#[test]
fn set_external_refuses_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gardener.toml");
    std::fs::write(&path, "[ollama\n").unwrap();
    assert!(Config::set_external_ollama(&path).is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "[ollama\n");
}

#[test]
fn set_mute_until_sets_and_clears_keeping_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gardener.toml");
    std::fs::write(
        &path,
        "# mine\n[alerts]\nenabled = true # on\n\n[alerts.cpu]\nthreshold = 90\n",
    )
    .unwrap();
    Config::set_mute_until(&path, Some("2026-12-02T08:00:00Z")).unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(c.alerts.mute_until.as_deref(), Some("2026-12-02T08:00:00Z"));
    assert_eq!(c.alerts.cpu.threshold, 90);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("# mine") && text.contains("# on"), "{text}");
    assert_eq!(crate::fsutil::mode_of(&path).unwrap(), Some(0o600));

    Config::set_mute_until(&path, None).unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(c.alerts.mute_until, None);
    assert_eq!(c.alerts.cpu.threshold, 90);
    // Clearing a mute that is not set changes nothing and does not fail.
    let before = std::fs::read_to_string(&path).unwrap();
    Config::set_mute_until(&path, None).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
}

#[test]
fn set_mute_until_refuses_a_time_that_is_not_utc() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gardener.toml");
    std::fs::write(&path, "[alerts]\n").unwrap();
    let err = Config::set_mute_until(&path, Some("tomorrow")).unwrap_err();
    assert!(err.to_string().contains("mute_until"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "[alerts]\n");
}

#[test]
fn save_text_refuses_an_invalid_config_naming_line_and_key_and_keeps_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gardener.toml");
    std::fs::write(&path, "[monitor]\ninterval_secs = 5\n").unwrap();
    let err = Config::save_text(&path, "[monitor]\n\ninterval_secs = \"soon\"\n").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(":3:") && text.contains("monitor.interval_secs"),
        "{text}"
    );
    let err = Config::save_text(&path, "[monitor]\nintervall = 5\n").unwrap_err();
    assert!(err.to_string().contains("unknown key"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "[monitor]\ninterval_secs = 5\n"
    );

    let saved = Config::save_text(&path, "# mine\n[monitor]\ninterval_secs = 7\n").unwrap();
    assert_eq!(saved.monitor.interval_secs, 7);
    assert_eq!(
        Config::text(&path).unwrap(),
        "# mine\n[monitor]\ninterval_secs = 7\n"
    );
    assert_eq!(crate::fsutil::mode_of(&path).unwrap(), Some(0o600));
}

#[test]
fn set_interval_keeps_comments_and_refuses_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gardener.toml");
    std::fs::write(&path, "# mine\n[monitor]\ninterval_secs = 5 # often\n").unwrap();
    Config::set_interval(&path, 2).unwrap();
    assert_eq!(Config::load(&path).unwrap().monitor.interval_secs, 2);
    assert!(Config::text(&path).unwrap().contains("# mine"));
    let err = Config::set_interval(&path, 0).unwrap_err();
    assert!(err.to_string().contains("interval_secs"), "{err}");
    assert_eq!(Config::load(&path).unwrap().monitor.interval_secs, 2);
    // No file yet: the text to edit is the documented template.
    let none = dir.path().join("absent.toml");
    assert!(Config::text(&none).unwrap().contains("[alerts]"));
}
