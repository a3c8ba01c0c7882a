//! The builder's verbs, one module each.
pub mod compile;
pub mod interface;
pub mod link;
pub mod stub;
