//! `relink-builder`: the one multi-verb tool that rules_relink actions call.
//!
//! Thin rules, fat tools: the Starlark rules only wire inputs and outputs; flag construction,
//! interface stubs, rlink normalization and diagnostics live here. Arguments starting with `@`
//! name parameter files (one argument per line), as Bazel's `use_param_file` writes them.

// Functions stay short enough to read (clippy.toml: too-many-lines-threshold).
#![warn(clippy::too_many_lines)]

mod hollow;
mod objects;
mod rlink;
mod rustc;
mod unused;
mod util;
mod verbs;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

/// Command line of the builder.
#[derive(Parser, Debug)]
#[command(name = "relink-builder", about = "Builder called by rules_relink actions")]
struct Cli {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand, Debug)]
enum Verb {
    /// Write the crate's ABI interface (hollow rlib), from a stub when possible.
    Interface(verbs::interface::InterfaceArgs),
    /// Compile a crate against dependency interfaces (rlib, or `-Zno-link` for bins/tests/proc macros).
    Compile(verbs::compile::CompileArgs),
    /// Link a `-Zno-link` compile with the real rlibs of its dependencies.
    Link(verbs::link::LinkArgs),
    /// Write a crate's stub sources to a directory (debugging, tests).
    Stub(verbs::stub::StubArgs),
    /// Why a crate's stub differs between two versions of its sources (changed ABI items).
    StubDiff(verbs::stub_diff::StubDiffArgs),
    /// What dependents can observe of a stub, item by item (issue 24's finer key).
    Observe(verbs::observe::ObserveArgs),
    /// Run a Cargo build script and record its directives for the crate's compile.
    BuildScript(verbs::build_script::BuildScriptArgs),
    /// Run a library's documentation tests (`rustdoc --test`), recording output and status.
    Doctest(verbs::doctest::DocTestArgs),
    /// Run clippy's lints on a crate, compiled as its compile action compiles it.
    Clippy(verbs::clippy::ClippyArgs),
}

/// Expand `@file` arguments (one argument per line).
fn expand_param_files(args: impl Iterator<Item = String>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for arg in args {
        match arg.strip_prefix('@') {
            Some(file) => {
                let text = fs_err::read_to_string(file).with_context(|| format!("cannot read param file {file}"))?;
                out.extend(text.lines().map(str::to_string));
            }
            None => out.push(arg),
        }
    }
    Ok(out)
}

fn main() {
    if let Ok(config) = std::env::var(verbs::doctest::CONFIG_ENV) {
        // Started by rustdoc as the test builder of `doctest`: a rustc command line follows
        // (its `@file` arguments are rustc's to read).
        let args: Vec<String> = std::env::args().skip(1).collect();
        match verbs::doctest::build_one(&config, &args) {
            Ok(code) => std::process::exit(code),
            Err(err) => {
                eprintln!("relink-builder (doctest builder): error: {err:#}");
                std::process::exit(1);
            }
        }
    }
    let result = expand_param_files(std::env::args()).and_then(|args| {
        let cli = Cli::parse_from(args);
        match &cli.verb {
            Verb::Interface(a) => verbs::interface::run(a),
            Verb::Compile(a) => verbs::compile::run(a),
            Verb::Link(a) => verbs::link::run(a),
            Verb::Stub(a) => verbs::stub::run(a),
            Verb::StubDiff(a) => verbs::stub_diff::run(a),
            Verb::Observe(a) => verbs::observe::run(a),
            Verb::BuildScript(a) => verbs::build_script::run(a),
            Verb::Doctest(a) => verbs::doctest::run(a),
            Verb::Clippy(a) => verbs::clippy::run(a),
        }
    });
    if let Err(err) = result {
        eprintln!("relink-builder: error: {err:#}");
        std::process::exit(1);
    }
}
