//! Disk figures of the models folder: what the models take and what is free.
//!
//! Ollama's API gives each model's size and its manifest's digest, not the
//! blobs a manifest lists (`/api/show` has no layers), so sharing is seen
//! only between names of the same manifest (`llama3.2:latest` and
//! `llama3.2:3b`): those count once, and deleting one of them frees nothing.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::api::Tag;
use crate::fsutil::existing_ancestor;

/// Bytes free to unprivileged users on the volume of `dir` (or of its
/// nearest existing ancestor, which it returns: a models folder Ollama has
/// not made yet lands on that volume).
///
/// # Errors
/// When no ancestor exists or `statvfs` fails.
pub fn free_space(dir: &Path) -> std::io::Result<(PathBuf, u64)> {
    let base = existing_ancestor(dir).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no part of {} exists", dir.display()),
        )
    })?;
    let st = rustix::fs::statvfs(base)?;
    // The fields are u64 on Linux but 32-bit on macOS (fsblkcnt_t).
    #[allow(clippy::useless_conversion)]
    let (frsize, bsize, bavail) = (
        u64::from(st.f_frsize),
        u64::from(st.f_bsize),
        u64::from(st.f_bavail),
    );
    let unit = if frsize == 0 { bsize } else { frsize };
    Ok((base.to_path_buf(), bavail.saturating_mul(unit)))
}

/// The models' bytes on disk, each manifest digest counted once (a model
/// without a digest counts on its own).
pub fn total_on_disk(tags: &[Tag]) -> u64 {
    let mut seen = HashSet::new();
    tags.iter()
        .filter(|t| t.digest.as_ref().is_none_or(|d| seen.insert(d.clone())))
        .map(|t| t.model.size_bytes)
        .sum()
}

/// The bytes deleting `name` frees: its size, unless another name shares
/// its manifest.
pub fn freed_by_removing(name: &str, tags: &[Tag]) -> u64 {
    let Some(tag) = tags.iter().find(|t| t.model.name == name) else {
        return 0;
    };
    let shared = tag.digest.as_ref().is_some_and(|d| {
        tags.iter()
            .any(|o| o.model.name != name && o.digest.as_ref() == Some(d))
    });
    if shared { 0 } else { tag.model.size_bytes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::InstalledModel;

    fn tag(name: &str, digest: Option<&str>, size: u64) -> Tag {
        Tag {
            model: InstalledModel {
                name: name.into(),
                size_bytes: size,
                ..InstalledModel::default()
            },
            digest: digest.map(Into::into),
        }
    }

    #[test]
    fn names_of_one_manifest_count_once_and_free_nothing_alone() {
        let tags = [
            tag("llama3.2:latest", Some("a80c"), 2_000),
            tag("llama3.2:3b", Some("a80c"), 2_000),
            tag("qwen2.5-coder:7b", Some("dae1"), 4_000),
            tag("odd:1b", None, 500),
        ];
        assert_eq!(total_on_disk(&tags), 6_500);
        assert_eq!(freed_by_removing("llama3.2:3b", &tags), 0);
        assert_eq!(freed_by_removing("qwen2.5-coder:7b", &tags), 4_000);
        assert_eq!(freed_by_removing("odd:1b", &tags), 500);
        assert_eq!(freed_by_removing("absent:1b", &tags), 0);
    }

    #[test]
    fn free_space_of_a_folder_not_made_yet_is_its_volumes() {
        let dir = tempfile::tempdir().unwrap();
        let (base, free) = free_space(&dir.path().join("models/blobs")).unwrap();
        assert_eq!(base, dir.path());
        let st = rustix::fs::statvfs(dir.path()).unwrap();
        #[allow(clippy::useless_conversion)]
        let expected = u64::from(st.f_bavail) * u64::from(st.f_frsize);
        // Other processes write meanwhile; the same order of magnitude will do.
        assert!(free.abs_diff(expected) < 64 << 20, "{free} vs {expected}");
    }
}
