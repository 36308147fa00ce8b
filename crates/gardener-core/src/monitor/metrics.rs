//! Prometheus text exposition (format 0.0.4) of a snapshot, for
//! `gardener monitor --metrics`: a scrape reads the newest snapshot, it never
//! triggers a probe.

use std::fmt::Write;

use super::snapshot::{AlertState, RunState, ServiceSnapshot, Snapshot};

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Escapes a label value: backslash, double quote and newline.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        // Writing to a String cannot fail.
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let _ = write!(self.0, "{name}");
        if !labels.is_empty() {
            let inner: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = write!(self.0, "{{{}}}", inner.join(","));
        }
        let _ = writeln!(self.0, " {}", number(value));
    }

    fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.family(name, "gauge", help);
        self.sample(name, &[], value);
    }

    /// A gauge family with a sample for each service `value` has a number for.
    fn per_service(
        &mut self,
        name: &str,
        help: &str,
        services: &[(&str, &ServiceSnapshot)],
        value: impl Fn(&ServiceSnapshot) -> Option<f64>,
    ) {
        self.family(name, "gauge", help);
        for (id, svc) in services {
            if let Some(v) = value(svc) {
                self.sample(name, &[("service", id)], v);
            }
        }
    }
}

/// Prometheus spells non-finite values `NaN`, `+Inf`, `-Inf`.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

#[allow(clippy::cast_precision_loss)]
fn f(v: u64) -> f64 {
    v as f64
}

/// Renders `s` as Prometheus text.
pub fn render(s: &Snapshot) -> String {
    let mut o = Out(String::with_capacity(4096));
    system(&mut o, s);
    services(&mut o, s);
    o.family(
        "gardener_ollama_loaded_model_bytes",
        "gauge",
        "Memory of each model Ollama holds loaded.",
    );
    for m in &s.services.ollama.models {
        o.sample(
            "gardener_ollama_loaded_model_bytes",
            &[("model", &m.name)],
            f(m.size_bytes),
        );
    }
    o.family(
        "gardener_alert_firing",
        "gauge",
        "1 while an alert rule fires.",
    );
    for a in &s.alerts {
        let firing = a.state == AlertState::Firing;
        o.sample(
            "gardener_alert_firing",
            &[("rule", &a.rule)],
            f64::from(u8::from(firing)),
        );
    }
    o.0
}

/// The machine's families: CPU, memory, swap and the data directory's disk.
fn system(o: &mut Out, s: &Snapshot) {
    let sys = &s.system;
    o.gauge(
        "gardener_cpu_percent",
        "CPU in use, all cores (percent).",
        f64::from(sys.cpu_percent),
    );
    o.gauge(
        "gardener_memory_used_bytes",
        "Memory in use.",
        f(sys.memory.used_bytes),
    );
    o.gauge(
        "gardener_memory_total_bytes",
        "Memory installed.",
        f(sys.memory.total_bytes),
    );
    o.gauge(
        "gardener_swap_used_bytes",
        "Swap in use.",
        f(sys.swap.used_bytes),
    );
    o.gauge(
        "gardener_swap_total_bytes",
        "Swap configured.",
        f(sys.swap.total_bytes),
    );
    let disk = [("path", sys.disk.path.as_str())];
    o.family(
        "gardener_disk_used_bytes",
        "gauge",
        "Used space on the volume holding the data directory.",
    );
    o.sample("gardener_disk_used_bytes", &disk, f(sys.disk.used_bytes));
    o.family(
        "gardener_disk_total_bytes",
        "gauge",
        "Size of the volume holding the data directory.",
    );
    o.sample("gardener_disk_total_bytes", &disk, f(sys.disk.total_bytes));
}

/// The services' families, one sample per service that has the value.
fn services(o: &mut Out, s: &Snapshot) {
    let services: [(&str, &ServiceSnapshot); 2] = [
        ("ollama", &s.services.ollama.service),
        ("app", &s.services.app),
    ];
    o.per_service(
        "gardener_service_up",
        "1 when the service's process runs (or, for an external Ollama or one whose service manager cannot be asked, answers).",
        &services,
        |svc| {
            // Unknown: the manager cannot be asked; an answer is then what shows it runs.
            let up = matches!(svc.state, RunState::Running | RunState::External)
                || (svc.state == RunState::Unknown && svc.healthy);
            Some(f64::from(u8::from(up)))
        },
    );
    o.per_service(
        "gardener_service_healthy",
        "1 when the service answered its health check.",
        &services,
        |svc| Some(f64::from(u8::from(svc.healthy))),
    );
    o.per_service(
        "gardener_service_probe_seconds",
        "How long the last health check took.",
        &services,
        |svc| svc.latency_ms.map(|ms| f(ms) / 1000.0),
    );
    o.per_service(
        "gardener_service_resident_bytes",
        "Resident memory of the service's process tree.",
        &services,
        |svc| svc.rss_bytes.map(f),
    );
    o.per_service(
        "gardener_service_cpu_percent",
        "CPU use of the service's process tree (percent of one core).",
        &services,
        |svc| svc.cpu_percent.map(f64::from),
    );
    o.per_service(
        "gardener_service_restarts",
        "Restarts by the service manager since it was started.",
        &services,
        |svc| svc.restarts.map(f64::from),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::snapshot::{AlertStatus, LoadedModel};

    fn sample() -> Snapshot {
        let mut s = Snapshot::default();
        s.system.cpu_percent = 12.5;
        s.system.memory.used_bytes = 1024;
        s.system.disk.path = "/home/a \"b\"".into();
        s.services.ollama.service.state = RunState::Running;
        s.services.ollama.service.healthy = true;
        s.services.ollama.service.latency_ms = Some(3);
        s.services.ollama.service.restarts = Some(2);
        s.services.ollama.models.push(LoadedModel {
            name: "llama3.2:3b".into(),
            size_bytes: 3_000_000_000,
            ..LoadedModel::default()
        });
        s.services.app.state = RunState::Failed;
        s.alerts.push(AlertStatus {
            rule: "app_down".into(),
            state: AlertState::Firing,
            ..AlertStatus::default()
        });
        s
    }

    #[test]
    fn renders_values_and_labels() {
        let text = render(&sample());
        for line in [
            "gardener_cpu_percent 12.5",
            "gardener_memory_used_bytes 1024",
            r#"gardener_disk_used_bytes{path="/home/a \"b\""} 0"#,
            r#"gardener_service_up{service="ollama"} 1"#,
            r#"gardener_service_up{service="app"} 0"#,
            r#"gardener_service_probe_seconds{service="ollama"} 0.003"#,
            r#"gardener_service_restarts{service="ollama"} 2"#,
            r#"gardener_ollama_loaded_model_bytes{model="llama3.2:3b"} 3000000000"#,
            r#"gardener_alert_firing{rule="app_down"} 1"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn every_sample_belongs_to_a_declared_family() {
        let text = render(&sample());
        let mut declared = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert_eq!(kind, "gauge");
                assert!(
                    !declared.contains(&name.to_owned()),
                    "{name} declared twice"
                );
                declared.push(name.to_owned());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                assert_eq!(declared.last().map(String::as_str), Some(name), "{line}");
                let value = line.rsplit(' ').next().unwrap();
                assert!(value.parse::<f64>().is_ok(), "{line}");
            }
        }
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NAN), "NaN");
    }
}
