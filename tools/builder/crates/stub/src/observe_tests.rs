//! Unit tests of `observe`: what each kind of item records.

use super::*;

fn one(text: &str) -> Vec<Observed> {
    index(&BTreeMap::from([("lib.rs".to_string(), text.to_string())]))
}

fn find<'a>(items: &'a [Observed], key: &str) -> &'a Observed {
    items.iter().find(|o| o.key == format!("lib.rs: {key}")).unwrap_or_else(|| panic!("no {key} in {items:#?}"))
}

fn names(o: &Observed) -> Vec<&str> {
    o.names.as_ref().map(|n| n.iter().map(String::as_str).collect()).unwrap_or_default()
}

#[test]
fn a_stubbed_body_moves_unobserved_but_a_kept_one_does_not() {
    let stub = |pad: &str| one(&format!("{pad}pub fn f() {}\n{pad}pub fn g<T>(t: T) -> T {{ t }}\n", crate::STUB_BODY));
    let (a, b) = (stub(""), stub("\n"));
    assert_eq!(find(&a, "fn f").fingerprint, find(&b, "fn f").fingerprint);
    assert_ne!(find(&a, "fn g").fingerprint, find(&b, "fn g").fingerprint);
    // A kept body whose inner lines move (same start) changed too.
    let c = one("pub fn g<T>(t: T) -> T {\n t }\n");
    let d = one("pub fn g<T>(t: T) -> T {\n\n t }\n");
    assert_ne!(find(&c, "fn g").fingerprint, find(&d, "fn g").fingerprint);
}

#[test]
fn only_what_another_crate_can_name_is_public() {
    let items = one("pub fn a() {}\npub(crate) fn b() {}\nfn c() {}\npub struct S;\nstruct P;\n\
         impl S { pub fn d() {} fn e() {} }\nimpl Clone for P { fn clone(&self) -> P { P } }\n\
         use std::fmt;\npub use std::io;\n");
    let public = |label: &str| find(&items, label).public;
    assert!(public("fn a"));
    assert!(!public("fn b"), "pub(crate)");
    assert!(!public("fn c"));
    assert!(public("struct S") && !public("struct P"));
    assert!(public("impl S::fn d") && !public("impl S::fn e"), "inherent members say so");
    assert!(public("impl Clone for P::fn clone"), "a trait impl's members are as visible as the trait");
    let uses: Vec<bool> = items.iter().filter(|o| o.key.contains("use in")).map(|o| o.public).collect();
    assert_eq!(uses.len(), 2);
    assert!(uses.contains(&true) && uses.contains(&false), "`pub use` only");
}

#[test]
fn types_are_reached_by_their_fields_and_variants() {
    let items = one("pub struct S { pub width: u8 }\npub enum E { A(Inner), B { depth: u8 } }\n");
    assert_eq!(names(find(&items, "struct S")), ["S", "width"]);
    assert_eq!(names(find(&items, "enum E")), ["A", "B", "E", "depth"]);
    assert!(find(&items, "enum E").idents.contains("Inner"));
}

#[test]
fn trait_impl_headers_and_macros_are_global() {
    let items =
        one("impl Clone for S { fn clone(&self) -> S { S } }\nimpl<T: X> Y for T {}\nimpl S { pub fn new() {} }\n\
         macro_rules! m { () => {} }\nm!();\nuse a::*;\nuse b::C;\n");
    assert_eq!(find(&items, "impl Clone for S").global, Some("trait impl header"));
    assert_eq!(names(find(&items, "impl Clone for S::fn clone")), ["S", "clone"]);
    assert_eq!(find(&items, "impl Clone for S::fn clone").global, None);
    let blanket = find(&items, "impl<T:X> Y for T");
    assert_eq!((blanket.names.is_none(), blanket.global), (true, Some("trait impl header")));
    assert_eq!(find(&items, "impl S").global, None);
    assert_eq!(names(find(&items, "impl S::fn new")), ["S", "new"]);
    assert_eq!(find(&items, "macro_rules m").global, Some("macro definition"));
    assert_eq!(find(&items, "macro m!").global, Some("item macro"));
    assert_eq!(find(&items, "use in crate root").global, Some("glob import"));
    assert_eq!(find(&items, "use in crate root#2").global, None);
    assert_eq!(names(find(&items, "use in crate root#2")), ["C"]);
}

#[test]
fn attribute_macros_and_derive_lists_reach_everyone() {
    let items = one("#[salsa::tracked]\npub fn q(db: &dyn Db) -> u8 { 1 }\n#[derive(Clone, serde::Serialize)]\npub struct S<T> { t: T }\n");
    let q = items.iter().find(|o| o.key.starts_with("lib.rs: #[salsa::tracked]")).expect("attribute macro item");
    assert_eq!((q.names.is_none(), q.global), (true, Some("attribute macro")));
    let derives = find(&items, "derive S");
    assert_eq!((names(derives), derives.global), (vec!["S"], Some("derive list")));
    assert_eq!(find(&items, "struct S").global, None);
}

#[test]
fn trait_items_are_reached_by_their_trait_and_name() {
    let items = one("pub trait T: Sup { fn m(&self) { helper() } type A; }\n");
    assert_eq!(names(find(&items, "trait T")), ["A", "T", "m"]);
    assert_eq!(names(find(&items, "trait T::fn m")), ["T", "m"]);
    assert!(find(&items, "trait T::fn m").idents.contains("helper"));
    assert!(find(&items, "trait T").idents.contains("Sup"));
}

#[test]
fn format_strings_name_what_they_capture() {
    let ids = source_idents("fn main() { println!(\"{MAX} {0} {{literal}} {x:?}\"); }");
    assert!(ids.contains("MAX") && ids.contains("x") && ids.contains("println"));
    assert!(!ids.contains("literal") && !ids.contains("0"));
    assert!(!ids.contains("self"));
}

#[test]
fn a_use_is_reached_by_the_names_it_binds() {
    let items = one("use a::b::{C, D as E, self, f::{g}};\nuse t::Trait as _;\n");
    assert_eq!(names(find(&items, "use in crate root")), vec!["C", "E", "b", "g"]);
    assert_eq!(find(&items, "use in crate root").global, None);
    assert_eq!(find(&items, "use in crate root#2").global, Some("underscore import"));
}
