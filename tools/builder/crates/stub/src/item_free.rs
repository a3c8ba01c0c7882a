//! Which macros expand to expressions and statements only (no `impl`, no exported macro):
//! the well-known ones by name, a crate's own `macro_rules!` and its dependencies' exported
//! ones by reading their transcribers (docs/interfaces.md §6). A body that calls a macro
//! not proven so is kept ([`super::keep::KeepReason::UnknownMacro`]).

use std::collections::BTreeSet;

use syn::visit::Visit;

/// Macros whose expansion is known to be expressions or statements without global items.
/// The standard library's macros, plus the logging and error macros of `log`, `tracing` and
/// `anyhow`, whose definitions were read: they expand to expressions only.
const EXPRESSION_ONLY_MACROS: &[&str] = &[
    // std / core / alloc
    "assert",
    "assert_eq",
    "assert_ne",
    "cfg",
    "column",
    "compile_error",
    "concat",
    "dbg",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "env",
    "eprint",
    "eprintln",
    "file",
    "format",
    "format_args",
    "include_bytes",
    "include_str",
    "line",
    "matches",
    "module_path",
    "option_env",
    "panic",
    "print",
    "println",
    "stringify",
    "thread_local",
    "todo",
    "try",
    "unimplemented",
    "unreachable",
    "vec",
    "write",
    "writeln",
    "addr_of",
    "addr_of_mut",
    "asm",
    "pin",
    "ready",
    "offset_of",
    "const_format_args",
    "debug_assert_matches",
    "assert_matches",
    // log / tracing
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
    // anyhow
    "anyhow",
    "bail",
    "ensure",
];

/// Whether the last segment of a path names an expression-only macro.
pub(crate) fn is_expression_only_macro(path: &syn::Path, local_safe_macros: &BTreeSet<String>) -> bool {
    let Some(last) = path.segments.last() else { return false };
    let first = path.segments[0].ident.to_string();
    let prefix = (path.segments.len() > 1).then_some(first.as_str());
    is_expression_only_name(prefix, &last.ident.to_string(), local_safe_macros)
}

/// Whether macro `name` (called as `prefix::name!` or plain `name!`) is expression-only.
fn is_expression_only_name(prefix: Option<&str>, name: &str, local_safe_macros: &BTreeSet<String>) -> bool {
    // A crate-local macro_rules that we analysed wins over a same-named well-known macro, and
    // so does a local or dependency definition that we could not prove (an `error!` of this
    // crate that emits an `impl` is not `log::error!`); only `std::`/`core::`/`alloc::` paths
    // name the standard library's macros whatever the crate defines.
    if local_safe_macros.contains(name) {
        return true;
    }
    let std_path = matches!(prefix, Some("std" | "core" | "alloc"));
    if !std_path && local_safe_macros.contains(&untrusted(name)) {
        return false;
    }
    let known_prefix = match prefix {
        None => true,
        Some(p) => std_path || matches!(p, "log" | "tracing" | "anyhow"),
    };
    known_prefix && EXPRESSION_ONLY_MACROS.contains(&name)
}

/// The entry of a trusted-macro set that records `name` as defined but not proven
/// expression-only (never a valid identifier, so never confused with a name).
fn untrusted(name: &str) -> String {
    format!("!{name}")
}

/// The macros a body calls that the keep rules cannot prove item-free (paths as written), for
/// explaining a body kept for [`KeepReason::UnknownMacro`].
pub fn unknown_macros(block: &syn::Block, safe: &BTreeSet<String>) -> Vec<String> {
    struct Scan<'a> {
        found: BTreeSet<String>,
        safe: &'a BTreeSet<String>,
    }
    impl<'ast> Visit<'ast> for Scan<'_> {
        fn visit_macro(&mut self, m: &'ast syn::Macro) {
            if !m.path.is_ident("macro_rules") && !is_expression_only_macro(&m.path, self.safe) {
                let path = m.path.segments.iter().map(|s| s.ident.to_string()).collect::<Vec<_>>().join("::");
                self.found.insert(format!("{path}!"));
            }
        }
    }
    let mut scan = Scan { found: BTreeSet::new(), safe };
    scan.visit_block(block);
    scan.found.into_iter().collect()
}

