//! The Starlark rule API below loading and analysis: the values rules and targets exchange
//! (labels, providers, files, targets, depsets, `Args`, selects, attributes) as native values,
//! attribute schemas, what a rule implementation's natives see (`context`), the phase-free
//! natives and the Starlark prelude (`ctx`, runfiles, the rules written in Starlark). Loading and analysis build on it; it names neither.

#![warn(clippy::too_many_lines)]

pub mod args;
pub mod attribute;
pub mod attrs;
pub mod context;
pub mod depset;
pub mod info;
pub mod limits;
pub mod natives;
pub mod rule_spec;
pub mod select;
pub mod sl;
pub mod values;

/// The part of the rule API written in Starlark, evaluated once with the natives.
pub const PRELUDE: &str = include_str!("prelude.bzl");
