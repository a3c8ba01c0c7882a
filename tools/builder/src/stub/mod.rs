//! Interface stubs: a crate's sources with every body no dependent can observe replaced.
//!
//! The stub is made by *text splicing*: every byte of the original file is kept except the
//! replaced bodies, so kept code keeps its exact text, columns and (with the anchored span
//! policy) its exact lines. The module tree is followed from the crate root through `mod x;`
//! declarations (with `#[path]` and `cfg_attr(.., path = ..)` alternatives); a file the walk
//! does not reach is left verbatim by the caller, which is always sound.

pub mod keep;
mod modules;
mod references;
mod splice;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Result;
use syn::spanned::Spanned;

pub use keep::KeepReason;
pub use splice::SpanPolicy;

/// The body that replaces an unobservable one. It is never compiled to code: the interface is
/// built with `-Zno-codegen` and dependents never instantiate non-generic, non-inline functions.
/// If a rule is ever wrong, this panics loudly instead of hanging or returning garbage.
pub const STUB_BODY: &str = "{ panic!(\"rules_relink: interface stub body reached; please report this bug\") }";

/// One source file of the crate after stubbing.
#[derive(Debug)]
pub struct StubbedFile {
    /// Stub text to write in place of the original.
    pub text: String,
    /// Number of bodies replaced.
    pub stubbed: usize,
    /// Number of private functions dropped (no kept code names them).
    pub removed: usize,
    /// Kept bodies with their (1-based) line and reason.
    pub kept: Vec<(usize, KeepReason)>,
}

/// The stub of a whole crate: one entry per module file reached from the crate root.
#[derive(Debug, Default)]
pub struct CrateStub {
    /// Stubbed files by their path (as given, relative to the working directory).
    pub files: BTreeMap<PathBuf, StubbedFile>,
}

impl CrateStub {
    /// Total number of replaced bodies.
    pub fn stubbed_bodies(&self) -> usize {
        self.files.values().map(|f| f.stubbed).sum()
    }

    /// Total number of kept function bodies.
    pub fn kept_bodies(&self) -> usize {
        self.files.values().map(|f| f.kept.len()).sum()
    }
}

/// Build the stub of the crate rooted at `crate_root`.
pub fn stub_crate(crate_root: &Path, policy: SpanPolicy) -> Result<CrateStub> {
    let parsed = modules::parse_module_tree(crate_root)?;
    let macros: Vec<(String, proc_macro2::TokenStream)> = parsed
        .iter()
        .flat_map(|file| modules::macro_rules_definitions(&file.ast))
        .collect();
    let safe_macros = keep::local_expression_only_macros(&macros);
    let plans: Vec<splice::Plan> = parsed
        .iter()
        .map(|file| {
            let mut plan = splice::Plan::default();
            plan_items(&file.ast.items, &safe_macros, &mut plan);
            plan
        })
        .collect();
    // Names that kept code mentions once every removable function is gone.
    let mut mentioned = BTreeSet::new();
    let mut removal_allowed = true;
    for (file, plan) in parsed.iter().zip(&plans) {
        let text = plan.render(&file.source, policy, &|_| true)?;
        match references::mentioned_names(&text) {
            Some(names) => mentioned.extend(names),
            None => removal_allowed = false,
        }
    }
    if mentioned.contains("paste") || mentioned.contains("concat_idents") {
        // Identifiers may be synthesized: no name can be proven unused.
        removal_allowed = false;
    }
    let drop = |name: &str| removal_allowed && !mentioned.contains(name);
    let mut stub = CrateStub::default();
    for (file, plan) in parsed.iter().zip(&plans) {
        let text = plan.render(&file.source, policy, &drop)?;
        let removed = plan.removable.iter().filter(|(_, n)| drop(n)).count();
        stub.files.insert(
            file.path.clone(),
            StubbedFile { text, stubbed: plan.replacements.len(), removed, kept: plan.kept_lines() },
        );
    }
    Ok(stub)
}

/// Walk items, recording which bodies to replace and which kept code to anchor.
fn plan_items(items: &[syn::Item], safe: &std::collections::BTreeSet<String>, plan: &mut splice::Plan) {
    for item in items {
        match item {
            syn::Item::Fn(f) => {
                let reason = keep::signature_keep_reason(&f.attrs, &f.sig)
                    .or_else(|| keep::body_keep_reason(&f.block, safe));
                plan.function(item.span(), f.block.span(), reason);
                if reason.is_none() && references::droppable(&f.vis, &f.attrs) {
                    plan.removable(item.span(), f.sig.ident.to_string());
                }
            }
            syn::Item::Impl(imp) => plan_impl(imp, safe, plan),
            syn::Item::Mod(m) => match &m.content {
                Some((_, inner)) if keep::attribute_macro(&m.attrs).is_none() => {
                    plan_items(inner, safe, plan)
                }
                Some(_) => plan.anchor(item.span()),
                None => {}
            },
            syn::Item::Trait(t) => {
                plan.anchor(item.span());
                for trait_item in &t.items {
                    if let syn::TraitItem::Fn(syn::TraitItemFn { default: Some(body), .. }) = trait_item {
                        plan.function(trait_item.span(), body.span(), Some(KeepReason::TraitDefault));
                    }
                }
            }
            syn::Item::Macro(_)
            | syn::Item::Const(_)
            | syn::Item::Static(_)
            | syn::Item::Verbatim(_) => plan.anchor(item.span()),
            _ => {}
        }
    }
}

/// An impl: every method of a generic impl is kept; otherwise each method is decided alone.
fn plan_impl(imp: &syn::ItemImpl, safe: &std::collections::BTreeSet<String>, plan: &mut splice::Plan) {
    let whole_impl_kept = if keep::has_type_or_const_params(&imp.generics) {
        Some(KeepReason::GenericImpl)
    } else if keep::attribute_macro(&imp.attrs).is_some() {
        Some(KeepReason::AttributeMacro)
    } else {
        None
    };
    for impl_item in &imp.items {
        match impl_item {
            syn::ImplItem::Fn(m) => {
                let reason = whole_impl_kept
                    .or_else(|| m.defaultness.map(|_| KeepReason::Generic))
                    .or_else(|| keep::signature_keep_reason(&m.attrs, &m.sig))
                    .or_else(|| keep::body_keep_reason(&m.block, safe));
                plan.function(impl_item.span(), m.block.span(), reason);
                // Only inherent methods: a trait impl must keep every method.
                if reason.is_none() && imp.trait_.is_none() && references::droppable(&m.vis, &m.attrs) {
                    plan.removable(impl_item.span(), m.sig.ident.to_string());
                }
            }
            _ => plan.anchor(impl_item.span()),
        }
    }
}

/// Render a human-readable account of a stub (for `relink-builder stub --explain`).
pub fn explain(stub: &CrateStub) -> String {
    let mut out = String::new();
    for (path, file) in &stub.files {
        out.push_str(&format!(
            "{}: {} bodies replaced, {} private functions dropped, {} kept\n",
            path.display(),
            file.stubbed,
            file.removed,
            file.kept.len()
        ));
        for (line, reason) in &file.kept {
            out.push_str(&format!("  {}:{}: kept ({:?})\n", path.display(), line, reason));
        }
    }
    out
}

#[cfg(test)]
mod tests;
