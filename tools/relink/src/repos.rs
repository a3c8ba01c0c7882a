//! The external repositories relink provides itself: `@rules_relink` (the rules it carries)
//! and `@relink_toolchain` (the local rustc and the builder), the same repositories that
//! `rules/repositories.bzl` creates for Bazel.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use relink_core::digest::digest_bytes;
use relink_core::workspace::Workspace;

/// Where the rules of this relink build live (the repository it was built from), unless
/// `RELINK_RULES_DIR` says otherwise.
/// The rules relink carries: every file of `rules/`, compiled into the binary.
const EMBEDDED_RULES: &[(&str, &str)] = &[
    ("rules/BUILD.bazel", include_str!("../../../rules/BUILD.bazel")),
    ("rules/defs.bzl", include_str!("../../../rules/defs.bzl")),
    ("rules/extensions.bzl", include_str!("../../../rules/extensions.bzl")),
    ("rules/private/BUILD.bazel", include_str!("../../../rules/private/BUILD.bazel")),
    (
        "rules/private/coverage_tools/coverage_tools.BUILD",
        include_str!("../../../rules/private/coverage_tools/coverage_tools.BUILD"),
    ),
    ("rules/private/coverage_tools/defs.bzl", include_str!("../../../rules/private/coverage_tools/defs.bzl")),
    ("rules/private/actions.bzl", include_str!("../../../rules/private/actions.bzl")),
    ("rules/private/artifact_table.bzl", include_str!("../../../rules/private/artifact_table.bzl")),
    ("rules/private/artifacts.bzl", include_str!("../../../rules/private/artifacts.bzl")),
    ("rules/private/context.bzl", include_str!("../../../rules/private/context.bzl")),
    ("rules/private/lint.bzl", include_str!("../../../rules/private/lint.bzl")),
    ("rules/private/profile.bzl", include_str!("../../../rules/private/profile.bzl")),
    ("rules/private/profile_table.bzl", include_str!("../../../rules/private/profile_table.bzl")),
    ("rules/private/providers.bzl", include_str!("../../../rules/private/providers.bzl")),
    ("rules/private/rules.bzl", include_str!("../../../rules/private/rules.bzl")),
    ("rules/private/toolchain_repo.BUILD", include_str!("../../../rules/private/toolchain_repo.BUILD")),
    ("rules/repositories.bzl", include_str!("../../../rules/repositories.bzl")),
    ("rules/toolchain.bzl", include_str!("../../../rules/toolchain.bzl")),
];

/// Where `@rules_relink` lives: `$RELINK_RULES_DIR`; else the checkout relink was built from,
/// when it is still there (edits to the rules take effect without rebuilding relink); else the
/// rules embedded in the binary, unpacked once into the cache (`RELINK_EMBEDDED_RULES=1`
/// forces this).
pub fn rules_dir(cache_root: &Path) -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("RELINK_RULES_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if std::env::var_os("RELINK_EMBEDDED_RULES").is_none() && built_from.join("rules/defs.bzl").is_file() {
        return Ok(built_from.canonicalize()?);
    }
    embedded_rules(cache_root)
}

fn embedded_rules(cache_root: &Path) -> Result<PathBuf> {
    let mut files: Vec<(&str, &str)> = EMBEDDED_RULES.to_vec();
    files.push(("MODULE.bazel", "module(name = \"rules_relink\")\n"));
    files.push(("BUILD.bazel", ""));
    files.push(("WORKSPACE", "workspace(name = \"rules_relink\")\n"));
    text_repo(cache_root, "rules_relink", &files)
}

/// The relink-builder this relink uses.
pub fn builder() -> Result<PathBuf> {
    Ok(builder_path()?.canonicalize()?)
}

fn builder_path() -> Result<PathBuf> {
    if let Ok(path) = std::env::var("RELINK_BUILDER") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let beside = exe.with_file_name("relink-builder");
    if beside.is_file() {
        return Ok(beside);
    }
    bail!(
        "relink-builder not found next to {} (build both with `cargo build --release` in the rules_relink checkout, or set RELINK_BUILDER)",
        exe.display()
    )
}

/// Register `@rules_relink`, `@relink_toolchain` and `@platforms` in the workspace.
pub fn register(ws: &mut Workspace, cache_root: &Path) -> Result<()> {
    if ws.name != "rules_relink" {
        ws.add_repo("rules_relink", rules_dir(cache_root)?);
    }
    let toolchain = toolchain_repo(cache_root)?;
    ws.add_repo("relink_toolchain", toolchain);
    ws.add_repo("platforms", platforms_repo(cache_root)?);
    ws.add_repo("bazel_tools", bazel_tools_repo(cache_root)?);
    Ok(())
}

