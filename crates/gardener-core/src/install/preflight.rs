//! Preflight checks: everything that must be true before installing, each
//! with what was found and how to fix it. `gardener doctor` prints them.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::plan::{Check, Outcome};
use super::programs::{
    find_ollama, last_line, parse_ollama_version, parse_python_version, programs, python_of,
    resolve, run_bounded, run_captured,
};
use crate::config::validate::parse_loopback_host;
use crate::context::Context;
use crate::fsutil::existing_ancestor;
use crate::health;
use crate::paths::Platform;
use crate::services::{ServiceId, ServiceManager, ServiceState};

/// Choices that change what the checks accept.
#[derive(Clone, Debug, Default)]
pub struct PreflightOptions {
    /// Accept an Ollama Gardener did not install on the port (the user chose
    /// to use it).
    pub use_running_ollama: bool,
}

/// The checks and what they resolved.
#[derive(Clone, Debug)]
pub struct Preflight {
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// The Ollama executable for the service file.
    pub ollama_binary: PathBuf,
    /// The app's executable for the service file.
    pub app_program: PathBuf,
    /// An Ollama Gardener did not install answers on the port.
    pub external_ollama: Option<String>,
}

fn check(id: &str, title: &str, outcome: Outcome, detail: String, fix: Option<String>) -> Check {
    Check {
        id: id.into(),
        title: title.into(),
        outcome,
        detail,
        fix,
    }
}

fn ok(id: &str, title: &str, detail: String) -> Check {
    check(id, title, Outcome::Ok, detail, None)
}

