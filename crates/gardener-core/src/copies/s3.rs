//! An S3-compatible target (AWS, Backblaze B2, Cloudflare R2, MinIO…)
//! through `object_store`, which signs requests, retries, and uploads large
//! copies in parts: an object only exists once its multipart upload is
//! complete, so a copy cut off half way is never listed. Credentials come
//! from a file beside `gardener.toml` (mode 0600) and never appear in
//! messages.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use serde::Deserialize;

use super::{Error, Object, Result, Target};
use crate::config::TargetConfig;
use crate::context::Context;

/// Bytes per uploaded part (S3 wants at least 5 MiB but the last).
const PART: usize = 16 << 20;
/// Parts uploaded at once.
const PARTS_AT_ONCE: usize = 3;

/// The credentials file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    #[serde(default)]
    session_token: Option<String>,
}

/// A bucket and prefix of an S3-compatible service.
pub struct S3Target {
    name: String,
    store: Arc<AmazonS3>,
    prefix: String,
    shown: String,
    runtime: Arc<tokio::runtime::Runtime>,
}

fn read_credentials(name: &str, path: &std::path::Path) -> Result<Credentials> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::Config(format!(
            "target {name}: cannot read the credentials file {}: {e}",
            path.display()
        ))
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(Error::Config(format!(
            "target {name}: {} can be read by others; run `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Config(format!(
            "target {name}: cannot read {}: {e}",
            path.display()
        ))
    })?;
    // The file's text is never quoted back: it holds the secret.
    toml::from_str(&text).map_err(|_| {
        Error::Config(format!(
            "target {name}: {} must hold access_key_id = \"…\" and secret_access_key = \"…\" \
             (and optionally session_token)",
            path.display()
        ))
    })
}

impl S3Target {
    pub fn open(ctx: &Context, cfg: &TargetConfig) -> Result<Self> {
        let name = &cfg.name;
        let missing = |k: &str| Error::Config(format!("target {name}: no `{k}`"));
        let endpoint = cfg.endpoint.as_deref().ok_or_else(|| missing("endpoint"))?;
        let bucket = cfg.bucket.as_deref().ok_or_else(|| missing("bucket"))?;
        let file = cfg
            .credentials
            .as_deref()
            .ok_or_else(|| missing("credentials"))?;
        let beside = ctx
            .config_file
            .parent()
            .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf);
        let creds = read_credentials(name, &beside.join(file))?;
        let mut builder = AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_bucket_name(bucket)
            .with_region(cfg.region.as_deref().unwrap_or("us-east-1"))
            .with_access_key_id(creds.access_key_id)
            .with_secret_access_key(creds.secret_access_key)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false);
        if let Some(token) = creds.session_token {
            builder = builder.with_token(token);
        }
        let store = builder
            .build()
            .map_err(|e| Error::Config(format!("target {name}: {}", scrub(&e.to_string()))))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("s3-copy")
            .enable_all()
            .build()
            .map_err(|e| Error::Io {
                target: name.clone(),
                message: format!("cannot start the upload threads: {e}"),
            })?;
        let prefix = cfg.prefix.trim_start_matches('/').to_owned();
        Ok(Self {
            name: name.clone(),
            store: Arc::new(store),
            shown: format!("s3://{bucket}/{prefix} at {endpoint}"),
            prefix,
            runtime: Arc::new(runtime),
        })
    }

    fn path(&self, key: &str) -> ObjectPath {
        ObjectPath::from(format!("{}{key}", self.prefix))
    }

    fn error(&self, e: &object_store::Error) -> Error {
        let target = self.name.clone();
        let message = scrub(&e.to_string());
        let has = |s: &str| message.contains(s);
        match e {
            object_store::Error::NotFound { path, .. } => Error::Missing {
                target,
                key: path.rsplit('/').next().unwrap_or(path).to_owned(),
            },
            _ if has("403")
                || has("401")
                || has("InvalidAccessKeyId")
                || has("SignatureDoesNotMatch")
                || has("AccessDenied") =>
            {
                Error::Denied {
                    target,
                    message: format!("the service refused the credentials or access ({message})"),
                }
            }
            _ if has("NoSuchBucket") => Error::Unreachable {
                target,
                message: format!("the bucket does not exist ({message})"),
            },
            _ if has("error sending request")
                || has("connect")
                || has("dns error")
                || has("timed out")
                || has("Connection refused") =>
            {
                Error::Unreachable { target, message }
            }
            _ => Error::Io { target, message },
        }
    }
}

