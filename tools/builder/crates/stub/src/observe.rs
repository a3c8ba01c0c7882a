//! What a dependent can observe of a crate's stub, item by item: the data of the finer
//! dependent key of issue 24 (`docs/interfaces.md` §8, §9).
//!
//! Every item of a stub (flattened out of modules, impls and traits) is recorded with
//! * a fingerprint of its tokens, and of their positions where a dependent can observe them
//!   (kept bodies, constants, type definitions, macros: panic locations, `line!()`,
//!   debuginfo); a stubbed function body is never compiled into a dependent, so its position
//!   is not part of the fingerprint;
//! * the names through which a dependent reaches it (its own name; a type's field and variant
//!   names; an impl's self type), or none when every dependent may reach it without naming it
//!   (blanket impls, item macros of other crates, extern blocks);
//! * whether a change to it must recompile every dependent whatever they name (trait impl
//!   headers: coherence and method resolution; macro definitions and item macros: the items
//!   they generate are not in the text; glob imports; crate attributes);
//! * the identifiers its text mentions (also `{name}` captures in string literals), which a
//!   dependent that reaches the item reaches in turn;
//! * whether another crate can name it (`pub`, or a member of a trait or trait impl): a
//!   private item is reached only through the text of reached items of its own crate.
//!
//! A dependent's observed set is then the closure of the identifiers of its own sources over
//! the items of its dependencies; it must recompile when a changed item is reachable by a name
//! of that set, or when a global change happened. Computed by `bench/finer_key.py` (issue 24:
//! measured before building it into the action key). Measured on rust-analyzer, the closure
//! saturates (unqualified method names join every crate's items) and the key skips nothing the
//! whole-interface key recompiles, so it is a measurement tool, not a key
//! (`docs/interfaces.md` §9).

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use serde::Serialize;

use crate::keep;

/// One item of a stub, as the finer key sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Observed {
    /// File and readable path of the item (`src/lib.rs: impl Foo::fn bar`); unique per stub.
    pub key: String,
    /// Hash of the item's tokens, with their positions where observable (hex).
    pub fingerprint: String,
    /// Names that reach the item; `None`: every dependent may reach it.
    pub names: Option<BTreeSet<String>>,
    /// Why a change to this item recompiles every dependent, if it does.
    pub global: Option<&'static str>,
    /// Whether another crate can name it (`pub`, or a member of a trait or trait impl): a
    /// dependent's own identifiers reach only such items; any item is reached through the
    /// text of items already reached (kept bodies, field types, constant values).
    pub public: bool,
    /// Identifiers the item's text mentions.
    pub idents: BTreeSet<String>,
}

/// The observable items of a stub (file path -> stub text). A file that does not parse is
/// one item reached by every dependent and global on change.
pub fn index(files: &BTreeMap<String, String>) -> Vec<Observed> {
    let mut out = Vec::new();
    for (file, text) in files {
        let mut items = Items { file, out: BTreeMap::new() };
        match syn::parse_file(text) {
            Ok(parsed) => {
                items.push(
                    "crate attributes".into(),
                    &attrs_stream(&parsed.attrs),
                    Reach::every("crate attributes"),
                    true,
                );
                items.collect(&parsed.items, "");
            }
            Err(_) => {
                let tokens: TokenStream = text.parse().unwrap_or_default();
                items.push("unparsable file".into(), &tokens, Reach::every("file does not parse"), true);
            }
        }
        out.extend(items.out.into_values());
    }
    out
}

/// Identifiers of a source file (a dependent's own sources): every identifier token and every
/// `{name}` captured by a string literal. A file that does not lex gives its words instead.
pub fn source_idents(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    match text.parse::<TokenStream>() {
        Ok(tokens) => idents_into(&tokens, &mut out),
        Err(_) => out.extend(
            text.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).map(str::to_string),
        ),
    }
    out
}

/// How dependents reach an item and whether a change to it reaches all of them.
struct Reach {
    names: Option<BTreeSet<String>>,
    global: Option<&'static str>,
    public: bool,
}

impl Reach {
    fn named(names: impl IntoIterator<Item = String>) -> Self {
        Reach { names: Some(names.into_iter().collect()), global: None, public: true }
    }
    /// Reached by every dependent; a change recompiles all of them.
    fn every(why: &'static str) -> Self {
        Reach { names: None, global: Some(why), public: true }
    }
    /// Public only when declared `pub` (not `pub(crate)`, `pub(super)` or private).
    fn visible(mut self, vis: &syn::Visibility) -> Self {
        self.public = matches!(vis, syn::Visibility::Public(_));
        self
    }
    fn global_on_change(mut self, why: &'static str) -> Self {
        self.global = Some(why);
        self
    }
}

