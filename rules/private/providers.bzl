"""Providers of the Rust rules."""

BuildScriptInfo = provider(
    doc = "What a Cargo build script produced for its crate.",
    fields = {
        "out_dir": "File (directory): OUT_DIR.",
        "flags": "File: rustc flags (--cfg, -l, -L), one per line.",
        "env": "File: KEY=VALUE lines for rustc's environment (cargo:rustc-env).",
        "dep_env": "File: DEP_<LINKS>_<KEY>=VALUE lines for dependents' build scripts.",
    },
)

RustInfo = provider(
    doc = "A compiled Rust crate, as its dependents see it.",
    fields = {
        "crate_name": "The crate name (`--crate-name`).",
        "crate_type": "`rlib` or `proc-macro`.",
        "interface": "File a dependent's compile action consumes: the interface rlib, or the proc-macro shared object.",
        "rlib": "File: the real rlib (None for proc macros). Only link actions consume it.",
        "transitive_interfaces": "depset of Files: interfaces of this crate and all its dependencies (what compiles see).",
        "transitive_rlibs": "depset of Files: real rlibs of this crate and its dependencies (what links see).",
        "transitive_link_pairs": "depset of `interface=rlib` strings for the link step's path swap.",
        "macros": "File: what the crate's exported macro_rules! expand to (for dependents' stubs), or None.",
    },
)

CrateSpecInfo = provider(
    doc = "How a target compiles its crate, for actions over the same crate (rust_clippy_aspect, rustfmt_test). Internal: its fields may change.",
    fields = {
        "crate_fields": "dict: the crate description the rules build actions from.",
        "deps": "list: the dependencies' RustInfo-shaped structs, as the crate's compile sees them.",
    },
)

RustBinaryInfo = provider(
    doc = "A linked Rust binary, for tests that run it (`rust_test(binaries = ...)`).",
    fields = {
        "executable": "File: the binary.",
    },
)
