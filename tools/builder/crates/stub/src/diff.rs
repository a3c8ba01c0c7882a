//! Why two stubs of a crate differ: the ABI items that changed, each with a cause.
//!
//! Both stubs are parsed and their items paired by where they live (module, impl or trait),
//! kind and name. Items are compared as token streams, so a difference in position alone is
//! told apart from a difference in text. The causes are those of `bench/README.md`'s
//! classification table: a new or removed item, a changed signature, a kept body (with the
//! keep rule that kept it), a type definition (layout), a doc comment, a crate-private const
//! or static, a macro definition, `use` lists, or a span shift (kept code moved to another
//! line or column).

use std::collections::BTreeMap;
use std::fmt;

use quote::ToTokens;
use syn::spanned::Spanned;

use super::docs::is_doc_comment;
use super::item_free;
use super::keep::{self, KeepReason};

/// The cause of one difference between two stubs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    /// An item exists only in the new stub.
    Added,
    /// An item exists only in the old stub.
    Removed,
    /// A function's signature (or an item's header) changed.
    Signature,
    /// A kept function body changed; why the body is kept.
    KeptBody(KeepReason),
    /// A struct, enum, union or type alias changed: fields, variants, layout.
    TypeDefinition,
    /// Only doc comments (`#[doc = ..]`) differ.
    Doc,
    /// A const or static that is not `pub` changed (named by kept code).
    PrivateValue,
    /// A `pub` const or static changed.
    PublicValue,
    /// A `macro_rules!` definition changed.
    Macro,
    /// `use` declarations changed.
    Use,
    /// Crate- or module-level attributes changed.
    Attributes,
    /// Same text, other position: kept code moved to another line or column.
    SpanShift,
    /// Any other item kind changed.
    Other,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Added => write!(f, "new item"),
            Cause::Removed => write!(f, "removed item"),
            Cause::Signature => write!(f, "signature"),
            Cause::KeptBody(reason) => write!(f, "kept body ({})", reason.label()),
            Cause::TypeDefinition => write!(f, "type definition"),
            Cause::Doc => write!(f, "doc comment"),
            Cause::PrivateValue => write!(f, "private const/static"),
            Cause::PublicValue => write!(f, "public const/static"),
            Cause::Macro => write!(f, "macro definition"),
            Cause::Use => write!(f, "use declarations"),
            Cause::Attributes => write!(f, "attributes"),
            Cause::SpanShift => write!(f, "span shift"),
            Cause::Other => write!(f, "other item"),
        }
    }
}

/// One changed ABI item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The file, as the stubs name it.
    pub file: String,
    /// Line of the item in the new stub (the old one when removed), 1-based.
    pub line: usize,
    /// A readable path of the item (`impl Foo::bar`, `mod a::CONST`).
    pub item: String,
    pub cause: Cause,
    /// For a body kept because it calls macros not known to be item-free: those macros.
    pub macros: Vec<String>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}: {}", self.file, self.line, self.item, self.cause)?;
        if !self.macros.is_empty() {
            write!(f, " ({})", self.macros.join(", "))?;
        }
        Ok(())
    }
}

/// Lines of `changes` as in the real sources (file path -> source text) rather than in the
/// stub: the same item, found by its key in the parsed source file.
pub fn locate_in_sources(changes: &mut [Change], sources: &BTreeMap<String, String>) {
    let mut parsed: BTreeMap<&str, BTreeMap<String, Entry>> = BTreeMap::new();
    for change in changes.iter_mut() {
        let Some(text) = sources.get(&change.file) else { continue };
        let items = parsed
            .entry(change.file.as_str())
            .or_insert_with(|| syn::parse_file(text).map(|f| entries(&f)).unwrap_or_default());
        if let Some(e) = items.get(&change.item) {
            change.line = e.line;
        }
    }
}