fn port_in_use(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

fn ollama_checks(
    ctx: &Context,
    manager: &dyn ServiceManager,
    opts: &PreflightOptions,
    pf: &mut Preflight,
) {
    if !ctx.config.ollama.external {
        ollama_binary_check(ctx, pf);
    }
    ollama_port_check(ctx, manager, opts, pf);
}

/// Whether the Ollama binary to run exists and says its version; it
/// becomes the plan's binary when found.
fn ollama_binary_check(ctx: &Context, pf: &mut Preflight) {
    let cfg = &ctx.config;
    let file = ctx.config_file.display();
    match find_ollama(ctx) {
        Some(bin) => {
            let detail = match run_bounded(&bin, &["--version"], Duration::from_secs(10)) {
                Ok(out) => Ok(parse_ollama_version(&out).unwrap_or_else(|| "unknown version".into())),
                Err(e) => Err(e),
            };
            pf.checks.push(match detail {
                Ok(version) => ok("ollama-binary", "Ollama installed", format!("ollama {version} at {}", bin.display())),
                Err(e) => check("ollama-binary", "Ollama installed", Outcome::Fail, e,
                    Some(format!("reinstall Ollama, or point `[ollama] binary` in {file} at a working one"))),
            });
            pf.ollama_binary = bin;
        }
        None => pf.checks.push(check(
            "ollama-binary",
            "Ollama installed",
            Outcome::Fail,
            match &cfg.ollama.binary {
                Some(b) => format!("`{}` (from `[ollama] binary`) does not exist", b.display()),
                None => "no `ollama` on PATH, in /opt/homebrew/bin, /usr/local/bin or Ollama.app".into(),
            },
            Some(format!(
                "install Ollama (`brew install ollama` on macOS, the official install script on Linux), \
                 or set `[ollama] binary` in {file}"
            )),
        )),
    }
}

/// Who holds Ollama's port: nobody, Gardener's Ollama, an Ollama Gardener
/// did not install (recorded, and fine when it is to be used), or another
/// program.
fn ollama_port_check(
    ctx: &Context,
    manager: &dyn ServiceManager,
    opts: &PreflightOptions,
    pf: &mut Preflight,
) {
    let cfg = &ctx.config;
    let file = ctx.config_file.display();
    let host = &cfg.ollama.host;
    let Ok(addr) = parse_loopback_host(host) else {
        return; // validated when the config was loaded
    };
    let ours = !cfg.ollama.external
        && manager
            .status(ServiceId::Ollama)
            .is_ok_and(|s| matches!(s.state, ServiceState::Running | ServiceState::Starting));
    let title = "Ollama port";
    if !port_in_use(addr) {
        pf.checks.push(if cfg.ollama.external {
            check("ollama-port", title, Outcome::Fail,
                format!("`[ollama] external = true`, but nothing answers at {host}"),
                Some(format!("start your Ollama (open Ollama.app or `brew services start ollama`), or set `external = false` in {file} so Gardener runs it")))
        } else {
            ok("ollama-port", title, format!("{host} is free"))
        });
        return;
    }
    if ours {
        pf.checks.push(ok(
            "ollama-port",
            title,
            format!("{host} is served by Gardener's Ollama service"),
        ));
        return;
    }
    match health::ollama_version(host, Duration::from_secs(2)) {
        Some(version) => {
            pf.external_ollama = Some(version.clone());
            pf.checks.push(if cfg.ollama.external || opts.use_running_ollama {
                ok("ollama-port", title, format!("using the Ollama {version} already running at {host}"))
            } else {
                check("ollama-port", title, Outcome::Fail,
                    format!("an Ollama {version} that Gardener did not install (Ollama.app or `brew services`) already serves {host}"),
                    Some(format!("use it: `gardener install --use-running-ollama` (sets `[ollama] external = true` in {file}); or quit it (quit Ollama.app, or `brew services stop ollama`) and install again")))
            });
        }
        None => pf.checks.push(check("ollama-port", title, Outcome::Fail,
            format!("port {} on {} is in use by another program that is not Ollama", addr.port(), addr.ip()),
            Some(format!("stop that program (`lsof -i :{port}` or `ss -ltnp 'sport = :{port}'` shows which), or choose another port with `[ollama] host` in {file}", port = addr.port())))),
    }
}

fn app_checks(ctx: &Context, manager: &dyn ServiceManager, pf: &mut Preflight) {
    let file = ctx.config_file.display();
    let program = ctx
        .config
        .app
        .command
        .first()
        .map(PathBuf::from)
        .unwrap_or_default();
    match resolve(ctx, &program) {
        Some(path) => {
            pf.checks.push(ok("app-command", "Codebase Gardener installed", path.display().to_string()));
            if let Some(python) = python_of(&path) {
                pf.checks.push(match run_bounded(&python, &["--version"], Duration::from_secs(10)) {
                    Ok(out) => match parse_python_version(&out) {
                        Some((3, minor)) if minor >= 11 => ok("python", "Python 3.11 or newer", format!("{} at {}", out.trim(), python.display())),
                        _ => check("python", "Python 3.11 or newer", Outcome::Fail,
                            format!("{} runs on {} ({})", path.display(), python.display(), out.trim()),
                            Some("reinstall Codebase Gardener with Python 3.11 or newer (e.g. `pipx install --python python3.12 codebase-gardener`)".into())),
                    },
                    Err(e) => check("python", "Python 3.11 or newer", Outcome::Fail, e,
                        Some(format!("reinstall Codebase Gardener; its interpreter {} does not run", python.display()))),
                });
            }
            pf.app_program = path;
        }
        None => pf.checks.push(check("app-command", "Codebase Gardener installed", Outcome::Fail,
            format!("`{}` not found{}", program.display(), if program.is_absolute() { "" } else { " on PATH" }),
            Some(format!("install it (`pipx install codebase-gardener`), or set `[app] command` in {file} to its full path")))),
    }
    let Ok(url) = url::Url::parse(&ctx.config.app.health_url) else {
        return;
    };
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return;
    };
    let host = host.trim_matches(['[', ']']);
    let ip = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    let Ok(addr) = format!(
        "{}:{port}",
        if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip.into()
        }
    )
    .parse::<SocketAddr>() else {
        return;
    };
    let ours = manager
        .status(ServiceId::App)
        .is_ok_and(|s| matches!(s.state, ServiceState::Running | ServiceState::Starting));
    if port_in_use(addr) && !ours {
        pf.checks.push(check("app-port", "App port", Outcome::Fail,
            format!("port {port} (from `[app] health_url`) is already in use by a program Gardener did not start"),
            Some(format!("stop that program, or change the port in `[app] command` and `[app] health_url` in {file}"))));
    } else {
        pf.checks.push(ok(
            "app-port",
            "App port",
            format!(
                "port {port} is {}",
                if ours {
                    "served by Gardener's app service"
                } else {
                    "free"
                }
            ),
        ));
    }
}

