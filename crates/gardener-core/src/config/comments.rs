//! Keeping a table's comments with it when a key is added: toml_edit keeps
//! the comment lines under an empty table's header as the prefix of
//! whatever comes next in the file (the next table), so a first key would
//! land between the header and its own comments.

use toml_edit::{Decor, DocumentMut, Item, Table};

/// The text before an item in the file (its comment and blank lines).
fn prefix(decor: &Decor) -> &str {
    decor.prefix().and_then(|p| p.as_str()).unwrap_or_default()
}

/// Puts `comments` above the text already before an item.
fn prepend(decor: &mut Decor, comments: &str) {
    let joined = format!("{comments}{}", prefix(decor));
    decor.set_prefix(joined);
}

/// The table after position `after` in the file's order, at any depth.
fn next_table(table: &mut Table, after: isize) -> Option<&mut Table> {
    let mut best: Option<&mut Table> = None;
    for (_, item) in table.iter_mut() {
        let Item::Table(t) = item else { continue };
        let candidate = match t.position() {
            Some(p) if p > after => Some(&mut *t),
            _ => next_table(t, after),
        };
        if let Some(c) = candidate
            && best.as_ref().is_none_or(|b| {
                c.position().unwrap_or(isize::MAX) < b.position().unwrap_or(isize::MAX)
            })
        {
            best = Some(c);
        }
    }
    best
}

/// When `key`, just added, is the only key of `[ollama.env]`, moves the comment lines
/// that followed the empty table's header above it, so that it comes below
/// them as a person would have written it.
pub(super) fn key_below_comments(doc: &mut DocumentMut, key: &str) {
    let Some(env) = doc
        .get("ollama")
        .and_then(|o| o.get("env"))
        .and_then(Item::as_table)
    else {
        return;
    };
    let (Some(position), 1) = (env.position(), env.len()) else {
        return;
    };
    let Some(next) = next_table(doc.as_table_mut(), position) else {
        return;
    };
    let before = prefix(next.decor()).to_owned();
    // The comment lines, up to the last; the blank lines after them stay
    // with the next table.
    let Some(end) = before
        .rfind('#')
        .and_then(|i| before[i..].find('\n').map(|n| i + n + 1))
    else {
        return;
    };
    next.decor_mut().set_prefix(&before[end..]);
    if let Some(mut k) = doc["ollama"]["env"]
        .as_table_mut()
        .and_then(|t| t.key_mut(key))
    {
        k.leaf_decor_mut().set_prefix(&before[..end]);
    }
}

/// Removes `key` from `[ollama.env]`; the comment lines above it stay in the
/// file, above what followed it (the table's next key, or the next table).
pub(super) fn remove_keeping_comments(doc: &mut DocumentMut, key: &str) {
    let Some(item) = doc.get_mut("ollama").and_then(|o| o.get_mut("env")) else {
        return;
    };
    let Item::Table(env) = item else {
        // `env = { ... }` written inline: no comments of its own to keep.
        if let Some(inline) = item.as_table_like_mut() {
            inline.remove(key);
        }
        return;
    };
    let comments = env
        .key(key)
        .map(|k| prefix(k.leaf_decor()))
        .filter(|p| p.contains('#'))
        .map(str::to_owned);
    let position = env.position();
    let following = env
        .iter()
        .map(|(k, _)| k.to_owned())
        .skip_while(|k| k != key)
        .nth(1);
    env.remove(key);
    let Some(comments) = comments else {
        return;
    };
    if let Some(next_key) = following {
        if let Some(mut k) = env.key_mut(&next_key) {
            prepend(k.leaf_decor_mut(), &comments);
        }
    } else if let Some(next) = position.and_then(|p| next_table(doc.as_table_mut(), p)) {
        prepend(next.decor_mut(), &comments);
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, TEMPLATE};

    fn env_block(text: &str) -> String {
        let start = text.find("[ollama.env]").unwrap();
        let end = text[start..].find("[app]").unwrap() + start;
        text[start..end].to_owned()
    }

    #[test]
    fn keys_set_and_removed_keep_the_tables_comments_above_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gardener.toml");
        std::fs::write(&path, TEMPLATE).unwrap();
        let comments = env_block(TEMPLATE);
        let comments = comments.trim_end();

        Config::set_ollama_env(&path, "OLLAMA_NUM_PARALLEL", Some("3")).unwrap();
        Config::set_ollama_env(&path, "OLLAMA_KEEP_ALIVE", Some("10m")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            env_block(&text),
            format!("{comments}\nOLLAMA_NUM_PARALLEL = \"3\"\nOLLAMA_KEEP_ALIVE = \"10m\"\n\n")
        );

        Config::set_ollama_env(&path, "OLLAMA_NUM_PARALLEL", None).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            env_block(&text),
            format!("{comments}\nOLLAMA_KEEP_ALIVE = \"10m\"\n\n")
        );
        Config::set_ollama_env(&path, "OLLAMA_KEEP_ALIVE", None).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, TEMPLATE, "back to the file as it was");
    }

    #[test]
    fn changing_a_key_leaves_the_comments_of_the_next_table_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gardener.toml");
        let text = "[ollama.env]\nOLLAMA_NUM_PARALLEL = \"2\"\n\n# The app.\n[app]\n";
        std::fs::write(&path, text).unwrap();
        Config::set_ollama_env(&path, "OLLAMA_NUM_PARALLEL", Some("3")).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            text.replace("\"2\"", "\"3\"")
        );
    }

    #[test]
    fn an_inline_env_table_is_changed_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gardener.toml");
        std::fs::write(
            &path,
            "[ollama]\nenv = { OLLAMA_DEBUG = \"1\", OLLAMA_NUM_PARALLEL = \"2\" }\n",
        )
        .unwrap();
        Config::set_ollama_env(&path, "OLLAMA_NUM_PARALLEL", None).unwrap();
        let env = Config::load(&path).unwrap().ollama.env;
        assert_eq!(env.get("OLLAMA_DEBUG").map(String::as_str), Some("1"));
        assert!(!env.contains_key("OLLAMA_NUM_PARALLEL"), "{env:?}");
        Config::set_ollama_env(&path, "OLLAMA_KEEP_ALIVE", Some("1h")).unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.ollama.env["OLLAMA_KEEP_ALIVE"], "1h");
    }
}