/// The differences between two stubs of the same crate (file path -> stub text).
pub fn diff(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Vec<Change> {
    let mut changes = Vec::new();
    let files: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for file in files {
        match (old.get(file), new.get(file)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => changes.extend(diff_file(file, a, b)),
            (None, Some(_)) => changes.push(Change {
                file: file.clone(),
                line: 1,
                item: "module file".into(),
                cause: Cause::Added,
                macros: Vec::new(),
            }),
            (Some(_), None) => changes.push(Change {
                file: file.clone(),
                line: 1,
                item: "module file".into(),
                cause: Cause::Removed,
                macros: Vec::new(),
            }),
            (None, None) => {}
        }
    }
    changes
}

/// An item of a stub, flattened out of modules, impls and traits.
struct Entry {
    line: usize,
    column: usize,
    kind: &'static str,
    public: bool,
    tokens: String,
    /// Tokens with doc attributes removed.
    without_docs: String,
    /// Header tokens (signature, or the whole item for items without a body).
    header: String,
    /// Why a kept function body is kept (from the keep rules).
    keep: Option<KeepReason>,
    /// Macros of a function body not known to be item-free.
    macros: Vec<String>,
}

fn diff_file(file: &str, old: &str, new: &str) -> Vec<Change> {
    let (Ok(a), Ok(b)) = (syn::parse_file(old), syn::parse_file(new)) else {
        return vec![Change {
            file: file.into(),
            line: 1,
            item: "file".into(),
            cause: Cause::Other,
            macros: Vec::new(),
        }];
    };
    let (old_items, new_items) = (entries(&a), entries(&b));
    let mut changes = Vec::new();
    let change = |line, item: &str, cause| Change {
        file: file.to_string(),
        line,
        item: item.to_string(),
        cause,
        macros: Vec::new(),
    };
    if strip_docs(&a.attrs) != strip_docs(&b.attrs) {
        changes.push(change(1, "crate attributes", Cause::Attributes));
    } else if attrs_tokens(&a.attrs) != attrs_tokens(&b.attrs) {
        changes.push(change(1, "crate attributes", Cause::Doc));
    }
    for (key, n) in &new_items {
        match old_items.get(key) {
            None => changes.push(change(n.line, key, Cause::Added)),
            Some(o) if o.tokens == n.tokens => {
                if (o.line, o.column) != (n.line, n.column) {
                    changes.push(change(n.line, key, Cause::SpanShift));
                }
            }
            Some(o) => {
                let cause = classify(o, n);
                let mut c = change(n.line, key, cause.clone());
                if cause == Cause::KeptBody(KeepReason::UnknownMacro) {
                    c.macros = n.macros.clone();
                }
                changes.push(c)
            }
        }
    }
    for (key, o) in &old_items {
        if !new_items.contains_key(key) {
            changes.push(change(o.line, key, Cause::Removed));
        }
    }
    // A moved item moves everything after it: report the first shift of the file only.
    let mut shifted = false;
    changes.retain(|c| c.cause != Cause::SpanShift || !std::mem::replace(&mut shifted, true));
    if changes.is_empty() {
        // Same items at the same places: comments or whitespace outside bodies differ.
        changes.push(change(1, "comments or whitespace", Cause::SpanShift));
    }
    changes.sort_by(|x, y| (x.line, &x.item).cmp(&(y.line, &y.item)));
    changes
}

fn classify(old: &Entry, new: &Entry) -> Cause {
    if old.without_docs == new.without_docs {
        return Cause::Doc;
    }
    match new.kind {
        "fn" if old.header != new.header => Cause::Signature,
        "fn" => Cause::KeptBody(new.keep.unwrap_or(KeepReason::UnknownMacro)),
        "struct" | "enum" | "union" | "type" => Cause::TypeDefinition,
        "const" | "static" if new.public => Cause::PublicValue,
        "const" | "static" => Cause::PrivateValue,
        "macro_rules" => Cause::Macro,
        "use" => Cause::Use,
        "impl" | "trait" | "mod" => Cause::Signature,
        _ => Cause::Other,
    }
}

fn tokens_of<T: ToTokens>(t: T) -> String {
    t.to_token_stream().to_string()
}

fn attrs_tokens(attrs: &[syn::Attribute]) -> String {
    attrs.iter().map(tokens_of).collect::<Vec<_>>().join(" ")
}

fn strip_docs(attrs: &[syn::Attribute]) -> String {
    attrs.iter().filter(|a| !is_doc_comment(a)).map(tokens_of).collect::<Vec<_>>().join(" ")
}

/// Every item keyed by a readable path; duplicates get `#2`, `#3` suffixes in order.
fn entries(file: &syn::File) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    collect_items(&file.items, "", &mut out);
    out
}

