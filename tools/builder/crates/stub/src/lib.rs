//! Interface stubs: a crate's sources with every body no dependent can observe replaced.
//!
//! The stub is made by *text splicing*: every byte of the original file is kept except the
//! replaced bodies, so kept code keeps its exact text, columns and (with the anchored span
//! policy) its exact lines. The module tree is followed from the crate root through `mod x;`
//! declarations (with `#[path]` and `cfg_attr(.., path = ..)` alternatives); a file the walk
//! does not reach is left verbatim by the caller, which is always sound.

#![warn(clippy::too_many_lines)]

pub mod diff;
mod docs;
mod item_free;
pub mod keep;
pub mod macros;
mod modules;
pub mod observe;
pub mod position;
mod references;
mod splice;
mod uses;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Result;
use syn::spanned::Spanned;
use syn::visit::Visit;

pub use keep::KeepReason;
pub use splice::SpanPolicy;

/// The body that replaces an unobservable one. It is never compiled to code: the interface is
/// built with `-Zno-codegen` and dependents never instantiate non-generic, non-inline functions.
///
/// It must instantiate no generic code at all: with shared generics (rustc's default at
/// opt-level 0) the interface advertises every generic instance the stub needs, dependents
/// link to those, and the real rlib must have each one. Hence:
/// * it calls a nested `extern "C" fn() -> !`, a call that cannot unwind, so the body has no
///   cleanup path and drops none of the function's parameters (a `panic!()` body would
///   instantiate their drop glue, which the real body, moving them, may never need);
/// * the nested function calls `::std::process::abort()`: an absolute path no crate-local
///   macro or item can shadow (a crate may define its own `panic!`), and a non-generic
///   function (`panic!`'s `format_args!` instantiates `Arguments::new_const::<N>`).
///
/// If a keep rule is ever wrong and the body runs, the process aborts: loud, never silent.
pub const STUB_BODY: &str = "{ extern \"C\" fn __relink_stub() -> ! { ::std::process::abort() } __relink_stub() }";

/// The stub body for `no_std` crates (no `::std` to call): never returns, instantiates nothing.
pub const STUB_BODY_NO_STD: &str = "{ extern \"C\" fn __relink_stub() -> ! { loop {} } __relink_stub() }";

/// Whether the crate root can be `no_std` (`#![no_std]`, also behind `cfg_attr`).
fn may_be_no_std(root: &syn::File) -> bool {
    root.attrs.iter().any(|a| {
        use quote::ToTokens;
        a.meta.to_token_stream().to_string().split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|w| w == "no_std")
    })
}

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
    /// (1-based) lines of code kept on its exact line and column because a compile-time value
    /// can observe its position (see [`position`]).
    pub exact_lines: Vec<usize>,
    /// Bodies or items kept only so that an exact anchor on their line keeps its column.
    pub kept_for_anchor: usize,
}

/// The stub of a whole crate: one entry per module file reached from the crate root.
#[derive(Debug, Default)]
pub struct CrateStub {
    /// Stubbed files by their path (as given, relative to the working directory).
    pub files: BTreeMap<PathBuf, StubbedFile>,
    /// What the crate's exported macros are known to do (for its dependents' stubs).
    pub macros: macros::Summary,
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
    stub_crate_with(crate_root, policy, &macros::External::default())
}

/// What the macros of the crate rooted at `crate_root` are known to do, without a stub.
pub fn macro_summary(crate_root: &Path, ext: &macros::External) -> Result<macros::Summary> {
    let parsed = modules::parse_module_tree(crate_root)?;
    let (summary, _, _) = analyse_macros(&parsed, ext);
    Ok(summary)
}

