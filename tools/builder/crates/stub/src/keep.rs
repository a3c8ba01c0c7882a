//! The keep rules: which function bodies a dependent crate can observe.
//!
//! A body may be replaced in the interface stub only when no dependent can observe it: the
//! function is not generic (no type or const parameters, no `impl Trait` argument), not
//! `#[inline]`, not `const`, not `async`, returns no `impl Trait`, carries no attribute macro,
//! does not sit in a generic impl or a trait, and its body defines nothing globally visible
//! (no `impl` block, no `#[macro_export]` macro, no macro call whose expansion we cannot prove
//! item-free). See `shared/design/interfaces.md`, section 3, for the facts behind each rule.

use std::collections::BTreeSet;

use quote::ToTokens;
use syn::visit::Visit;

#[cfg(test)]
use super::item_free::local_expression_only_macros;
use super::item_free::{arguments_are_expression_only, is_expression_only_macro};

/// Why a body had to be kept; printed by `relink-builder stub --explain`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeepReason {
    /// `const fn`: dependents may evaluate it at compile time.
    Const,
    /// `async fn`: its return type is an opaque future whose auto traits leak.
    Async,
    /// Type or const generic parameters (including `impl Trait` arguments): instantiated downstream.
    Generic,
    /// `-> impl Trait` (anywhere in the return type): the hidden type leaks to dependents.
    ImplTraitReturn,
    /// `#[inline]` (also behind `cfg_attr`): may be codegenned in dependents.
    Inline,
    /// An attribute that is not a built-in one: a macro sees the body and may emit items.
    AttributeMacro,
    /// The enclosing impl has type or const parameters.
    GenericImpl,
    /// A trait's default method: instantiated for every implementing type.
    TraitDefault,
    /// The body defines an `impl` or an exported macro, both visible crate-wide.
    DefinesGlobalItem,
    /// The body calls a macro that is not known to expand to expressions only.
    UnknownMacro,
}

impl KeepReason {
    /// A short human-readable name.
    pub fn label(self) -> &'static str {
        match self {
            KeepReason::Const => "const fn",
            KeepReason::Async => "async fn",
            KeepReason::Generic => "generic",
            KeepReason::ImplTraitReturn => "returns impl Trait",
            KeepReason::Inline => "inline",
            KeepReason::AttributeMacro => "attribute macro",
            KeepReason::GenericImpl => "generic impl",
            KeepReason::TraitDefault => "trait default method",
            KeepReason::DefinesGlobalItem => "defines a global item",
            KeepReason::UnknownMacro => "calls an unknown macro",
        }
    }
}

/// Attributes that are built into rustc (or are tool attributes) and never see the body as a macro.
const BUILTIN_ATTRIBUTES: &[&str] = &[
    "allow",
    "automatically_derived",
    "cfg",
    "cfg_attr",
    "cold",
    "coverage",
    "deny",
    "deprecated",
    "doc",
    "expect",
    "export_name",
    "forbid",
    "ignore",
    "inline",
    "instruction_set",
    "link_name",
    "link_section",
    "must_use",
    "no_mangle",
    "optimize",
    "should_panic",
    "target_feature",
    "test",
    "track_caller",
    "unsafe",
    "used",
    "warn",
    "no_coverage",
    "naked",
    "derive",
    "repr",
    "non_exhaustive",
    "path",
    "macro_export",
    "macro_use",
    "global_allocator",
    "panic_handler",
    "proc_macro",
    "proc_macro_derive",
    "proc_macro_attribute",
    "no_implicit_prelude",
    "link",
    "debugger_visualizer",
    "collapse_debuginfo",
    "no_mangle",
    "rustc_builtin_macro",
];

/// Tool attribute namespaces (`#[rustfmt::skip]`, `#[clippy::...]`): inert.
const TOOL_NAMESPACES: &[&str] = &["rustfmt", "clippy", "rustdoc", "diagnostic"];