fn insert(out: &mut BTreeMap<String, Entry>, key: String, entry: Entry) {
    out.insert(unique_key(out, key), entry);
}

/// `key`, or `key#2`, `key#3`... when items of the same kind and name are already recorded.
pub(crate) fn unique_key<V>(recorded: &BTreeMap<String, V>, key: String) -> String {
    let mut unique = key.clone();
    let mut n = 2;
    while recorded.contains_key(&unique) {
        unique = format!("{key}#{n}");
        n += 1;
    }
    unique
}

fn entry<T: ToTokens + Spanned + ?Sized>(
    item: &T,
    kind: &'static str,
    public: bool,
    attrs: &[syn::Attribute],
    header: String,
    keep: Option<KeepReason>,
) -> Entry {
    let start = item.span().start();
    let tokens = tokens_of(item);
    let docs = attrs_tokens(attrs);
    let without = strip_docs(attrs);
    let without_docs = tokens.replacen(&docs, &without, 1);
    Entry {
        line: start.line,
        column: start.column,
        kind,
        public,
        tokens,
        without_docs,
        header,
        keep,
        macros: Vec::new(),
    }
}

fn is_pub(vis: &syn::Visibility) -> bool {
    matches!(vis, syn::Visibility::Public(_))
}

fn fn_keep(attrs: &[syn::Attribute], sig: &syn::Signature, block: &syn::Block) -> Option<KeepReason> {
    keep::signature_keep_reason(attrs, sig).or_else(|| keep::body_keep_reason(block, &Default::default()))
}

fn collect_items(items: &[syn::Item], prefix: &str, out: &mut BTreeMap<String, Entry>) {
    for item in items {
        let name = |ident: &syn::Ident| format!("{prefix}{ident}");
        // An item recorded by kind and name, with no keep reason of its own.
        let mut plain = |kind: &'static str,
                         label: String,
                         node: &dyn ToTokens,
                         vis: &syn::Visibility,
                         attrs: &[syn::Attribute]| {
            insert(out, format!("{kind} {label}"), entry(node, kind, is_pub(vis), attrs, String::new(), None))
        };
        match item {
            syn::Item::Fn(f) => {
                let mut e =
                    entry(f, "fn", is_pub(&f.vis), &f.attrs, tokens_of(&f.sig), fn_keep(&f.attrs, &f.sig, &f.block));
                e.macros = item_free::unknown_macros(&f.block, &Default::default());
                insert(out, format!("fn {}", name(&f.sig.ident)), e);
            }
            syn::Item::Const(c) => plain("const", name(&c.ident), c, &c.vis, &c.attrs),
            syn::Item::Static(s) => plain("static", name(&s.ident), s, &s.vis, &s.attrs),
            syn::Item::Struct(s) => plain("struct", name(&s.ident), s, &s.vis, &s.attrs),
            syn::Item::Enum(e) => plain("enum", name(&e.ident), e, &e.vis, &e.attrs),
            syn::Item::Union(u) => plain("union", name(&u.ident), u, &u.vis, &u.attrs),
            syn::Item::Type(t) => plain("type", name(&t.ident), t, &t.vis, &t.attrs),
            syn::Item::Use(u) => {
                let scope = if prefix.is_empty() { "crate root" } else { prefix };
                plain("use", format!("in {scope}"), u, &u.vis, &u.attrs)
            }
            syn::Item::Macro(m) => {
                let kind = if m.mac.path.is_ident("macro_rules") { "macro_rules" } else { "macro" };
                let label = m
                    .ident
                    .as_ref()
                    .map(name)
                    .unwrap_or_else(|| format!("{prefix}{}!", tokens_of(&m.mac.path).replace(' ', "")));
                insert(out, format!("{kind} {label}"), entry(m, kind, false, &m.attrs, String::new(), None));
            }
            syn::Item::Mod(m) => collect_mod(m, &name(&m.ident), out),
            syn::Item::Impl(imp) => collect_impl(imp, prefix, out),
            syn::Item::Trait(t) => collect_trait(t, prefix, out),
            other => insert(
                out,
                format!("item {}{}", prefix, tokens_of(other).chars().take(40).collect::<String>()),
                entry(other, "other", false, &[], String::new(), None),
            ),
        }
    }
}

