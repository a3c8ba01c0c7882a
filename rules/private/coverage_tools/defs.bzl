"""An executable that only says what is missing (no rules_cc, no download)."""

def _unavailable_tool_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.write(
        out,
        "#!/bin/sh\necho 'rules_relink: Bazel coverage tools are not available (the offline @remote_coverage_tools of relink_register_toolchains()); define @remote_coverage_tools after relink_register_toolchains() to use the real ones' >&2\nexit 1\n",
        is_executable = True,
    )
    return [DefaultInfo(executable = out)]

unavailable_tool = rule(implementation = _unavailable_tool_impl, executable = True)