/// Whether an attribute list makes the function `#[inline]` (directly or through `cfg_attr`).
fn has_inline(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        let path = attr.path();
        if path.is_ident("inline") {
            // `#[inline(never)]` forbids cross-crate inlining: the body stays private.
            let never = matches!(&attr.meta, syn::Meta::List(list) if list.tokens.to_string() == "never");
            return !never;
        }
        if path.is_ident("cfg_attr") {
            // Conservative: any mention of `inline` inside `cfg_attr` keeps the body.
            return token_stream_mentions(&quote_tokens(&attr.meta), "inline");
        }
        false
    })
}

fn quote_tokens<T: ToTokens>(t: &T) -> String {
    t.to_token_stream().to_string()
}

fn token_stream_mentions(tokens: &str, word: &str) -> bool {
    tokens.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|w| w == word)
}

/// The first non-builtin attribute, if any (an attribute macro that sees the item).
/// Attributes behind `cfg_attr(predicate, a, b)` are inspected too.
pub fn attribute_macro(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| meta_attribute_macro(&attr.meta))
}

fn meta_attribute_macro(meta: &syn::Meta) -> Option<String> {
    let path = meta.path();
    if path.is_ident("cfg_attr") {
        let syn::Meta::List(list) = meta else { return None };
        let parsed = list.parse_args_with(syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated);
        return match parsed {
            // Skip the predicate; every other entry is an attribute.
            Ok(metas) => metas.iter().skip(1).find_map(meta_attribute_macro),
            // Unparseable cfg_attr: treat as an unknown attribute (keep the body).
            Err(_) => Some("cfg_attr(..)".to_string()),
        };
    }
    let first = path.segments.first()?.ident.to_string();
    if path.segments.len() > 1 && TOOL_NAMESPACES.contains(&first.as_str()) {
        return None;
    }
    if path.segments.len() == 1 && BUILTIN_ATTRIBUTES.contains(&first.as_str()) {
        return None;
    }
    Some(quote_tokens(path).replace(' ', ""))
}

/// Whether generics carry type or const parameters (lifetimes alone are not instantiated).
pub fn has_type_or_const_params(generics: &syn::Generics) -> bool {
    generics.params.iter().any(|p| !matches!(p, syn::GenericParam::Lifetime(_)))
}

/// Whether a type mentions `impl Trait` anywhere.
fn type_mentions_impl_trait(ty: &syn::Type) -> bool {
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    finder.visit_type(ty);
    finder.0
}

/// Decide whether a function's body must be kept in the interface stub, from its signature and
/// attributes alone (the body is inspected separately by [`body_keep_reason`]).
pub fn signature_keep_reason(attrs: &[syn::Attribute], sig: &syn::Signature) -> Option<KeepReason> {
    if sig.constness.is_some() {
        return Some(KeepReason::Const);
    }
    if sig.asyncness.is_some() {
        return Some(KeepReason::Async);
    }
    if has_type_or_const_params(&sig.generics) {
        return Some(KeepReason::Generic);
    }
    let impl_trait_arg = sig.inputs.iter().any(|arg| match arg {
        syn::FnArg::Typed(pat) => type_mentions_impl_trait(&pat.ty),
        syn::FnArg::Receiver(recv) => type_mentions_impl_trait(&recv.ty),
    });
    if impl_trait_arg {
        return Some(KeepReason::Generic);
    }
    if let syn::ReturnType::Type(_, ty) = &sig.output {
        if type_mentions_impl_trait(ty) {
            return Some(KeepReason::ImplTraitReturn);
        }
    }
    if has_inline(attrs) {
        return Some(KeepReason::Inline);
    }
    if fn_attribute_macro(attrs).is_some() {
        return Some(KeepReason::AttributeMacro);
    }
    None
}

