//! Other crates' `macro_rules!`: what they are known to expand to.
//!
//! A body that calls a macro the stub cannot prove item-free must be kept (the expansion could
//! define an `impl`, which is global). Crate-local macros are analysed from their transcribers;
//! a dependency's exported macros are analysed the same way when the dependency is stubbed (or
//! summarized), and the result travels as a small JSON file: for each `#[macro_export]` macro,
//! whether it expands to expressions and statements only, whether it is position-free, and
//! whether it is position-free in a const context. A name is trusted for a property only if
//! every definition of that name, local or in any direct dependency, has it: calls are matched
//! by name, so an ambiguous name is judged by its worst definition.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// What an exported macro is known to do.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExportedMacro {
    /// Expands to expressions and statements only (no `impl`, no exported macro).
    pub expression_only: bool,
    /// Puts no source position into any value.
    pub position_free: bool,
    /// Position-free in a const context too (no calls that could reach `Location::caller`).
    pub const_free: bool,
}

/// A crate's exported macros by name (the file a `RustStub`/`RustMacros` action writes).
pub type Summary = BTreeMap<String, ExportedMacro>;

/// Direct dependencies' summaries, merged by name.
#[derive(Debug, Default, Clone)]
pub struct External {
    pub expression_only: BTreeSet<String>,
    pub position_free: BTreeSet<String>,
    pub const_free: BTreeSet<String>,
    /// Every name some dependency exports.
    pub defined: BTreeSet<String>,
}

impl External {
    /// Read and merge summary files.
    pub fn load(files: &[impl AsRef<Path>]) -> Result<External> {
        let summaries: Vec<Summary> = files
            .iter()
            .map(|f| {
                let f = f.as_ref();
                let text = fs_err::read(f).with_context(|| format!("cannot read the macro summary {}", f.display()))?;
                serde_json::from_slice(&text).with_context(|| format!("{}: not a macro summary", f.display()))
            })
            .collect::<Result<_>>()?;
        Ok(External::merge(&summaries))
    }

    /// A name is trusted for a property only if every summary defining it says so.
    pub fn merge(summaries: &[Summary]) -> External {
        let mut ext = External::default();
        let mut bad = [BTreeSet::new(), BTreeSet::new(), BTreeSet::new()];
        for summary in summaries {
            for (name, m) in summary {
                ext.defined.insert(name.clone());
                for (i, ok) in [m.expression_only, m.position_free, m.const_free].into_iter().enumerate() {
                    if !ok {
                        bad[i].insert(name.clone());
                    }
                }
            }
        }
        for name in &ext.defined {
            for (i, set) in
                [&mut ext.expression_only, &mut ext.position_free, &mut ext.const_free].into_iter().enumerate()
            {
                if !bad[i].contains(name) {
                    set.insert(name.clone());
                }
            }
        }
        ext
    }
}

impl External {
    /// These summaries plus the names under which the crate renames a dependency's macro
    /// (`use dep::error as alias`): an alias has its original's properties, unless some
    /// dependency exports a macro of the alias's own name (then the usual merge decides).
    pub fn with_aliases(&self, renames: &[(String, String)]) -> External {
        let mut ext = self.clone();
        for (alias, original) in renames {
            if alias == original || !self.defined.contains(original) || self.defined.contains(alias) {
                continue;
            }
            ext.defined.insert(alias.clone());
            for (from, to) in [
                (&self.expression_only, &mut ext.expression_only),
                (&self.position_free, &mut ext.position_free),
                (&self.const_free, &mut ext.const_free),
            ] {
                if from.contains(original) {
                    to.insert(alias.clone());
                }
            }
        }
        ext
    }
}

