//! relink: the embedded executor of rules_relink.
mod action;
mod analysis;
mod label;
mod loading;
mod sl;
mod starlark;
mod workspace;

fn main() {}
