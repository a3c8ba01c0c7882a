//! Build-script warnings as Cargo shows them (issue 21): a workspace member's `cargo:warning`
//! is printed, a registry crate's is not (Cargo shows those only with -vv; `relink import`
//! marks them `show_warnings = False`), and `--define relink_build_script_warnings=all` shows
//! both.

mod common;

use common::*;

const BUILD: &str = r#"load("@rules_relink//rules:defs.bzl", "cargo_build_script", "rust_library")

cargo_build_script(
    name = "member_bs",
    srcs = ["member_build.rs"],
    package_name = "member",
)

cargo_build_script(
    name = "registry_bs",
    srcs = ["registry_build.rs"],
    package_name = "registry",
    show_warnings = False,
)

rust_library(
    name = "member",
    srcs = ["lib.rs"],
    build_script = ":member_bs",
)

rust_library(
    name = "registry",
    srcs = ["lib.rs"],
    build_script = ":registry_bs",
)
"#;

#[test]
fn registry_build_script_warnings_are_hidden_unless_asked_for() {
    let scratch = Scratch::new("bs-warnings");
    let ws = scratch.0.join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    for (name, text) in [
        ("MODULE.bazel", "module(name = \"bs_warnings\")\n"),
        ("BUILD.bazel", BUILD),
        ("lib.rs", "pub fn f() {}\n"),
        ("member_build.rs", "fn main() {\n    println!(\"cargo:warning=from-the-member\");\n}\n"),
        ("registry_build.rs", "fn main() {\n    println!(\"cargo:warning=from-a-registry-crate\");\n}\n"),
    ] {
        std::fs::write(ws.join(name), text).unwrap();
    }
    let build = |extra: &[&str], cache: &str| {
        let out = relink_command(&ws, &scratch.0.join(cache)).arg("build").args(extra).arg("//...").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        stderr
    };
    let stderr = build(&[], "cache-a");
    assert!(stderr.contains("warning: member@build.rs: from-the-member"), "{stderr}");
    assert!(!stderr.contains("from-a-registry-crate"), "{stderr}");
    let stderr = build(&["--define", "relink_build_script_warnings=all"], "cache-b");
    assert!(stderr.contains("from-the-member") && stderr.contains("from-a-registry-crate"), "{stderr}");
}
