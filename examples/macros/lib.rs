//! A derive macro: `#[derive(Hello)]` adds `fn hello() -> String`.
extern crate proc_macro;
use proc_macro::TokenStream;

/// Derive `hello()` returning the type's name.
#[proc_macro_derive(Hello)]
pub fn derive_hello(input: TokenStream) -> TokenStream {
    let text = input.to_string();
    let name = text
        .split_whitespace()
        .skip_while(|w| *w != "struct" && *w != "enum")
        .nth(1)
        .expect("a struct or enum")
        .trim_end_matches(';')
        .to_string();
    format!("impl {name} {{ pub fn hello() -> String {{ String::from(\"hello from {name}\") }} }}")
        .parse()
        .expect("valid tokens")
}
