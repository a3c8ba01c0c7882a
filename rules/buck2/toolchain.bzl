"""The Buck2 toolchain of rules_relink: relink-builder and the rustc it drives.

Declare one in the project's toolchains cell (the rules find it as `toolchains//:relink`):

    load("@relink//rules/buck2:toolchain.bzl", "relink_toolchain")
    relink_toolchain(name = "relink", builder = "relink//:relink-builder", visibility = ["PUBLIC"])

Like the prelude's `system_rust_toolchain`, rustc and the linker come from the host (`PATH`);
relink-builder is an artifact, so a rebuilt builder re-runs the actions it drives.
"""

RelinkToolchainInfo = provider(doc = "relink-builder and the rustc it drives.", fields = {
    # The relink-builder executable every action runs.
    "builder": provider_field(Artifact),
    # Flags for every rustc invocation.
    "extra_rustc_flags": provider_field(list[str]),
    # The linker driver for `-Clinker` (a C compiler).
    "linker": provider_field(str),
    # The rustc the builder runs (a name on PATH or a path).
    "rustc": provider_field(str),
    # The rustdoc of the same toolchain, for doctests (a name on PATH or a path).
    "rustdoc": provider_field(str),
    # Allow -Z flags (RUSTC_BOOTSTRAP=1 inside actions): -Zno-codegen interfaces,
    # -Zno-link/-Zlink-only.
    "unstable": provider_field(bool),
})

def _relink_toolchain_impl(ctx):
    return [
        DefaultInfo(),
        RelinkToolchainInfo(
            builder = ctx.attrs.builder,
            rustc = ctx.attrs.rustc,
            rustdoc = ctx.attrs.rustdoc,
            linker = ctx.attrs.linker,
            unstable = ctx.attrs.unstable,
            extra_rustc_flags = ctx.attrs.extra_rustc_flags,
        ),
    ]

relink_toolchain = rule(
    impl = _relink_toolchain_impl,
    doc = "relink-builder and the host rustc, for the rules of rules/buck2/rules.bzl.",
    attrs = {
        "builder": attrs.source(doc = "The relink-builder executable (a file, or a target whose output it is)."),
        "extra_rustc_flags": attrs.list(attrs.string(), default = [], doc = "Flags for every rustc invocation."),
        "linker": attrs.string(default = "cc", doc = "Linker driver passed as -Clinker."),
        "rustc": attrs.string(default = "rustc", doc = "The rustc to run (a name on PATH or an absolute path)."),
        "rustdoc": attrs.string(default = "rustdoc", doc = "The rustdoc of the same toolchain, for rust_doc_test (a name on PATH or an absolute path)."),
        "unstable": attrs.bool(default = True, doc = "Allow -Z flags inside actions (interfaces and split links need them)."),
    },
    is_toolchain_rule = True,
)
