//! Relink's implementation of Bazel's Starlark rule API.
pub mod globals;
pub mod values;
