//! Finds the ts-rs name of a Rust type named in a command's signature: follows
//! the `use` items of the command's file (and any re-exports) to the type's
//! definition in this crate or in gardener-core, and reads its
//! `#[ts(rename = "…")]` (ts-rs exports `install::Progress` as `InstallProgress`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use syn::{Attribute, Item, Meta, UseTree};

/// A module: the crate it is in (an index into [`Workspace::crates`]) and
/// its path from that crate's root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModPath {
    krate: usize,
    segs: Vec<String>,
}

/// The crates whose source can be read: their names as written in paths and
/// their root files.
pub struct Workspace {
    crates: Vec<(String, PathBuf)>,
    files: RefCell<HashMap<PathBuf, syn::File>>,
}

enum Found {
    Type(String),
    Module(ModPath),
}

/// Enough for any chain of re-exports; more means `use` items that go round in a circle.
const MAX_DEPTH: usize = 32;

impl Workspace {
    /// This crate (`crate`, rooted at `src/main.rs`) and gardener-core.
    pub fn new(manifest_dir: &Path) -> Self {
        Self {
            crates: vec![
                ("crate".to_owned(), manifest_dir.join("src/main.rs")),
                (
                    "gardener_core".to_owned(),
                    manifest_dir.join("../crates/gardener-core/src/lib.rs"),
                ),
            ],
            files: RefCell::default(),
        }
    }

