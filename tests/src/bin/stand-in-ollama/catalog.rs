//! The models the stand-in knows: those installed when it starts, those it can pull, and the
//! JSON it serves about them (`/api/tags`, `/api/ps`, `/api/show` entries).

use std::time::SystemTime;

use serde_json::{Value, json};

use super::rfc3339;

/// A model as it sits on disk: the fields of an `/api/tags` entry, and what `/api/show` and
/// `/api/pull` tell about it.
pub struct Model {
    pub name: &'static str,
    pub modified_at: &'static str,
    pub size: u64,
    pub digest: &'static str,
    pub family: &'static str,
    pub parameter_size: &'static str,
    pub quantization_level: &'static str,
    /// Bytes it occupies once loaded (weights plus KV cache), as `/api/ps` reports.
    pub loaded_size: u64,
    pub context_length: u64,
    /// `model_info` of `/api/show`: the architecture and its shape.
    pub arch: Arch,
    /// The blobs `/api/pull` reports, `(digest, size)`; their sizes add up to `size`.
    pub layers: &'static [(&'static str, u64)],
}

/// What `/api/show`'s `model_info` says about a model's shape.
#[derive(Clone, Copy)]
pub struct Arch {
    pub name: &'static str,
    pub parameter_count: u64,
    /// The longest context the model was trained for (`<arch>.context_length`).
    pub max_context: u64,
    pub block_count: u64,
    pub embedding_length: u64,
    pub head_count: u64,
    pub head_count_kv: u64,
}

/// Installed when the stand-in starts.
pub const INSTALLED: &[Model] = &[
    Model {
        name: "llama3.2:3b",
        modified_at: "2025-10-02T14:21:07.512306+02:00",
        size: 2_019_393_189,
        digest: "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
        family: "llama",
        parameter_size: "3.2B",
        quantization_level: "Q4_K_M",
        loaded_size: 3_271_557_120,
        context_length: 4096,
        arch: Arch {
            name: "llama",
            parameter_count: 3_212_749_888,
            max_context: 131_072,
            block_count: 28,
            embedding_length: 3072,
            head_count: 24,
            head_count_kv: 8,
        },
        layers: &[
            (
                "sha256:dde5aa3fc5ffc17176b5e8bdc82f587b24b2678c6c66101bf7da77af9f7ccdff",
                2_019_377_376,
            ),
            (
                "sha256:966de95ca8a62200913e3f8bfbf84c8494536f1b94b49166851e76644e966396",
                15_813,
            ),
        ],
    },
    Model {
        name: "qwen2.5-coder:7b",
        modified_at: "2025-09-18T09:44:52.083517+02:00",
        size: 4_683_087_519,
        digest: "dae161e27b0e90dd1856c8bb3209201fd6736d8eb66298e75ed87571486f4364",
        family: "qwen2",
        parameter_size: "7.6B",
        quantization_level: "Q4_K_M",
        loaded_size: 6_087_401_472,
        context_length: 4096,
        arch: Arch {
            name: "qwen2",
            parameter_count: 7_615_616_512,
            max_context: 32_768,
            block_count: 28,
            embedding_length: 3584,
            head_count: 28,
            head_count_kv: 4,
        },
        layers: &[
            (
                "sha256:60e05f2100071479f596b964f89f510f057ce397ea22f2833a0cfe029bfc2463",
                4_683_073_184,
            ),
            (
                "sha256:66b9ea09bd5b7099cbb4fc820f31b575c0366fa439b08245566692c6784e281e",
                14_335,
            ),
        ],
    },
];

