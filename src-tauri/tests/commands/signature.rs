//! A command as the page sees it, read from its Rust signature: the
//! arguments it sends (what Tauri injects left out), their TypeScript types,
//! what it resolves to, and its doc comment.

use std::collections::BTreeSet;

use quote::ToTokens;
use syn::{FnArg, GenericArgument, ItemFn, Pat, PathArguments, ReturnType, Type};

/// One `#[tauri::command]` function.
#[derive(Debug, PartialEq, Eq)]
pub struct Command {
    /// The Rust name, which is also the name the page invokes.
    pub name: String,
    pub params: Vec<Param>,
    /// The TypeScript type of the value (`Result<T, IpcError>` gives `T`).
    pub returns: String,
    /// The doc comment's lines.
    pub doc: Vec<String>,
    /// The ts-rs types it names, to import.
    pub imports: BTreeSet<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Param {
    /// The Rust name.
    pub rust: String,
    /// The argument's key, in camelCase like Tauri's.
    pub key: String,
    /// Its TypeScript type; for a channel, the type of its messages.
    pub ts: String,
    /// A `tauri::ipc::Channel<T>`: the page passes a callback.
    pub channel: bool,
}

/// Parameters Tauri fills in itself; the page never sends them. `Shared` is
/// the app's alias for its `State`.
const INJECTED: &[&str] = &["State", "Shared", "AppHandle", "WebviewWindow", "Window"];

/// Turns a Rust command into what the page calls; `named` gives the
/// TypeScript name of any other type (refusing one without a binding).
pub fn read(
    item: &ItemFn,
    named: &mut dyn FnMut(&syn::Path) -> Result<String, String>,
) -> Result<Command, String> {
    let name = item.sig.ident.to_string();
    let context = |e: String| format!("command `{name}`: {e}");
    let mut mapper = Mapper {
        named,
        imports: BTreeSet::new(),
    };
    let mut params = Vec::new();
    for input in &item.sig.inputs {
        let FnArg::Typed(typed) = input else {
            return Err(context("a command cannot take `self`".to_owned()));
        };
        if injected(&typed.ty) {
            continue;
        }
        let Pat::Ident(ident) = &*typed.pat else {
            return Err(context(format!(
                "name the parameter instead of `{}`",
                typed.pat.to_token_stream()
            )));
        };
        let rust = ident.ident.to_string();
        let key = camel(&rust);
        let param = match channel_of(&typed.ty) {
            Some(message) => Param {
                rust,
                key,
                ts: mapper.ts(message).map_err(context)?,
                channel: true,
            },
            None => Param {
                rust,
                key,
                ts: mapper.ts(&typed.ty).map_err(context)?,
                channel: false,
            },
        };
        params.push(param);
    }
    let returns = match &item.sig.output {
        ReturnType::Default => "null".to_owned(),
        ReturnType::Type(_, ty) => mapper.ts(ok_of(ty).map_err(context)?).map_err(context)?,
    };
    Ok(Command {
        doc: doc_lines(&item.attrs),
        name,
        params,
        returns,
        imports: mapper.imports,
    })
}

/// `snake_case` → `camelCase`, as Tauri does with argument names.
pub fn camel(snake: &str) -> String {
    let mut out = String::new();
    for (i, word) in snake.split('_').filter(|w| !w.is_empty()).enumerate() {
        let mut chars = word.chars();
        if i > 0 {
            out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
        }
        out.extend(chars);
    }
    out
}

fn doc_lines(attrs: &[syn::Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter_map(|attr| match &attr.meta {
            syn::Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .flat_map(|text| {
            text.split('\n')
                .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The last segment of a path type and its generic arguments.
fn last(ty: &Type) -> Option<(String, Vec<&Type>)> {
    let Type::Path(path) = ty else { return None };
    let seg = path.path.segments.last()?;
    let args = match &seg.arguments {
        PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|a| match a {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some((seg.ident.to_string(), args))
}

fn injected(ty: &Type) -> bool {
    last(ty).is_some_and(|(name, _)| INJECTED.contains(&name.as_str()))
}

fn channel_of(ty: &Type) -> Option<&Type> {
    match last(ty)? {
        (name, args) if name == "Channel" && args.len() == 1 => args.first().copied(),
        _ => None,
    }
}

/// `Result<T, IpcError>` → `T`; any other return type is the value itself.
fn ok_of(ty: &Type) -> Result<&Type, String> {
    match last(ty) {
        Some((name, args)) if name == "Result" => match args.as_slice() {
            [ok, err] if last(err).is_some_and(|(e, _)| e == "IpcError") => Ok(ok),
            _ => Err(format!(
                "return `Result<T, IpcError>` (the page reads `{{ code, message }}`), not `{}`",
                ty.to_token_stream()
            )),
        },
        _ => Ok(ty),
    }
}

struct Mapper<'a> {
    named: &'a mut dyn FnMut(&syn::Path) -> Result<String, String>,
    imports: BTreeSet<String>,
}

impl Mapper<'_> {
    /// The TypeScript type of a value of Rust type `ty`, as serde sends it.
    fn ts(&mut self, ty: &Type) -> Result<String, String> {
        let unsupported = || {
            format!(
                "no TypeScript type for `{}` (supported: String, bool, numbers, Option, Vec, (), \
                 and types with a ts-rs binding)",
                ty.to_token_stream()
            )
        };
        match ty {
            Type::Tuple(t) if t.elems.is_empty() => return Ok("null".to_owned()),
            Type::Paren(p) => return self.ts(&p.elem),
            Type::Group(g) => return self.ts(&g.elem),
            Type::Path(p) if p.qself.is_none() => {}
            _ => return Err(unsupported()),
        }
        let Some((name, args)) = last(ty) else {
            return Err(unsupported());
        };
        let Type::Path(path) = ty else {
            return Err(unsupported());
        };
        let simple = path.path.segments.len() == 1;
        match (name.as_str(), args.as_slice()) {
            ("String" | "str" | "char", []) if simple => Ok("string".to_owned()),
            ("bool", []) if simple => Ok("boolean".to_owned()),
            (
                "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64"
                | "i128" | "isize" | "f32" | "f64",
                [],
            ) if simple => Ok("number".to_owned()),
            ("Option", [inner]) => Ok(format!("{} | null", self.ts(inner)?)),
            ("Vec", [inner]) => {
                let inner = self.ts(inner)?;
                Ok(if inner.contains(' ') {
                    format!("({inner})[]")
                } else {
                    format!("{inner}[]")
                })
            }
            ("Channel", _) => Err("a channel can only be a parameter".to_owned()),
            (_, []) => {
                let ts = (self.named)(&path.path)?;
                self.imports.insert(ts.clone());
                Ok(ts)
            }
            _ => Err(unsupported()),
        }
    }
}