struct Items<'a> {
    file: &'a str,
    out: BTreeMap<String, Observed>,
}

impl Items<'_> {
    /// Record an item; `positional`: its token positions are observable by dependents.
    fn push(&mut self, label: String, tokens: &TokenStream, reach: Reach, positional: bool) {
        let key = crate::diff::unique_key(&self.out, format!("{}: {label}", self.file));
        let mut idents = BTreeSet::new();
        idents_into(tokens, &mut idents);
        let observed = Observed {
            key: key.clone(),
            fingerprint: fingerprint(tokens, positional),
            names: reach.names,
            global: reach.global,
            public: reach.public,
            idents,
        };
        self.out.insert(key, observed);
    }

    fn collect(&mut self, items: &[syn::Item], prefix: &str) {
        for item in items {
            let tokens = item.to_token_stream();
            let label = |kind: &str, ident: &syn::Ident| format!("{kind} {prefix}{ident}");
            let attrs = crate::item_attrs(item);
            if let Some(mac) = keep::attribute_macro(attrs) {
                // What an attribute macro makes of the item is not in the text.
                let text: String = tokens.to_string().chars().take(60).collect();
                self.push(format!("#[{mac}] {prefix}{text}"), &tokens, Reach::every("attribute macro"), true);
                continue;
            }
            if let syn::Item::Struct(syn::ItemStruct { ident, generics, .. })
            | syn::Item::Enum(syn::ItemEnum { ident, generics, .. })
            | syn::Item::Union(syn::ItemUnion { ident, generics, .. }) = item
            {
                self.push_derives(&label("derive", ident), attrs, generics, ident);
            }
            match item {
                syn::Item::Fn(f) => {
                    let kept = !is_stubbed(&f.block);
                    self.push(
                        label("fn", &f.sig.ident),
                        &tokens,
                        Reach::named([f.sig.ident.to_string()]).visible(&f.vis),
                        kept,
                    )
                }
                syn::Item::Const(c) => self.push(
                    label("const", &c.ident),
                    &tokens,
                    Reach::named([c.ident.to_string()]).visible(&c.vis),
                    true,
                ),
                syn::Item::Static(s) => self.push(
                    label("static", &s.ident),
                    &tokens,
                    Reach::named([s.ident.to_string()]).visible(&s.vis),
                    true,
                ),
                syn::Item::Struct(s) => {
                    let names = std::iter::once(s.ident.to_string()).chain(field_names(&s.fields));
                    self.push(label("struct", &s.ident), &tokens, Reach::named(names).visible(&s.vis), true)
                }
                syn::Item::Union(u) => {
                    let names = std::iter::once(u.ident.to_string())
                        .chain(u.fields.named.iter().filter_map(|f| f.ident.as_ref().map(ToString::to_string)));
                    self.push(label("union", &u.ident), &tokens, Reach::named(names).visible(&u.vis), true)
                }
                syn::Item::Enum(e) => {
                    let names = std::iter::once(e.ident.to_string()).chain(
                        e.variants
                            .iter()
                            .flat_map(|v| std::iter::once(v.ident.to_string()).chain(field_names(&v.fields))),
                    );
                    self.push(label("enum", &e.ident), &tokens, Reach::named(names).visible(&e.vis), true)
                }
                syn::Item::Type(t) => self.push(
                    label("type", &t.ident),
                    &tokens,
                    Reach::named([t.ident.to_string()]).visible(&t.vis),
                    true,
                ),
                syn::Item::Use(u) => self.collect_use(u, &tokens, prefix),
                syn::Item::Macro(m) => self.collect_macro(m, &tokens, prefix),
                syn::Item::Mod(m) => self.collect_mod(m, prefix),
                syn::Item::Impl(imp) => self.collect_impl(imp, prefix),
                syn::Item::Trait(t) => self.collect_trait(t, prefix),
                other => {
                    let text: String = other.to_token_stream().to_string().chars().take(40).collect();
                    self.push(format!("item {prefix}{text}"), &tokens, Reach::every("extern block or other item"), true)
                }
            }
        }
    }

    fn collect_mod(&mut self, m: &syn::ItemMod, prefix: &str) {
        let name = format!("{prefix}{}::", m.ident);
        let header = attrs_stream(&m.attrs);
        let reach = Reach::named([m.ident.to_string()]).visible(&m.vis);
        self.push(format!("mod {prefix}{}", m.ident), &header, reach, false);
        if let Some((_, inner)) = &m.content {
            self.collect(inner, &name);
        }
    }

    fn collect_use(&mut self, u: &syn::ItemUse, tokens: &TokenStream, prefix: &str) {
        // Reached through the names it binds (`use a::b::{C, D as E}`: `C`, `E`), not the
        // path it takes to them.
        let mut names = BTreeSet::new();
        bound_names(&u.tree, None, &mut names);
        let mut reach = Reach::named(names).visible(&u.vis);
        if has_glob(&u.tree) {
            // What a glob brings into scope is not in the text.
            reach = reach.global_on_change("glob import");
        } else if binds_underscore(&u.tree) {
            // `use Trait as _` brings methods into scope under names the text does not show.
            reach = reach.global_on_change("underscore import");
        }
        let scope = if prefix.is_empty() { "crate root" } else { prefix };
        self.push(format!("use in {scope}"), tokens, reach, false)
    }

    fn collect_macro(&mut self, m: &syn::ItemMacro, tokens: &TokenStream, prefix: &str) {
        match (&m.ident, m.mac.path.is_ident("macro_rules")) {
            // A definition: the items it generates (here or in other crates' item macros) are
            // not in any text, nor are their spans.
            (Some(ident), true) => self.push(
                format!("macro_rules {prefix}{ident}"),
                tokens,
                Reach::named([ident.to_string()]).global_on_change("macro definition"),
                true,
            ),
            // An item macro: generates items under names not in its text.
            _ => self.push(
                format!("macro {prefix}{}!", m.mac.path.to_token_stream().to_string().replace(' ', "")),
                tokens,
                Reach::every("item macro"),
                true,
            ),
        }
    }

    /// The impls a type's derives generate: a changed derive list (or generics) adds or changes
    /// trait impls, which reaches every dependent.
    fn push_derives(&mut self, label: &str, attrs: &[syn::Attribute], generics: &syn::Generics, ident: &syn::Ident) {
        let derives: Vec<&syn::Attribute> = attrs.iter().filter(|a| mentions_derive(a)).collect();
        if derives.is_empty() {
            return;
        }
        let mut tokens = TokenStream::new();
        for a in derives {
            a.to_tokens(&mut tokens);
        }
        generics.to_tokens(&mut tokens);
        self.push(label.to_string(), &tokens, Reach::named([ident.to_string()]).global_on_change("derive list"), false);
    }

    fn collect_impl(&mut self, imp: &syn::ItemImpl, prefix: &str) {
        let mut self_names = BTreeSet::new();
        idents_into(&imp.self_ty.to_token_stream(), &mut self_names);
        let params: BTreeSet<String> = imp.generics.type_params().map(|p| p.ident.to_string()).collect();
        // `impl<T> Trait for T` (or `for &T`, `Box<T>`...): a dependent reaches it through any type.
        let blanket = self_is_param(&imp.self_ty, &params);
        let trait_impl = imp.trait_.is_some();
        let compact = |t: &dyn ToTokens| t.to_token_stream().to_string().replace(' ', "");
        let header_text = format!(
            "impl{} {}{}",
            compact(&imp.generics),
            imp.trait_.as_ref().map(|(_, p, _)| format!("{} for ", compact(p))).unwrap_or_default(),
            compact(&imp.self_ty)
        );
        let label = format!("{prefix}{header_text}");
        let mut header = attrs_stream(&imp.attrs);
        imp.generics.to_tokens(&mut header);
        if let Some((bang, path, for_)) = &imp.trait_ {
            bang.to_tokens(&mut header);
            path.to_tokens(&mut header);
            for_.to_tokens(&mut header);
        }
        imp.self_ty.to_tokens(&mut header);
        imp.generics.where_clause.to_tokens(&mut header);
        let reach_with = |own: Option<String>| -> Reach {
            if blanket {
                Reach { names: None, global: None, public: true }
            } else {
                Reach::named(self_names.iter().cloned().chain(own))
            }
        };
        // A trait impl's members are as visible as the trait; an inherent one's say so.
        let member_reach = |own: &syn::Ident, vis: &syn::Visibility| -> Reach {
            let reach = reach_with(Some(own.to_string()));
            if trait_impl {
                reach
            } else {
                reach.visible(vis)
            }
        };
        let mut header_reach = reach_with(None);
        if trait_impl {
            // Coherence, trait selection and method probing see every trait impl.
            header_reach = header_reach.global_on_change("trait impl header");
        } else if blanket {
            header_reach = header_reach.global_on_change("blanket impl");
        }
        self.push(label.clone(), &header, header_reach, false);
        for item in &imp.items {
            let tokens = item.to_token_stream();
            let attrs = match item {
                syn::ImplItem::Fn(f) => &f.attrs[..],
                syn::ImplItem::Const(c) => &c.attrs[..],
                syn::ImplItem::Type(t) => &t.attrs[..],
                _ => &[],
            };
            if let Some(mac) = keep::attribute_macro(attrs) {
                let text: String = tokens.to_string().chars().take(60).collect();
                self.push(format!("{label}::#[{mac}] {text}"), &tokens, Reach::every("attribute macro"), true);
                continue;
            }
            match item {
                syn::ImplItem::Fn(f) => {
                    let kept = !is_stubbed(&f.block);
                    self.push(format!("{label}::fn {}", f.sig.ident), &tokens, member_reach(&f.sig.ident, &f.vis), kept)
                }
                syn::ImplItem::Const(c) => {
                    self.push(format!("{label}::const {}", c.ident), &tokens, member_reach(&c.ident, &c.vis), true)
                }
                syn::ImplItem::Type(t) => {
                    self.push(format!("{label}::type {}", t.ident), &tokens, member_reach(&t.ident, &t.vis), true)
                }
                other => {
                    let text: String = other.to_token_stream().to_string().chars().take(40).collect();
                    self.push(format!("{label}::{text}"), &tokens, Reach::every("macro in an impl"), true)
                }
            }
        }
    }

    fn collect_trait(&mut self, t: &syn::ItemTrait, prefix: &str) {
        let trait_name = t.ident.to_string();
        let item_names: Vec<String> = t
            .items
            .iter()
            .filter_map(|i| match i {
                syn::TraitItem::Fn(f) => Some(f.sig.ident.to_string()),
                syn::TraitItem::Const(c) => Some(c.ident.to_string()),
                syn::TraitItem::Type(ty) => Some(ty.ident.to_string()),
                _ => None,
            })
            .collect();
        let label = format!("trait {prefix}{trait_name}");
        let mut header = attrs_stream(&t.attrs);
        t.vis.to_tokens(&mut header);
        t.generics.to_tokens(&mut header);
        t.supertraits.to_tokens(&mut header);
        t.generics.where_clause.to_tokens(&mut header);
        // A trait's header (supertraits, bounds) matters to every use of its items.
        let header_names = std::iter::once(trait_name.clone()).chain(item_names.iter().cloned());
        self.push(label.clone(), &header, Reach::named(header_names), false);
        for item in &t.items {
            let tokens = item.to_token_stream();
            let (kind, ident) = match item {
                syn::TraitItem::Fn(f) => ("fn", f.sig.ident.to_string()),
                syn::TraitItem::Const(c) => ("const", c.ident.to_string()),
                syn::TraitItem::Type(ty) => ("type", ty.ident.to_string()),
                other => {
                    let text: String = other.to_token_stream().to_string().chars().take(40).collect();
                    self.push(format!("{label}::{text}"), &tokens, Reach::every("macro in a trait"), true);
                    continue;
                }
            };
            self.push(format!("{label}::{kind} {ident}"), &tokens, Reach::named([ident, trait_name.clone()]), true);
        }
    }
}