/// Whether every transcriber of a `macro_rules!` body satisfies `check`. Only transcribers
/// produce tokens (a matcher contributes nothing but the fragments it binds, which come from
/// the call): `[impl] => { $crate::SyntaxKind::IMPL_KW }` expands to a path. A body that is
/// not a list of `(matcher) => {transcriber}` rules is checked whole.
pub fn transcribers_all(body: &proc_macro2::TokenStream, check: impl Fn(&proc_macro2::TokenStream) -> bool) -> bool {
    match transcribers(body) {
        Some(parts) => parts.iter().all(check),
        None => check(body),
    }
}

fn transcribers(body: &proc_macro2::TokenStream) -> Option<Vec<proc_macro2::TokenStream>> {
    use proc_macro2::TokenTree;
    let trees: Vec<TokenTree> = body.clone().into_iter().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < trees.len() {
        let punct = |t: Option<&TokenTree>, c: char| matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == c);
        match (trees.get(i), trees.get(i + 3)) {
            (Some(TokenTree::Group(_)), Some(TokenTree::Group(transcriber)))
                if punct(trees.get(i + 1), '=') && punct(trees.get(i + 2), '>') =>
            {
                out.push(transcriber.stream());
            }
            _ => return None,
        }
        i += 4;
        if punct(trees.get(i), ';') {
            i += 1;
        }
    }
    Some(out)
}

/// Seed of a fixpoint over local macros: the trusted external names no local macro redefines.
pub fn seed(trusted: &BTreeSet<String>, local: &[(String, proc_macro2::TokenStream)]) -> BTreeSet<String> {
    trusted.iter().filter(|n| !local.iter().any(|(l, _)| l == *n)).cloned().collect()
}

/// Whether a local macro `name` may join a trusted set: not contradicted by a dependency.
pub fn allowed(name: &str, ext_defined: &BTreeSet<String>, ext_trusted: &BTreeSet<String>) -> bool {
    !ext_defined.contains(name) || ext_trusted.contains(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_trusted_only_if_every_definition_is() {
        let good = ExportedMacro { expression_only: true, position_free: true, const_free: false };
        let bad = ExportedMacro::default();
        let a: Summary = BTreeMap::from([("format_to".to_string(), good), ("never".to_string(), good)]);
        let b: Summary = BTreeMap::from([("never".to_string(), bad)]);
        let ext = External::merge(&[a, b]);
        assert!(ext.expression_only.contains("format_to") && ext.position_free.contains("format_to"));
        assert!(!ext.const_free.contains("format_to"));
        assert!(!ext.expression_only.contains("never"), "another dependency's `never!` defines items");
        assert!(ext.defined.contains("never"));
    }

    #[test]
    fn only_transcribers_are_checked() {
        let body: proc_macro2::TokenStream =
            "[impl] => { $crate::SyntaxKind::IMPL_KW }; [fn] => { $crate::SyntaxKind::FN_KW }".parse().unwrap();
        let no_impl = |t: &proc_macro2::TokenStream| !t.to_string().contains("impl");
        assert!(transcribers_all(&body, no_impl));
        let emits: proc_macro2::TokenStream = "() => { impl X for Y {} }".parse().unwrap();
        assert!(!transcribers_all(&emits, no_impl));
        // Not a rule list: checked whole.
        let odd: proc_macro2::TokenStream = "impl => x".parse().unwrap();
        assert!(!transcribers_all(&odd, no_impl));
    }

    #[test]
    fn a_renamed_dependency_macro_keeps_its_properties() {
        let good = ExportedMacro { expression_only: true, position_free: true, const_free: false };
        let ext = External::merge(&[BTreeMap::from([("error".to_string(), good)])]);
        let renames =
            [("__tracing_error".to_string(), "error".to_string()), ("Other".to_string(), "Thing".to_string())];
        let with = ext.with_aliases(&renames);
        assert!(with.expression_only.contains("__tracing_error") && with.position_free.contains("__tracing_error"));
        assert!(!with.const_free.contains("__tracing_error"));
        assert!(!with.defined.contains("Other"), "a rename of something no dependency exports as a macro");
    }
}
