//! The data every layer of relink shares: labels, content digests, the workspace and what a build reads from it, and the action graph (the contract between analysis and execution). Depends on no other relink crate.

#![warn(clippy::too_many_lines)]

pub mod action;
pub mod digest;
pub mod inputs;
pub mod label;
pub mod workspace;