/// `#[derive(..)]`, also behind `cfg_attr`.
fn mentions_derive(attr: &syn::Attribute) -> bool {
    let path = attr.path();
    path.is_ident("derive")
        || (path.is_ident("cfg_attr") && {
            let mut idents = BTreeSet::new();
            idents_into(&attr.meta.to_token_stream(), &mut idents);
            idents.contains("derive")
        })
}

/// Whether a function body is the stub's placeholder (never compiled into a dependent).
fn is_stubbed(block: &syn::Block) -> bool {
    let mut idents = BTreeSet::new();
    idents_into(&block.to_token_stream(), &mut idents);
    idents.contains("__relink_stub") && block.stmts.len() <= 2
}

fn field_names(fields: &syn::Fields) -> impl Iterator<Item = String> + '_ {
    fields.iter().filter_map(|f| f.ident.as_ref().map(ToString::to_string))
}

/// The names a `use` tree binds: each leaf's name or rename, `self` as its parent's.
fn bound_names(tree: &syn::UseTree, parent: Option<&syn::Ident>, out: &mut BTreeSet<String>) {
    match tree {
        syn::UseTree::Path(p) => bound_names(&p.tree, Some(&p.ident), out),
        syn::UseTree::Name(n) if n.ident == "self" => out.extend(parent.map(|p| p.to_string())),
        syn::UseTree::Name(n) => {
            out.insert(n.ident.to_string());
        }
        syn::UseTree::Rename(r) => {
            out.insert(r.rename.to_string());
        }
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| bound_names(t, parent, out)),
        syn::UseTree::Glob(_) => {}
    }
}

