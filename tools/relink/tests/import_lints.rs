//! A member's `[lints]` and Cargo's `--check-cfg` (issue 21): `relink import` gives members the
//! lint levels and cfg checks `cargo build` gives them, so a forbidden `unsafe` block fails the
//! build and an unknown cfg gets Cargo's warning, under relink as under Cargo. Fast tier
//! (members only, nothing downloaded).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A workspace with `strict` (inherits `unsafe_code = "forbid"` from [workspace.lints]) and
/// `cfgs` (declares `cfg(known)` through `unexpected_cfgs.check-cfg`, uses an unknown name and
/// an unknown feature).
fn workspace(dir: &Path, unsafe_block: bool) {
    write(
        &dir.join("Cargo.toml"),
        "[workspace]\nmembers = [\"strict\", \"cfgs\"]\nresolver = \"2\"\n\n[workspace.lints.rust]\nunsafe_code = \"forbid\"\n",
    );
    write(
        &dir.join("strict/Cargo.toml"),
        "[package]\nname = \"strict\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lints]\nworkspace = true\n",
    );
    let body = if unsafe_block { "unsafe { *p }" } else { "*p" };
    write(&dir.join("strict/src/lib.rs"), &format!("pub fn read(p: &u8) -> u8 {{\n    {body}\n}}\n"));
    write(
        &dir.join("cfgs/Cargo.toml"),
        "[package]\nname = \"cfgs\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[features]\nfast = []\n\n\
         [lints.rust]\nunexpected_cfgs = { level = \"warn\", check-cfg = ['cfg(known)'] }\n",
    );
    write(
        &dir.join("cfgs/src/lib.rs"),
        "#[cfg(known)]\npub fn a() {}\n#[cfg(mystery)]\npub fn b() {}\n#[cfg(feature = \"fast\")]\npub fn c() {}\n#[cfg(feature = \"turbo\")]\npub fn d() {}\n",
    );
}

fn cargo_build(dir: &Path, package: &str) -> std::process::Output {
    Command::new("cargo")
        .args(["build", "--offline", "-p", package])
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .current_dir(dir)
        .output()
        .unwrap()
}

/// The lines of rustc's diagnostics that name the problem (`warning: ...`, `error: ...`).
fn headlines(stderr: &[u8], of: &str) -> Vec<String> {
    let mut lines: Vec<String> = String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.starts_with(of) && l.contains('`'))
        .map(str::to_string)
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

#[test]
fn member_lints_and_cfg_checks_match_cargo() {
    let scratch = Scratch::new("lints");
    let dir = scratch.0.join("ws");
    workspace(&dir, true);
    let cache = scratch.0.join("cache");
    let import = relink_command(&dir, &cache).arg("import").output().unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));

    // unsafe_code = "forbid" from [workspace.lints]: both fail, with the same error.
    let relink = relink_command(&dir, &cache).args(["build", "//strict:strict"]).output().unwrap();
    let cargo = cargo_build(&dir, "strict");
    assert!(!relink.status.success() && !cargo.status.success(), "{}", String::from_utf8_lossy(&relink.stderr));
    let relink_errors = headlines(&relink.stderr, "error: usage of an `unsafe` block");
    assert_eq!(relink_errors.len(), 1, "{}", String::from_utf8_lossy(&relink.stderr));
    assert_eq!(relink_errors, headlines(&cargo.stderr, "error: usage of an `unsafe` block"));

    // Unknown cfg name and feature value warn, `cfg(known)` and feature `fast` do not.
    let relink = relink_command(&dir, &cache).args(["build", "//cfgs:cfgs"]).output().unwrap();
    let cargo = cargo_build(&dir, "cfgs");
    assert!(relink.status.success() && cargo.status.success(), "{}", String::from_utf8_lossy(&relink.stderr));
    let warnings = headlines(&relink.stderr, "warning: unexpected `cfg` condition");
    assert_eq!(
        warnings,
        ["warning: unexpected `cfg` condition name: `mystery`", "warning: unexpected `cfg` condition value: `turbo`"],
        "{}",
        String::from_utf8_lossy(&relink.stderr)
    );
    assert_eq!(warnings, headlines(&cargo.stderr, "warning: unexpected `cfg` condition"));

    // Without the unsafe block the strict member builds.
    workspace(&dir, false);
    let relink = relink_command(&dir, &cache).args(["build", "//strict:strict"]).output().unwrap();
    assert!(relink.status.success(), "{}", String::from_utf8_lossy(&relink.stderr));
}
