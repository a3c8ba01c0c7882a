//! Private imports no kept code needs.
//!
//! `use crate::{default_types::DEFAULT_TYPES, Error};` names a private const that only stubbed
//! bodies use. The import is kept text, so it would count as a mention and keep the const
//! alive (and an edit to the const would change the interface). Each leaf of a non-`pub`,
//! non-renaming import is removable under the name it brings in, dropped when no kept text
//! names it, if that name is a removable item of this crate or starts with a lowercase letter
//! (functions, modules, macros). Other imports stay: a trait (CamelCase) may be in scope only
//! for the method calls of kept code, which never name it. Should a lowercase trait exist, the
//! stub does not compile and the interface falls back to the real sources, loudly.

use std::collections::BTreeSet;

use syn::spanned::Spanned;

use super::splice::Plan;

/// Whether an import of `name` may go when no kept text names it.
fn may_drop(name: &str, removable: &BTreeSet<String>) -> bool {
    removable.contains(name)
        || (name.starts_with(|c: char| c.is_ascii_lowercase()) && !matches!(name, "self" | "super" | "crate"))
}

/// Register the removable leaves of the private imports among `items` (and inline modules).
pub fn plan_leaf_removals(items: &[syn::Item], removable: &BTreeSet<String>, plan: &mut Plan) {
    for item in items {
        match item {
            syn::Item::Use(u) if !matches!(u.vis, syn::Visibility::Public(_)) => {
                // A leaf that is the whole tree takes the whole item along.
                if let Some(name) = leaf_name(&u.tree) {
                    if may_drop(&name, removable) {
                        plan.removable(u.span(), name);
                    }
                } else {
                    tree(&u.tree, removable, plan);
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    plan_leaf_removals(inner, removable, plan);
                }
            }
            _ => {}
        }
    }
}

/// The name a tree imports when it is a single leaf without renaming (`a::b::X`). A renaming
/// leaf (`X as Y`) binds another name that kept code may use: it is never removable.
fn leaf_name(tree: &syn::UseTree) -> Option<String> {
    match tree {
        syn::UseTree::Path(p) => leaf_name(&p.tree),
        syn::UseTree::Name(n) => Some(n.ident.to_string()),
        syn::UseTree::Rename(_) | syn::UseTree::Glob(_) | syn::UseTree::Group(_) => None,
    }
}

fn tree(t: &syn::UseTree, removable: &BTreeSet<String>, plan: &mut Plan) {
    match t {
        syn::UseTree::Path(p) => tree(&p.tree, removable, plan),
        syn::UseTree::Group(g) => {
            for pair in g.items.pairs() {
                let element = pair.value();
                match leaf_name(element) {
                    // The element and the comma after it: `{a, b}` -> `{b}`, `{a, b}` -> `{a, }`.
                    Some(name) if may_drop(&name, removable) => {
                        let start = element.span().byte_range().start;
                        let end = pair.punct().map_or(element.span().byte_range().end, |c| c.span.byte_range().end);
                        plan.removable_range(start..end, name);
                    }
                    Some(_) => {}
                    None if matches!(element, syn::UseTree::Group(_) | syn::UseTree::Path(_)) => {
                        tree(element, removable, plan)
                    }
                    None => {}
                }
            }
        }
        _ => {}
    }
}
