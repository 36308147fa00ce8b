//! Ollama's model endpoints besides pulling: `/api/tags` with digests,
//! `/api/show`'s `model_info`, `DELETE /api/delete`, and loading through
//! `/api/generate` with an empty prompt.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::fit::Shape;
use super::{Error, Result, space};
use crate::monitor::probe::{ProbeError, Prober};
use crate::monitor::{InstalledModel, LoadedModel};

/// One `/api/tags` entry: the model as the monitor knows it, and its
/// manifest's digest.
#[derive(Clone, Debug, PartialEq)]
pub struct Tag {
    /// Name, size, details.
    pub model: InstalledModel,
    /// The manifest's digest.
    pub digest: Option<String>,
}

/// `GET /api/tags`, digests included.
pub async fn tags(prober: &Prober, host: &str) -> Result<Vec<Tag>, ProbeError> {
    Ok(prober
        .ollama_tags_with_digests(host)
        .await?
        .into_iter()
        .map(|(model, digest)| Tag { model, digest })
        .collect())
}

/// What `/api/show` tells about a model that `/api/tags` does not.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Show {
    /// `<arch>.context_length`.
    pub context_length: Option<u64>,
    /// `general.parameter_count`.
    pub parameter_count: Option<u64>,
    /// The shape the KV cache estimate needs, when all of it is given.
    pub shape: Option<Shape>,
}

/// `POST /api/show {"model": name}`.
pub async fn show(prober: &Prober, host: &str, name: &str) -> Result<Show, ProbeError> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        model_info: Map<String, Value>,
    }
    let answer: Answer = prober
        .send_json(Method::POST, host, "/api/show", &json!({ "model": name }))
        .await?;
    Ok(show_from_info(&answer.model_info))
}

/// Reads `model_info`: `general.architecture` names the prefix of the
/// architecture's own keys (`llama.context_length`, …).
pub fn show_from_info(info: &Map<String, Value>) -> Show {
    let arch = info
        .get("general.architecture")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let number = |key: &str| info.get(&format!("{arch}.{key}")).and_then(Value::as_u64);
    let shape = match (number("block_count"), number("embedding_length")) {
        (Some(block_count), Some(embedding_length)) => Some(Shape {
            block_count,
            embedding_length,
            head_count: number("attention.head_count"),
            head_count_kv: number("attention.head_count_kv"),
        }),
        _ => None,
    };
    Show {
        context_length: number("context_length"),
        parameter_count: info.get("general.parameter_count").and_then(Value::as_u64),
        shape,
    }
}

/// What deleting a model would do, found out before doing it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DeletePlan {
    /// The model's full name (`name:tag`).
    pub model: String,
    /// The bytes deleting it frees: its size, or nothing when another name
    /// shares its manifest.
    pub freed_bytes: u64,
    /// Whether Ollama has it in memory now.
    pub loaded: bool,
}

/// Finds the model and what deleting it frees.
///
/// # Errors
/// [`Error::Unreachable`], or [`Error::NotFound`] naming what is installed.
pub async fn plan_delete(prober: &Prober, host: &str, name: &str) -> Result<DeletePlan> {
    let unreachable = |source| Error::Unreachable {
        host: host.to_owned(),
        source,
    };
    let (tags, ps) = tokio::join!(tags(prober, host), prober.ollama_ps(host));
    let tags = tags.map_err(unreachable)?;
    let loaded = ps.result.map_err(unreachable)?;
    let Some(tag) = find(&tags, name) else {
        return Err(not_found(name, &tags));
    };
    Ok(DeletePlan {
        freed_bytes: space::freed_by_removing(&tag.model.name, &tags),
        loaded: loaded.iter().any(|l| l.name == tag.model.name),
        model: tag.model.name.clone(),
    })
}

/// Deletes the planned model; a loaded one only with `unload_first`, which
/// unloads it before.
///
/// # Errors
/// [`Error::Loaded`] without `unload_first`; [`Error::Refused`] when Ollama
/// refuses the unload or the delete; [`Error::NotFound`] when it went in
/// the meantime.
pub async fn delete(
    prober: &Prober,
    host: &str,
    plan: &DeletePlan,
    unload_first: bool,
) -> Result<()> {
    let model = plan.model.clone();
    if plan.loaded {
        if !unload_first {
            return Err(Error::Loaded { model });
        }
        prober
            .unload(host, &model)
            .await
            .map_err(|source| refused("unload", &model, source))?;
    }
    let answer: Result<Value, ProbeError> = prober
        .send_json(
            Method::DELETE,
            host,
            "/api/delete",
            &json!({ "model": model }),
        )
        .await;
    match answer {
        Ok(_) => Ok(()),
        Err(ProbeError::Status { code: 404 }) => {
            // Gone in the meantime (another `rm`, or `ollama rm`).
            let tags = tags(prober, host).await.unwrap_or_default();
            Err(not_found(&model, &tags))
        }
        Err(source) => Err(refused("delete", &model, source)),
    }
}

/// A model Ollama loaded, and until when it stays.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Loaded {
    /// The model.
    pub model: String,
    /// What `/api/ps` says about it now (memory, `expires_at`).
    pub loaded: Option<LoadedModel>,
}