    /// A module of this crate, e.g. `["ipc", "setup"]`.
    pub fn module(&self, segs: &[&str]) -> ModPath {
        ModPath {
            krate: 0,
            segs: segs.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// The ts-rs name of the type `path` names when written in module `at`.
    pub fn ts_name(&self, at: &ModPath, path: &syn::Path) -> Result<String, String> {
        let segs: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        match self.resolve(at, &segs, 0)? {
            Found::Type(name) => Ok(name),
            Found::Module(_) => Err(format!("`{}` is a module, not a type", segs.join("::"))),
        }
    }

    fn resolve(&self, from: &ModPath, segs: &[String], depth: usize) -> Result<Found, String> {
        if depth > MAX_DEPTH {
            return Err(format!("`{}`: too many re-exports", segs.join("::")));
        }
        let Some((first, rest)) = segs.split_first() else {
            return Err("an empty path".to_owned());
        };
        let mut found = match first.as_str() {
            "crate" => Found::Module(ModPath {
                krate: from.krate,
                segs: Vec::new(),
            }),
            "self" => Found::Module(from.clone()),
            "super" => Found::Module(parent(from)?),
            name => match self.crates.iter().position(|(n, _)| n == name) {
                Some(krate) => Found::Module(ModPath {
                    krate,
                    segs: Vec::new(),
                }),
                None => self.lookup(from, name, depth)?,
            },
        };
        for seg in rest {
            let Found::Module(module) = found else {
                return Err(format!("`{}`: a type has no members", segs.join("::")));
            };
            found = match seg.as_str() {
                "self" => Found::Module(module),
                "super" => Found::Module(parent(&module)?),
                name => self.lookup(&module, name, depth)?,
            };
        }
        Ok(found)
    }

    /// What `name` is in module `at`: defined there, a child module, or imported.
    fn lookup(&self, at: &ModPath, name: &str, depth: usize) -> Result<Found, String> {
        let items = self.items(at)?;
        for item in &items {
            let (ident, attrs) = match item {
                Item::Struct(i) => (&i.ident, &i.attrs),
                Item::Enum(i) => (&i.ident, &i.attrs),
                Item::Union(i) => (&i.ident, &i.attrs),
                Item::Type(i) => (&i.ident, &i.attrs),
                Item::Mod(i) if i.ident == name => {
                    let mut segs = at.segs.clone();
                    segs.push(name.to_owned());
                    return Ok(Found::Module(ModPath {
                        krate: at.krate,
                        segs,
                    }));
                }
                _ => continue,
            };
            if ident == name {
                return Ok(Found::Type(
                    renamed(attrs).unwrap_or_else(|| name.to_owned()),
                ));
            }
        }
        let mut globs = Vec::new();
        for item in &items {
            if let Item::Use(u) = item {
                for (alias, path) in flatten(&u.tree, Vec::new()) {
                    match alias {
                        Some(alias) if alias == name => return self.resolve(at, &path, depth + 1),
                        Some(_) => {}
                        None => globs.push(path),
                    }
                }
            }
        }
        for mut path in globs {
            path.push(name.to_owned());
            if let Ok(found) = self.resolve(at, &path, depth + 1) {
                return Ok(found);
            }
        }
        Err(format!("cannot find `{name}` in `{}`", self.describe(at)))
    }

    fn describe(&self, at: &ModPath) -> String {
        let mut name = self.crates[at.krate].0.clone();
        for seg in &at.segs {
            name.push_str("::");
            name.push_str(seg);
        }
        name
    }

    /// The items of a module, read from its file (or the inline `mod` in it).
    fn items(&self, at: &ModPath) -> Result<Vec<Item>, String> {
        let root = &self.crates[at.krate].1;
        let mut items = self.parse(root)?.items;
        // Where the files of this module's child modules are.
        let mut dir = root.parent().map(Path::to_path_buf).unwrap_or_default();
        for seg in &at.segs {
            let module = items
                .iter()
                .find_map(|item| match item {
                    Item::Mod(m) if m.ident == seg => Some(m.clone()),
                    _ => None,
                })
                .ok_or_else(|| format!("no module `{seg}` in `{}`", self.describe(at)))?;
            dir = dir.join(seg);
            items = match module.content {
                Some((_, inline)) => inline,
                None => {
                    let file = dir.with_extension("rs");
                    let file = if file.exists() {
                        file
                    } else {
                        dir.join("mod.rs")
                    };
                    self.parse(&file)?.items
                }
            };
        }
        Ok(items)
    }

    fn parse(&self, file: &Path) -> Result<syn::File, String> {
        if let Some(parsed) = self.files.borrow().get(file) {
            return Ok(parsed.clone());
        }
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let parsed =
            syn::parse_file(&text).map_err(|e| format!("cannot parse {}: {e}", file.display()))?;
        self.files
            .borrow_mut()
            .insert(file.to_path_buf(), parsed.clone());
        Ok(parsed)
    }
}

fn parent(at: &ModPath) -> Result<ModPath, String> {
    let mut segs = at.segs.clone();
    segs.pop()
        .ok_or_else(|| "`super` at a crate's root".to_owned())?;
    Ok(ModPath {
        krate: at.krate,
        segs,
    })
}

/// Each name a `use` tree brings in, with the path it stands for; `None`
/// for a glob (`use a::*` gives `(None, ["a"])`).
pub fn flatten(tree: &UseTree, prefix: Vec<String>) -> Vec<(Option<String>, Vec<String>)> {
    let with = |ident: &syn::Ident| {
        let mut path = prefix.clone();
        // `use a::{self}` names `a` itself.
        if ident != "self" {
            path.push(ident.to_string());
        }
        path
    };
    match tree {
        UseTree::Path(p) => flatten(&p.tree, with(&p.ident)),
        UseTree::Name(n) => {
            let path = with(&n.ident);
            let alias = path.last().cloned();
            vec![(alias, path)]
        }
        UseTree::Rename(r) => vec![(Some(r.rename.to_string()), with(&r.ident))],
        UseTree::Glob(_) => vec![(None, prefix)],
        UseTree::Group(g) => g
            .items
            .iter()
            .flat_map(|t| flatten(t, prefix.clone()))
            .collect(),
    }
}

/// The name ts-rs exports a type under when it is not the type's own:
/// `#[ts(rename = "…")]`, also inside `#[cfg_attr(feature = "ts", …)]`, or
/// serde's container `rename`, which ts-rs follows.
fn renamed(attrs: &[Attribute]) -> Option<String> {
    let mut serde = None;
    for attr in attrs {
        let mut metas = vec![attr.meta.clone()];
        while let Some(meta) = metas.pop() {
            let Meta::List(list) = &meta else { continue };
            let Ok(nested) = list.parse_args_with(
                syn::punctuated::Punctuated::<Meta, syn::Token![,]>::parse_terminated,
            ) else {
                continue;
            };
            if list.path.is_ident("cfg_attr") {
                metas.extend(nested.into_iter().skip(1));
                continue;
            }
            let is_ts = list.path.is_ident("ts");
            if !is_ts && !list.path.is_ident("serde") {
                continue;
            }
            for meta in nested {
                let Meta::NameValue(nv) = meta else { continue };
                let syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(name),
                    ..
                }) = &nv.value
                else {
                    continue;
                };
                if nv.path.is_ident("rename") {
                    if is_ts {
                        return Some(name.value());
                    }
                    serde = Some(name.value());
                }
            }
        }
    }
    serde
}
