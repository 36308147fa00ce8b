//! Async HTTP probes the monitor makes: Ollama's loaded models (every tick,
//! its health check), its version and installed models (now and then), the
//! app's health page, and unloading a model.
//!
//! Every exchange is bounded in time (one deadline for connect + headers +
//! body) and in bytes (the body is read chunk by chunk and abandoned at a
//! cap), redirects are reported and never followed, and one long-lived
//! client keeps connections alive between ticks so a tick costs little CPU.
//! The installer's one-shot blocking probe lives in [`crate::health`].

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::snapshot::{InstalledModel, LoadedModel};

/// Default cap on a response body: Ollama's JSON answers are a few KiB, so
/// anything past 1 MiB is not the API we expect.
pub const DEFAULT_MAX_BYTES: u64 = 1024 * 1024;

/// Default deadline for one whole exchange.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long an idle kept-alive connection stays in the pool. Longer than any
/// sensible tick, so consecutive ticks reuse one connection per service.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Why a probe failed, in words a person can act on.
#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ProbeError {
    /// Nothing accepts connections on the address.
    #[error("connection refused: nothing is listening on {addr}")]
    Refused {
        /// `host:port` that refused.
        addr: String,
    },
    /// The whole exchange did not finish before the deadline.
    #[error("no answer within {secs} s")]
    Timeout {
        /// The deadline, in seconds.
        secs: f64,
    },
    /// An answer other than 2xx (and not a redirect with a `Location`).
    #[error("answered HTTP {code}")]
    Status {
        /// HTTP status code.
        code: u16,
    },
    /// A 3xx answer with a `Location`; probes never follow redirects, since a
    /// health check that lands somewhere else checks the wrong thing.
    #[error("redirected to {location} (not followed)")]
    Redirect {
        /// The `Location` header, as sent.
        location: String,
    },
    /// The body is longer than the cap; the rest was not read.
    #[error("answer larger than {} (not read)", human_bytes(*limit))]
    TooLarge {
        /// The cap, in bytes.
        limit: u64,
    },
    /// The body is not the JSON shape this probe expects.
    #[error("answered, but not with the expected JSON: {detail}")]
    Unparsable {
        /// The parser's complaint and the start of the body.
        detail: String,
    },
    /// A health page answered 2xx but without the expected text.
    #[error("answered, but the page does not contain {expected:?}")]
    BodyMismatch {
        /// The text that was looked for.
        expected: String,
    },
    /// Anything else (bad URL, reset connection, malformed HTTP, …).
    #[error("{detail}")]
    Other {
        /// The error and its whole chain of causes.
        detail: String,
    },
}

/// The outcome of one probe and how long it took (until the answer was read,
/// or until it failed).
#[derive(Clone, Debug, PartialEq)]
pub struct Probed<T> {
    /// Wall-clock milliseconds for the whole exchange.
    pub latency_ms: u64,
    /// What was learnt, or why nothing was.
    pub result: Result<T, ProbeError>,
}

/// Makes the monitor's HTTP probes through one long-lived client.
///
/// Must be used from a Tokio runtime with the time driver enabled (the
/// deadline is a Tokio timer), and always the same runtime: the pooled
/// connections' tasks live on the runtime that opened them.
#[derive(Clone, Debug)]
pub struct Prober {
    client: reqwest::Client,
    timeout: Duration,
    max_bytes: u64,
}

/// A body read up to the cap.
struct Body {
    bytes: Vec<u8>,
    /// False when the body was longer than the cap and abandoned.
    complete: bool,
}