/// Loads `name` (`POST /api/generate` with an empty prompt) and keeps it
/// for `keep_alive` (Ollama's default when `None`). `prober` should have a
/// deadline of [`super::LOAD_TIMEOUT`].
///
/// # Errors
/// [`Error::BadKeepAlive`], [`Error::NotFound`], [`Error::Refused`],
/// [`Error::Unreachable`].
pub async fn load(
    prober: &Prober,
    host: &str,
    name: &str,
    keep_alive: Option<&str>,
) -> Result<Loaded> {
    let mut body = json!({ "model": name, "prompt": "", "stream": false });
    if let Some(k) = keep_alive {
        body["keep_alive"] = keep_alive_json(k)?;
    }
    let answer: Result<Value, ProbeError> = prober
        .send_json(Method::POST, host, "/api/generate", &body)
        .await;
    match answer {
        Ok(_) => {}
        Err(ProbeError::Status { code: 404 }) => {
            let tags = tags(prober, host).await.unwrap_or_default();
            return Err(not_found(name, &tags));
        }
        Err(e @ ProbeError::Refused { .. }) => {
            return Err(Error::Unreachable {
                host: host.to_owned(),
                source: e,
            });
        }
        // Reading a model in took longer than the deadline (Ollama answered
        // the connection): "Ollama did not load M: no answer within 300 s".
        Err(source) => return Err(refused("load", name, source)),
    }
    let ps = prober.ollama_ps(host).await.result.unwrap_or_default();
    let full = if name.contains(':') {
        name.to_owned()
    } else {
        format!("{name}:latest")
    };
    Ok(Loaded {
        loaded: ps.into_iter().find(|m| m.name == name || m.name == full),
        model: name.to_owned(),
    })
}

/// A keep-alive as Ollama takes it: a number of seconds, or a Go duration
/// (`30m`, `1h30m`); negative keeps the model loaded until Ollama stops.
///
/// # Errors
/// [`Error::BadKeepAlive`] for anything else.
pub fn keep_alive_json(text: &str) -> Result<Value> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Ok(json!(n));
    }
    let unsigned = t.strip_prefix('-').unwrap_or(t);
    // Go's units; humantime would also take "1 day", which Ollama would not.
    let go_units = unsigned
        .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.')
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || "hms".contains(c));
    if go_units && !unsigned.is_empty() && humantime::parse_duration(unsigned).is_ok() {
        Ok(json!(t))
    } else {
        Err(Error::BadKeepAlive(text.to_owned()))
    }
}

fn find<'a>(tags: &'a [Tag], name: &str) -> Option<&'a Tag> {
    let latest = format!("{name}:latest");
    tags.iter()
        .find(|t| t.model.name == name || t.model.name == latest)
}

fn not_found(name: &str, tags: &[Tag]) -> Error {
    let names: Vec<&str> = tags.iter().map(|t| t.model.name.as_str()).collect();
    Error::NotFound {
        model: name.to_owned(),
        installed: if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        },
    }
}

fn refused(action: &'static str, model: &str, source: ProbeError) -> Error {
    Error::Refused {
        action,
        model: model.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_info_gives_context_parameters_and_shape_under_its_architecture() {
        let info = json!({
            "general.architecture": "qwen2", "general.parameter_count": 7_615_616_512_u64,
            "qwen2.context_length": 32768, "qwen2.block_count": 28,
            "qwen2.embedding_length": 3584, "qwen2.attention.head_count": 28,
            "qwen2.attention.head_count_kv": 4, "llama.context_length": 1,
            "tokenizer.ggml.tokens": null
        });
        let show = show_from_info(info.as_object().unwrap());
        assert_eq!(show.context_length, Some(32768));
        assert_eq!(show.parameter_count, Some(7_615_616_512));
        let shape = show.shape.unwrap();
        assert_eq!((shape.block_count, shape.embedding_length), (28, 3584));
        assert_eq!((shape.head_count, shape.head_count_kv), (Some(28), Some(4)));
        let bare = show_from_info(
            json!({ "general.architecture": "bert" })
                .as_object()
                .unwrap(),
        );
        assert_eq!(bare, Show::default());
    }

    #[tokio::test]
    async fn a_load_past_its_deadline_says_so_rather_than_that_ollama_is_down() {
        // Accepts the connection and reads the request, then never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            std::thread::sleep(std::time::Duration::from_secs(5));
            drop(conn);
        });
        let prober = Prober::new(std::time::Duration::from_millis(300)).unwrap();
        let e = load(&prober, &addr, "qwen3:8b", None).await.unwrap_err();
        assert!(matches!(e, Error::Refused { action: "load", .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "Ollama did not load qwen3:8b: no answer within 0.3 s"
        );
        let down = {
            let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            closed.local_addr().unwrap().to_string()
        };
        let e = load(&prober, &down, "qwen3:8b", None).await.unwrap_err();
        assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");
    }

    #[test]
    fn keep_alive_takes_seconds_and_go_durations_only() {
        assert_eq!(keep_alive_json("300").unwrap(), json!(300));
        assert_eq!(keep_alive_json("-1").unwrap(), json!(-1));
        assert_eq!(keep_alive_json("30m").unwrap(), json!("30m"));
        assert_eq!(keep_alive_json("1h30m").unwrap(), json!("1h30m"));
        for bad in ["", "soon", "1 day", "30 minutes", "m"] {
            let e = keep_alive_json(bad).unwrap_err();
            assert!(e.is_usage(), "{bad:?}");
            assert!(e.to_string().contains("30m"), "{e}");
        }
    }
}