/// Crate-local `macro_rules!` whose transcribers cannot emit global items: no `impl`,
/// no `macro_rules`, and only calls to macros that are themselves safe. Computed to a fixpoint
/// over every macro of the crate so that local helpers calling each other are handled.
#[cfg(test)]
pub fn local_expression_only_macros(macros: &[(String, proc_macro2::TokenStream)]) -> BTreeSet<String> {
    expression_only_macros(macros, &super::macros::External::default())
}

/// Like [`local_expression_only_macros`], also trusting the dependencies' exported macros the
/// summaries prove expression-only (names no local macro or other dependency contradicts).
///
/// A greatest fixpoint: every local macro starts trusted and loses trust when one of its
/// definitions emits `impl`/`macro_rules` or calls a macro that is not trusted, until nothing
/// changes. What is left can only ever expand to its own transcribers' tokens, the call's
/// arguments (checked at the call, [`body_keep_reason`]) and calls of trusted macros, so
/// recursive macros (tt munchers such as itertools' `izip!`) are proven too, which a least
/// fixpoint never does.
pub fn expression_only_macros(
    macros: &[(String, proc_macro2::TokenStream)],
    ext: &super::macros::External,
) -> BTreeSet<String> {
    let mut safe: BTreeSet<String> = super::macros::seed(&ext.expression_only, macros);
    safe.extend(
        macros
            .iter()
            .map(|(name, _)| name)
            .filter(|name| super::macros::allowed(name, &ext.defined, &ext.expression_only))
            .cloned(),
    );
    // Defined but not trusted: neither a well-known macro of the same name.
    for name in ext.defined.iter().chain(macros.iter().map(|(n, _)| n)) {
        if !safe.contains(name) {
            safe.insert(untrusted(name));
        }
    }
    // A macro name defined twice (cfg alternatives) must be safe in every definition.
    let mut changed = true;
    while changed {
        changed = false;
        for (name, body) in macros {
            if safe.contains(name)
                && !super::macros::transcribers_all(body, |t| transcriber_is_expression_only(t, &safe))
            {
                safe.remove(name);
                safe.insert(untrusted(name));
                changed = true;
            }
        }
    }
    safe
}

/// Scan a macro_rules body: reject `impl`, `macro_rules`, and calls of unknown macros.
fn transcriber_is_expression_only(tokens: &proc_macro2::TokenStream, safe: &BTreeSet<String>) -> bool {
    tokens_are_expression_only(tokens, safe, false)
}

/// Scan the arguments of a call of a trusted macro, which may pass them through: reject what
/// could be an item there (`impl` followed by more tokens, `macro_rules!`) and calls of
/// unknown macros. A lone keyword is a token the macro matches (`T![impl]`), not an item.
pub(crate) fn arguments_are_expression_only(tokens: &proc_macro2::TokenStream, safe: &BTreeSet<String>) -> bool {
    tokens_are_expression_only(tokens, safe, true)
}

fn tokens_are_expression_only(tokens: &proc_macro2::TokenStream, safe: &BTreeSet<String>, arguments: bool) -> bool {
    use proc_macro2::TokenTree;
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    for (i, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Ident(ident) => {
                let word = ident.to_string();
                let item_keyword = match word.as_str() {
                    "impl" => !arguments || trees.get(i + 1).is_some(),
                    "macro_rules" => {
                        !arguments || matches!(trees.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == '!')
                    }
                    _ => false,
                };
                if item_keyword {
                    return false;
                }
                let is_call = matches!(trees.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == '!')
                    && matches!(trees.get(i + 2), Some(TokenTree::Group(_)));
                if is_call && !is_expression_only_name(None, &word, safe) {
                    return false;
                }
            }
            TokenTree::Group(group) if !tokens_are_expression_only(&group.stream(), safe, arguments) => {
                return false;
            }
            _ => {}
        }
    }
    true
}