impl Prober {
    /// A prober whose exchanges each end after `timeout`, reading bodies of
    /// at most [`DEFAULT_MAX_BYTES`].
    ///
    /// # Errors
    /// [`ProbeError::Other`] when the HTTP client cannot be built.
    pub fn new(timeout: Duration) -> Result<Self, ProbeError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Probes target local services; a proxy from the environment
            // would probe the proxy instead.
            .no_proxy()
            // The outer deadline bounds everything; this only makes a slow
            // connect report as a connect failure when it comes first.
            .connect_timeout(timeout)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            // Probes are sequential per service: one idle connection each.
            .pool_max_idle_per_host(2)
            .user_agent(concat!("gardener/", env!("CARGO_PKG_VERSION")))
            // Plain HTTP to this machine: no certificate is ever checked, so
            // the system's roots are not read (a few hundred files, the
            // largest part of starting a client).
            .tls_certs_only([])
            .build()
            .map_err(|e| ProbeError::Other {
                detail: error_chain(&e),
            })?;
        Ok(Self {
            client,
            timeout,
            max_bytes: DEFAULT_MAX_BYTES,
        })
    }

    /// The same prober with a different body cap.
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The deadline of one exchange.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The body cap, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// `GET http://{host}/api/version` → the version string (`0.12.6`).
    pub async fn ollama_version(&self, host: &str) -> Probed<String> {
        #[derive(Deserialize)]
        struct Version {
            version: String,
        }
        timed(async {
            let v: Version = self.get_json(host, "/api/version").await?;
            Ok(v.version)
        })
        .await
    }

    /// `GET http://{host}/api/ps` → the models loaded in memory.
    pub async fn ollama_ps(&self, host: &str) -> Probed<Vec<LoadedModel>> {
        timed(async {
            let ps: Models<PsModel> = self.get_json(host, "/api/ps").await?;
            Ok(ps.models.into_iter().map(PsModel::into_loaded).collect())
        })
        .await
    }

    /// `GET http://{host}/api/tags` → the models installed on disk.
    pub async fn ollama_tags(&self, host: &str) -> Probed<Vec<InstalledModel>> {
        timed(async {
            let tags: Models<TagModel> = self.get_json(host, "/api/tags").await?;
            Ok(tags
                .models
                .into_iter()
                .map(TagModel::into_installed)
                .collect())
        })
        .await
    }

    /// `GET http://{host}/api/tags` → the models installed on disk, each with
    /// its manifest's digest.
    pub(crate) async fn ollama_tags_with_digests(
        &self,
        host: &str,
    ) -> Result<Vec<(InstalledModel, Option<String>)>, ProbeError> {
        let tags: Models<TagModel> = self.get_json(host, "/api/tags").await?;
        Ok(tags
            .models
            .into_iter()
            .map(|t| {
                let digest = t.digest.clone();
                (t.into_installed(), digest)
            })
            .collect())
    }

    /// `GET url`: healthy on 2xx and, with `body_contains`, when the body
    /// (at most the cap) contains that text.
    pub async fn health(&self, url: &str, body_contains: Option<&str>) -> Probed<()> {
        timed(async {
            let parsed = reqwest::Url::parse(url).map_err(|e| ProbeError::Other {
                detail: format!("invalid URL {url:?}: {e}"),
            })?;
            let addr = authority(&parsed);
            let body = self.exchange(self.client.get(parsed), &addr).await?;
            let Some(expected) = body_contains else {
                // Only the status counts; the body was read so the
                // connection can be reused, and an oversized one is fine.
                return Ok(());
            };
            if !body.complete {
                return Err(self.too_large());
            }
            if String::from_utf8_lossy(&body.bytes).contains(expected) {
                Ok(())
            } else {
                Err(ProbeError::BodyMismatch {
                    expected: expected.to_owned(),
                })
            }
        })
        .await
    }

    /// Asks Ollama to unload `model` now (`POST /api/generate` with
    /// `keep_alive: 0`). Any 2xx answer is success.
    ///
    /// # Errors
    /// Why Ollama did not accept it (or could not be asked).
    pub async fn unload(&self, host: &str, model: &str) -> Result<(), ProbeError> {
        let request = self
            .client
            .post(format!("http://{host}/api/generate"))
            .json(&serde_json::json!({ "model": model, "keep_alive": 0 }));
        // The answer's content is irrelevant; it is read (bounded) so the
        // connection goes back to the pool.
        self.exchange(request, host).await.map(|_| ())
    }

    /// The client itself, for an exchange whose deadline is not one
    /// probe's (a pull streams for minutes; see [`crate::models`]).
    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `body` as JSON to `path` on `host` with `method` and decodes
    /// the answer as `T`, within the deadline and the cap. An empty body
    /// decodes as JSON `null`.
    pub(crate) async fn send_json<T: for<'de> Deserialize<'de>>(
        &self,
        method: reqwest::Method,
        host: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, ProbeError> {
        let request = self
            .client
            .request(method, format!("http://{host}{path}"))
            .json(body);
        let body = self.exchange(request, host).await?;
        if !body.complete {
            return Err(self.too_large());
        }
        let bytes: &[u8] = if body.bytes.iter().all(u8::is_ascii_whitespace) {
            b"null"
        } else {
            &body.bytes
        };
        serde_json::from_slice(bytes).map_err(|e| ProbeError::Unparsable {
            detail: format!("{e} (body starts {:?})", body_start(bytes)),
        })
    }

    /// GETs `path` on `host` and decodes the body as `T`.
    pub(crate) async fn get_json<T: for<'de> Deserialize<'de>>(
        &self,
        host: &str,
        path: &str,
    ) -> Result<T, ProbeError> {
        let body = self
            .exchange(self.client.get(format!("http://{host}{path}")), host)
            .await?;
        if !body.complete {
            return Err(self.too_large());
        }
        serde_json::from_slice(&body.bytes).map_err(|e| ProbeError::Unparsable {
            detail: format!("{e} (body starts {:?})", body_start(&body.bytes)),
        })
    }

    /// Sends `request`, requires a 2xx answer and reads its body up to the
    /// cap, all within the deadline. `addr` names the target in errors.
    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
        addr: &str,
    ) -> Result<Body, ProbeError> {
        // One deadline around everything, owned here: a per-read timeout
        // would be reset by a server trickling a byte at a time, and one
        // outer timer makes every phase (connect, headers, body) end the
        // same way, as `Timeout`.
        let exchange = async {
            let mut response = request
                .send()
                .await
                .map_err(|e| from_reqwest(&e, addr, self.timeout))?;
            let status = response.status();
            if status.is_redirection()
                && let Some(location) = response.headers().get(reqwest::header::LOCATION)
            {
                return Err(ProbeError::Redirect {
                    location: String::from_utf8_lossy(location.as_bytes()).into_owned(),
                });
            }
            if !status.is_success() {
                return Err(ProbeError::Status {
                    code: status.as_u16(),
                });
            }
            self.read_body(&mut response, addr).await
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_elapsed) => Err(ProbeError::Timeout {
                secs: self.timeout.as_secs_f64(),
            }),
        }
    }

    /// Reads the body chunk by chunk, stopping before it would exceed the cap
    /// so that an endless or huge body is neither read nor held in memory.
    async fn read_body(
        &self,
        response: &mut reqwest::Response,
        addr: &str,
    ) -> Result<Body, ProbeError> {
        let announced = response.content_length();
        if announced.is_some_and(|n| n > self.max_bytes) {
            // Dropping the response closes the connection unread.
            return Ok(Body {
                bytes: Vec::new(),
                complete: false,
            });
        }
        let capacity = announced.unwrap_or(0).min(self.max_bytes);
        let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| from_reqwest(&e, addr, self.timeout))?
        {
            let len = u64::try_from(bytes.len().saturating_add(chunk.len())).unwrap_or(u64::MAX);
            if len > self.max_bytes {
                return Ok(Body {
                    bytes,
                    complete: false,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Body {
            bytes,
            complete: true,
        })
    }

    fn too_large(&self) -> ProbeError {
        ProbeError::TooLarge {
            limit: self.max_bytes,
        }
    }
}

/// Runs a probe and measures it.
async fn timed<T>(probe: impl Future<Output = Result<T, ProbeError>>) -> Probed<T> {
    let start = Instant::now();
    let result = probe.await;
    Probed {
        latency_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        result,
    }
}

/// `{"models": [...]}`, the envelope of `/api/ps` and `/api/tags`.
#[derive(Deserialize)]
struct Models<M> {
    models: Vec<M>,
}

/// One entry of `/api/ps`. Everything but the name is optional so a newer or
/// older Ollama that drops a field still reports its models; unknown fields
/// are ignored.
#[derive(Deserialize)]
struct PsModel {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    size_vram: Option<u64>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    context_length: Option<u64>,
}

impl PsModel {
    fn into_loaded(self) -> LoadedModel {
        LoadedModel {
            name: self.name.or(self.model).unwrap_or_default(),
            size_bytes: self.size.unwrap_or(0),
            vram_bytes: self.size_vram.unwrap_or(0),
            expires_at: self.expires_at,
            context_length: self.context_length,
        }
    }
}

/// One entry of `/api/tags`; as tolerant as [`PsModel`].
#[derive(Deserialize)]
struct TagModel {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    modified_at: Option<String>,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    details: Option<TagDetails>,
}

#[derive(Deserialize)]
struct TagDetails {
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    parameter_size: Option<String>,
    #[serde(default)]
    quantization_level: Option<String>,
}

impl TagModel {
    fn into_installed(self) -> InstalledModel {
        let (family, parameter_size, quantization) = match self.details {
            Some(d) => (d.family, d.parameter_size, d.quantization_level),
            None => (None, None, None),
        };
        InstalledModel {
            name: self.name.or(self.model).unwrap_or_default(),
            size_bytes: self.size.unwrap_or(0),
            modified_at: self.modified_at,
            family,
            parameter_size,
            quantization,
        }
    }
}

/// Maps a client error to why the probe failed.
pub(crate) fn from_reqwest(e: &reqwest::Error, addr: &str, timeout: Duration) -> ProbeError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return ProbeError::Refused {
                addr: addr.to_owned(),
            };
        }
        source = s.source();
    }
    if e.is_timeout() {
        // reqwest's connect timeout is set to the same deadline; report both
        // the same way.
        return ProbeError::Timeout {
            secs: timeout.as_secs_f64(),
        };
    }
    ProbeError::Other {
        detail: error_chain(e),
    }
}

/// An error and all its causes, `: `-separated (reqwest's own message alone
/// is often just "error sending request").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        // Some layers repeat their cause in their own message.
        if !msg.ends_with(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}

/// `host:port` of a URL, for messages.
fn authority(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => url.as_str().to_owned(),
    }
}

/// The first characters of a body, for error details.
pub(crate) fn body_start(bytes: &[u8]) -> String {
    const MAX: usize = 60;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]);
    if bytes.len() > MAX {
        format!("{text}…")
    } else {
        text.into_owned()
    }
}

/// `1 MiB`, `64 KiB`, `1000 bytes`.
fn human_bytes(n: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests;
