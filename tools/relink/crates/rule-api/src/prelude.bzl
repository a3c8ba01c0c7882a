# The part of Bazel's rule API that relink implements in Starlark itself.
#
# Evaluated once with relink's native globals; its public symbols are visible in every BUILD
# and .bzl file. Names starting with `_` are private helpers that the Rust side calls.

# --- attr ------------------------------------------------------------------------------------

def _attr(kind, default, mandatory, doc, **extra):
    return struct(_relink_attr = kind, default = default, mandatory = mandatory, doc = doc, **extra)

# Keyword arguments of Bazel's attr.* that change nothing in relink: `configurable` (select()
# is always allowed), `flags` (Bazel-internal hints).
_NO_EFFECT_ATTR_ARGS = ["configurable", "flags"]

# One platform: the target and the exec configuration are the same.
_SAME_CONFIGURATION = [None, "exec", "host", "target"]

def _check_attr(fn, kwargs, cfg = None, aspects = []):
    """Refuse what relink cannot honour, instead of ignoring it."""
    for k in kwargs:
        if k not in _NO_EFFECT_ATTR_ARGS:
            fail("attr.%s() got an unexpected keyword argument '%s'" % (fn, k))
    if cfg not in _SAME_CONFIGURATION:
        fail("attr.%s(cfg = %r): relink builds in one configuration (the host); use \"exec\" or \"target\", or no cfg" % (fn, cfg))
    if aspects:
        fail("attr.%s(aspects = ...): relink does not implement aspects" % fn)

def _attr_label(default = None, doc = "", mandatory = False, allow_files = None, allow_single_file = None, executable = False, cfg = None, providers = [], aspects = [], allow_rules = None, **kwargs):
    _check_attr("label", kwargs, cfg, aspects)
    return _attr("label", default, mandatory, doc, allow_files = allow_files, allow_single_file = allow_single_file, executable = executable, providers = providers, allow_rules = allow_rules)

def _attr_label_list(default = [], doc = "", mandatory = False, allow_files = None, allow_empty = True, cfg = None, providers = [], aspects = [], allow_rules = None, **kwargs):
    _check_attr("label_list", kwargs, cfg, aspects)
    return _attr("label_list", default, mandatory, doc, allow_files = allow_files, allow_single_file = None, executable = False, providers = providers, allow_rules = allow_rules, allow_empty = allow_empty)

def _attr_string(default = "", doc = "", mandatory = False, values = [], **kwargs):
    _check_attr("string", kwargs)
    return _attr("string", default, mandatory, doc, values = values)

def _attr_string_list(default = [], doc = "", mandatory = False, allow_empty = True, **kwargs):
    _check_attr("string_list", kwargs)
    return _attr("string_list", default, mandatory, doc, allow_empty = allow_empty)

def _attr_string_dict(default = {}, doc = "", mandatory = False, allow_empty = True, **kwargs):
    _check_attr("string_dict", kwargs)
    return _attr("string_dict", default, mandatory, doc, allow_empty = allow_empty)

def _attr_label_keyed_string_dict(default = {}, doc = "", mandatory = False, allow_files = None, allow_empty = True, cfg = None, providers = [], aspects = [], allow_rules = None, **kwargs):
    _check_attr("label_keyed_string_dict", kwargs, cfg, aspects)
    return _attr("label_keyed_string_dict", default, mandatory, doc, allow_files = allow_files, providers = providers, allow_rules = allow_rules, allow_empty = allow_empty)

def _attr_bool(default = False, doc = "", mandatory = False, **kwargs):
    _check_attr("bool", kwargs)
    return _attr("bool", default, mandatory, doc)

def _attr_int(default = 0, doc = "", mandatory = False, values = [], **kwargs):
    _check_attr("int", kwargs)
    return _attr("int", default, mandatory, doc, values = values)

def _attr_output(doc = "", mandatory = False, **kwargs):
    _check_attr("output", kwargs)
    return _attr("output", None, mandatory, doc)

def _attr_output_list(doc = "", mandatory = False, allow_empty = True, **kwargs):
    _check_attr("output_list", kwargs)
    return _attr("output_list", [], mandatory, doc, allow_empty = allow_empty)

attr = struct(
    label = _attr_label,
    label_list = _attr_label_list,
    string = _attr_string,
    string_list = _attr_string_list,
    string_dict = _attr_string_dict,
    label_keyed_string_dict = _attr_label_keyed_string_dict,
    bool = _attr_bool,
    int = _attr_int,
    output = _attr_output,
    output_list = _attr_output_list,
)