/// The part of Bazel's `@bazel_tools` the rules use: the C++ toolchain type, a toolchain of
/// it for the host (the `cc` on PATH as compiler and linker driver, as Bazel's autodetected
/// local toolchain), `current_cc_toolchain` and `find_cpp_toolchain`.
fn bazel_tools_repo(cache_root: &Path) -> Result<PathBuf> {
    use relink_analysis::toolchains::{host_cpu, host_os};
    let cc = host_cc().map(|p| p.display().to_string()).unwrap_or_default();
    let build = format!(
        r#"# Written by relink: the C++ toolchain of this host, as Bazel's @bazel_tools provides one.
load(":cc.bzl", "host_cc_toolchain")

package(default_visibility = ["//visibility:public"])

toolchain_type(name = "toolchain_type")

host_cc_toolchain(
    name = "current_cc_toolchain",
    compiler = "{cc}",
)

toolchain(
    name = "host",
    exec_compatible_with = [
        "@platforms//os:{os}",
        "@platforms//cpu:{cpu}",
    ],
    target_compatible_with = [
        "@platforms//os:{os}",
        "@platforms//cpu:{cpu}",
    ],
    toolchain = ":current_cc_toolchain",
    toolchain_type = ":toolchain_type",
)
"#,
        os = host_os(),
        cpu = host_cpu(),
    );
    let files = [
        ("WORKSPACE", "workspace(name = \"bazel_tools\")\n"),
        ("BUILD.bazel", ""),
        ("tools/BUILD.bazel", ""),
        ("tools/cpp/BUILD.bazel", build.as_str()),
        ("tools/cpp/cc.bzl", BAZEL_TOOLS_CC),
        ("tools/cpp/toolchain_utils.bzl", BAZEL_TOOLS_TOOLCHAIN_UTILS),
    ];
    text_repo(cache_root, "bazel_tools", &files)
}

/// The first `cc` on PATH.
fn host_cc() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("cc")).find(|p| p.is_file())
}

/// relink's `@bazel_tools//tools/cpp:cc.bzl`: the host C++ toolchain's provider and rule.
const BAZEL_TOOLS_CC: &str = r#""""The host C++ toolchain relink provides (compiler path only; its files are the host's)."""

CcToolchainInfo = provider(
    doc = "The fields of Bazel's CcToolchainInfo that rules_relink reads.",
    fields = ["compiler_executable", "all_files"],
)

def _host_cc_toolchain_impl(ctx):
    info = CcToolchainInfo(compiler_executable = ctx.attr.compiler, all_files = depset())
    return [info, platform_common.ToolchainInfo(cc = info, cc_provider_in_toolchain = True)]

host_cc_toolchain = rule(
    implementation = _host_cc_toolchain_impl,
    attrs = {"compiler": attr.string()},
)
"#;

/// relink's `@bazel_tools//tools/cpp:toolchain_utils.bzl`.
const BAZEL_TOOLS_TOOLCHAIN_UTILS: &str = r#""""find_cpp_toolchain, as Bazel's: the C++ toolchain of the rule."""

load(":cc.bzl", "CcToolchainInfo")

def find_cpp_toolchain(ctx):
    if "@bazel_tools//tools/cpp:toolchain_type" in ctx.toolchains:
        return ctx.toolchains["@bazel_tools//tools/cpp:toolchain_type"].cc
    return ctx.attr._cc_toolchain[CcToolchainInfo]
"#;

/// Operating systems and CPUs of `@platforms` (the names of bazelbuild/platforms, which
/// Bazel bundles).
const PLATFORM_OS: &[&str] =
    &["android", "freebsd", "ios", "linux", "macos", "none", "openbsd", "osx", "qnx", "tvos", "watchos", "windows"];
const PLATFORM_CPU: &[&str] = &[
    "aarch64", "arm", "arm64", "arm64_32", "arm64e", "armv7", "armv7k", "i386", "mips64", "ppc", "riscv64", "s390x",
    "wasm32", "wasm64", "x86_32", "x86_64",
];

/// `@platforms`: the constraint settings `//os:os` and `//cpu:cpu` with their values, as in
/// the repository Bazel bundles, so that toolchains can say where they run.
fn platforms_repo(cache_root: &Path) -> Result<PathBuf> {
    let build = |setting: &str, values: &[&str]| {
        let mut text = format!(
            "# Written by relink: the constraint values of bazelbuild/platforms.\npackage(default_visibility = [\"//visibility:public\"])\n\nconstraint_setting(name = \"{setting}\")\n"
        );
        for v in values {
            text.push_str(&format!(
                "\nconstraint_value(\n    name = \"{v}\",\n    constraint_setting = \":{setting}\",\n)\n"
            ));
        }
        text
    };
    let (os, cpu) = (build("os", PLATFORM_OS), build("cpu", PLATFORM_CPU));
    let files = [
        ("WORKSPACE", "workspace(name = \"platforms\")\n"),
        ("BUILD.bazel", "package(default_visibility = [\"//visibility:public\"])\n"),
        ("os/BUILD.bazel", os.as_str()),
        ("cpu/BUILD.bazel", cpu.as_str()),
    ];
    text_repo(cache_root, "platforms", &files)
}

