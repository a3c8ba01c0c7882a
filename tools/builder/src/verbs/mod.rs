//! The builder's verbs, one module each.
pub mod build_script;
pub mod clippy;
pub mod compile;
pub mod doctest;
pub mod interface;
pub mod link;
pub mod observe;
pub mod stub;
pub mod stub_diff;