# --- depset ----------------------------------------------------------------------------------

_DEPSET_ORDERS = ["default", "postorder", "preorder", "topological"]

def depset(direct = None, order = "default", transitive = None, items = None):
    if order not in _DEPSET_ORDERS:
        fail("depset: invalid order %r (use one of %s)" % (order, _DEPSET_ORDERS))
    direct = list(direct or items or [])
    transitive = [t for t in (transitive or []) if not t._relink_empty]
    for t in transitive:
        if t._relink_order != order and t._relink_order != "default" and order != "default":
            fail("depset: order mismatch: %s != %s" % (t._relink_order, order))
    empty = not direct and not transitive
    if len(direct) == 0 and len(transitive) == 1:
        # Sharing the only child keeps chains of forwarded depsets flat.
        return transitive[0]
    return struct(
        _relink_depset = True,
        _relink_empty = empty,
        _relink_direct = direct,
        _relink_transitive = transitive,
        _relink_order = order,
        to_list = lambda: _depset_flatten(direct, transitive, order),
    )

# --- runfiles --------------------------------------------------------------------------------

def _make_runfiles(files):
    return struct(
        files = files,
        merge = lambda other: _make_runfiles(depset(transitive = [files, other.files])),
        merge_all = lambda others: _make_runfiles(depset(transitive = [files] + [o.files for o in others])),
    )

def _runfiles(files = [], transitive_files = None, collect_data = False, collect_default = False, symlinks = {}, root_symlinks = {}):
    return _make_runfiles(depset(files, transitive = [transitive_files] if transitive_files else []))

# --- Args ------------------------------------------------------------------------------------

_UNSET = struct(_relink_unset = True)

def _arg_str(v):
    if type(v) == "File":
        return v.path
    if type(v) == "Label":
        return str(v)
    return v if type(v) == "string" else str(v)

def _as_list(values):
    if hasattr(values, "_relink_depset"):
        return values.to_list()
    return list(values)

def _mapped(values, map_each, uniquify):
    out = []
    for v in _as_list(values):
        if map_each != None:
            m = map_each(v)
            if m == None:
                continue
            out.extend(m if type(m) == "list" else [m])
        else:
            out.append(v)
    out = [_arg_str(v) for v in out]
    if uniquify:
        seen = {}
        unique = []
        for v in out:
            if v not in seen:
                seen[v] = True
                unique.append(v)
        out = unique
    return out

def _start_values(items, arg_name_or_values, values, map_each, uniquify, omit_if_empty):
    """Shared start of add_all/add_joined: append the optional name; return the mapped values,
    or None when they are empty and omitted."""
    name = None
    if values == _UNSET:
        values = arg_name_or_values
    else:
        name = arg_name_or_values
    mapped = _mapped(values, map_each, uniquify)
    if not mapped and omit_if_empty:
        return None
    if name != None:
        items.append(name)
    return mapped

def _args_new():
    items = []
    opts = {"param_file": None, "format": "shell"}

    def add(arg_name_or_value, value = _UNSET, format = None):
        if value == _UNSET:
            v = _arg_str(arg_name_or_value)
            items.append(format % v if format else v)
        else:
            items.append(_arg_str(arg_name_or_value))
            v = _arg_str(value)
            items.append(format % v if format else v)
        return args

    def add_all(arg_name_or_values, values = _UNSET, map_each = None, format_each = None, before_each = None, omit_if_empty = True, uniquify = False, expand_directories = True, terminate_with = None, allow_closure = False):
        mapped = _start_values(items, arg_name_or_values, values, map_each, uniquify, omit_if_empty)
        if mapped == None:
            return args
        for v in mapped:
            if before_each != None:
                items.append(before_each)
            items.append(format_each % v if format_each else v)
        if terminate_with != None:
            items.append(terminate_with)
        return args

    def add_joined(arg_name_or_values, values = _UNSET, join_with = "", map_each = None, format_each = None, format_joined = None, omit_if_empty = True, uniquify = False, expand_directories = True, allow_closure = False):
        mapped = _start_values(items, arg_name_or_values, values, map_each, uniquify, omit_if_empty)
        if mapped == None:
            return args
        joined = join_with.join([format_each % v if format_each else v for v in mapped])
        items.append(format_joined % joined if format_joined else joined)
        return args

    def use_param_file(param_file_arg, use_always = False):
        opts["param_file"] = param_file_arg
        return args

    def set_param_file_format(format):
        opts["format"] = format
        return args

    args = struct(
        _relink_args = items,
        _relink_args_opts = opts,
        add = add,
        add_all = add_all,
        add_joined = add_joined,
        use_param_file = use_param_file,
        set_param_file_format = set_param_file_format,
    )
    return args