/// A module: an inline one is recorded by its header and its items under `name::`.
fn collect_mod(m: &syn::ItemMod, name: &str, out: &mut BTreeMap<String, Entry>) {
    match &m.content {
        Some((_, inner)) => {
            let header = attrs_tokens(&m.attrs) + &tokens_of(&m.vis) + &m.ident.to_string();
            insert(
                out,
                format!("mod {name}"),
                Entry {
                    tokens: header.clone(),
                    without_docs: strip_docs(&m.attrs) + &m.ident.to_string(),
                    header,
                    ..entry(&m.ident, "mod", is_pub(&m.vis), &[], String::new(), None)
                },
            );
            collect_items(inner, &format!("{name}::"), out);
        }
        None => insert(out, format!("mod {name}"), entry(m, "mod", is_pub(&m.vis), &m.attrs, String::new(), None)),
    }
}

fn collect_impl(imp: &syn::ItemImpl, prefix: &str, out: &mut BTreeMap<String, Entry>) {
    let compact = |t: String| t.replace(' ', "");
    let trait_part = imp
        .trait_
        .as_ref()
        .map(|(bang, path, _)| format!("{}{} for ", if bang.is_some() { "!" } else { "" }, compact(tokens_of(path))))
        .unwrap_or_default();
    let header = format!(
        "{}impl{} {}{}",
        prefix,
        compact(tokens_of(&imp.generics)),
        trait_part,
        compact(tokens_of(&imp.self_ty))
    );
    let generic_impl = keep::has_type_or_const_params(&imp.generics);
    let header_tokens = attrs_tokens(&imp.attrs)
        + &tokens_of(&imp.generics)
        + &trait_part
        + &tokens_of(&imp.self_ty)
        + &tokens_of(&imp.generics.where_clause);
    insert(
        out,
        header.clone(),
        Entry {
            tokens: header_tokens.clone(),
            without_docs: header_tokens.clone(),
            header: header_tokens,
            ..entry(&imp.self_ty, "impl", false, &[], String::new(), None)
        },
    );
    for item in &imp.items {
        let key = |kind: &str, ident: &syn::Ident| format!("{header}::{kind} {ident}");
        match item {
            syn::ImplItem::Fn(f) => {
                let reason =
                    if generic_impl { Some(KeepReason::GenericImpl) } else { fn_keep(&f.attrs, &f.sig, &f.block) };
                let mut e = entry(f, "fn", is_pub(&f.vis), &f.attrs, tokens_of(&f.sig), reason);
                e.macros = item_free::unknown_macros(&f.block, &Default::default());
                insert(out, key("fn", &f.sig.ident), e);
            }
            syn::ImplItem::Const(c) => insert(
                out,
                key("const", &c.ident),
                entry(c, "const", is_pub(&c.vis) || imp.trait_.is_some(), &c.attrs, String::new(), None),
            ),
            syn::ImplItem::Type(t) => {
                insert(out, key("type", &t.ident), entry(t, "type", true, &t.attrs, String::new(), None))
            }
            other => insert(
                out,
                format!("{header}::{}", tokens_of(other).chars().take(40).collect::<String>()),
                entry(other, "other", false, &[], String::new(), None),
            ),
        }
    }
}

