//! Which kept code can observe its own source position, so that the stub must keep it on its
//! original line *and* column (an exact anchor), under every span policy.
//!
//! A dependent evaluates constants, associated constants, statics read in const context,
//! enum discriminants, array lengths (so layouts), const generic arguments and `const fn`
//! bodies from the **interface**. Their values must equal the real crate's. A value can
//! depend on where its text sits only through:
//! * `line!()` / `column!()`, directly or inside any macro expansion (they resolve to the
//!   outermost invocation site);
//! * `core::panic::Location::caller()`, reached from a const context through any chain of
//!   `#[track_caller]` functions (so an unknown callee in a const context may observe it);
//! * a proc macro (attribute or derive), which can read `Span::line()` / `Span::column()` of
//!   its input and emit them as values.
//!
//! The scanner reports the byte offset of every such token in kept text. Runtime-only
//! locations (panic messages, `dbg!`, log records in kept generic or `#[inline]` bodies) are
//! the span policy's business: exact under `anchored`, shifted under `compact`.

use std::collections::BTreeSet;
use std::ops::Range;

use proc_macro2::{TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::visit::Visit;

/// Macros whose expansion carries no source position at all.
const POSITION_FREE_MACROS: &[&str] = &[
    "concat",
    "concat_bytes",
    "stringify",
    "env",
    "option_env",
    "include",
    "include_str",
    "include_bytes",
    "file",
    "module_path",
    "cfg",
    "matches",
    "format",
    "format_args",
    "const_format_args",
    "print",
    "println",
    "eprint",
    "eprintln",
    "write",
    "writeln",
    "vec",
    "addr_of",
    "addr_of_mut",
    "offset_of",
    "pin",
    "ready",
    "thread_local",
    "compile_error",
    "asm",
    "global_asm",
    "try",
];

/// Macros that embed a location only into *runtime* values (a panic message, a log record),
/// never into a value a const context can produce (a panic during const evaluation is a
/// compile error in both builds). Their runtime locations follow the span policy.
const RUNTIME_LOCATION_MACROS: &[&str] = &[
    "panic",
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "unreachable",
    "todo",
    "unimplemented",
    "dbg",
    "assert_matches",
    "debug_assert_matches",
    "trace",
    "debug",
    "info",
    "warn",
    "error",
    "log",
    "log_enabled",
    "event",
    "span",
    "trace_span",
    "debug_span",
    "info_span",
    "warn_span",
    "error_span",
    "anyhow",
    "bail",
    "ensure",
];

/// Derives that expand without reading spans as values (rustc's built-in derives).
const POSITION_FREE_DERIVES: &[&str] =
    &["Debug", "Clone", "Copy", "PartialEq", "Eq", "PartialOrd", "Ord", "Hash", "Default"];

/// Facts about the whole crate the scanner needs: local macros that are position-free, and
/// the functions and types a const-context call may name.
#[derive(Default, Debug)]
pub struct CrateFacts {
    /// Local `macro_rules!` whose every transcriber is position-free anywhere.
    pub free_macros: BTreeSet<String>,
    /// Local `macro_rules!` that are position-free in a const context too (no calls).
    pub const_free_macros: BTreeSet<String>,
    /// Names of local functions and methods that are not `#[track_caller]`.
    pub plain_fns: BTreeSet<String>,
    /// Names of local functions and methods that are `#[track_caller]`.
    pub track_caller_fns: BTreeSet<String>,
    /// Names of locally defined types, traits, tuple structs and enum variants.
    pub local_types: BTreeSet<String>,
    /// Names brought into scope by `use` (the last segment or the rename), and whether a glob
    /// import of a non-local path exists.
    pub imported: BTreeSet<String>,
}

impl CrateFacts {
    /// Collect the facts from every parsed file of the crate; `ext` holds what the direct
    /// dependencies' exported macros are known to do.
    pub fn collect(
        files: &[&syn::File],
        macros: &[(String, TokenStream)],
        ext: &super::macros::External,
    ) -> CrateFacts {
        let mut facts = CrateFacts::default();
        for file in files {
            facts.visit_file(file);
        }
        facts.free_macros = fixpoint(macros, &ext.position_free, &ext.defined, |tokens, safe| {
            transcriber_position_free(tokens, safe, false)
        });
        facts.const_free_macros = fixpoint(macros, &ext.const_free, &ext.defined, |tokens, safe| {
            transcriber_position_free(tokens, safe, true)
        });
        facts
    }

    fn note_fn(&mut self, name: &syn::Ident, attrs: &[syn::Attribute]) {
        let track_caller = attrs.iter().any(|a| a.path().is_ident("track_caller"));
        let set = if track_caller { &mut self.track_caller_fns } else { &mut self.plain_fns };
        set.insert(name.to_string());
    }

    /// Whether a macro, called by the last segment `name`, can put a position into a value.
    fn macro_is_sensitive(&self, name: &str, in_const: bool) -> bool {
        if name == "line" || name == "column" {
            return true;
        }
        if in_const {
            return !(self.const_free_macros.contains(name) || is_listed_free(name));
        }
        !(self.free_macros.contains(name) || is_listed_free(name) || RUNTIME_LOCATION_MACROS.contains(&name))
    }

    /// Whether a call in a const context may reach `Location::caller()` through
    /// `#[track_caller]` functions. Only callees we can see are trusted.
    fn call_is_sensitive(&self, callee: &syn::Expr) -> bool {
        let syn::Expr::Path(path) = callee else { return true };
        let segments: Vec<String> = path.path.segments.iter().map(|s| s.ident.to_string()).collect();
        let Some(last) = segments.last() else { return true };
        if segments.iter().any(|s| s == "caller") || self.track_caller_fns.contains(last) {
            return true;
        }
        let first = segments[0].as_str();
        if path.qself.is_none() && matches!(first, "std" | "core" | "alloc") {
            // The standard library's only source of a location value is `Location::caller`.
            return false;
        }
        if segments.len() == 1 {
            let constructor = matches!(last.as_str(), "Some" | "Ok" | "Err") || self.local_types.contains(last);
            let local_fn = self.plain_fns.contains(last) && !self.imported.contains(last);
            return !(constructor || local_fn);
        }
        // `Prefix::name(..)`: trusted only when the prefix is this crate's own.
        let prefix = &segments[segments.len() - 2];
        let local_prefix = matches!(prefix.as_str(), "Self" | "crate" | "self" | "super")
            || (self.local_types.contains(prefix) && !self.imported.contains(prefix));
        let callee_known = self.plain_fns.contains(last) || self.local_types.contains(last);
        !(path.qself.is_none() && local_prefix && callee_known)
    }
}

impl<'ast> Visit<'ast> for CrateFacts {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.note_fn(&f.sig.ident, &f.attrs);
        syn::visit::visit_item_fn(self, f);
    }
    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.note_fn(&f.sig.ident, &f.attrs);
        syn::visit::visit_impl_item_fn(self, f);
    }
    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        self.note_fn(&f.sig.ident, &f.attrs);
        syn::visit::visit_trait_item_fn(self, f);
    }
    fn visit_item_struct(&mut self, s: &'ast syn::ItemStruct) {
        self.local_types.insert(s.ident.to_string());
        syn::visit::visit_item_struct(self, s);
    }
    fn visit_item_enum(&mut self, e: &'ast syn::ItemEnum) {
        self.local_types.insert(e.ident.to_string());
        self.local_types.extend(e.variants.iter().map(|v| v.ident.to_string()));
        syn::visit::visit_item_enum(self, e);
    }
    fn visit_item_union(&mut self, u: &'ast syn::ItemUnion) {
        self.local_types.insert(u.ident.to_string());
        syn::visit::visit_item_union(self, u);
    }
    fn visit_item_trait(&mut self, t: &'ast syn::ItemTrait) {
        self.local_types.insert(t.ident.to_string());
        syn::visit::visit_item_trait(self, t);
    }
    fn visit_item_type(&mut self, t: &'ast syn::ItemType) {
        self.local_types.insert(t.ident.to_string());
        syn::visit::visit_item_type(self, t);
    }
    fn visit_use_name(&mut self, n: &'ast syn::UseName) {
        self.imported.insert(n.ident.to_string());
    }
    fn visit_use_rename(&mut self, r: &'ast syn::UseRename) {
        self.imported.insert(r.rename.to_string());
    }
}

