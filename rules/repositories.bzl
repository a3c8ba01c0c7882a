"""Repository rules that make the local Rust toolchain and relink-builder available to Bazel.

WORKSPACE (Bazel 4.2.3 and later):

    local_repository(name = "rules_relink", path = "...")
    load("@rules_relink//rules:repositories.bzl", "relink_register_toolchains")
    relink_register_toolchains()

Bzlmod: see //rules:extensions.bzl (rules_relink's MODULE.bazel registers the toolchain).
"""

load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")

def _run(rctx, args, what, timeout = 1800):
    result = rctx.execute(args, timeout = timeout, quiet = True)
    if result.return_code != 0:
        fail("rules_relink: %s failed (%s):\n%s\n%s" % (what, " ".join([str(a) for a in args]), result.stdout, result.stderr))
    return result.stdout

def _host_constraints(triple):
    """The @platforms names (os, cpu) of a target triple, as relink names its host."""
    parts = triple.split("-")
    cpu = {"i586": "x86_32", "i686": "x86_32", "powerpc64": "ppc", "powerpc64le": "ppc"}.get(parts[0], parts[0])
    os = "none"
    for fragment, name in [("linux", "linux"), ("darwin", "osx"), ("windows", "windows"), ("freebsd", "freebsd"), ("android", "android")]:
        if fragment in triple:
            os = name
            break
    return os, cpu

def _cache_home(rctx):
    env = rctx.os.environ
    return env.get("XDG_CACHE_HOME") or (env.get("HOME", "/tmp") + "/.cache")

def _builder(rctx, rules_root):
    """The relink-builder to use: the given one, else one built with cargo, kept per source hash.

    It is kept under ~/.cache/rules_relink, so that a Bazel server restart (this rule is
    `local`) costs a hash of the sources, not a build.

    Args:
      rctx: the repository context.
      rules_root: the rules_relink checkout (its Cargo workspace).

    Returns:
      the path of the builder.
    """
    given = rctx.attr.builder or rctx.os.environ.get("RELINK_BUILDER", "")
    if given:
        return given
    cargo = rctx.which("cargo")
    if not cargo:
        fail("rules_relink: cargo is not on PATH; it builds relink-builder (or set RELINK_BUILDER to a prebuilt one)")
    key = _run(rctx, [
        "sh",
        "-c",
        "cd \"$1\" && find Cargo.toml Cargo.lock tools/builder -type f ! -path '*/target/*' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16",
        "sh",
        str(rules_root),
    ], "hashing relink-builder's sources", timeout = 120).strip()
    home = _cache_home(rctx) + "/rules_relink"
    kept = "%s/builder-%s/relink-builder" % (home, key)
    if rctx.path(kept).exists:
        return kept
    rctx.report_progress("building relink-builder with cargo (once per rules version, about a minute; kept in %s)" % home)
    target_dir = home + "/target"
    _run(rctx, [cargo, "build", "--release", "--locked", "-p", "relink-builder", "--manifest-path", str(rules_root) + "/Cargo.toml", "--target-dir", target_dir], "building relink-builder")
    _run(rctx, ["sh", "-c", "mkdir -p \"$(dirname \"$2\")\" && cp \"$1\" \"$2.tmp$$\" && mv \"$2.tmp$$\" \"$2\"", "sh", target_dir + "/release/relink-builder", kept], "keeping relink-builder")
    return kept

def _relink_toolchain_repo_impl(rctx):
    rustc = rctx.which("rustc")
    if not rustc:
        fail("rules_relink: rustc is not on PATH; install a Rust toolchain (rustup) first")
    sysroot = _run(rctx, [rustc, "--print", "sysroot"], "finding the sysroot").strip()
    version = _run(rctx, [sysroot + "/bin/rustc", "-vV"], "reading the rustc version")
    triple = ""
    for line in version.splitlines():
        if line.startswith("host: "):
            triple = line[len("host: "):].strip()
    if not triple:
        fail("rules_relink: `rustc -vV` of %s names no host triple" % sysroot)
    os, cpu = _host_constraints(triple)
    rules_root = rctx.path(Label("@rules_relink//:Cargo.toml")).dirname
    rctx.symlink(sysroot, "sysroot")
    rctx.symlink(_builder(rctx, rules_root), "relink-builder")
    rctx.file("rustc_version.txt", version)
    rctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % rctx.name)
    rctx.template("BUILD.bazel", Label("@rules_relink//rules/private:toolchain_repo.BUILD"), {
        "%{cpu}": cpu,
        "%{os}": os,
        "%{triple}": triple,
    })

relink_toolchain_repo = repository_rule(
    implementation = _relink_toolchain_repo_impl,
    doc = "The local rustc (the sysroot files it needs, as file targets) and a relink-builder, with a rust_toolchain and a toolchain() for the host platform.",
    attrs = {
        "builder": attr.string(doc = "Path of a prebuilt relink-builder (or $RELINK_BUILDER); default: build it with cargo from the rules' sources, once per source hash."),
    },
    environ = ["PATH", "RUSTUP_TOOLCHAIN", "RUSTUP_HOME", "CARGO_HOME", "RELINK_BUILDER", "HOME", "XDG_CACHE_HOME"],
    local = True,
)

def _offline_coverage_tools_impl(rctx):
    rctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % rctx.name)
    rctx.template("BUILD.bazel", Label("@rules_relink//rules/private:coverage_tools/coverage_tools.BUILD"), {})
    rctx.template("defs.bzl", Label("@rules_relink//rules/private:coverage_tools/defs.bzl"), {})

offline_coverage_tools = repository_rule(
    implementation = _offline_coverage_tools_impl,
    doc = "A stand-in for @remote_coverage_tools, which Bazel downloads for every test rule: tests build offline; `bazel coverage` says what is missing.",
)

def relink_register_toolchains(name = "relink_toolchain", builder = "", offline_coverage_tools_repo = True, bazel_archives = ""):
    """Create the toolchain repository `name` and register its toolchain.

    Args:
      name: the repository name (`@relink_toolchain`).
      builder: path of a prebuilt relink-builder (default: built with cargo, kept per source hash).
      offline_coverage_tools_repo: also define @remote_coverage_tools offline, unless the
        workspace defined its own before this call (Bazel 4.2.3 fetches it for every test rule).
      bazel_archives: a directory with `rules_cc.tar.gz` and `rules_java.tar.gz` at the commits
        Bazel 4.2.3 pins. Toolchain resolution loads Bazel's own Java toolchains, which need
        both; Bazel downloads them unless this names local copies (offline machines).
    """
    relink_toolchain_repo(name = name, builder = builder)
    native.register_toolchains("@%s//:all" % name)
    if bazel_archives:
        for repo in ["rules_cc", "rules_java"]:
            if not native.existing_rule(repo):
                http_archive(name = repo, urls = ["file://%s/%s.tar.gz" % (bazel_archives, repo)], strip_prefix = repo)
    existing = native.existing_rule("remote_coverage_tools")
    if offline_coverage_tools_repo and (not existing or existing.get("kind") == "http_archive"):
        offline_coverage_tools(name = "remote_coverage_tools")