/// The crate's exported-macro summary, its expression-only macros and its position facts.
fn analyse_macros(
    parsed: &[modules::ParsedFile],
    ext: &macros::External,
) -> (macros::Summary, BTreeSet<String>, position::CrateFacts) {
    let definitions: Vec<(String, proc_macro2::TokenStream)> =
        parsed.iter().flat_map(|file| modules::macro_rules_definitions(&file.ast)).collect();
    let leaves: Vec<modules::UseLeaf> = parsed.iter().flat_map(|file| modules::use_leaves(&file.ast)).collect();
    // A dependency's macro may be called under another name (stdx: `pub use tracing::error as
    // __tracing_error;`).
    let renames: Vec<(String, String)> =
        leaves.iter().filter(|l| l.name != l.original).map(|l| (l.name.clone(), l.original.clone())).collect();
    let ext = &ext.with_aliases(&renames);
    let safe = item_free::expression_only_macros(&definitions, ext);
    let asts: Vec<&syn::File> = parsed.iter().map(|f| &f.ast).collect();
    let facts = position::CrateFacts::collect(&asts, &definitions, ext);
    let mut summary: macros::Summary = parsed
        .iter()
        .flat_map(|file| modules::exported_macro_names(&file.ast))
        .map(|name| {
            let m = macros::ExportedMacro {
                expression_only: safe.contains(&name),
                position_free: facts.free_macros.contains(&name),
                const_free: facts.const_free_macros.contains(&name),
            };
            (name, m)
        })
        .collect();
    // Macros exported again under `pub use` (this crate's own under another name, or a
    // dependency's): callers name them through this crate.
    let reexports = leaves.iter().filter(|l| l.public).map(|l| (l.name.clone(), l.original.clone()));
    for (name, original) in reexports {
        let m = if let Some(own) = summary.get(&original) {
            *own
        } else if ext.defined.contains(&original) {
            macros::ExportedMacro {
                expression_only: ext.expression_only.contains(&original),
                position_free: ext.position_free.contains(&original),
                const_free: ext.const_free.contains(&original),
            }
        } else {
            continue;
        };
        // A name exported twice is trusted for what both definitions have.
        let merged = summary.get(&name).map_or(m, |e| macros::ExportedMacro {
            expression_only: e.expression_only && m.expression_only,
            position_free: e.position_free && m.position_free,
            const_free: e.const_free && m.const_free,
        });
        summary.insert(name, merged);
    }
    (summary, safe, facts)
}

/// Build the stub of the crate rooted at `crate_root`, trusting what `ext` says of the direct
/// dependencies' exported macros.
pub fn stub_crate_with(crate_root: &Path, policy: SpanPolicy, ext: &macros::External) -> Result<CrateStub> {
    let parsed = modules::parse_module_tree(crate_root)?;
    let (summary, safe_macros, facts) = analyse_macros(&parsed, ext);
    let body = if parsed.first().is_some_and(|root| may_be_no_std(&root.ast)) { STUB_BODY_NO_STD } else { STUB_BODY };
    let mut plans: Vec<splice::Plan> = parsed
        .iter()
        .map(|file| {
            let mut plan = splice::Plan::new(body);
            plan_items(&file.ast.items, &safe_macros, &mut plan);
            docs::plan_removals(&file.ast, &mut plan);
            let mut scanner = position::Scanner::new(&facts, &plan.replacements);
            scanner.visit_file(&file.ast);
            plan.exact = scanner.found;
            plan
        })
        .collect();
    // Private imports of removable items go with them (never other imports: a trait import
    // may be needed for method calls that name no trait).
    let removable: BTreeSet<String> = plans.iter().flat_map(|p| p.removable.iter().map(|(_, n)| n.clone())).collect();
    for (file, plan) in parsed.iter().zip(plans.iter_mut()) {
        uses::plan_leaf_removals(&file.ast.items, &removable, plan);
    }
    let drop = removable_names_to_drop(&parsed, &plans, policy)?;
    let drop = |name: &str| drop.as_ref().is_some_and(|d| d.contains(name));
    let mut stub = CrateStub { macros: summary, ..CrateStub::default() };
    for (file, plan) in parsed.iter().zip(&plans) {
        let rendered = plan.render(&file.source, policy, &drop)?;
        let mut exact_lines: Vec<usize> =
            plan.exact.iter().map(|&o| file.source[..o].matches('\n').count() + 1).collect();
        exact_lines.dedup();
        stub.files.insert(
            file.path.clone(),
            StubbedFile {
                text: rendered.text,
                stubbed: rendered.replaced,
                removed: rendered.removed,
                kept: plan.kept_lines(),
                exact_lines,
                kept_for_anchor: rendered.kept_for_anchor,
            },
        );
    }
    Ok(stub)
}

