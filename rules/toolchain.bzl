"""The Rust toolchain rule: the compiler, its sysroot and the rules_relink builder."""

RustToolchainInfo = provider(
    doc = "A Rust toolchain as rules_relink actions use it.",
    fields = {
        "rustc_path": "Execroot-relative path of rustc (inside the sysroot directory).",
        "builder": "File: the relink-builder executable that every action calls.",
        "files": "depset of Files every rustc action needs (sysroot, version stamp).",
        "unstable": "bool: allow -Z flags (RUSTC_BOOTSTRAP=1 inside actions). The one toolchain switch.",
    },
)

def _rust_toolchain_impl(ctx):
    sysroot = ctx.file.sysroot
    return [
        RustToolchainInfo(
            rustc_path = sysroot.path + "/bin/rustc",
            builder = ctx.executable.builder,
            files = depset([sysroot, ctx.file.version_stamp]),
            unstable = ctx.attr.unstable,
        ),
        DefaultInfo(),
    ]

rust_toolchain = rule(
    implementation = _rust_toolchain_impl,
    doc = "Declares the local Rust toolchain and the builder binary.",
    attrs = {
        "builder": attr.label(doc = "The relink-builder binary.", allow_single_file = True, executable = True, cfg = "exec", mandatory = True),
        "sysroot": attr.label(doc = "The rustc sysroot directory (`rustc --print sysroot`).", allow_single_file = True, mandatory = True),
        "version_stamp": attr.label(doc = "Output of `rustc -vV`: changes when the compiler changes.", allow_single_file = True, mandatory = True),
        "unstable": attr.bool(doc = "Allow -Z flags (sets RUSTC_BOOTSTRAP=1 for rustc inside actions). Required for interfaces.", default = True),
    },
)
