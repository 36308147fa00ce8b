//! Checks that go beyond types: loopback-only addresses, sane delays, valid
//! environment names, and locating the offending key in the source text.

use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::Path;

use super::Config;

/// One invalid value: the dotted key and what is wrong with it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Violation {
    pub key: String,
    pub message: String,
}

fn violation(key: impl Into<String>, message: impl Into<String>) -> Violation {
    Violation {
        key: key.into(),
        message: message.into(),
    }
}

/// Parses an Ollama `host` value (`127.0.0.1:11434`, `[::1]:11434`,
/// `localhost:11434`) into a loopback socket address.
pub fn parse_loopback_host(host: &str) -> Result<SocketAddr, String> {
    if host == "localhost" {
        return Err(format!(
            "`{host}` has no valid port; write \"localhost:11434\""
        ));
    }
    let addr = match host.strip_prefix("localhost:") {
        Some(port) => port
            .parse::<u16>()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .map_err(|_| format!("`{host}` has no valid port"))?,
        None => host
            .parse::<SocketAddr>()
            .map_err(|_| format!("`{host}` is not an address like \"127.0.0.1:11434\""))?,
    };
    if !addr.ip().is_loopback() {
        return Err(format!(
            "`{host}` is not a loopback address; the services must only be reachable from this \
             machine (use 127.0.0.1 or [::1])"
        ));
    }
    if addr.port() == 0 {
        return Err(format!("`{host}` needs a port other than 0"));
    }
    Ok(addr)
}

fn check_loopback_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("`{url}` must start with http:// or https://"));
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    if !loopback {
        return Err(format!(
            "`{url}` is not on this machine; the health check must use 127.0.0.1, [::1] or localhost"
        ));
    }
    Ok(())
}

fn check_env(
    table: &str,
    env: &std::collections::BTreeMap<String, String>,
) -> Result<(), Violation> {
    for (k, v) in env {
        let key = format!("{table}.{k}");
        let mut chars = k.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(violation(
                key,
                "environment variable names use only letters, digits and `_`, and do not start \
                 with a digit",
            ));
        }
        if v.contains(['\n', '\r', '\0']) {
            return Err(violation(key, "the value must be a single line"));
        }
    }
    Ok(())
}

fn check_path(key: &str, path: &Path) -> Result<(), Violation> {
    if path.is_absolute() || path.starts_with("~") {
        Ok(())
    } else {
        Err(violation(
            key,
            format!(
                "`{}` is relative; write an absolute path or one starting with ~/",
                path.display()
            ),
        ))
    }
}

fn check_memory(
    table: &str,
    high: Option<bytesize::ByteSize>,
    max: Option<bytesize::ByteSize>,
) -> Result<(), Violation> {
    for (name, value) in [("memory_high", high), ("memory_max", max)] {
        if value.is_some_and(|v| v.as_u64() < 64 * 1024 * 1024) {
            return Err(violation(
                format!("{table}.{name}"),
                "is below 64MiB, too small for the service to start",
            ));
        }
    }
    if let (Some(h), Some(m)) = (high, max)
        && h > m
    {
        return Err(violation(
            format!("{table}.memory_high"),
            format!("({h}) is above memory_max ({m}); the soft limit must not exceed the hard one"),
        ));
    }
    Ok(())
}

/// All semantic checks, first failure wins.
pub(super) fn validate(c: &Config) -> Result<(), Violation> {
    validate_ollama(c)?;
    validate_app(c)?;
    for (key, p) in [
        ("paths.data", &c.paths.data),
        ("paths.logs", &c.paths.logs),
        ("paths.backups", &c.paths.backups),
    ] {
        if let Some(p) = p {
            check_path(key, p)?;
        }
    }
    if !(2..=3600).contains(&c.services.restart_delay_secs) {
        return Err(violation(
            "services.restart_delay_secs",
            "must be between 2 and 3600: shorter delays let a crashing service trip the \
             service manager's start limit",
        ));
    }
    if !(1..=3600).contains(&c.install.health_timeout_secs) {
        return Err(violation(
            "install.health_timeout_secs",
            "must be between 1 and 3600",
        ));
    }
    validate_monitor(c)?;
    super::backup::validate(&c.backup).map_err(|(key, message)| violation(key, message))?;
    if let Some(d) = &c.backup.destination {
        check_path("backup.destination", d)?;
    }
    super::alerts::validate(&c.alerts).map_err(|(key, message)| violation(key, message))?;
    Ok(())
}

