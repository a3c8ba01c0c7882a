//! `relink import --buck2`: the same targets as BUCK files, and a Buck2 project around them.
//!
//! Each BUCK file is the BUILD.bazel file of the same package in Buck2's dialect (the rules of
//! `rules/buck2/`, `visibility = ["PUBLIC"]` per target instead of `package()`, no `manual`
//! tag). The project gets a `.buckconfig` (unless it has one), and the Buck2 cell of
//! rules_relink is written under `third_party/rules_relink`: the rules this relink carries,
//! its relink-builder, and a toolchains cell declaring `toolchains//:relink`.

use std::path::Path;

use anyhow::{Context, Result};

/// Where the rules_relink cell goes, relative to the workspace root.
pub const CELL_DIR: &str = "third_party/rules_relink";

/// The files of the Buck2 cell, compiled into relink.
const CELL_FILES: &[(&str, &str)] = &[
    ("rules/buck2/rules.bzl", include_str!("../../../../../rules/buck2/rules.bzl")),
    ("rules/buck2/toolchain.bzl", include_str!("../../../../../rules/buck2/toolchain.bzl")),
    ("rules/buck2/BUCK", include_str!("../../../../../rules/buck2/BUCK")),
    ("rules/private/artifact_table.bzl", include_str!("../../../../../rules/private/artifact_table.bzl")),
    ("rules/private/profile_table.bzl", include_str!("../../../../../rules/private/profile_table.bzl")),
    (".buckconfig", "[buildfile]\nname = BUCK\n"),
    // A package boundary for Bazel and relink too: the workspace root's globs stop here.
    ("BUILD.bazel", "# The Buck2 cell of rules_relink (BUCK files); nothing for Bazel.\n"),
    (
        "BUCK",
        "# relink-builder, copied here by `relink import --buck2`.\nexport_file(\n    name = \"relink-builder\",\n    src = \"relink-builder\",\n    visibility = [\"PUBLIC\"],\n)\n",
    ),
    (
        "toolchains/BUCK",
        "load(\"@relink//rules/buck2:toolchain.bzl\", \"relink_toolchain\")\n\n# relink-builder and the host's rustc for the rules of rules_relink.\nrelink_toolchain(\n    name = \"relink\",\n    builder = \"relink//:relink-builder\",\n    visibility = [\"PUBLIC\"],\n)\n",
    ),
];

const LAUNCHER: &str = include_str!("../../../../../rules/buck2/test_launcher.sh");

/// The files of the cell that are copies of this repository's `rules/` (for relink's test
/// that keeps every rules file embedded and fresh).
pub fn rules_files() -> Vec<(&'static str, &'static str)> {
    let mut files: Vec<(&str, &str)> = CELL_FILES.iter().copied().filter(|(p, _)| p.starts_with("rules/")).collect();
    files.push(("rules/buck2/test_launcher.sh", LAUNCHER));
    files
}

/// The project's `.buckconfig`: cells for the workspace (`root`), rules_relink, its
/// toolchains and the bundled prelude.
fn buckconfig() -> String {
    format!(
        "# Written by `relink import --buck2`: the Buck2 project of this Cargo workspace.\n\
[cells]\nroot = .\nrelink = {CELL_DIR}\ntoolchains = {CELL_DIR}/toolchains\nprelude = prelude\nnone = none\n\n\
[cell_aliases]\nconfig = prelude\novr_config = prelude\nfbcode = none\nfbsource = none\nbuck = none\n\n\
[external_cells]\nprelude = bundled\n\n[buildfile]\nname = BUCK\n\n\
[project]\nignore = .git, target, relink-bin, buck-out\n\n\
[parser]\ntarget_platform_detector_spec = target:root//...->prelude//platforms:default \\\n  target:relink//...->prelude//platforms:default \\\n  target:toolchains//...->prelude//platforms:default\n\n\
[build]\nexecution_platforms = prelude//platforms:default\n"
    )
}

/// A BUILD.bazel file that `relink import` generated, in Buck2's dialect.
pub fn buck_file(bazel: &str) -> String {
    let mut out = String::new();
    for line in bazel.lines() {
        if line.starts_with("load(\"@rules_relink//rules:defs.bzl\"") {
            out.push_str("load(\"@relink//rules/buck2:rules.bzl\", \"cargo_build_script\", \"rust_binary\", \"rust_doc_test\", \"rust_library\", \"rust_proc_macro\", \"rust_test\")\n");
            continue;
        }
        if line.starts_with("package(default_visibility") || line == "    tags = [\"manual\"]," {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.starts_with("    name = ") {
            out.push_str("    visibility = [\"PUBLIC\"],\n");
        }
    }
    // `package()` left an empty line pair behind.
    out.replace("\n\n\n", "\n\n")
}

/// Write the Buck2 project files and the rules_relink cell (with `builder`) under `root`.
pub fn write_project(root: &Path, builder: &Path) -> Result<()> {
    let cell = root.join(CELL_DIR);
    for (rel, text) in CELL_FILES {
        super::write_file(&cell.join(rel), text)?;
    }
    let launcher = cell.join("rules/buck2/test_launcher.sh");
    super::write_file(&launcher, LAUNCHER)?;
    set_executable(&launcher)?;
    let copy = cell.join("relink-builder");
    if fs_err::read(&copy).ok() != fs_err::read(builder).ok() {
        fs_err::copy(builder, &copy)
            .with_context(|| format!("cannot copy {} to {}", builder.display(), copy.display()))?;
    }
    let config = root.join(".buckconfig");
    if !config.exists() {
        super::write_file(&config, &buckconfig())?;
    } else if !fs_err::read_to_string(&config).unwrap_or_default().contains(CELL_DIR) {
        eprintln!(
            "relink import: {} exists and was kept; its [cells] need `relink = {CELL_DIR}` and `toolchains = {CELL_DIR}/toolchains`",
            config.display()
        );
    }
    Ok(())
}

fn set_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bazel_build_file_becomes_a_buck_file() {
        let bazel = "# Generated\n\nload(\"@rules_relink//rules:defs.bzl\", \"cargo_build_script\", \"rust_binary\", \"rust_library\", \"rust_proc_macro\", \"rust_test\")\n\npackage(default_visibility = [\"//visibility:public\"])\n\nrust_library(\n    name = \"memchr\",\n    data = glob([\"**\"], exclude = [\"BUILD.bazel\", \"BUCK\", \"target/**\"]),\n    tags = [\"manual\"],\n)\n";
        let buck = buck_file(bazel);
        assert!(buck.contains("load(\"@relink//rules/buck2:rules.bzl\""), "{buck}");
        assert!(!buck.contains("package(") && !buck.contains("manual"), "{buck}");
        assert!(buck.contains("    name = \"memchr\",\n    visibility = [\"PUBLIC\"],\n"), "{buck}");
        assert!(!buck.contains("\n\n\n"), "{buck}");
    }

    #[test]
    fn doctest_targets_carry_over() {
        let bazel = "load(\"@rules_relink//rules:defs.bzl\", \"rust_doc_test\", \"rust_library\")\n\nrust_library(\n    name = \"a\",\n)\n\nrust_doc_test(\n    name = \"a_doctest\",\n    crate = \":a\",\n    deps = [],\n)\n";
        let buck = buck_file(bazel);
        assert!(buck.contains("\"rust_doc_test\", \"rust_library\""), "{buck}");
        assert!(
            buck.contains(
                "rust_doc_test(\n    name = \"a_doctest\",\n    visibility = [\"PUBLIC\"],\n    crate = \":a\","
            ),
            "{buck}"
        );
    }
}