/// An error's text without anything that looks like a credential.
fn scrub(text: &str) -> String {
    text.split_whitespace()
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            if lower.contains("secret")
                || lower.contains("signature=")
                || lower.contains("credential=")
            {
                "[…]"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Feeds written bytes to a multipart upload, a part at a time, keeping at
/// most a few parts in flight.
struct Uploading<'r> {
    runtime: &'r tokio::runtime::Runtime,
    upload: Option<WriteMultipart>,
    buffer: Vec<u8>,
    failed: Option<object_store::Error>,
}

impl Uploading<'_> {
    fn send(&mut self) -> io::Result<()> {
        let Some(upload) = self.upload.as_mut() else {
            return Err(io::Error::other("the upload already ended"));
        };
        let part = std::mem::replace(&mut self.buffer, Vec::with_capacity(PART));
        let sent = self.runtime.block_on(async {
            upload.wait_for_capacity(PARTS_AT_ONCE).await?;
            upload.put(part.into());
            Ok::<(), object_store::Error>(())
        });
        sent.map_err(|e| {
            let text = e.to_string();
            self.failed = Some(e);
            io::Error::other(scrub(&text))
        })
    }
}

impl Write for Uploading<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = PART - self.buffer.len();
        let n = room.min(buf.len());
        self.buffer
            .extend_from_slice(buf.get(..n).unwrap_or_default());
        if self.buffer.len() == PART {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A blocking reader over an object's byte stream.
struct Downloading {
    runtime: Arc<tokio::runtime::Runtime>,
    stream: futures_util::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>,
    chunk: bytes::Bytes,
}

impl Read for Downloading {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.runtime.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(e)) => return Err(io::Error::other(scrub(&e.to_string()))),
            }
        }
        let n = self.chunk.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), self.chunk.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.chunk = self.chunk.slice(n..);
        Ok(n)
    }
}

impl Target for S3Target {
    fn name(&self) -> &str {
        &self.name
    }

    fn location(&self) -> String {
        self.shown.clone()
    }

    fn put(
        &self,
        key: &str,
        write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> Result<u64> {
        let path = self.path(key);
        let store = Arc::clone(&self.store);
        let multipart = self
            .runtime
            .block_on(store.put_multipart(&path))
            .map_err(|e| self.error(&e))?;
        let mut up = Uploading {
            runtime: &self.runtime,
            upload: Some(WriteMultipart::new_with_chunk_size(multipart, PART)),
            buffer: Vec::with_capacity(PART),
            failed: None,
        };
        let written = write(&mut up);
        let upload = up.upload.take();
        let rest = std::mem::take(&mut up.buffer);
        let failed = up.failed.take();
        let Some(mut upload) = upload else {
            return Err(Error::Io {
                target: self.name.clone(),
                message: "the upload ended early".into(),
            });
        };
        if let Err(e) = written {
            // Nothing is listed: the parts already sent are dropped.
            let _ = self.runtime.block_on(upload.abort());
            return Err(match failed {
                Some(f) => self.error(&f),
                None => Error::Io {
                    target: self.name.clone(),
                    message: format!("preparing {key}: {e}"),
                },
            });
        }
        let finished = self.runtime.block_on(async {
            if !rest.is_empty() {
                upload.put(rest.into());
            }
            upload.finish().await
        });
        finished.map_err(|e| self.error(&e))?;
        let head = self
            .runtime
            .block_on(self.store.head(&path))
            .map_err(|e| self.error(&e))?;
        Ok(head.size)
    }

    fn get(&self, key: &str) -> Result<Box<dyn Read + Send>> {
        let path = self.path(key);
        let got = self
            .runtime
            .block_on(self.store.get(&path))
            .map_err(|e| self.error(&e))?;
        Ok(Box::new(Downloading {
            runtime: Arc::clone(&self.runtime),
            stream: got.into_stream(),
            chunk: bytes::Bytes::new(),
        }))
    }

    fn list(&self) -> Result<Vec<Object>> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.clone()));
        let listed: Vec<object_store::Result<object_store::ObjectMeta>> = self
            .runtime
            .block_on(self.store.list(prefix.as_ref()).collect());
        let mut out = Vec::new();
        for meta in listed {
            let meta = meta.map_err(|e| self.error(&e))?;
            let full = meta.location.to_string();
            let key = full.strip_prefix(&self.prefix).unwrap_or(&full);
            if !key.contains('/') {
                out.push(Object {
                    key: key.to_owned(),
                    size: meta.size,
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn delete(&self, key: &str) -> Result<()> {
        match self.runtime.block_on(self.store.delete(&self.path(key))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(&e)),
        }
    }
}
