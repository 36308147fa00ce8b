//! Alert engine tests of `model_offloaded`: loaded models partly on the CPU.

use super::*;
use crate::monitor::snapshot::LoadedModel;

const GB: u64 = 1_000_000_000;

fn model(name: &str, size: u64, vram: u64) -> LoadedModel {
    LoadedModel {
        name: name.into(),
        size_bytes: size,
        vram_bytes: vram,
        ..LoadedModel::default()
    }
}

fn with(models: Vec<LoadedModel>) -> Snapshot {
    let mut s = calm();
    s.services.ollama.models = models;
    s
}

/// 38% of a 50 GB model outside GPU memory.
fn big() -> LoadedModel {
    model("llama3.1:70b", 50 * GB, 31 * GB)
}

fn offload_events(events: &[Event]) -> Vec<(u64, EventKind, bool, &str)> {
    events
        .iter()
        .filter(|e| e.rule == "model_offloaded")
        .map(|e| (e.at - T0, e.kind, e.repeat, e.message.as_str()))
        .collect()
}

#[test]
fn a_partly_offloaded_model_fires_names_its_cpu_share_and_resolves_once_unloaded() {
    let mut e = engine(&AlertsConfig::default());
    let partly = || with(vec![big(), model("qwen3:0.6b", GB, GB)]);
    let samples = [
        (0, partly()),
        (25, partly()),
        (30, partly()),
        (600, partly()),
        (3630, partly()),
        (3635, with(vec![model("qwen3:0.6b", GB, GB)])),
    ];
    let events = drive(&mut e, samples);
    let msg = "llama3.1:70b runs 38% on the CPU: unload other models or choose a smaller one";
    let still = format!("Still: {msg}");
    assert_eq!(
        offload_events(&events),
        vec![
            (30, Firing, false, msg),
            (3630, Firing, true, still.as_str()),
            (
                3635,
                Resolved,
                false,
                "No loaded model runs on the CPU any more"
            ),
        ]
    );
    assert_eq!(events[0].value, 38.0);
    assert_eq!(state_of(&e, "model_offloaded"), Some(AlertState::Ok));
}

#[test]
fn it_resolves_once_the_model_is_wholly_on_the_gpu() {
    let mut e = engine(&AlertsConfig::default());
    let events = drive(
        &mut e,
        [
            (0, with(vec![big()])),
            (30, with(vec![big()])),
            (35, with(vec![model("llama3.1:70b", 50 * GB, 50 * GB)])),
        ],
    );
    let kinds: Vec<(u64, EventKind)> = offload_events(&events)
        .into_iter()
        .map(|(t, k, _, _)| (t, k))
        .collect();
    assert_eq!(kinds, vec![(30, Firing), (35, Resolved)]);
}

#[test]
fn no_gpu_at_all_and_nothing_loaded_read_as_clear() {
    let mut e = engine(&AlertsConfig::default());
    let cpu_only = with(vec![
        model("llama3.2:3b", 3 * GB, 0),
        model("phi3", 2 * GB, 0),
    ]);
    let events = drive(
        &mut e,
        [(0, cpu_only.clone()), (60, cpu_only), (120, calm())],
    );
    assert_eq!(offload_events(&events), vec![]);
    let status = e
        .statuses()
        .into_iter()
        .find(|s| s.rule == "model_offloaded");
    let status = status.unwrap();
    assert_eq!((status.state, status.value), (AlertState::Ok, Some(0.0)));
}

#[test]
fn several_offloaded_models_are_each_named_the_largest_share_first() {
    let mut e = engine(&AlertsConfig::default());
    let models = vec![
        model("qwen2.5:32b", 20 * GB, 18 * GB),
        big(),
        model("nomic-embed-text", GB, GB),
        // On a machine with a GPU, a model without GPU memory is wholly on the CPU.
        model("phi3", 2 * GB, 0),
    ];
    let events = drive(&mut e, [(0, with(models.clone())), (30, with(models))]);
    let got = offload_events(&events);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].3,
        "phi3 runs 100%, llama3.1:70b 38% and qwen2.5:32b 10% on the CPU: unload other models \
         or choose smaller ones"
    );
    assert_eq!(events[0].value, 100.0);
}

#[test]
fn a_tiny_share_is_not_rounded_to_nothing_and_ollama_down_keeps_the_state() {
    let mut e = engine(&AlertsConfig::default());
    let barely = || with(vec![model("gemma3:4b", 1000 * GB, 1000 * GB - GB)]);
    let mut down = calm();
    down.services.ollama.service.state = RunState::Failed;
    down.services.ollama.service.healthy = false;
    let events = drive(&mut e, [(0, barely()), (30, barely()), (35, down)]);
    let got = offload_events(&events);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].3.starts_with("gemma3:4b runs under 1% on the CPU"),
        "{got:?}"
    );
    assert_eq!(state_of(&e, "model_offloaded"), Some(AlertState::Firing));
}