fn is_listed_free(name: &str) -> bool {
    POSITION_FREE_MACROS.contains(&name)
}

/// The macros (by name) whose every definition satisfies `free`, to a fixpoint so that local
/// helpers calling each other are handled.
fn fixpoint(
    macros: &[(String, TokenStream)],
    ext_trusted: &BTreeSet<String>,
    ext_defined: &BTreeSet<String>,
    free: impl Fn(&TokenStream, &BTreeSet<String>) -> bool,
) -> BTreeSet<String> {
    let mut safe = super::macros::seed(ext_trusted, macros);
    let mut changed = true;
    while changed {
        changed = false;
        for (name, _) in macros {
            if safe.contains(name) || !super::macros::allowed(name, ext_defined, ext_trusted) {
                continue;
            }
            let all_free = macros
                .iter()
                .filter(|(n, _)| n == name)
                .all(|(_, body)| super::macros::transcribers_all(body, |t| free(t, &safe)));
            if all_free {
                safe.insert(name.clone());
                changed = true;
            }
        }
    }
    safe
}

/// A `macro_rules!` body is position-free when its transcribers name no `line`/`column`/
/// `caller`/`Location` and call only position-free macros; `in_const` also forbids anything
/// that looks like a function call (a callee could be `#[track_caller]`).
fn transcriber_position_free(tokens: &TokenStream, safe: &BTreeSet<String>, in_const: bool) -> bool {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    for (i, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Ident(ident) => {
                let word = ident.to_string();
                if matches!(word.as_str(), "line" | "column" | "caller" | "Location") {
                    return false;
                }
                let next = trees.get(i + 1);
                let is_macro_call = matches!(next, Some(TokenTree::Punct(p)) if p.as_char() == '!')
                    && matches!(trees.get(i + 2), Some(TokenTree::Group(_)));
                if is_macro_call {
                    let known = safe.contains(&word)
                        || is_listed_free(&word)
                        || (!in_const && RUNTIME_LOCATION_MACROS.contains(&word.as_str()));
                    if !known {
                        return false;
                    }
                }
                let is_call =
                    matches!(next, Some(TokenTree::Group(g)) if g.delimiter() == proc_macro2::Delimiter::Parenthesis);
                if in_const && is_call && !matches!(word.as_str(), "Some" | "Ok" | "Err") {
                    return false;
                }
            }
            TokenTree::Group(group) => {
                if !transcriber_position_free(&group.stream(), safe, in_const) {
                    return false;
                }
                // `path::to::f(..)` or `x.m(..)`: a group right after `>` (turbofish) is a call too.
                let after_turbofish = i > 0 && matches!(&trees[i - 1], TokenTree::Punct(p) if p.as_char() == '>');
                if in_const && after_turbofish && group.delimiter() == proc_macro2::Delimiter::Parenthesis {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

/// Whether an attribute list carries a proc macro that sees the item: an attribute that is
/// not built in, or a derive that is not one of rustc's own.
pub fn has_position_reading_macro(attrs: &[syn::Attribute]) -> bool {
    if super::keep::attribute_macro(attrs).is_some() {
        return true;
    }
    attrs.iter().any(|attr| derives_of(&attr.meta).iter().any(|d| !POSITION_FREE_DERIVES.contains(&d.as_str())))
}

/// Derive names in `#[derive(..)]`, also behind `cfg_attr`. An unparsable list yields a
/// placeholder name (treated as unknown).
fn derives_of(meta: &syn::Meta) -> Vec<String> {
    let syn::Meta::List(list) = meta else { return Vec::new() };
    let nested = list.parse_args_with(syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated);
    if list.path.is_ident("derive") {
        return match nested {
            Ok(items) => items
                .iter()
                .map(|m| m.path().segments.last().map(|s| s.ident.to_string()).unwrap_or_default())
                .collect(),
            Err(_) => vec!["?".to_string()],
        };
    }
    if list.path.is_ident("cfg_attr") {
        return match nested {
            Ok(items) => items.iter().skip(1).flat_map(derives_of).collect(),
            Err(_) => vec!["?".to_string()],
        };
    }
    Vec::new()
}

/// Offsets of position-sensitive tokens in kept text. `replaced` holds the byte ranges of
/// bodies the stub replaces (never scanned).
pub struct Scanner<'f> {
    facts: &'f CrateFacts,
    replaced: &'f [Range<usize>],
    const_depth: usize,
    /// Byte offsets (in the file) of sensitive tokens.
    pub found: Vec<usize>,
}

impl<'f> Scanner<'f> {
    /// A scanner for one file.
    pub fn new(facts: &'f CrateFacts, replaced: &'f [Range<usize>]) -> Scanner<'f> {
        Scanner { facts, replaced, const_depth: 0, found: Vec::new() }
    }

    fn record(&mut self, span: proc_macro2::Span) {
        self.found.push(span.byte_range().start);
    }

    fn in_const<F: FnOnce(&mut Self)>(&mut self, f: F) {
        self.const_depth += 1;
        f(self);
        self.const_depth -= 1;
    }

    /// Scan an item's attributes: a proc macro reading spans anchors the whole item.
    fn attributes(&mut self, attrs: &[syn::Attribute], item: proc_macro2::Span) {
        if has_position_reading_macro(attrs) {
            self.record(item);
        }
    }

    /// A function's attributes: as [`Self::attributes`], except that attributes that only wrap
    /// the body (`#[tracing::instrument]`) observe nothing a dependent sees once the body is
    /// replaced (the stub's expansion never runs: the real crate's code does).
    fn fn_attributes(&mut self, attrs: &[syn::Attribute], item: proc_macro2::Span, body: &syn::Block) {
        let replaced = self.replaced.contains(&body.span().byte_range());
        if !replaced {
            return self.attributes(attrs, item);
        }
        let others: Vec<syn::Attribute> = attrs.iter().filter(|a| !super::keep::is_body_wrapper(a)).cloned().collect();
        self.attributes(&others, item);
    }

    /// Scan the token stream of a macro invocation whose own expansion is known.
    fn macro_tokens(&mut self, tokens: &TokenStream) -> bool {
        let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
        for (i, tree) in trees.iter().enumerate() {
            match tree {
                TokenTree::Ident(ident) => {
                    let word = ident.to_string();
                    if matches!(word.as_str(), "caller" | "Location") {
                        return true;
                    }
                    let is_macro_call = matches!(trees.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == '!')
                        && matches!(trees.get(i + 2), Some(TokenTree::Group(_)));
                    if is_macro_call && self.facts.macro_is_sensitive(&word, self.const_depth > 0) {
                        return true;
                    }
                    let is_call = matches!(trees.get(i + 1), Some(TokenTree::Group(g)) if g.delimiter() == proc_macro2::Delimiter::Parenthesis);
                    if self.const_depth > 0
                        && is_call
                        && !matches!(word.as_str(), "Some" | "Ok" | "Err")
                        && !self.facts.local_types.contains(&word)
                    {
                        return true;
                    }
                }
                TokenTree::Group(g) if self.macro_tokens(&g.stream()) => return true,
                _ => {}
            }
        }
        false
    }
}

impl<'ast> Visit<'ast> for Scanner<'_> {
    fn visit_block(&mut self, block: &'ast syn::Block) {
        let range = block.span().byte_range();
        if self.replaced.contains(&range) {
            return;
        }
        syn::visit::visit_block(self, block);
    }

    fn visit_item_const(&mut self, item: &'ast syn::ItemConst) {
        self.attributes(&item.attrs, item.span());
        self.in_const(|s| syn::visit::visit_item_const(s, item));
    }
    fn visit_item_static(&mut self, item: &'ast syn::ItemStatic) {
        self.attributes(&item.attrs, item.span());
        self.in_const(|s| syn::visit::visit_item_static(s, item));
    }
    fn visit_impl_item_const(&mut self, item: &'ast syn::ImplItemConst) {
        self.attributes(&item.attrs, item.span());
        self.in_const(|s| syn::visit::visit_impl_item_const(s, item));
    }
    fn visit_trait_item_const(&mut self, item: &'ast syn::TraitItemConst) {
        self.attributes(&item.attrs, item.span());
        self.in_const(|s| syn::visit::visit_trait_item_const(s, item));
    }
    fn visit_item_struct(&mut self, item: &'ast syn::ItemStruct) {
        self.attributes(&item.attrs, item.span());
        syn::visit::visit_item_struct(self, item);
    }
    fn visit_item_enum(&mut self, item: &'ast syn::ItemEnum) {
        self.attributes(&item.attrs, item.span());
        syn::visit::visit_item_enum(self, item);
    }
    fn visit_item_union(&mut self, item: &'ast syn::ItemUnion) {
        self.attributes(&item.attrs, item.span());
        syn::visit::visit_item_union(self, item);
    }
    fn visit_item_type(&mut self, item: &'ast syn::ItemType) {
        self.attributes(&item.attrs, item.span());
        syn::visit::visit_item_type(self, item);
    }
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.fn_attributes(&item.attrs, item.span(), &item.block);
        if item.sig.constness.is_some() {
            self.in_const(|s| syn::visit::visit_item_fn(s, item));
        } else {
            syn::visit::visit_item_fn(self, item);
        }
    }
    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.fn_attributes(&item.attrs, item.span(), &item.block);
        if item.sig.constness.is_some() {
            self.in_const(|s| syn::visit::visit_impl_item_fn(s, item));
        } else {
            syn::visit::visit_impl_item_fn(self, item);
        }
    }
    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        self.attributes(&item.attrs, item.span());
        if item.sig.constness.is_some() {
            self.in_const(|s| syn::visit::visit_trait_item_fn(s, item));
        } else {
            syn::visit::visit_trait_item_fn(self, item);
        }
    }
    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        self.attributes(&item.attrs, item.span());
        syn::visit::visit_item_impl(self, item);
    }
    fn visit_item_trait(&mut self, item: &'ast syn::ItemTrait) {
        self.attributes(&item.attrs, item.span());
        syn::visit::visit_item_trait(self, item);
    }
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.attributes(&item.attrs, item.span());
        syn::visit::visit_item_mod(self, item);
    }

    fn visit_type_array(&mut self, ty: &'ast syn::TypeArray) {
        self.visit_type(&ty.elem);
        self.in_const(|s| s.visit_expr(&ty.len));
    }
    fn visit_expr_repeat(&mut self, expr: &'ast syn::ExprRepeat) {
        for attr in &expr.attrs {
            self.visit_attribute(attr);
        }
        self.visit_expr(&expr.expr);
        self.in_const(|s| s.visit_expr(&expr.len));
    }
    fn visit_variant(&mut self, variant: &'ast syn::Variant) {
        for attr in &variant.attrs {
            self.visit_attribute(attr);
        }
        self.visit_fields(&variant.fields);
        if let Some((_, expr)) = &variant.discriminant {
            self.in_const(|s| s.visit_expr(expr));
        }
    }
    fn visit_generic_argument(&mut self, arg: &'ast syn::GenericArgument) {
        match arg {
            syn::GenericArgument::Const(expr) => self.in_const(|s| s.visit_expr(expr)),
            other => syn::visit::visit_generic_argument(self, other),
        }
    }
    fn visit_const_param(&mut self, param: &'ast syn::ConstParam) {
        self.visit_type(&param.ty);
        if let Some(default) = &param.default {
            self.in_const(|s| s.visit_expr(default));
        }
    }
    fn visit_expr_const(&mut self, expr: &'ast syn::ExprConst) {
        self.in_const(|s| syn::visit::visit_expr_const(s, expr));
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let name = mac.path.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
        if mac.path.is_ident("macro_rules") {
            // A definition: it expands at its call sites, which are scanned there.
            return;
        }
        if self.facts.macro_is_sensitive(&name, self.const_depth > 0) || self.macro_tokens(&mac.tokens) {
            self.record(mac.path.span());
        }
    }
    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if self.const_depth > 0 && self.facts.call_is_sensitive(&call.func) {
            self.record(call.func.span());
        }
        syn::visit::visit_expr_call(self, call);
    }
    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        if self.const_depth > 0 {
            // The receiver's type is unknown here: its method may be `#[track_caller]`.
            self.record(call.method.span());
        }
        syn::visit::visit_expr_method_call(self, call);
    }
    fn visit_path_segment(&mut self, segment: &'ast syn::PathSegment) {
        if segment.ident == "caller" {
            self.record(segment.ident.span());
        }
        syn::visit::visit_path_segment(self, segment);
    }
}