/// The removable items (private functions, consts, statics) that no kept code names, to a
/// fixpoint: a kept const's initializer is kept text and may name further items. `None` when
/// nothing may be dropped (a file does not lex, or identifiers may be synthesized).
fn removable_names_to_drop(
    parsed: &[modules::ParsedFile],
    plans: &[splice::Plan],
    policy: SpanPolicy,
) -> Result<Option<BTreeSet<String>>> {
    let candidates: BTreeSet<&str> = plans.iter().flat_map(|p| p.removable_names()).collect();
    // What the stub mentions with every removable thing gone, and what each removable thing
    // mentions itself: one render and one lex of each, then a closure over names.
    let mut mentioned = BTreeSet::new();
    let mut mentions_of: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (file, plan) in parsed.iter().zip(plans) {
        let rendered = plan.render(&file.source, policy, &|_| true)?;
        let Some(names) = references::mentioned_names(&rendered.text) else { return Ok(None) };
        mentioned.extend(names);
        for (name, text) in plan.removable_texts(&file.source) {
            let Some(names) = references::mentioned_names(&text) else { return Ok(None) };
            mentions_of.entry(name).or_default().extend(names);
        }
    }
    if mentioned.contains("paste")
        || mentioned.contains("concat_idents")
        || mentions_of.values().any(|m| m.contains("paste") || m.contains("concat_idents"))
    {
        // Identifiers may be synthesized: no name can be proven unused.
        return Ok(None);
    }
    let mut kept: BTreeSet<&str> = candidates.iter().copied().filter(|n| mentioned.contains(*n)).collect();
    let mut queue: Vec<&str> = kept.iter().copied().collect();
    while let Some(name) = queue.pop() {
        for m in mentions_of.get(name).into_iter().flatten() {
            if let Some(&c) = candidates.get(m.as_str()) {
                if kept.insert(c) {
                    queue.push(c);
                }
            }
        }
    }
    Ok(Some(candidates.iter().filter(|n| !kept.contains(**n)).map(|n| n.to_string()).collect()))
}

/// Whether an item exists only in `cfg(test)` builds: its `#[cfg(..)]` predicate is false
/// whenever `test` is unset, whatever the other cfgs are (`test`, `all(test, ..)`,
/// `any(test, all(test, ..))`). The library build that dependents see never contains it.
fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        let syn::Meta::List(list) = &a.meta else { return false };
        a.path().is_ident("cfg") && list.parse_args::<syn::Meta>().is_ok_and(|p| cfg_without_test(&p) == Some(false))
    })
}

/// A cfg predicate's value when `test` is unset: `Some` when that alone decides it.
fn cfg_without_test(meta: &syn::Meta) -> Option<bool> {
    let nested = |list: &syn::MetaList| {
        list.parse_args_with(syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated).ok()
    };
    match meta {
        syn::Meta::Path(p) if p.is_ident("test") => Some(false),
        syn::Meta::List(l) if l.path.is_ident("not") => nested(l)?.first().and_then(cfg_without_test).map(|v| !v),
        syn::Meta::List(l) if l.path.is_ident("all") => {
            let values: Vec<Option<bool>> = nested(l)?.iter().map(cfg_without_test).collect();
            if values.contains(&Some(false)) {
                Some(false)
            } else if values.iter().all(|v| *v == Some(true)) {
                Some(true)
            } else {
                None
            }
        }
        syn::Meta::List(l) if l.path.is_ident("any") => {
            let values: Vec<Option<bool>> = nested(l)?.iter().map(cfg_without_test).collect();
            if values.contains(&Some(true)) {
                Some(true)
            } else if values.iter().all(|v| *v == Some(false)) {
                Some(false)
            } else {
                None
            }
        }
        _ => None,
    }
}