/// `use path::Trait as _` anywhere in the tree.
fn binds_underscore(tree: &syn::UseTree) -> bool {
    match tree {
        syn::UseTree::Rename(r) => r.rename == "_",
        syn::UseTree::Path(p) => binds_underscore(&p.tree),
        syn::UseTree::Group(g) => g.items.iter().any(binds_underscore),
        syn::UseTree::Name(_) | syn::UseTree::Glob(_) => false,
    }
}

fn has_glob(tree: &syn::UseTree) -> bool {
    match tree {
        syn::UseTree::Glob(_) => true,
        syn::UseTree::Path(p) => has_glob(&p.tree),
        syn::UseTree::Group(g) => g.items.iter().any(has_glob),
        syn::UseTree::Name(_) | syn::UseTree::Rename(_) => false,
    }
}

/// `T`, `&T`, `Box<T>`, `[T]`...: a self type that is (or wraps) an impl type parameter.
fn self_is_param(ty: &syn::Type, params: &BTreeSet<String>) -> bool {
    if params.is_empty() {
        return false;
    }
    let mut idents = BTreeSet::new();
    idents_into(&ty.to_token_stream(), &mut idents);
    idents.iter().any(|i| params.contains(i))
}

fn attrs_stream(attrs: &[syn::Attribute]) -> TokenStream {
    let mut out = TokenStream::new();
    for a in attrs {
        a.to_tokens(&mut out);
    }
    out
}

