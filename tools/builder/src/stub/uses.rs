//! Private imports of items the stub drops.
//!
//! `use crate::{default_types::DEFAULT_TYPES, Error};` names a private const that only stubbed
//! bodies use. The import is kept text, so it would count as a mention and keep the const
//! alive (and an edit to the const would change the interface). Each leaf of a non-`pub`
//! import that brings in a name of a removable item of this crate is itself removable under
//! that name: dropped exactly when the item is. Imports of other names (a trait needed for
//! method calls, say) are never touched.

use std::collections::BTreeSet;

use syn::spanned::Spanned;

use super::splice::Plan;

/// Register the removable leaves of the private imports among `items` (and inline modules).
pub fn plan_leaf_removals(items: &[syn::Item], removable: &BTreeSet<String>, plan: &mut Plan) {
    for item in items {
        match item {
            syn::Item::Use(u) if !matches!(u.vis, syn::Visibility::Public(_)) => {
                // A leaf that is the whole tree takes the whole item along.
                if let Some(name) = leaf_name(&u.tree) {
                    if removable.contains(&name) {
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
                    Some(name) if removable.contains(&name) => {
                        let start = element.span().byte_range().start;
                        let end = pair.punct().map_or(element.span().byte_range().end, |c| c.span.byte_range().end);
                        plan.removable_range(start..end, name);
                    }
                    Some(_) => {}
                    None if matches!(element, syn::UseTree::Group(_) | syn::UseTree::Path(_)) => tree(element, removable, plan),
                    None => {}
                }
            }
        }
        _ => {}
    }
}
