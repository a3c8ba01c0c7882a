# The part of Bazel's rule API that relink implements in Starlark itself.
#
# Evaluated once with relink's native globals; its public symbols are visible in every BUILD
# and .bzl file. Names starting with `_` are private helpers that the Rust side calls.

# --- runfiles --------------------------------------------------------------------------------

def _make_runfiles(files):
    return struct(
        files = files,
        merge = lambda other: _make_runfiles(depset(transitive = [files, other.files])),
        merge_all = lambda others: _make_runfiles(depset(transitive = [files] + [o.files for o in others])),
    )

def _runfiles(files = [], transitive_files = None, collect_data = False, collect_default = False, symlinks = {}, root_symlinks = {}):
    return _make_runfiles(depset(files, transitive = [transitive_files] if transitive_files else []))

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
    return struct(implementation = implementation, doc = doc)

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