/// Path keywords that name no item.
const NOT_NAMES: [&str; 4] = ["self", "Self", "crate", "super"];

fn idents_into(tokens: &TokenStream, out: &mut BTreeSet<String>) {
    for tt in tokens.clone() {
        match tt {
            TokenTree::Ident(i) => {
                let s = i.to_string();
                let s = s.strip_prefix("r#").map(str::to_string).unwrap_or(s);
                if !NOT_NAMES.contains(&s.as_str()) {
                    out.insert(s);
                }
            }
            TokenTree::Group(g) => idents_into(&g.stream(), out),
            TokenTree::Literal(l) => format_captures(&l.to_string(), out),
            TokenTree::Punct(_) => {}
        }
    }
}

/// `{name}` and `{name:...}` in a string literal: inline format arguments name items too
/// (`println!("{MAX}")` reads a constant).
fn format_captures(literal: &str, out: &mut BTreeSet<String>) {
    if !literal.contains('"') {
        return;
    }
    let bytes = literal.as_bytes();
    for (i, _) in literal.match_indices('{') {
        let rest = &literal[i + 1..];
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
        let word = &rest[..end];
        let preceded_by_brace = i > 0 && bytes[i - 1] == b'{';
        if !word.is_empty() && !preceded_by_brace && !word.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            out.insert(word.to_string());
        }
    }
}

/// blake3 of the tokens' text, and of each token's line and column when `positional`.
fn fingerprint(tokens: &TokenStream, positional: bool) -> String {
    let mut h = blake3::Hasher::new();
    h.update(tokens.to_string().as_bytes());
    if positional {
        positions_into(tokens, &mut h);
    }
    h.finalize().to_hex()[..16].to_string()
}

fn positions_into(tokens: &TokenStream, h: &mut blake3::Hasher) {
    for tt in tokens.clone() {
        hash_position(h, tt.span().start());
        if let TokenTree::Group(g) = tt {
            positions_into(&g.stream(), h);
            hash_position(h, g.span_close().start());
        }
    }
}

fn hash_position(h: &mut blake3::Hasher, p: proc_macro2::LineColumn) {
    h.update(&(p.line as u64).to_le_bytes());
    h.update(&(p.column as u64).to_le_bytes());
}

#[cfg(test)]
#[path = "observe_tests.rs"]
mod tests;