/// Like [`attribute_macro`] for a function, not counting attributes that only wrap its body
/// ([`is_body_wrapper`]): whether such a function's body is kept is decided as if they were
/// not there.
pub fn fn_attribute_macro(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().filter(|a| !is_body_wrapper(a)).find_map(|attr| meta_attribute_macro(&attr.meta))
}

/// `#[tracing::instrument]` (or `#[instrument]`, as tracing's users import it): tracing's
/// attribute re-emits the function with its attributes, visibility and signature unchanged and
/// the body wrapped in a span (`span!` statics inside the body, the original statements in a
/// block or closure). It adds no item outside the body and no generic parameter, so the body
/// is observable exactly when it would be without the attribute; the positions it records go
/// into statics inside the body, which no dependent can name and only the real crate's code
/// uses. Trusted by name, like `log::`/`tracing::` macros.
pub fn is_body_wrapper(attr: &syn::Attribute) -> bool {
    let path = attr.path();
    let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    matches!(
        names.iter().map(String::as_str).collect::<Vec<_>>().as_slice(),
        ["instrument"] | ["tracing", "instrument"]
    )
}

/// Decide whether a body must be kept because of what it contains: items visible crate-wide
/// (`impl` blocks, `#[macro_export]` macros) or macro calls we cannot prove item-free.
pub fn body_keep_reason(block: &syn::Block, local_safe_macros: &BTreeSet<String>) -> Option<KeepReason> {
    struct Scan<'a> {
        reason: Option<KeepReason>,
        safe: &'a BTreeSet<String>,
    }
    impl<'ast> Visit<'ast> for Scan<'_> {
        fn visit_item_impl(&mut self, _: &'ast syn::ItemImpl) {
            self.reason.get_or_insert(KeepReason::DefinesGlobalItem);
        }
        fn visit_item_macro(&mut self, m: &'ast syn::ItemMacro) {
            if m.mac.path.is_ident("macro_rules") {
                let exported = m.attrs.iter().any(|a| a.path().is_ident("macro_export"));
                if exported {
                    self.reason.get_or_insert(KeepReason::DefinesGlobalItem);
                }
            } else {
                self.visit_macro(&m.mac);
            }
        }
        fn visit_macro(&mut self, m: &'ast syn::Macro) {
            // A trusted macro may pass its arguments through (`$($t:tt)*`): an `impl` or an
            // unknown macro call in them is as good as in the body.
            if !is_expression_only_macro(&m.path, self.safe) || !arguments_are_expression_only(&m.tokens, self.safe) {
                self.reason.get_or_insert(KeepReason::UnknownMacro);
            }
        }
    }
    let mut scan = Scan { reason: None, safe: local_safe_macros };
    scan.visit_block(block);
    scan.reason
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig_reason(src: &str) -> Option<KeepReason> {
        let f: syn::ItemFn = syn::parse_str(src).unwrap();
        signature_keep_reason(&f.attrs, &f.sig).or_else(|| body_keep_reason(&f.block, &BTreeSet::new()))
    }

    #[test]
    fn plain_private_body_is_stubbed() {
        assert_eq!(sig_reason("fn f(x: u32) -> u32 { let y = |a: u32| a + 1; y(x) }"), None);
        assert_eq!(sig_reason("fn f<'a>(x: &'a str) -> &'a str { x }"), None);
        assert_eq!(sig_reason("#[inline(never)] fn f() {}"), None);
        assert_eq!(sig_reason("#[cold] #[doc = \"x\"] fn f() { println!(\"{}\", 1) }"), None);
    }

    #[test]
    fn tracing_instrument_only_wraps_the_body() {
        assert_eq!(sig_reason("#[tracing::instrument(skip(self), ret)]\nfn f(&self) -> u8 { 1 }"), None);
        assert_eq!(sig_reason("#[instrument]\npub fn f() -> u8 { 1 }"), None);
        // The body's own reasons still count, and so do other attributes.
        assert_eq!(sig_reason("#[tracing::instrument]\nfn f<T>(t: T) {}"), Some(KeepReason::Generic));
        assert_eq!(sig_reason("#[tracing::instrument]\nfn f() { my_macro!(); }"), Some(KeepReason::UnknownMacro));
        assert_eq!(sig_reason("#[tracing::instrument]\n#[my::attr]\nfn f() {}"), Some(KeepReason::AttributeMacro));
        assert_eq!(sig_reason("#[other::instrument]\nfn f() {}"), Some(KeepReason::AttributeMacro));
    }

    #[test]
    fn observable_bodies_are_kept() {
        assert_eq!(sig_reason("fn f<T>(t: T) {}"), Some(KeepReason::Generic));
        assert_eq!(sig_reason("fn f<const N: usize>() {}"), Some(KeepReason::Generic));
        assert_eq!(sig_reason("fn f(x: impl Into<u8>) {}"), Some(KeepReason::Generic));
        assert_eq!(sig_reason("fn f() -> impl Iterator<Item = u8> { 0..1 }"), Some(KeepReason::ImplTraitReturn));
        assert_eq!(sig_reason("fn f() -> Box<impl Fn()> { Box::new(|| ()) }"), Some(KeepReason::ImplTraitReturn));
        assert_eq!(sig_reason("const fn f() -> u8 { 1 }"), Some(KeepReason::Const));
        assert_eq!(sig_reason("async fn f() {}"), Some(KeepReason::Async));
        assert_eq!(sig_reason("#[inline] fn f() {}"), Some(KeepReason::Inline));
        assert_eq!(sig_reason("#[inline(always)] fn f() {}"), Some(KeepReason::Inline));
        assert_eq!(sig_reason("#[cfg_attr(feature = \"perf\", inline(always))] fn f() {}"), Some(KeepReason::Inline));
        assert_eq!(sig_reason("#[tokio::main] fn f() {}"), Some(KeepReason::AttributeMacro));
        assert_eq!(sig_reason("#[cfg_attr(test, instrument)] fn f() {}"), Some(KeepReason::AttributeMacro));
        assert_eq!(sig_reason("#[cfg_attr(test, allow(dead_code))] fn f() {}"), None);
    }

    #[test]
    fn bodies_defining_global_items_are_kept() {
        assert_eq!(
            sig_reason("fn f() { struct S; impl Clone for S { fn clone(&self) -> S { S } } }"),
            Some(KeepReason::DefinesGlobalItem)
        );
        assert_eq!(
            sig_reason("fn f() { #[macro_export] macro_rules! m { () => {} } }"),
            Some(KeepReason::DefinesGlobalItem)
        );
        assert_eq!(sig_reason("fn f() { fn helper() {} struct S; helper() }"), None);
        assert_eq!(sig_reason("fn f() { my_macro!(); }"), Some(KeepReason::UnknownMacro));
        assert_eq!(sig_reason("fn f() { log::debug!(\"x\"); std::println!(); }"), None);
        // Arguments of a trusted macro are scanned like its transcribers.
        assert_eq!(sig_reason("fn f() { println!(\"{}\", my_macro!()); }"), Some(KeepReason::UnknownMacro));
        assert_eq!(sig_reason("fn f() { vec![{ impl X for Y {} 1 }]; }"), Some(KeepReason::UnknownMacro));
        assert_eq!(sig_reason("fn f() { println!(\"impl {}\", impl_x); }"), None);
    }

    #[test]
    fn a_pass_through_macro_with_an_impl_in_its_arguments_keeps_the_body() {
        let parse = |s: &str| -> proc_macro2::TokenStream { s.parse().unwrap() };
        let safe = local_expression_only_macros(&[("id".to_string(), parse("($($t:tt)*) => { $($t)* }"))]);
        assert!(safe.contains("id"));
        let f: syn::ItemFn = syn::parse_str("fn f() { id! { impl Tr for S {} } }").unwrap();
        assert_eq!(body_keep_reason(&f.block, &safe), Some(KeepReason::UnknownMacro));
        let f: syn::ItemFn = syn::parse_str("fn f() { id! { let _ = 1; } }").unwrap();
        assert_eq!(body_keep_reason(&f.block, &safe), None);
        // A keyword the macro matches as a token (rust-analyzer's `T![impl]`) is no item.
        let f: syn::ItemFn = syn::parse_str("fn f() { id![impl]; id!(macro_rules); }").unwrap();
        assert_eq!(body_keep_reason(&f.block, &safe), None);
        let f: syn::ItemFn = syn::parse_str("fn f() { id! { macro_rules! m { () => {} } } }").unwrap();
        assert_eq!(body_keep_reason(&f.block, &safe), Some(KeepReason::UnknownMacro));
    }

    #[test]
    fn a_crate_macro_named_like_a_well_known_one_is_judged_by_its_definition() {
        let parse = |s: &str| -> proc_macro2::TokenStream { s.parse().unwrap() };
        let safe = local_expression_only_macros(&[("error".to_string(), parse("() => { impl X for Y {} }"))]);
        for body in ["fn f() { error!(); }", "fn f() { log::error!(); }"] {
            let f: syn::ItemFn = syn::parse_str(body).unwrap();
            assert_eq!(body_keep_reason(&f.block, &safe), Some(KeepReason::UnknownMacro), "{body}");
        }
        let f: syn::ItemFn = syn::parse_str("fn f() { std::println!(); }").unwrap();
        assert_eq!(body_keep_reason(&f.block, &safe), None);
        // A transcriber calling it is not trusted either.
        let calls = local_expression_only_macros(&[
            ("error".to_string(), parse("() => { impl X for Y {} }")),
            ("report".to_string(), parse("() => { error!() }")),
        ]);
        assert!(!calls.contains("report"), "{calls:?}");
    }

    #[test]
    fn recursive_macros_are_proven_by_the_greatest_fixpoint() {
        let parse = |s: &str| -> proc_macro2::TokenStream { s.parse().unwrap() };
        let macros = vec![
            // itertools' izip!, shortened: recursion through `$crate::izip!`.
            (
                "izip".to_string(),
                parse("(@closure $p:pat => $tup:expr) => { |$p| $tup }; ($first:expr, $($rest:expr),+) => { $crate::izip!(@closure a => (a) $(, $rest)*) }"),
            ),
            // Mutual recursion where one side emits an impl: neither is trusted.
            ("ping".to_string(), parse("() => { pong!() }")),
            ("pong".to_string(), parse("() => { ping!(); impl X for Y {} }")),
        ];
        let safe = local_expression_only_macros(&macros);
        assert!(safe.contains("izip"), "{safe:?}");
        assert!(!safe.contains("ping") && !safe.contains("pong"), "{safe:?}");
    }

    #[test]
    fn local_macros_are_analysed_to_a_fixpoint() {
        let parse = |s: &str| -> proc_macro2::TokenStream { s.parse().unwrap() };
        let macros = vec![
            ("helper".to_string(), parse("() => { format!(\"x\") }")),
            ("outer".to_string(), parse("($e:expr) => { helper!() + $e }")),
            ("emits_impl".to_string(), parse("() => { impl X for Y {} }")),
            ("calls_bad".to_string(), parse("() => { emits_impl!() }")),
        ];
        let safe = local_expression_only_macros(&macros);
        // Keywords before `!` inside a transcriber (`$crate`, `self`) must not panic.
        let odd = vec![("kw".to_string(), parse("() => { match!(x) ; self!() }"))];
        assert!(!local_expression_only_macros(&odd).contains("kw"));
        assert!(safe.contains("helper"));
        assert!(safe.contains("outer"));
        assert!(!safe.contains("emits_impl"));
        assert!(!safe.contains("calls_bad"));
    }
}
