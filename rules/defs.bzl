"""Public API of rules_relink."""

load("//rules:toolchain.bzl", _RustToolchainInfo = "RustToolchainInfo", _rust_toolchain = "rust_toolchain")
load("//rules/private:lint.bzl", _rust_clippy_aspect = "rust_clippy_aspect", _rustfmt_test = "rustfmt_test")
load("//rules/private:providers.bzl", _RustBinaryInfo = "RustBinaryInfo", _RustInfo = "RustInfo")
load(
    "//rules/private:rules.bzl",
    _cargo_build_script = "cargo_build_script",
    _rust_binary = "rust_binary",
    _rust_doc_test = "rust_doc_test",
    _rust_library = "rust_library",
    _rust_proc_macro = "rust_proc_macro",
    _rust_test = "rust_test",
)

cargo_build_script = _cargo_build_script
rust_library = _rust_library
rust_binary = _rust_binary
rust_test = _rust_test
rust_doc_test = _rust_doc_test
rust_clippy_aspect = _rust_clippy_aspect
rustfmt_test = _rustfmt_test
rust_proc_macro = _rust_proc_macro
rust_toolchain = _rust_toolchain
RustInfo = _RustInfo
RustBinaryInfo = _RustBinaryInfo
RustToolchainInfo = _RustToolchainInfo
