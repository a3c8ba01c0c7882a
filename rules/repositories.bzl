"""Repository rules that make the local Rust toolchain and relink-builder available to Bazel.

WORKSPACE (Bazel 4.2.3 and later):

    local_repository(name = "rules_relink", path = "...")
    load("@rules_relink//rules:repositories.bzl", "relink_register_toolchains")
    relink_register_toolchains()

Bzlmod: see //rules:extensions.bzl.
"""

def _run(rctx, args, what):
    result = rctx.execute(args, timeout = 1800, quiet = True)
    if result.return_code != 0:
        fail("rules_relink: %s failed (%s):\n%s\n%s" % (what, " ".join([str(a) for a in args]), result.stdout, result.stderr))
    return result.stdout

def _relink_toolchain_repo_impl(rctx):
    rustc = rctx.which("rustc")
    if not rustc:
        fail("rules_relink: rustc is not on PATH; install a Rust toolchain (rustup) first")
    sysroot = _run(rctx, [rustc, "--print", "sysroot"], "finding the sysroot").strip()
    version = _run(rctx, [sysroot + "/bin/rustc", "-vV"], "reading the rustc version")
    rules_root = rctx.path(Label("@rules_relink//:Cargo.toml")).dirname
    builder = rctx.attr.builder or rctx.os.environ.get("RELINK_BUILDER", "")
    if not builder:
        # Build relink-builder from the rules' own sources (no download: crates come from
        # the local Cargo cache or the registry Cargo is configured with).
        cargo = rctx.which("cargo")
        if not cargo:
            fail("rules_relink: cargo is not on PATH; it builds relink-builder")
        target_dir = rctx.path("cargo-target")
        _run(rctx, [cargo, "build", "--release", "--locked", "-p", "relink-builder", "--manifest-path", str(rules_root) + "/Cargo.toml", "--target-dir", str(target_dir)], "building relink-builder")
        builder = str(target_dir) + "/release/relink-builder"
    rctx.symlink(sysroot, "sysroot")
    rctx.symlink(builder, "relink-builder")
    rctx.file("rustc_version.txt", version)
    rctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % rctx.name)
    rctx.template("BUILD.bazel", Label("@rules_relink//rules/private:toolchain_repo.BUILD"), {})

relink_toolchain_repo = repository_rule(
    implementation = _relink_toolchain_repo_impl,
    doc = "Symlinks the local rustc sysroot and a relink-builder binary into a repository with a rust_toolchain target.",
    attrs = {
        "builder": attr.string(doc = "Path of a prebuilt relink-builder (or $RELINK_BUILDER); default: build it with cargo from the rules' sources."),
    },
    environ = ["PATH", "RUSTUP_TOOLCHAIN", "RUSTUP_HOME", "CARGO_HOME", "RELINK_BUILDER"],
    local = True,
)

def relink_register_toolchains(name = "relink_toolchain", builder = ""):
    """Create the @relink_toolchain repository the rules use."""
    relink_toolchain_repo(name = name, builder = builder)
