//! `gardener monitor [--metrics ADDR]`: the headless monitor. Runs the tick
//! loop, logs alert events (one JSON object per line on stdout with
//! `--json`), sends desktop notifications where a session bus exists, and
//! optionally serves Prometheus text on `/metrics`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use gardener_core::Platform;
use gardener_core::context::Context;
use gardener_core::error::ErrorCode;
use gardener_core::monitor::alerts::{Event, EventKind};
use gardener_core::monitor::{Monitor, metrics};

use crate::Globals;
use crate::output::{self, CliError};

/// `gardener monitor` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Serve Prometheus metrics on http://ADDR/metrics (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Allow --metrics on an address other machines can reach.
    #[arg(long, requires = "metrics")]
    allow_remote: bool,
    /// Do not send desktop notifications (alerts are still logged).
    #[arg(long)]
    no_notify: bool,
}

fn failed(code: ErrorCode, message: String) -> CliError {
    CliError {
        code,
        message,
        exit: output::FAILED,
    }
}

/// Runs the subcommand until Ctrl-C or SIGTERM.
pub fn run(g: &Globals, args: &Args) -> Result<ExitCode, CliError> {
    if let Some(addr) = args.metrics
        && !addr.ip().is_loopback()
        && !args.allow_remote
    {
        return Err(CliError::usage(format!(
            "--metrics {addr} is reachable from other machines; use 127.0.0.1 or [::1], \
             or add --allow-remote if that is what you want"
        )));
    }
    let ctx = Context::load(g.config.as_deref(), Platform::current())?;
    let page = Arc::new(Mutex::new(String::new()));
    if let Some(addr) = args.metrics {
        serve_metrics(addr, Arc::clone(&page))?;
        tracing::info!(%addr, "serving Prometheus metrics on /metrics");
    }
    let notify = !args.no_notify && notifications_possible();
    let json = g.json;
    super::runtime()?.block_on(async move {
        let mut monitor = Monitor::new(ctx, true)
            .map_err(|e| failed(ErrorCode::Monitor, format!("cannot start the monitor: {e}")))?;
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            let _ = stop.send(true);
        });
        tracing::info!("monitor started");
        let want_metrics = args.metrics.is_some();
        monitor
            .run(shutdown, None, |snap, events| {
                if want_metrics {
                    let text = metrics::render(snap);
                    *page.lock().unwrap_or_else(PoisonError::into_inner) = text;
                }
                for e in events {
                    report(e, json, notify);
                }
            })
            .await;
        tracing::info!("monitor stopped");
        Ok(ExitCode::SUCCESS)
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn report(e: &Event, json: bool, notify: bool) {
    match e.kind {
        EventKind::Firing => {
            tracing::warn!(rule = %e.rule, value = e.value, muted = e.muted, "{}", e.message)
        }
        EventKind::Resolved => {
            tracing::info!(rule = %e.rule, value = e.value, muted = e.muted, "{}", e.message)
        }
    }
    if json {
        match serde_json::to_string(e) {
            Ok(line) => println!("{line}"),
            Err(err) => tracing::warn!(%err, "cannot render the event as JSON"),
        }
    }
    if notify && !e.muted {
        let summary = match e.kind {
            EventKind::Firing => "Gardener alert",
            EventKind::Resolved => "Gardener: resolved",
        };
        let body = e.message.clone();
        // D-Bus calls block; an event must never hold up the next tick.
        std::thread::spawn(move || {
            if let Err(err) = notify_rust::Notification::new()
                .appname("Gardener")
                .summary(summary)
                .body(&body)
                .show()
            {
                tracing::warn!(%err, "cannot show a desktop notification");
            }
        });
    }
}

/// Desktop notifications need a session bus on Linux (absent on servers and
/// over SSH); on macOS the notification centre is always there.
fn notifications_possible() -> bool {
    cfg!(target_os = "macos") || std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
}

fn serve_metrics(addr: SocketAddr, page: Arc<Mutex<String>>) -> Result<(), CliError> {
    let server = tiny_http::Server::http(addr).map_err(|e| {
        failed(
            ErrorCode::MetricsBind,
            format!("cannot listen on {addr}: {e}"),
        )
    })?;
    let header = tiny_http::Header::from_bytes("Content-Type", metrics::CONTENT_TYPE)
        .map_err(|()| failed(ErrorCode::Metrics, "bad content type".into()))?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for request in server.incoming_requests() {
                let path = request.url().split('?').next().unwrap_or("");
                let response = if path == "/metrics" {
                    let body = page.lock().unwrap_or_else(PoisonError::into_inner).clone();
                    tiny_http::Response::from_string(body).with_header(header.clone())
                } else {
                    tiny_http::Response::from_string("not found; try /metrics\n")
                        .with_status_code(404)
                };
                if let Err(e) = request.respond(response) {
                    tracing::debug!(error = %e, "metrics client went away");
                }
            }
        })
        .map_err(|e| {
            failed(
                ErrorCode::Metrics,
                format!("cannot start the metrics thread: {e}"),
            )
        })?;
    Ok(())
}