/// `[ollama]`: a loopback host, a binary that is not empty, environment
/// that does not set what other keys set, sane memory limits.
fn validate_ollama(c: &Config) -> Result<(), Violation> {
    parse_loopback_host(&c.ollama.host).map_err(|m| violation("ollama.host", m))?;
    if c.ollama
        .binary
        .as_ref()
        .is_some_and(|b| b.as_os_str().is_empty())
    {
        return Err(violation(
            "ollama.binary",
            "is empty; remove the key to auto-discover",
        ));
    }
    check_path("ollama.models_dir", &c.ollama.models_dir)?;
    for reserved in ["OLLAMA_HOST", "OLLAMA_MODELS"] {
        if c.ollama.env.contains_key(reserved) {
            let instead = if reserved == "OLLAMA_HOST" {
                "host"
            } else {
                "models_dir"
            };
            return Err(violation(
                format!("ollama.env.{reserved}"),
                format!("is set from `[ollama] {instead}`; set that key instead"),
            ));
        }
    }
    check_env("ollama.env", &c.ollama.env)?;
    for (name, value) in &c.ollama.env {
        if let Some(known) = crate::ollama_settings::KNOWN
            .iter()
            .find(|k| k.name == name)
            && !known.accepts(value)
        {
            return Err(violation(
                format!("ollama.env.{name}"),
                format!("cannot be {value:?}: it takes {}", known.allowed),
            ));
        }
    }
    check_memory("ollama", c.ollama.memory_high, c.ollama.memory_max)
}

/// `[app]`: a command with a program, a loopback health URL, sane
/// environment and memory limits.
fn validate_app(c: &Config) -> Result<(), Violation> {
    match c.app.command.first() {
        None => {
            return Err(violation(
                "app.command",
                "is empty; give the program and its arguments",
            ));
        }
        Some(p) if p.trim().is_empty() => {
            return Err(violation(
                "app.command",
                "the program (first element) is empty",
            ));
        }
        Some(_) => {}
    }
    if c.app.command.iter().any(|a| a.contains('\0')) {
        return Err(violation("app.command", "contains a NUL character"));
    }
    check_path("app.working_dir", &c.app.working_dir)?;
    check_loopback_url(&c.app.health_url).map_err(|m| violation("app.health_url", m))?;
    check_env("app.env", &c.app.env)?;
    check_memory("app", c.app.memory_high, c.app.memory_max)
}

fn validate_monitor(c: &Config) -> Result<(), Violation> {
    let m = &c.monitor;
    if !(1..=3600).contains(&m.interval_secs) {
        return Err(violation(
            "monitor.interval_secs",
            "must be between 1 and 3600",
        ));
    }
    if !(1..=60).contains(&m.probe_timeout_secs) {
        return Err(violation(
            "monitor.probe_timeout_secs",
            "must be between 1 and 60",
        ));
    }
    if m.history_secs < m.interval_secs || m.history_secs > 7 * 24 * 3600 {
        return Err(violation(
            "monitor.history_secs",
            "must be at least one interval and at most a week (604800)",
        ));
    }
    if m.models_every_secs < m.interval_secs {
        return Err(violation(
            "monitor.models_every_secs",
            "must be at least `monitor.interval_secs`",
        ));
    }
    if !(1..=100).contains(&c.logs.keep) {
        return Err(violation("logs.keep", "must be between 1 and 100"));
    }
    if c.logs.max_size.as_u64() < 64 * 1024 {
        return Err(violation("logs.max_size", "must be at least \"64KiB\""));
    }
    if !(1..=3650).contains(&c.logs.keep_days) {
        return Err(violation("logs.keep_days", "must be between 1 and 3650"));
    }
    Ok(())
}

/// Byte span of the key `dotted` (e.g. `ollama.env.OLLAMA_HOST`) in `source`,
/// or of the deepest enclosing table that exists.
pub(super) fn span_of(source: &str, dotted: &str) -> Option<Range<usize>> {
    let doc = toml_edit::Document::parse(source.to_owned()).ok()?;
    let mut table: &dyn toml_edit::TableLike = doc.as_table();
    let mut best = None;
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        // `targets[1]`: the second table of an array of tables.
        let (name, index) = match part.strip_suffix(']').and_then(|p| p.split_once('[')) {
            Some((name, i)) => (name, i.parse::<usize>().ok()),
            None => (part, None),
        };
        let Some((key, item)) = table.get_key_value(name) else {
            break;
        };
        best = key.span().or(best);
        if parts.peek().is_none() {
            break;
        }
        let next = match index {
            Some(i) => item
                .as_array_of_tables()
                .and_then(|a| a.get(i))
                .map(|t| t as &dyn toml_edit::TableLike),
            None => item.as_table_like(),
        };
        match next {
            Some(t) => table = t,
            None => break,
        }
    }
    best
}
