//! Doc comments no dependent can observe: removed from the stub.
//!
//! Doc comments are `#[doc = ".."]` attributes and land in metadata, so an edit to one changed
//! every dependent's input. rustc itself never reads them to compile a dependent; proc macros
//! can (clap's derive turns `///` into help text, `displaydoc` into `Display`), so the docs of an
//! item a proc macro sees, and of its fields and variants, stay. `#[doc(hidden)]`,
//! `#[doc(alias = ..)]` and other list forms are not comments and stay too.

use syn::spanned::Spanned;

use super::position::has_position_reading_macro;
use super::splice::Plan;

/// `#[doc = ".."]` (a doc comment or its attribute form), not `#[doc(hidden)]`.
pub fn is_doc_comment(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("doc") && matches!(attr.meta, syn::Meta::NameValue(_))
}

/// Plan the removal of every doc comment of `file` that no proc macro can see.
pub fn plan_removals(file: &syn::File, plan: &mut Plan) {
    strip(&file.attrs, plan);
    items(&file.items, plan);
}

fn strip(attrs: &[syn::Attribute], plan: &mut Plan) {
    for attr in attrs.iter().filter(|a| is_doc_comment(a)) {
        plan.drop_item(attr.span());
    }
}

fn fields(fields: &syn::Fields, plan: &mut Plan) {
    for field in fields {
        strip(&field.attrs, plan);
    }
}

fn items(items: &[syn::Item], plan: &mut Plan) {
    for item in items {
        let attrs = super::item_attrs(item);
        if has_position_reading_macro(attrs) {
            continue;
        }
        strip(attrs, plan);
        match item {
            syn::Item::Struct(s) => fields(&s.fields, plan),
            syn::Item::Union(u) => {
                for field in &u.fields.named {
                    strip(&field.attrs, plan);
                }
            }
            syn::Item::Enum(e) => {
                for variant in &e.variants {
                    strip(&variant.attrs, plan);
                    fields(&variant.fields, plan);
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    self::items(inner, plan);
                }
            }
            syn::Item::Impl(imp) => {
                for impl_item in &imp.items {
                    let attrs = impl_item_attrs(impl_item);
                    if !has_position_reading_macro(attrs) {
                        strip(attrs, plan);
                    }
                }
            }
            syn::Item::Trait(t) => {
                for trait_item in &t.items {
                    let attrs = trait_item_attrs(trait_item);
                    if !has_position_reading_macro(attrs) {
                        strip(attrs, plan);
                    }
                }
            }
            syn::Item::ForeignMod(f) => {
                for foreign in &f.items {
                    if let syn::ForeignItem::Fn(x) = foreign {
                        strip(&x.attrs, plan);
                    } else if let syn::ForeignItem::Static(x) = foreign {
                        strip(&x.attrs, plan);
                    }
                }
            }
            _ => {}
        }
    }
}

fn impl_item_attrs(item: &syn::ImplItem) -> &[syn::Attribute] {
    match item {
        syn::ImplItem::Const(i) => &i.attrs,
        syn::ImplItem::Fn(i) => &i.attrs,
        syn::ImplItem::Type(i) => &i.attrs,
        syn::ImplItem::Macro(i) => &i.attrs,
        _ => &[],
    }
}

fn trait_item_attrs(item: &syn::TraitItem) -> &[syn::Attribute] {
    match item {
        syn::TraitItem::Const(i) => &i.attrs,
        syn::TraitItem::Fn(i) => &i.attrs,
        syn::TraitItem::Type(i) => &i.attrs,
        syn::TraitItem::Macro(i) => &i.attrs,
        _ => &[],
    }
}
