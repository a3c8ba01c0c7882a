"""One context per target: what the rules read from the configuration and the toolchain.

As rules_go's `go_context`: a rule implementation calls `relink_context(ctx)` once and the
action emitters read the result (through the crate struct), never `ctx.var` or the toolchain
themselves.
"""

load("//rules:toolchain.bzl", "rust_toolchain_info")
load("//rules/private:profile.bzl", "build_script_run_flags", "cross_crate_lto", "mode_flags", "opt_level")

def _define(ctx, name, default):
    return ctx.var.get(name, default)

def relink_context(ctx):
    """The configuration of one target.

    Args:
      ctx: the rule context.

    Returns:
      a struct: `toolchain` (RustToolchainInfo), `mode` (compilation mode), `mode_flags` and
      `opt_level` (the target's profile or Bazel's mode), `cross_crate_lto`, `run_flags` (a
      build script's OPT_LEVEL, DEBUG and PROFILE), and the `--define`s the rules honour:
      `span_policy`, `audit`, `interface_incremental`, `incremental_dir`, `cutoff`,
      `stub_all`, `all_build_script_warnings`.
    """
    return struct(
        toolchain = rust_toolchain_info(ctx),
        mode = _define(ctx, "COMPILATION_MODE", "fastbuild"),
        mode_flags = mode_flags(ctx),
        opt_level = opt_level(ctx),
        cross_crate_lto = cross_crate_lto(ctx),
        run_flags = build_script_run_flags(ctx) if hasattr(ctx.attr, "run_profile") else [],
        span_policy = _define(ctx, "relink_span_policy", "anchored"),
        audit = _define(ctx, "relink_audit", "0") == "1",
        interface_incremental = _define(ctx, "relink_interface_incremental", "1") != "0",
        incremental_dir = _define(ctx, "relink_incremental_dir", ""),
        cutoff = _define(ctx, "relink_cutoff", "1") != "0",
        stub_all = _define(ctx, "relink_stub_all", "0") == "1",
        all_build_script_warnings = _define(ctx, "relink_build_script_warnings", "") == "all",
    )
