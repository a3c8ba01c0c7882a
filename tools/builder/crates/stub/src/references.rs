//! Which private functions the stub may drop: those no kept code can name.
//!
//! A function that is not `pub` cannot be named by a dependent. Once its body is stubbed, it
//! matters to the interface only if kept code (a generic or inline body, a macro, a const)
//! names it. The kept text is lexed and every identifier and every word inside a string
//! literal counts as a mention (conservative: `#[serde(with = "helper")]` keeps `helper`).
//! Dropping such functions keeps the interface byte-identical when a private helper is added.

use std::collections::BTreeSet;

use proc_macro2::{TokenStream, TokenTree};

/// Attributes that give a function a meaning beyond its name (a symbol, a test).
const PINNING_ATTRIBUTES: &[&str] = &["no_mangle", "export_name", "link_section", "used", "test", "unsafe"];

/// Whether a stubbed function with this visibility and these attributes may be dropped.
pub fn droppable(vis: &syn::Visibility, attrs: &[syn::Attribute]) -> bool {
    let private = !matches!(vis, syn::Visibility::Public(_));
    let pinned = attrs.iter().any(|a| {
        let path = a.path();
        PINNING_ATTRIBUTES.iter().any(|p| path.is_ident(p))
            || super::keep::attribute_macro(std::slice::from_ref(a)).is_some()
    });
    private && !pinned
}

/// Every identifier and string-literal word in `text`; `None` if it does not lex.
pub fn mentioned_names(text: &str) -> Option<BTreeSet<String>> {
    let tokens: TokenStream = text.parse().ok()?;
    let mut out = BTreeSet::new();
    collect(tokens, &mut out);
    Some(out)
}

fn collect(tokens: TokenStream, out: &mut BTreeSet<String>) {
    for tree in tokens {
        match tree {
            TokenTree::Ident(i) => {
                let s = i.to_string();
                out.insert(s.strip_prefix("r#").unwrap_or(&s).to_string());
            }
            TokenTree::Literal(l) => {
                let s = l.to_string();
                for word in s.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                    if !word.is_empty() {
                        out.insert(word.to_string());
                    }
                }
            }
            TokenTree::Group(g) => collect(g.stream(), out),
            TokenTree::Punct(_) => {}
        }
    }
}