fn disk_checks(ctx: &Context, pf: &mut Preflight) {
    let floor = ctx.config.install.min_free_disk;
    let Some(base) = existing_ancestor(&ctx.data_dir) else {
        return;
    };
    match rustix::fs::statvfs(base) {
        Ok(st) => {
            let free = st.f_bavail.saturating_mul(st.f_frsize);
            let shown = bytesize::ByteSize(free);
            pf.checks.push(if free >= floor.as_u64() {
                ok("disk", "Free disk space", format!("{shown} free on the volume of {}", base.display()))
            } else {
                check("disk", "Free disk space", Outcome::Fail,
                    format!("only {shown} free on the volume of {}; at least {floor} is needed", base.display()),
                    Some("free some space (old models: `ollama rm NAME`), or lower `[install] min_free_disk`".into()))
            });
        }
        Err(e) => pf.checks.push(check(
            "disk",
            "Free disk space",
            Outcome::Warn,
            format!("cannot read free space of {}: {e}", base.display()),
            None,
        )),
    }
    for (what, dir) in [
        ("data", &ctx.data_dir),
        ("logs", &ctx.logs_dir),
        ("backups", &ctx.backups_dir),
        ("service files", &ctx.paths.service_dir),
        ("config", &ctx.paths.config_dir),
    ] {
        let Some(base) = existing_ancestor(dir) else {
            continue;
        };
        if rustix::fs::access(base, rustix::fs::Access::WRITE_OK).is_err() {
            pf.checks.push(check(
                "writable",
                "Directories writable",
                Outcome::Fail,
                format!(
                    "cannot create the {what} directory {}: {} is not writable",
                    dir.display(),
                    base.display()
                ),
                Some(format!(
                    "fix the permissions of {} (`ls -ld` it), or choose another place in `[paths]`",
                    base.display()
                )),
            ));
        }
    }
}

fn linux_checks(pf: &mut Preflight) {
    // `is-system-running` prints one state word and exits non-zero for
    // anything but `running` — `degraded` still runs units. "offline" or a bus
    // error means no user manager is reachable.
    let sysd = run_captured(
        Path::new("systemctl"),
        &["--user", "is-system-running"],
        Duration::from_secs(10),
    );
    let (state, text) = match &sysd {
        Ok((_, out)) => (
            out.split_whitespace().next().unwrap_or_default(),
            last_line(out),
        ),
        Err(e) => ("", e.as_str()),
    };
    pf.checks.push(if ["running", "degraded", "starting", "initializing"].contains(&state) {
        ok("systemd-user", "systemd user manager", format!("reachable ({state})"))
    } else {
        check("systemd-user", "systemd user manager", Outcome::Fail,
            format!("`systemctl --user` cannot reach your user manager: {text}"),
            Some("log in through a normal session (not `su`), or enable lingering with `sudo loginctl enable-linger $USER` and log in again".into()))
    });
    let headless =
        std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none();
    let uid = rustix::process::getuid().as_raw().to_string();
    let linger = run_bounded(
        Path::new("loginctl"),
        &["show-user", &uid, "--property=Linger", "--value"],
        Duration::from_secs(10),
    );
    let title = "Services run without a login";
    pf.checks.push(match linger.as_deref().map(str::trim) {
        Ok("yes") => ok("linger", title, "lingering is enabled".into()),
        Ok(_) if !headless => ok(
            "linger",
            title,
            "desktop session: services run while you are logged in".into(),
        ),
        Ok(_) => check(
            "linger",
            title,
            Outcome::Warn,
            "lingering is off: on this headless machine the services stop when you log out".into(),
            Some("sudo loginctl enable-linger $USER".into()),
        ),
        Err(e) => check(
            "linger",
            title,
            Outcome::Warn,
            format!("could not ask loginctl: {e}"),
            Some("if this machine is headless, run `sudo loginctl enable-linger $USER`".into()),
        ),
    });
}

/// Runs every check for `ctx` on this machine. For another platform's plan
/// nothing on this machine says anything about it, so checks are not run and
/// typical paths stand in for the programs.
pub fn preflight(
    ctx: &Context,
    manager: &dyn ServiceManager,
    opts: &PreflightOptions,
) -> Preflight {
    let (ollama_binary, app_program) = programs(ctx);
    let mut pf = Preflight {
        checks: Vec::new(),
        ollama_binary,
        app_program,
        external_ollama: None,
    };
    pf.checks.push(ok(
        "config",
        "Configuration",
        if ctx.config_exists {
            format!("{} is valid", ctx.config_file.display())
        } else {
            format!(
                "no {} yet: defaults apply and a commented one will be written",
                ctx.config_file.display()
            )
        },
    ));
    if ctx.platform() != Platform::current() {
        pf.checks.push(check(
            "platform",
            "This machine",
            Outcome::Warn,
            format!(
                "plan rendered for {} on {}: no machine checks ran, program paths are typical ones",
                ctx.platform(),
                Platform::current()
            ),
            None,
        ));
        return pf;
    }
    ollama_checks(ctx, manager, opts, &mut pf);
    app_checks(ctx, manager, &mut pf);
    disk_checks(ctx, &mut pf);
    if ctx.platform() == Platform::Linux {
        linux_checks(&mut pf);
    }
    pf
}
