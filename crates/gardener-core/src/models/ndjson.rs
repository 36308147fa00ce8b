//! Newline-delimited JSON as Ollama streams it: lines cut anywhere between
//! chunks are joined, a line longer than the cap is refused before it is
//! held, and each line of a pull is read as progress or as Ollama's error.

use serde::Deserialize;

/// The longest line accepted: Ollama's progress lines are under 300 bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// Splits a byte stream into lines.
#[derive(Debug)]
pub struct Lines {
    pending: Vec<u8>,
    max: usize,
}

/// A line longer than the cap.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("a line longer than {max} bytes (not read)")]
pub struct TooLong {
    /// The cap.
    pub max: usize,
}

impl Lines {
    /// Lines of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            pending: Vec::new(),
            max,
        }
    }

    /// The complete, non-blank lines `chunk` finishes (without `\n` or
    /// `\r\n`); the rest waits for the next chunk.
    ///
    /// # Errors
    /// [`TooLong`] when a line passes the cap, finished or not.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Vec<u8>>, TooLong> {
        let mut lines = Vec::new();
        let mut rest = chunk;
        while let Some(i) = rest.iter().position(|b| *b == b'\n') {
            self.take(&rest[..i])?;
            let mut line = std::mem::take(&mut self.pending);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if !line.iter().all(u8::is_ascii_whitespace) {
                lines.push(line);
            }
            rest = &rest[i + 1..];
        }
        self.take(rest)?;
        Ok(lines)
    }

    /// What is left at the end of the stream: a last line without `\n`.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        let line = std::mem::take(&mut self.pending);
        (!line.iter().all(u8::is_ascii_whitespace)).then_some(line)
    }

    fn take(&mut self, part: &[u8]) -> Result<(), TooLong> {
        if self.pending.len().saturating_add(part.len()) > self.max {
            self.pending.clear();
            return Err(TooLong { max: self.max });
        }
        self.pending.extend_from_slice(part);
        Ok(())
    }
}

/// One line of `/api/pull`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PullLine {
    /// `{"status": ..., "digest", "total", "completed"}`.
    Status {
        /// `pulling manifest`, `pulling 6a0746a1ec1a`, `success`, …
        status: String,
        /// The layer's digest, while one is downloading.
        digest: Option<String>,
        /// The layer's size.
        total: Option<u64>,
        /// How much of it is here.
        completed: Option<u64>,
    },
    /// `{"error": ...}`: the pull failed and Ollama says why.
    Error(String),
}

/// Reads one line.
///
/// # Errors
/// What is wrong with a line that is not JSON, or JSON with neither a
/// `status` nor an `error`.
pub fn parse_pull_line(line: &[u8]) -> Result<PullLine, String> {
    #[derive(Deserialize)]
    struct Raw {
        #[serde(default)]
        status: Option<String>,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        digest: Option<String>,
        #[serde(default)]
        total: Option<u64>,
        #[serde(default)]
        completed: Option<u64>,
    }
    let start = || crate::monitor::probe::body_start(line);
    let raw: Raw = serde_json::from_slice(line)
        .map_err(|e| format!("Ollama sent a line that is not JSON ({e}): {:?}", start()))?;
    match (raw.error, raw.status) {
        (Some(error), _) => Ok(PullLine::Error(error)),
        (None, Some(status)) => Ok(PullLine::Status {
            status,
            digest: raw.digest,
            total: raw.total,
            completed: raw.completed,
        }),
        (None, None) => Err(format!(
            "Ollama sent a line with neither status nor error: {:?}",
            start()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_cut_anywhere_between_chunks_are_joined() {
        let stream = b"{\"status\":\"pulling manifest\"}\r\n\n{\"status\":\"pulling 6a07\",\"total\":10,\"completed\":5}\n{\"status\":\"success\"}";
        for cut in 0..stream.len() {
            let mut lines = Lines::new(MAX_LINE);
            let mut got = lines.push(&stream[..cut]).unwrap();
            got.extend(lines.push(&stream[cut..]).unwrap());
            got.extend(lines.finish());
            assert_eq!(got.len(), 3, "cut at {cut}: {got:?}");
            assert_eq!(got[0], b"{\"status\":\"pulling manifest\"}");
            assert_eq!(got[2], b"{\"status\":\"success\"}");
        }
    }

    #[test]
    fn a_huge_line_is_refused_before_it_is_held() {
        let mut lines = Lines::new(16);
        assert_eq!(lines.push(b"0123456789").unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(lines.push(b"0123456789"), Err(TooLong { max: 16 }));
        assert!(
            lines.pending.capacity() <= 32,
            "nothing past the cap was kept"
        );
        let mut lines = Lines::new(16);
        assert_eq!(lines.push(&[b'x'; 17]), Err(TooLong { max: 16 }));
        let mut lines = Lines::new(16);
        assert_eq!(lines.push(b"short\n").unwrap(), vec![b"short".to_vec()]);
    }

    #[test]
    fn pull_lines_are_progress_or_ollamas_error() {
        assert_eq!(
            parse_pull_line(
                br#"{"status":"pulling 6a0746a1ec1a","digest":"sha256:6a07","total":100,"completed":40}"#
            ),
            Ok(PullLine::Status {
                status: "pulling 6a0746a1ec1a".into(),
                digest: Some("sha256:6a07".into()),
                total: Some(100),
                completed: Some(40),
            })
        );
        assert_eq!(
            parse_pull_line(br#"{"error":"pull model manifest: file does not exist"}"#),
            Ok(PullLine::Error(
                "pull model manifest: file does not exist".into()
            ))
        );
        let status_only = parse_pull_line(br#"{"status":"success","extra":[1]}"#).unwrap();
        assert!(matches!(status_only, PullLine::Status { ref status, .. } if status == "success"));
    }

    #[test]
    fn garbage_is_named_with_its_start() {
        let e = parse_pull_line(b"<html>502 Bad Gateway</html>").unwrap_err();
        assert!(e.contains("not JSON") && e.contains("<html>"), "{e}");
        let e = parse_pull_line(br#"{"digest":"x"}"#).unwrap_err();
        assert!(e.contains("neither status nor error"), "{e}");
        assert!(parse_pull_line(br#"{"status":"x","total":"lots"}"#).is_err());
    }
}