pub(crate) fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::ExternCrate(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::ForeignMod(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::TraitAlias(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// Walk items, recording which bodies to replace, which kept code to anchor and which
/// items to drop.
fn plan_items(items: &[syn::Item], safe: &std::collections::BTreeSet<String>, plan: &mut splice::Plan) {
    for item in items {
        if is_test_only(item_attrs(item)) {
            // A `mod tests;` declaration must go too: its file is then never read.
            plan.drop_item(item.span());
            continue;
        }
        match item {
            syn::Item::Fn(f) => {
                let reason =
                    keep::signature_keep_reason(&f.attrs, &f.sig).or_else(|| keep::body_keep_reason(&f.block, safe));
                plan.function(f.block.span(), reason);
                if reason.is_none() && references::droppable(&f.vis, &f.attrs) {
                    plan.removable(item.span(), f.sig.ident.to_string());
                }
            }
            syn::Item::Const(c) if references::droppable(&c.vis, &c.attrs) => {
                plan.removable(item.span(), c.ident.to_string())
            }
            syn::Item::Static(s) if references::droppable(&s.vis, &s.attrs) => {
                plan.removable(item.span(), s.ident.to_string())
            }
            syn::Item::Impl(imp) => plan_impl(imp, safe, plan),
            syn::Item::Mod(m) => match &m.content {
                Some((_, inner)) if keep::attribute_macro(&m.attrs).is_none() => plan_items(inner, safe, plan),
                Some(_) => plan.anchor(item.span()),
                None => {}
            },
            syn::Item::Trait(t) => {
                for trait_item in &t.items {
                    if let syn::TraitItem::Fn(syn::TraitItemFn { default: Some(body), .. }) = trait_item {
                        plan.function(body.span(), Some(KeepReason::TraitDefault));
                    }
                }
            }
            // Item macros may expand to functions that run in dependents.
            syn::Item::Macro(m) if !m.mac.path.is_ident("macro_rules") => plan.anchor(m.mac.path.span()),
            syn::Item::Verbatim(_) => plan.anchor(item.span()),
            // macro_rules expand at their call sites; consts, statics and type definitions
            // carry no line information into dependents' code.
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
        if let syn::ImplItem::Const(c) = impl_item {
            // Only inherent consts: a trait impl must define every associated item.
            if imp.trait_.is_none() && references::droppable(&c.vis, &c.attrs) {
                plan.removable(impl_item.span(), c.ident.to_string());
            }
        }
        if let syn::ImplItem::Fn(m) = impl_item {
            let reason = whole_impl_kept
                .or_else(|| m.defaultness.map(|_| KeepReason::Generic))
                .or_else(|| keep::signature_keep_reason(&m.attrs, &m.sig))
                .or_else(|| keep::body_keep_reason(&m.block, safe));
            plan.function(m.block.span(), reason);
            // Only inherent methods: a trait impl must keep every method.
            if reason.is_none() && imp.trait_.is_none() && references::droppable(&m.vis, &m.attrs) {
                plan.removable(impl_item.span(), m.sig.ident.to_string());
            }
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
        for line in &file.exact_lines {
            out.push_str(&format!(
                "  {}:{}: exact position (a compile-time value can observe it)\n",
                path.display(),
                line
            ));
        }
        if file.kept_for_anchor > 0 {
            out.push_str(&format!(
                "  {}: {} bodies kept so that an exact anchor keeps its column\n",
                path.display(),
                file.kept_for_anchor
            ));
        }
        for (line, reason) in &file.kept {
            out.push_str(&format!("  {}:{}: kept ({:?})\n", path.display(), line, reason));
        }
    }
    out
}

#[cfg(test)]
mod tests;