/// A repository of text files, in the cache under `NAME-<digest of its files>`: written once,
/// shared by every build that asks for the same files.
fn text_repo(cache_root: &Path, name: &str, files: &[(&str, &str)]) -> Result<PathBuf> {
    let digest = digest_bytes(files.iter().map(|(p, t)| format!("{p}\0{t}\0")).collect::<String>().as_bytes());
    let dir = cache_root.join("repos").join(format!("{name}-{}", &digest[..16]));
    write_repo_once(&dir, |tmp| {
        for (path, text) in files {
            let dest = tmp.join(path);
            fs_err::create_dir_all(dest.parent().expect("a file in the repository"))?;
            fs_err::write(&dest, text)?;
        }
        Ok(())
    })
}

/// Create repository directory `dir` through `fill` (into a temporary sibling, then renamed),
/// unless it exists; concurrent relink processes agree on the result.
fn write_repo_once(dir: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
    if dir.join("WORKSPACE").is_file() {
        return Ok(dir.to_path_buf());
    }
    let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
    let _ = fs_err::remove_dir_all(&tmp);
    fs_err::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    fill(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    match fs_err::rename(&tmp, dir) {
        Ok(()) => Ok(dir.to_path_buf()),
        Err(_) if dir.join("WORKSPACE").is_file() => {
            let _ = fs_err::remove_dir_all(&tmp);
            Ok(dir.to_path_buf())
        }
        Err(e) => Err(anyhow!("cannot create {}: {e}", dir.display())),
    }
}

/// Synthesize the toolchain repository: symlinks to the sysroot and the builder, a version
/// stamp, and the BUILD file `rules/repositories.bzl` writes for Bazel (`rust_toolchain` over
/// the sysroot files rustc needs, `toolchain()` for the host platform).
fn toolchain_repo(cache_root: &Path) -> Result<PathBuf> {
    fs_err::create_dir_all(cache_root.join("repos"))
        .with_context(|| format!("cannot create {}", cache_root.join("repos").display()))?;
    let crate::toolchain_probe::Toolchain { sysroot, version } =
        crate::toolchain_probe::probe(&cache_root.join("repos").join("toolchain-probe.json"))?;
    let builder = builder_path()?.canonicalize()?;
    let triple = version
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .ok_or_else(|| anyhow!("`rustc -vV` of {sysroot} names no host triple"))?
        .trim()
        .to_string();
    let build = toolchain_build_file(&triple);
    let id = digest_bytes(format!("{sysroot}\n{}\n{version}\n{build}", builder.display()).as_bytes());
    let dir = cache_root.join("repos").join(format!("relink_toolchain-{}", &id[..16]));
    write_repo_once(&dir, |tmp| {
        fs_err::os::unix::fs::symlink(&sysroot, tmp.join("sysroot"))?;
        fs_err::os::unix::fs::symlink(&builder, tmp.join("relink-builder"))?;
        fs_err::write(tmp.join("rustc_version.txt"), &version)?;
        fs_err::write(tmp.join("BUILD.bazel"), &build)?;
        fs_err::write(tmp.join("WORKSPACE"), "workspace(name = \"relink_toolchain\")\n")?;
        Ok(())
    })
}

/// The toolchain repository's BUILD file for a host triple: the template's placeholders
/// filled as `rules/repositories.bzl` fills them.
fn toolchain_build_file(triple: &str) -> String {
    use relink_analysis::toolchains::{host_cpu, host_os};
    TOOLCHAIN_BUILD.replace("%{triple}", triple).replace("%{os}", host_os()).replace("%{cpu}", host_cpu())
}

/// BUILD file of `@relink_toolchain`: the very file `rules/repositories.bzl` writes for Bazel.
const TOOLCHAIN_BUILD: &str = include_str!("../../../rules/private/toolchain_repo.BUILD");

#[cfg(test)]
mod tests {
    /// Every file under rules/ must be embedded (add new files to EMBEDDED_RULES).
    #[test]
    fn every_rules_file_is_embedded() {
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
            for e in fs_err::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, root, out);
                } else {
                    out.push(p.strip_prefix(root).unwrap().display().to_string());
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut on_disk = Vec::new();
        walk(&root.join("rules"), &root, &mut on_disk);
        on_disk.sort();
        // The Bazel rules are embedded for @rules_relink, the Buck2 cell for `import --buck2`.
        let buck2 = relink_import::buck2::rules_files();
        let all: Vec<&(&str, &str)> = super::EMBEDDED_RULES.iter().chain(buck2.iter()).collect();
        let mut embedded: Vec<String> = all.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        embedded.dedup();
        assert_eq!(embedded, on_disk);
        for (path, text) in all {
            assert_eq!(fs_err::read_to_string(root.join(path)).unwrap(), *text, "{path} is stale");
        }
    }
}
