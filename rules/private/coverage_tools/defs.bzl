"""An executable that only says it is unavailable (no rules_cc, no download)."""

def _unavailable_tool_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.write(out, "#!/bin/sh\necho 'coverage tools are not available offline' >&2\nexit 1\n", is_executable = True)
    return [DefaultInfo(executable = out)]

unavailable_tool = rule(implementation = _unavailable_tool_impl, executable = True)
