"""Cargo profiles: which settings an imported target compiles with.

`relink import` writes each target's `cargo_profile` attribute: profile name -> one line of
`KEY=VALUE` words (opt-level, debuginfo, debug-assertions, overflow-checks, panic,
codegen-units, strip, rpath, kind), resolved from the workspace's Cargo.toml as Cargo resolves
them. The build picks one profile: `--define relink_profile=NAME` (`relink build --profile
NAME`), else `release` under `-c opt` and `dev` otherwise. Targets without `cargo_profile`
keep Bazel's compilation modes.
"""

load("//rules/private:profile_table.bzl", "parse_settings", "run_flags", "settings_flags")

def _mode(ctx):
    return ctx.var.get("COMPILATION_MODE", "fastbuild")

def profile_name(ctx):
    """The Cargo profile this build selects.

    Args:
      ctx: the rule context.

    Returns:
      a profile name.
    """
    return ctx.var.get("relink_profile") or ("release" if _mode(ctx) == "opt" else "dev")

def profile_settings(ctx, profiles):
    """The settings of the selected profile in `profiles` (a `cargo_profile` value).

    Args:
      ctx: the rule context.
      profiles: dict of profile name -> settings line; empty for targets not imported.

    Returns:
      a dict of setting -> value, or None when `profiles` is empty.
    """
    if not profiles:
        return None
    name = profile_name(ctx)
    if name not in profiles:
        fail("%s: Cargo profile `%s` is not defined for this target (it knows %s); define [profile.%s] in Cargo.toml and run `relink import` again" % (
            ctx.label,
            name,
            ", ".join(sorted(profiles.keys())),
            name,
        ))
    settings = parse_settings(ctx.label, name, profiles[name])
    if _mode(ctx) == "dbg":
        settings["debuginfo"] = "2"
    return settings

def mode_flags(ctx):
    """relink-builder flags for the target's profile settings, or Bazel's compilation mode.

    Args:
      ctx: the rule context.

    Returns:
      a list of builder flags.
    """
    settings = profile_settings(ctx, getattr(ctx.attr, "cargo_profile", {}))
    if settings == None:
        if _mode(ctx) == "opt":
            return ["--opt-level", "3", "--debuginfo", "0"]
        return ["--opt-level", "0", "--debuginfo", "2" if _mode(ctx) == "dbg" else "0"]
    return settings_flags(settings)

def opt_level(ctx):
    """The opt-level the target compiles with.

    Args:
      ctx: the rule context.

    Returns:
      a string, as for `-C opt-level`.
    """
    settings = profile_settings(ctx, getattr(ctx.attr, "cargo_profile", {}))
    if settings == None:
        return "3" if _mode(ctx) == "opt" else "0"
    return settings.get("opt-level", "0")

def build_script_run_flags(ctx):
    """relink-builder flags giving a build script Cargo's OPT_LEVEL, DEBUG and PROFILE.

    Args:
      ctx: the rule context of a cargo_build_script.

    Returns:
      a list of builder flags.
    """
    settings = profile_settings(ctx, getattr(ctx.attr, "run_profile", {}))
    if settings == None:
        return ["--opt-level", "3" if _mode(ctx) == "opt" else "0"]
    return run_flags(settings)

def cross_crate_lto(ctx):
    """Whether the target's profile asks for cross-crate LTO (`lto = true`, "fat" or "thin").

    Args:
      ctx: the rule context.

    Returns:
      a bool.
    """
    settings = profile_settings(ctx, getattr(ctx.attr, "cargo_profile", {}))
    return settings != None and settings.get("lto", "") in ("fat", "thin")