fn collect_trait(t: &syn::ItemTrait, prefix: &str, out: &mut BTreeMap<String, Entry>) {
    let header = format!("trait {prefix}{}", t.ident);
    let header_tokens =
        attrs_tokens(&t.attrs) + &tokens_of(&t.vis) + &tokens_of(&t.generics) + &tokens_of(&t.supertraits);
    let without = strip_docs(&t.attrs) + &tokens_of(&t.vis) + &tokens_of(&t.generics) + &tokens_of(&t.supertraits);
    insert(
        out,
        header.clone(),
        Entry {
            tokens: header_tokens.clone(),
            without_docs: without,
            header: header_tokens,
            ..entry(&t.ident, "trait", is_pub(&t.vis), &[], String::new(), None)
        },
    );
    for item in &t.items {
        match item {
            syn::TraitItem::Fn(f) => insert(
                out,
                format!("{header}::fn {}", f.sig.ident),
                entry(f, "fn", true, &f.attrs, tokens_of(&f.sig), Some(KeepReason::TraitDefault)),
            ),
            syn::TraitItem::Const(c) => insert(
                out,
                format!("{header}::const {}", c.ident),
                entry(c, "const", true, &c.attrs, String::new(), None),
            ),
            syn::TraitItem::Type(ty) => insert(
                out,
                format!("{header}::type {}", ty.ident),
                entry(ty, "type", true, &ty.attrs, String::new(), None),
            ),
            other => insert(
                out,
                format!("{header}::{}", tokens_of(other).chars().take(40).collect::<String>()),
                entry(other, "other", true, &[], String::new(), None),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn causes(old: &str, new: &str) -> Vec<String> {
        let map = |s: &str| BTreeMap::from([("lib.rs".to_string(), s.to_string())]);
        diff(&map(old), &map(new)).iter().map(|c| format!("{}: {}", c.item, c.cause)).collect()
    }

    #[test]
    fn each_cause_is_told_apart() {
        assert_eq!(causes("pub fn a() {}\n", "pub fn a() {}\npub fn b() {}\n"), ["fn b: new item"]);
        assert_eq!(causes("pub fn a() {}\npub fn b() {}\n", "pub fn a() {}\n"), ["fn b: removed item"]);
        assert_eq!(causes("pub fn a(x: u8) {}\n", "pub fn a(x: u16) {}\n"), ["fn a: signature"]);
        assert_eq!(
            causes("pub fn g<T>(t: T) -> T { t }\n", "pub fn g<T>(t: T) -> T { let u = t; u }\n"),
            ["fn g: kept body (generic)"]
        );
        assert_eq!(
            causes("#[inline]\npub fn i() -> u8 { 1 }\n", "#[inline]\npub fn i() -> u8 { 2 }\n"),
            ["fn i: kept body (inline)"]
        );
        assert_eq!(causes("pub struct S { a: u8 }\n", "pub struct S { a: u16 }\n"), ["struct S: type definition"]);
        assert_eq!(causes("/// one\npub fn a() {}\n", "/// two\npub fn a() {}\n"), ["fn a: doc comment"]);
        assert_eq!(causes("const K: u8 = 1;\n", "const K: u8 = 2;\n"), ["const K: private const/static"]);
        assert_eq!(causes("pub const K: u8 = 1;\n", "pub const K: u8 = 2;\n"), ["const K: public const/static"]);
        assert_eq!(causes("pub fn g<T>(t: T) -> T { t }\n", "\npub fn g<T>(t: T) -> T { t }\n"), ["fn g: span shift"]);
        assert_eq!(
            causes(
                "pub struct S;\nimpl<X> From<X> for S { fn from(_: X) -> S { S } }\n",
                "pub struct S;\nimpl<X> From<X> for S { fn from(_: X) -> S { let s = S; s } }\n"
            ),
            ["impl<X> From<X> for S::fn from: kept body (generic impl)"]
        );
        assert!(causes("pub fn a() {}\n", "pub fn a() {}\n").is_empty());
    }

    #[test]
    fn a_body_kept_for_macros_names_them() {
        let map = |s: &str| BTreeMap::from([("lib.rs".to_string(), s.to_string())]);
        let old = "pub fn f() { stdx::never!(); println!(\"a\"); }\n";
        let new = "pub fn f() { stdx::never!(); my_impls!(); println!(\"b\"); }\n";
        let changes = diff(&map(old), &map(new));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].cause, Cause::KeptBody(KeepReason::UnknownMacro));
        assert_eq!(changes[0].macros, ["my_impls!", "stdx::never!"], "println! is known");
        assert_eq!(
            changes[0].to_string(),
            "lib.rs:1: fn f: kept body (calls an unknown macro) (my_impls!, stdx::never!)"
        );
    }
}