# --- select ----------------------------------------------------------------------------------

def select(x, no_match_error = ""):
    return struct(_relink_select = x, _relink_no_match_error = no_match_error)

# --- ctx -------------------------------------------------------------------------------------

def _make_ctx(label, attr, file, files, executable, outputs, var, bin_dir, build_file_path, workspace_name, toolchains):
    return struct(
        toolchains = toolchains,
        configuration = struct(coverage_enabled = False, default_shell_env = {}),
        label = label,
        attr = attr,
        file = file,
        files = files,
        executable = executable,
        outputs = outputs,
        var = var,
        bin_dir = bin_dir,
        genfiles_dir = bin_dir,
        build_file_path = build_file_path,
        workspace_name = workspace_name,
        runfiles = _runfiles,
        actions = struct(
            args = _args_new,
            declare_file = _actions_declare_file,
            declare_directory = _actions_declare_directory,
            run = _actions_run,
            write = _actions_write,
            symlink = _actions_symlink,
        ),
    )

# --- native rules written in Starlark --------------------------------------------------------

def _filegroup_impl(ctx):
    files = depset(ctx.files.srcs + ctx.files.data)
    return [DefaultInfo(files = files, runfiles = ctx.runfiles(files = ctx.files.data).merge(ctx.runfiles(transitive_files = files)))]

filegroup = rule(
    implementation = _filegroup_impl,
    attrs = {
        "srcs": attr.label_list(allow_files = True),
        "data": attr.label_list(allow_files = True),
        "output_group": attr.string(),
    },
)

def _config_setting_impl(ctx):
    return []

config_setting = rule(
    implementation = _config_setting_impl,
    attrs = {
        "values": attr.string_dict(),
        "define_values": attr.string_dict(),
        "flag_values": attr.label_keyed_string_dict(),
        "constraint_values": attr.label_list(),
    },
)

# --- platforms and toolchains ----------------------------------------------------------------
# Declarations only: relink's analysis reads their attributes (label strings) to resolve
# toolchains against the target and host platforms (analysis/toolchains.rs).

def _declaration_impl(ctx):
    return []

_ToolchainInfo = provider(doc = "What a toolchain() target's implementation gives the rules that request its type.")

platform_common = struct(
    ToolchainInfo = _ToolchainInfo,
    TemplateVariableInfo = provider(doc = "Make variables (unused by relink)."),
)

toolchain_type = rule(implementation = _declaration_impl, attrs = {})

toolchain = rule(
    implementation = _declaration_impl,
    attrs = {
        "toolchain_type": attr.string(mandatory = True),
        "toolchain": attr.string(mandatory = True),
        "exec_compatible_with": attr.string_list(),
        "target_compatible_with": attr.string_list(),
        "target_settings": attr.string_list(),
    },
)

constraint_setting = rule(
    implementation = _declaration_impl,
    attrs = {"default_constraint_value": attr.string()},
)

constraint_value = rule(
    implementation = _declaration_impl,
    attrs = {"constraint_setting": attr.string(mandatory = True)},
)

platform = rule(
    implementation = _declaration_impl,
    attrs = {
        "constraint_values": attr.string_list(),
        "parents": attr.string_list(),
        "remote_execution_properties": attr.string(),
    },
)

# --- aspects and output groups -----------------------------------------------------------------

# relink applies no aspects (it has `relink clippy` where Bazel users apply
# rust_clippy_aspect): declaring one is allowed, so that .bzl files shared with Bazel load.
def aspect(implementation, attr_aspects = [], attrs = {}, required_providers = [], provides = [], doc = "", **kwargs):
    return struct(_relink_aspect = True, implementation = implementation, doc = doc)

# Output groups name extra outputs for `bazel build --output_groups`; relink builds the default
# outputs, so it keeps them only as a provider an implementation may return.
OutputGroupInfo = provider(doc = "Bazel's output groups (relink requests none).")

native = struct(
    toolchain_type = toolchain_type,
    toolchain = toolchain,
    constraint_setting = constraint_setting,
    constraint_value = constraint_value,
    platform = platform,
    glob = glob,
    package_name = package_name,
    repository_name = repository_name,
    exports_files = exports_files,
    package = package,
    filegroup = filegroup,
    config_setting = config_setting,
)