/// Known to the stand-in's "registry" but not installed at first: `/api/pull` can fetch it.
pub const PULLABLE: &[Model] = &[Model {
    name: "tinyllama:1.1b",
    modified_at: "2025-10-20T08:00:00.000000+02:00",
    size: 637_700_138,
    digest: "2644915ede352ea7bdfaff0bfac0be74c719d5d5202acb63a6fb095b52f394a4",
    family: "llama",
    parameter_size: "1B",
    quantization_level: "Q4_0",
    loaded_size: 1_125_000_000,
    context_length: 2048,
    arch: Arch {
        name: "llama",
        parameter_count: 1_100_048_384,
        max_context: 2048,
        block_count: 22,
        embedding_length: 2048,
        head_count: 32,
        head_count_kv: 4,
    },
    layers: &[
        (
            "sha256:2af3b81862c6be03c769683af18efdadb2c33f60ff32ab6f83e42c043d6c7816",
            637_699_456,
        ),
        (
            "sha256:af0ddbdaaa26f30d54d727f9dd944b76bdb926fdaf9a58f63f78c532f57c191f",
            682,
        ),
    ],
}];

/// The model `name` names among `models`, `:latest` implied when no tag is given.
/// `n` more installed models, each with its own name and digest, shaped like the first one
/// (for timing `gardener models` against many). They live as long as the process.
pub fn generated(n: usize) -> Vec<&'static Model> {
    let base = &INSTALLED[0];
    (0..n)
        .map(|i| {
            let name: &'static str = Box::leak(format!("generated-{i:03}:1b").into_boxed_str());
            let digest: &'static str = Box::leak(format!("{i:064x}").into_boxed_str());
            let model: &'static Model = Box::leak(Box::new(Model {
                name,
                digest,
                ..*base
            }));
            model
        })
        .collect()
}

pub fn find<'a>(models: impl IntoIterator<Item = &'a Model>, name: &str) -> Option<&'a Model> {
    let latest = format!("{name}:latest");
    models
        .into_iter()
        .find(|m| m.name == name || m.name == latest)
}

fn details(model: &Model) -> Value {
    json!({ "parent_model": "", "format": "gguf", "family": model.family,
            "families": [model.family], "parameter_size": model.parameter_size,
            "quantization_level": model.quantization_level })
}

pub fn tag_entry(model: &Model) -> Value {
    json!({ "name": model.name, "model": model.name, "modified_at": model.modified_at,
            "size": model.size, "digest": model.digest, "details": details(model) })
}

/// A `/api/ps` entry; with `partial_vram`, a quarter of the model stays in system memory (a
/// GPU too small for it), otherwise everything counts as VRAM (Apple silicon's unified memory).
pub fn ps_entry(model: &Model, expires_at: SystemTime, partial_vram: bool) -> Value {
    let vram = if partial_vram {
        model.loaded_size / 4 * 3
    } else {
        model.loaded_size
    };
    json!({ "name": model.name, "model": model.name, "size": model.loaded_size,
            "digest": model.digest, "details": details(model),
            "expires_at": rfc3339(expires_at), "size_vram": vram,
            "context_length": model.context_length })
}

/// `/api/show`: what Ollama answers without `verbose` (no tokenizer arrays).
pub fn show_entry(model: &Model) -> Value {
    let a = &model.arch;
    let key = |k: &str| format!("{}.{k}", a.name);
    let mut info = serde_json::Map::new();
    info.insert("general.architecture".into(), json!(a.name));
    info.insert("general.parameter_count".into(), json!(a.parameter_count));
    info.insert("general.file_type".into(), json!(15));
    info.insert("general.quantization_version".into(), json!(2));
    info.insert(key("context_length"), json!(a.max_context));
    info.insert(key("block_count"), json!(a.block_count));
    info.insert(key("embedding_length"), json!(a.embedding_length));
    info.insert(key("attention.head_count"), json!(a.head_count));
    info.insert(key("attention.head_count_kv"), json!(a.head_count_kv));
    info.insert("tokenizer.ggml.model".into(), json!("gpt2"));
    info.insert("tokenizer.ggml.tokens".into(), Value::Null);
    json!({
        "license": "(license text)",
        "modelfile": format!("# Modelfile generated by \"ollama show\"\nFROM {}\n", model.name),
        "parameters": "stop                           \"<|eot_id|>\"",
        "template": "{{ .Prompt }}",
        "details": details(model),
        "model_info": info,
        "capabilities": ["completion"],
        "modified_at": model.modified_at,
    })
}
