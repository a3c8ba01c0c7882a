"""Cargo profile settings as relink-builder flags: plain functions, no rule context.

Loaded by the Bazel rules (profile.bzl, which picks the profile) and the Buck2 cell
(rules/buck2/rules.bzl), so both give a target the same flags for the same `cargo_profile`.
"""

# Settings words and the relink-builder flags that carry them.
_BUILDER_FLAGS = {
    "codegen-units": "--codegen-units",
    "debug-assertions": "--debug-assertions",
    "debuginfo": "--debuginfo",
    "lto": "--lto",
    "opt-level": "--opt-level",
    "overflow-checks": "--overflow-checks",
    "panic": "--panic",
    "strip": "--strip",
}

def parse_settings(owner, name, line):
    """The settings of one `cargo_profile` line (`KEY=VALUE` words).

    Args:
      owner: the target, for error messages.
      name: the profile name, for error messages.
      line: the settings line.

    Returns:
      a dict of setting -> value.
    """
    settings = {}
    for word in line.split(" "):
        pair = word.split("=", 1)
        if len(pair) != 2:
            fail("%s: cargo_profile[%r]: `%s` is not KEY=VALUE" % (owner, name, word))
        settings[pair[0]] = pair[1]
    return settings

def settings_flags(settings):
    """relink-builder flags for a target's compile and link under `settings`.

    Args:
      settings: a dict from parse_settings.

    Returns:
      a list of builder flags.
    """
    flags = []
    for key in sorted(settings.keys()):
        if key in _BUILDER_FLAGS:
            flags.extend([_BUILDER_FLAGS[key], settings[key]])
    if settings.get("rpath") == "on":
        flags.append("--rpath")
    return flags

def run_flags(settings):
    """relink-builder flags giving a build script Cargo's profile variables.

    OPT_LEVEL, DEBUG, PROFILE and CARGO_CFG_DEBUG_ASSERTIONS, as Cargo sets them.

    Args:
      settings: a dict from parse_settings (the package's crates' profile).

    Returns:
      a list of builder flags.
    """
    flags = ["--opt-level", settings.get("opt-level", "0"), "--profile", settings.get("kind", "debug")]
    if settings.get("debuginfo", "0") != "0":
        flags.append("--debug")
    if "debug-assertions" in settings:
        flags.extend(["--debug-assertions", settings["debug-assertions"]])
    return flags
