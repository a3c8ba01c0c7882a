"""Clippy and rustfmt for Bazel users: `rust_clippy_aspect` and `rustfmt_test`.

relink itself offers the same as `relink clippy` and `relink fmt` (it has no aspects).
"""

load("//rules:toolchain.bzl", "TOOLCHAIN_TYPE")
load("//rules/private:actions.bzl", "emit_clippy")
load("//rules/private:providers.bzl", "CrateSpecInfo")

def _lintable(spec):
    # Registry crates are capped (`--cap-lints=allow`), as Cargo caps them: clippy has
    # nothing to say there, and `cargo clippy` lints only the workspace's own crates.
    return "--cap-lints=allow" not in spec.crate_fields["rustc_flags"]

def _rust_clippy_aspect_impl(target, ctx):
    if CrateSpecInfo not in target or not _lintable(target[CrateSpecInfo]):
        return []
    spec = target[CrateSpecInfo]
    log = ctx.actions.declare_file(ctx.label.name + ".clippy.log")
    flags = [f for f in ctx.var.get("relink_clippy_flags", "").split(",") if f]
    emit_clippy(ctx, struct(**spec.crate_fields), spec.deps, log, flags)
    return [OutputGroupInfo(clippy_checks = depset([log]))]

rust_clippy_aspect = aspect(
    implementation = _rust_clippy_aspect_impl,
    doc = "Clippy on every Rust crate the build visits, as `cargo clippy --all-targets`: `bazel build --aspects=@rules_relink//rules:defs.bzl%rust_clippy_aspect --output_groups=clippy_checks //...`. Findings print as the actions' output; `--define relink_clippy_flags=-Dwarnings` (comma-separated) sets lint levels, and errors fail the build.",
)

def _rustfmt_test_impl(ctx):
    tc = ctx.toolchains[TOOLCHAIN_TYPE].rust
    if not tc.rustfmt:
        fail("%s: the Rust toolchain has no `rustfmt`: set it on rust_toolchain" % ctx.label)
    roots = {}
    srcs = []
    for target in ctx.attr.targets:
        fields = target[CrateSpecInfo].crate_fields
        roots[fields["root"].path] = (fields["root"], fields["edition"])
        srcs.extend(fields["srcs"])

    # Tests run in the runfiles tree under Bazel (short paths) and in the execroot under
    # relink (paths): each file is found under whichever exists.
    lines = [
        "#!/bin/sh",
        "at() { if [ -e \"$1\" ]; then echo \"$1\"; else echo \"$2\"; fi; }",
        "rustfmt=\"$(at '%s' '%s')\"" % (tc.rustfmt.short_path, tc.rustfmt.path),
        "status=0",
    ]
    for path in sorted(roots.keys()):
        root, edition = roots[path]
        lines.append("\"$rustfmt\" --check --edition %s \"$(at '%s' '%s')\" || status=1" % (edition, root.short_path, root.path))
    lines.append("exit $status")
    launcher = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.write(output = launcher, content = "\n".join(lines) + "\n", is_executable = True)
    runfiles = ctx.runfiles(files = srcs + [tc.rustfmt], transitive_files = tc.files)
    return [DefaultInfo(executable = launcher, runfiles = runfiles)]

rustfmt_test = rule(
    implementation = _rustfmt_test_impl,
    doc = "Fails when the sources of `targets` are not formatted as rustfmt (rustfmt.toml included) formats them: `cargo fmt --check` as a test.",
    attrs = {
        "targets": attr.label_list(doc = "Rust targets whose crates are checked.", providers = [CrateSpecInfo], mandatory = True),
    },
    toolchains = [TOOLCHAIN_TYPE],
    test = True,
)
