"""The Rust toolchain: the compiler, the files it reads and the rules_relink builder.

Rules request it by type (`TOOLCHAIN_TYPE`) and Bazel (or relink) resolves the registered
`toolchain()` that matches the target and exec platforms.
"""

RustToolchainInfo = provider(
    doc = "A Rust toolchain as rules_relink actions use it.",
    fields = {
        "rustc_path": "Execroot-relative path of rustc.",
        "rustdoc": "File: rustdoc of the same toolchain (doctests), or None.",
        "clippy_driver": "File: clippy-driver of the same toolchain (rust_clippy_aspect), or None.",
        "rustfmt": "File: rustfmt of the same toolchain (rustfmt_test), or None.",
        "builder": "File: the relink-builder executable that every action calls.",
        "files": "depset of Files every rustc action needs (compiler, its libraries, std, linker pieces, version stamp).",
        "unstable": "bool: allow -Z flags (RUSTC_BOOTSTRAP=1 inside actions). The one toolchain switch.",
        "extra_rustc_flags": "list of flags given to every rustc invocation of this toolchain.",
    },
)

# The toolchain type every rule of rules_relink requests.
TOOLCHAIN_TYPE = str(Label("//rules:toolchain_type"))

# Bazel's C++ toolchain type: the linker driver and the C compiler of build scripts come from
# it (`find_cpp_toolchain`), as in rules_cc and rules_rust; relink provides a host one.
CPP_TOOLCHAIN_TYPE = "@bazel_tools//tools/cpp:toolchain_type"

def rust_toolchain_info(ctx):
    """The RustToolchainInfo that toolchain resolution chose for this target.

    Args:
      ctx: a rule context of a rule that declares `toolchains = [TOOLCHAIN_TYPE]`.

    Returns:
      RustToolchainInfo.
    """
    return ctx.toolchains[TOOLCHAIN_TYPE].rust

def _rust_toolchain_impl(ctx):
    info = RustToolchainInfo(
        rustc_path = ctx.file.rustc.path,
        rustdoc = ctx.file.rustdoc,
        clippy_driver = ctx.file.clippy_driver,
        rustfmt = ctx.file.rustfmt,
        builder = ctx.executable.builder,
        files = depset([ctx.file.rustc, ctx.file.version_stamp] + ctx.files.rustc_files),
        unstable = ctx.attr.unstable,
        extra_rustc_flags = ctx.attr.extra_rustc_flags,
    )
    return [
        platform_common.ToolchainInfo(rust = info),
        info,
        DefaultInfo(),
    ]

rust_toolchain = rule(
    implementation = _rust_toolchain_impl,
    doc = "A Rust compiler and the builder binary; wrap it in `toolchain(toolchain_type = \"@rules_relink//rules:toolchain_type\")` and register that.",
    attrs = {
        "builder": attr.label(doc = "The relink-builder binary.", allow_single_file = True, executable = True, cfg = "exec", mandatory = True),
        "rustc": attr.label(doc = "The rustc executable, inside its sysroot (`<sysroot>/bin/rustc`).", allow_single_file = True, mandatory = True),
        "rustdoc": attr.label(doc = "The rustdoc executable beside rustc (`<sysroot>/bin/rustdoc`): runs `rust_doc_test` targets.", allow_single_file = True),
        "clippy_driver": attr.label(doc = "clippy-driver beside rustc: runs `rust_clippy_aspect`.", allow_single_file = True),
        "rustfmt": attr.label(doc = "rustfmt beside rustc: runs `rustfmt_test`.", allow_single_file = True),
        "rustc_files": attr.label(doc = "Every file rustc reads: its shared libraries, the target's standard library, the linker pieces.", allow_files = True, mandatory = True),
        "version_stamp": attr.label(doc = "Output of `rustc -vV`: changes when the compiler changes.", allow_single_file = True, mandatory = True),
        "unstable": attr.bool(doc = "Allow -Z flags (sets RUSTC_BOOTSTRAP=1 for rustc inside actions). Required for interfaces.", default = True),
        "extra_rustc_flags": attr.string_list(doc = "Flags given to every rustc invocation (compiles, interfaces and links) of this toolchain, e.g. `--cfg=...` or `-Ctarget-cpu=...`."),
    },
)
