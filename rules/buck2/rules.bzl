"""rules_relink on Buck2: rust_library, rust_binary, rust_test, rust_doc_test and rust_proc_macro.

The same interface-based build as the Bazel rules (rules/private/rules.bzl): a library's
dependents compile against its interface (`RustInterface`, from a stub), and only links read
real rlibs, so a private body edit recompiles one crate and relinks. The rules only wire
artifacts: every action runs one relink-builder verb with the flags the Bazel rules pass, and
which artifact of a dependency each action consumes comes from the shared table
(rules/private/artifact_table.bzl). Action categories are the Bazel mnemonics in the snake
case Buck2 requires (`RustInterface` is `rust_interface`), so `buck2 log what-ran` names the
actions `relink explain` and `bazel aquery` show.

Cargo profiles: `relink import` writes each target's `cargo_profile`; the build uses
`-c relink.profile=NAME` (default `dev`), with the flags profile_table.bzl gives the Bazel
rules. Not yet here (the Bazel rules have them): rustc's incremental state, unused-input
lists, cross-crate LTO profiles (which need real rlibs in compiles) and coverage.
"""

load("@relink//rules/buck2:toolchain.bzl", "RelinkToolchainInfo")
load("@relink//rules/private:artifact_table.bzl", "DEPENDENCY_ARTIFACT")
load("@relink//rules/private:profile_table.bzl", "parse_settings", "run_flags", "settings_flags")

# The Cargo profile imported targets build with (`-c relink.profile=NAME`).
_PROFILE = read_root_config("relink", "profile", "dev")

# `all`: print registry crates' build-script warnings too.
_BUILD_SCRIPT_WARNINGS = read_root_config("relink", "build_script_warnings", "")

RelinkRustInfo = provider(doc = "A compiled Rust crate, as its dependents see it.", fields = {
    # The crate name.
    "crate_name": provider_field(str),
    # A library's or proc macro's crate (the struct `_crate` returns), for its doctest target.
    "crate": provider_field(typing.Any, default = None),
    # The target, as `//package:name` (what `aliases` keys name).
    "label": provider_field(str),
    # A library's crate root, for its unit-test target.
    "crate_root": provider_field(Artifact | None),
    # A library's direct dependencies (RelinkRustInfo), for its unit-test target.
    "deps": provider_field(list[typing.Any]),
    # What a dependent's compile consumes: the interface rlib, or a proc macro's shared object.
    "interface": provider_field(Artifact),
    # What the crate's exported macro_rules! expand to (for dependents' stubs).
    "macros": provider_field(Artifact | None),
    # The real rlib; only links consume it.
    "rlib": provider_field(Artifact | None),
    # A library's sources, for its unit-test target.
    "srcs": provider_field(list[Artifact]),
    # Interfaces of this crate and its dependencies.
    "transitive_interfaces": provider_field(list[Artifact]),
    # (interface, rlib) of this crate and its dependencies, for the link step's path swap.
    "transitive_link_pairs": provider_field(list[(Artifact, Artifact)]),
    # Real rlibs of this crate and its dependencies.
    "transitive_rlibs": provider_field(list[Artifact]),
})

BuildScriptInfo = provider(doc = "What a Cargo build script produced for its crate.", fields = {
    # KEY=VALUE lines for rustc's environment (cargo:rustc-env).
    "env": provider_field(Artifact),
    # DEP_<LINKS>_<KEY>=VALUE lines for dependents' build scripts.
    "dep_env": provider_field(Artifact),
    # rustc flags (--cfg, -l, -L), one per line.
    "flags": provider_field(Artifact),
    # OUT_DIR.
    "out_dir": provider_field(Artifact),
})

RelinkBinaryInfo = provider(doc = "A linked Rust binary, for tests that run it (`rust_test(binaries = ...)`).", fields = {
    "executable": provider_field(Artifact),
})

# Where tests find the binaries they run (CARGO_BIN_EXE_*), as with the Bazel rules: an
# absolute path fixed at compile time, pointed at this run's binary by the launcher.
_BIN_EXE_ROOT = "/tmp/relink-bin-exe"

def _toolchain(ctx):
    return ctx.attrs._relink_toolchain[RelinkToolchainInfo]

def _unique(items):
    seen = {}
    out = []
    for i in items:
        if i not in seen:
            seen[i] = True
            out.append(i)
    return out

def _transitive(deps, field, own = []):
    """`own`, then the `field` lists of `deps`, each item once."""
    return _unique(own + [item for d in deps for item in getattr(d, field)])

def _dependency_files(mnemonic, deps):
    """The files of `deps` an action of kind `mnemonic` consumes (artifact_table.bzl)."""
    kind = DEPENDENCY_ARTIFACT[mnemonic]
    if kind == "none":
        return []
    if kind == "macros":
        return [d.macros for d in deps if d.macros]
    interfaces = _transitive(deps, "transitive_interfaces")
    if kind == "interface":
        return interfaces
    rlibs = _transitive(deps, "transitive_rlibs")
    if kind == "rlib":
        return rlibs
    if kind == "interface_and_rlib":
        return interfaces + rlibs
    return [f for f in interfaces if f.extension == ".so"] + rlibs

def _label(target_label):
    """`//package:name` of a target in any cell (the form `aliases` keys use)."""
    text = str(target_label.raw_target())
    return text[text.index("//"):]

def _settings(ctx, attr = "cargo_profile"):
    """The selected profile's settings of an imported target, or None (not imported)."""
    profiles = getattr(ctx.attrs, attr, {})
    if not profiles:
        return None
    if _PROFILE not in profiles:
        fail("{}: Cargo profile `{}` is not defined for this target (it knows {}); define [profile.{}] in Cargo.toml and run `relink import --buck2` again".format(
            ctx.label.raw_target(),
            _PROFILE,
            ", ".join(sorted(profiles.keys())),
            _PROFILE,
        ))
    return parse_settings(ctx.label.raw_target(), _PROFILE, profiles[_PROFILE])

def _mode_flags(ctx, settings):
    """The builder flags of the target's profile `settings` (from _settings)."""
    if settings == None:
        return ["--opt-level", "0", "--debuginfo", "0"]
    if settings.get("lto", "") in ("fat", "thin"):
        fail("{}: Cargo profile `{}` asks for cross-crate LTO, which the Buck2 rules do not build yet; use another profile".format(ctx.label.raw_target(), _PROFILE))
    return settings_flags(settings)

def _crate(ctx, crate_type, root_defaults, srcs = None, root = None, name = None, extra_rustc_env = {}, extra_rustc_flags = []):
    srcs = srcs if srcs != None else ctx.attrs.srcs
    settings = _settings(ctx)
    if not srcs:
        fail("{}: `srcs` is empty".format(ctx.label.raw_target()))
    if root == None:
        root = ctx.attrs.crate_root
    if root == None:
        if len(srcs) == 1:
            root = srcs[0]
        else:
            matches = [s for s in srcs if s.basename in root_defaults]
            if not matches:
                fail("{}: cannot tell the crate root among {} srcs: set `crate_root` (looked for {})".format(ctx.label.raw_target(), len(srcs), ", ".join(root_defaults)))
            root = matches[0]
    return struct(
        name = name or ctx.attrs.crate_name or ctx.label.name.replace("-", "_"),
        type = crate_type,
        root = root,
        srcs = srcs,
        edition = ctx.attrs.edition,
        metadata = str(ctx.label.raw_target()),
        # The package directory (CARGO_MANIFEST_DIR): the crate root's directory, as many
        # levels up as the root sits below the package.
        package_dir = cmd_args(root, parent = len(root.short_path.split("/"))),
        features = ctx.attrs.crate_features,
        rustc_flags = ctx.attrs.rustc_flags + extra_rustc_flags,
        rustc_env = ctx.attrs.rustc_env | extra_rustc_env,
        compile_data = ctx.attrs.compile_data,
        build_script = ctx.attrs.build_script[BuildScriptInfo] if getattr(ctx.attrs, "build_script", None) else None,
        aliases = ctx.attrs.aliases,
        # Optimised crates get the real metadata as interface (the Bazel rules' _use_stub).
        stubbed = ctx.attrs.stub_interface and (settings or {}).get("opt-level", "0") == "0",
        # The profile's builder flags, kept with the crate: a doctest target compiles with its
        # library's.
        mode_flags = _mode_flags(ctx, settings),
    )

def _dep_infos(ctx):
    return [d[RelinkRustInfo] for d in ctx.attrs.deps + ctx.attrs.proc_macro_deps]

def _crate_args(ctx, crate, deps, mnemonic = "RustCompile", aliases = None):
    """The builder arguments that describe `crate` and its deps (actions.bzl's crate_args).

    `aliases` replaces the crate's own (a doctest adds those of its dev-dependencies).
    """
    if aliases == None:
        aliases = crate.aliases
    tc = _toolchain(ctx)
    args = cmd_args("--rustc", tc.rustc)
    if tc.unstable:
        args.add("--unstable")
    args.add("--crate-name", crate.name, "--crate-root", crate.root, "--crate-type", crate.type)
    args.add("--edition", crate.edition, "--metadata", crate.metadata)
    args.add(crate.mode_flags)
    args.add("--package-dir", crate.package_dir)
    for f in crate.features:
        args.add("--feature", f)
    for f in tc.extra_rustc_flags + crate.rustc_flags:
        args.add("--rustc-flag=" + f)
    for k, v in crate.rustc_env.items():
        args.add("--env", "{}={}".format(k, v))
    for s in crate.srcs:
        args.add("--src", s)
    for d in crate.compile_data:
        args.add("--data", d)
    if crate.build_script:
        bs = crate.build_script
        args.add("--out-dir-env", bs.out_dir, "--flags-file", bs.flags, "--env-file", bs.env)
    real = DEPENDENCY_ARTIFACT[mnemonic] in ("rlib", "rlib_and_proc_macros")
    for dep in deps:
        artifact = dep.rlib if real and dep.rlib else dep.interface
        name = aliases.get(dep.label, dep.crate_name)
        args.add("--extern", cmd_args(name, "=", artifact, delimiter = ""))

    # A doctest run links too, but compiles (and searches dependencies) against interfaces
    # only: a real rlib found beside an interface would be a second candidate for the crate.
    searched = "RustCompile" if DEPENDENCY_ARTIFACT[mnemonic] == "interface_and_rlib" else mnemonic
    for f in _dependency_files(searched, deps):
        args.add("--dep", f)
    return args

def category(mnemonic):
    """Buck2's category for a Bazel mnemonic.

    Buck2 accepts only snake case: `RustCompileNoLink` is `rust_compile_no_link`.

    Args:
      mnemonic: an action kind of artifact_table.bzl.

    Returns:
      the category string.
    """
    out = ""
    for i, c in enumerate(mnemonic.elems()):
        if c.isupper() and i > 0:
            out += "_"
        out += c.lower()
    return out

def _run(ctx, mnemonic, verb, args, identifier):
    # The host toolchain (rustc on PATH, the linker) comes from the environment Buck2 runs
    # local actions in, as with the prelude's system_rust_toolchain.
    ctx.actions.run(
        cmd_args(_toolchain(ctx).builder, verb, args),
        category = category(mnemonic),
        identifier = identifier,
    )

def _emit_stub(ctx, crate, deps, stub_dir, record, macros):
    args = cmd_args("--crate-root", crate.root, "--out-dir", stub_dir.as_output())
    args.add("--record", record.as_output(), "--macros-out", macros.as_output(), "--span-policy", "anchored")
    for s in crate.srcs:
        args.add("--src", s)
    for m in _dependency_files("RustStub", deps):
        args.add("--dep-macros", m)
    _run(ctx, "RustStub", "stub", args, crate.name)

def _emit_macro_summary(ctx, crate, deps, macros):
    args = cmd_args("--macros-only", "--crate-root", crate.root, "--macros-out", macros.as_output())
    for s in crate.srcs:
        args.add("--src", s)
    for m in _dependency_files("RustMacros", deps):
        args.add("--dep-macros", m)
    _run(ctx, "RustMacros", "stub", args, crate.name)

def _emit_interface(ctx, crate, deps, out, stub_dir):
    args = _crate_args(ctx, crate, deps, "RustInterface")
    args.add("--out", out.as_output(), "--stub-dir", stub_dir)
    _run(ctx, "RustInterface", "interface", args, crate.name)

def _emit_compile(ctx, crate, deps, rlib, interface = None):
    args = _crate_args(ctx, crate, deps, "RustCompile")
    args.add("--out", rlib.as_output())
    if interface:
        args.add("--interface-out", interface.as_output())
    _run(ctx, "RustCompile", "compile", args, crate.name)

def _link_crate(ctx, crate, deps, out):
    """RustCompileNoLink (-Zno-link) then RustLink (-Zlink-only with the real rlibs)."""
    no_link = ctx.actions.declare_output(ctx.label.name + ".nolink", dir = True)
    args = _crate_args(ctx, crate, deps, "RustCompileNoLink")
    args.add("--no-link-dir", no_link.as_output())
    _run(ctx, "RustCompileNoLink", "compile", args, crate.name)
    args = _crate_args(ctx, crate, [], "RustLink")
    args.add("--rustc-flag=-Clinker=" + _toolchain(ctx).linker)
    args.add("--rlink-dir", no_link)
    for interface, rlib in _transitive(deps, "transitive_link_pairs"):
        args.add("--link-dep", cmd_args(interface, "=", rlib, delimiter = ""))
    args.add(cmd_args(hidden = _dependency_files("RustLink", deps)))
    args.add("--out", out.as_output())
    _run(ctx, "RustLink", "link", args, crate.name)

def _out_name(crate_name, ctx, ext):
    return "lib{}-{}.{}".format(crate_name, ctx.label.name, ext)

def _rust_info(ctx, crate, deps, interface, rlib, macros):
    """RelinkRustInfo of a library (`rlib` set) or a proc macro (`rlib` None).

    A proc macro's dependents link nothing of it, so its dependencies' rlibs are not passed on.
    """
    return RelinkRustInfo(
        crate_name = crate.name,
        crate = crate,
        label = _label(ctx.label),
        interface = interface,
        rlib = rlib,
        transitive_interfaces = _transitive(deps, "transitive_interfaces", [interface]),
        transitive_rlibs = _transitive(deps, "transitive_rlibs", [rlib]) if rlib else [],
        transitive_link_pairs = _transitive(deps, "transitive_link_pairs", [(interface, rlib)]) if rlib else [],
        macros = macros,
        srcs = crate.srcs,
        crate_root = crate.root,
        deps = deps,
    )

def _rust_library_impl(ctx):
    crate = _crate(ctx, "rlib", ["lib.rs"])
    deps = _dep_infos(ctx)
    rlib = ctx.actions.declare_output(_out_name(crate.name, ctx, "rlib"))
    interface = ctx.actions.declare_output("_iface/" + _out_name(crate.name, ctx, "rlib"))
    macros = ctx.actions.declare_output("_stub/" + ctx.label.name + ".macros.json")
    if crate.stubbed:
        stub_dir = ctx.actions.declare_output("_stub/" + ctx.label.name, dir = True)
        record = ctx.actions.declare_output("_stub/" + ctx.label.name + ".record.json")
        _emit_stub(ctx, crate, deps, stub_dir, record, macros)
        _emit_interface(ctx, crate, deps, interface, stub_dir)
        _emit_compile(ctx, crate, deps, rlib)
    else:
        _emit_macro_summary(ctx, crate, deps, macros)
        _emit_compile(ctx, crate, deps, rlib, interface = interface)
    return [
        DefaultInfo(default_outputs = [rlib, interface]),
        _rust_info(ctx, crate, deps, interface, rlib, macros),
    ]

def _rust_proc_macro_impl(ctx):
    crate = _crate(ctx, "proc-macro", ["lib.rs"])
    deps = _dep_infos(ctx)
    so = ctx.actions.declare_output("_pm/" + _out_name(crate.name, ctx, "so"))
    _link_crate(ctx, crate, deps, so)
    return [
        DefaultInfo(default_output = so),
        _rust_info(ctx, crate, deps, so, None, None),
    ]

def _rust_binary_impl(ctx):
    crate = _crate(ctx, "bin", ["main.rs"])
    exe = ctx.actions.declare_output(ctx.attrs.bin_name or ctx.label.name)
    _link_crate(ctx, crate, _dep_infos(ctx), exe)
    return [
        DefaultInfo(default_output = exe),
        RunInfo(args = cmd_args(exe)),
        RelinkBinaryInfo(executable = exe),
    ]

def _sanitize(s):
    return "".join([c if c.isalnum() or c in "-." else "_" for c in s.elems()])

def _rust_test_impl(ctx):
    bin_exes = [b[RelinkBinaryInfo].executable for b in ctx.attrs.binaries]
    exe_dir = _BIN_EXE_ROOT + "/buck2_" + _sanitize(str(ctx.label.raw_target()))
    bin_env = {"CARGO_BIN_EXE_" + exe.basename: exe_dir + "/" + exe.basename for exe in bin_exes}
    deps = _dep_infos(ctx)
    if ctx.attrs.crate:
        lib = ctx.attrs.crate[RelinkRustInfo]

        # A proc-macro crate's tests use the compiler's `proc_macro` crate as Cargo gives it.
        extern_proc_macro = ["--extern=proc_macro"] if lib.crate.type == "proc-macro" else []
        crate = _crate(ctx, "test", [], srcs = lib.srcs, root = lib.crate_root, name = lib.crate_name, extra_rustc_env = bin_env, extra_rustc_flags = extern_proc_macro)
        deps = lib.deps + deps
    else:
        crate = _crate(ctx, "test", ["main.rs", "lib.rs", ctx.label.name + ".rs"], extra_rustc_env = bin_env)
    binary = ctx.actions.declare_output("deps/" + ctx.label.name)
    _link_crate(ctx, crate, deps, binary)
    if bin_exes:
        # As under Cargo, the test binary sits in deps/ one level below the binaries it runs,
        # so tests that find one at current_exe()/../NAME (ripgrep's) work: copies, since
        # current_exe() sees through symlinks.
        layout = {"deps/" + ctx.label.name: binary} | {exe.basename: exe for exe in bin_exes}
        run_dir = ctx.actions.copied_dir(ctx.label.name + ".run", layout)
        binary = run_dir.project("deps/" + ctx.label.name)

    # The launcher points CARGO_BIN_EXE_* at this run's binaries (under a lock), then runs the
    # test binary; the test runs from the project root.
    command = cmd_args(ctx.attrs._launcher, "--exe-dir", exe_dir, hidden = ctx.attrs.data)
    if ctx.attrs.run_in_package_dir:
        command.add("--cd", crate.package_dir)
    for exe in bin_exes:
        command.add("--bin", cmd_args(exe.basename, "=", exe, delimiter = ""))
    command.add("--", binary)
    return [
        DefaultInfo(default_output = binary),
        RunInfo(args = command),
        ExternalRunnerTestInfo(
            type = "rust",
            command = [command],
            env = ctx.attrs.env,
            labels = ctx.attrs.labels,
            run_from_project_root = True,
            use_project_relative_paths = True,
        ),
    ]

def _rust_doc_test_impl(ctx):
    lib = ctx.attrs.crate[RelinkRustInfo]
    crate = lib.crate
    if crate == None:
        fail("{}: `crate` must be a rust_library or rust_proc_macro".format(ctx.label.raw_target()))
    deps = [lib] + lib.deps + _dep_infos(ctx)
    log = ctx.actions.declare_output(ctx.label.name + ".doctest.log")
    status = ctx.actions.declare_output(ctx.label.name + ".doctest.status")
    tc = _toolchain(ctx)
    args = _crate_args(ctx, crate, deps, "RustDocTest", aliases = crate.aliases | ctx.attrs.aliases)
    args.add("--rustc-flag=-Clinker=" + tc.linker, "--rustdoc", tc.rustdoc)
    for interface, rlib in _transitive(deps, "transitive_link_pairs"):
        args.add("--link-dep", cmd_args(interface, "=", rlib, delimiter = ""))
    args.add(cmd_args(hidden = _dependency_files("RustDocTest", deps)))
    args.add("--log", log.as_output(), "--status", status.as_output())
    _run(ctx, "RustDocTest", "doctest", args, crate.name)

    # The test prints what the run printed and exits with its status (the Bazel rule's
    # launcher).
    command = cmd_args("sh", "-c", 'cat "$1" || exit 1; exit "$(cat "$2")"', "sh", log, status)
    return [
        DefaultInfo(default_outputs = [log, status]),
        RunInfo(args = command),
        ExternalRunnerTestInfo(
            type = "custom",
            command = [command],
            labels = ctx.attrs.labels,
            run_from_project_root = True,
            use_project_relative_paths = True,
        ),
    ]

def _cargo_build_script_impl(ctx):
    crate = _crate(ctx, "bin", ["build.rs"], name = "build_script_build")
    script = ctx.actions.declare_output(ctx.label.name + "_/build_script_build")
    _link_crate(ctx, crate, _dep_infos(ctx), script)
    info = BuildScriptInfo(
        out_dir = ctx.actions.declare_output(ctx.label.name + ".out_dir", dir = True),
        flags = ctx.actions.declare_output(ctx.label.name + ".flags"),
        env = ctx.actions.declare_output(ctx.label.name + ".env"),
        dep_env = ctx.actions.declare_output(ctx.label.name + ".dep_env"),
    )
    settings = _settings(ctx, "run_profile")
    args = cmd_args("--script", script, "--package", ctx.attrs.package_name or ctx.label.name)
    args.add("--manifest-dir", crate.package_dir, "--out-dir", info.out_dir.as_output())
    args.add("--rustc", _toolchain(ctx).rustc)
    args.add(run_flags(settings) if settings != None else ["--opt-level", "0"])
    if ctx.attrs.links:
        args.add("--links", ctx.attrs.links)
    for f in ctx.attrs.crate_features:
        args.add("--feature", f)
    for k, v in ctx.attrs.build_script_env.items():
        args.add("--env", "{}={}".format(k, v))
    for d in ctx.attrs.link_deps:
        args.add("--dep-env-file", d[BuildScriptInfo].dep_env)
    args.add("--flags-out", info.flags.as_output(), "--env-out", info.env.as_output(), "--dep-env-out", info.dep_env.as_output())
    for f in ctx.attrs.data + ctx.attrs.srcs:
        args.add("--package-file", f)
    if not ctx.attrs.show_warnings and _BUILD_SCRIPT_WARNINGS != "all":
        args.add("--hide-warnings")
    _run(ctx, "CargoBuildScriptRun", "build-script", args, crate.name)
    return [info, DefaultInfo(default_outputs = [info.flags, info.env])]

_COMMON_ATTRS = {
    "aliases": attrs.dict(attrs.string(), attrs.string(), default = {}, doc = "Renamed dependencies: dependency label (`//pkg:name`) -> the name the crate uses."),
    "build_script": attrs.option(attrs.dep(providers = [BuildScriptInfo]), default = None, doc = "A cargo_build_script whose OUT_DIR, cfgs and env this crate compiles with."),
    "cargo_profile": attrs.dict(attrs.string(), attrs.string(), default = {}, doc = "Cargo profile name -> settings (`opt-level=0 debuginfo=2 ...`), from `relink import`; the build uses `-c relink.profile=NAME`."),
    "compile_data": attrs.list(attrs.source(), default = [], doc = "Files needed at compile time (`include_str!`)."),
    "crate_features": attrs.list(attrs.string(), default = [], doc = "Cargo features: each becomes `--cfg feature=\"...\"`."),
    "data": attrs.list(attrs.source(), default = [], doc = "Files needed at run time."),
    "crate_name": attrs.option(attrs.string(), default = None, doc = "Crate name; defaults to the target name with `-` as `_`."),
    "crate_root": attrs.option(attrs.source(), default = None, doc = "The crate root; defaults to lib.rs/main.rs or the only source."),
    "deps": attrs.list(attrs.dep(providers = [RelinkRustInfo]), default = [], doc = "Rust libraries (and proc macros) this crate uses."),
    "edition": attrs.string(default = "2021", doc = "Rust edition."),
    "labels": attrs.list(attrs.string(), default = []),
    "proc_macro_deps": attrs.list(attrs.dep(providers = [RelinkRustInfo]), default = [], doc = "Proc-macro crates this crate uses."),
    "rustc_env": attrs.dict(attrs.string(), attrs.string(), default = {}, doc = "Environment variables for `env!()` at compile time."),
    "rustc_flags": attrs.list(attrs.string(), default = [], doc = "Extra rustc flags."),
    "srcs": attrs.list(attrs.source(), default = [], doc = "Rust source files of the crate."),
    "stub_interface": attrs.bool(default = True, doc = "Derive the interface from a stub (early cutoff). False for crates that never change (third party)."),
    "_relink_toolchain": attrs.toolchain_dep(default = "toolchains//:relink", providers = [RelinkToolchainInfo]),
}

cargo_build_script = rule(
    impl = _cargo_build_script_impl,
    doc = "Compiles a Cargo build script with its build-dependencies and runs it (CargoBuildScriptRun).",
    attrs = _COMMON_ATTRS | {
        "build_script_env": attrs.dict(attrs.string(), attrs.string(), default = {}, doc = "Environment of the script run (CARGO_PKG_*)."),
        "link_deps": attrs.list(attrs.dep(providers = [BuildScriptInfo]), default = [], doc = "Build scripts of dependencies with `links`, whose DEP_* metadata this script sees."),
        "links": attrs.string(default = "", doc = "The package's `links` value."),
        "package_name": attrs.option(attrs.string(), default = None, doc = "The Cargo package name."),
        "run_profile": attrs.dict(attrs.string(), attrs.string(), default = {}, doc = "Like `cargo_profile`, for the package's own crates (the OPT_LEVEL, DEBUG and PROFILE the script runs with)."),
        "show_warnings": attrs.bool(default = True, doc = "Print the script's `cargo:warning`s (False for registry crates; `-c relink.build_script_warnings=all` shows them anyway)."),
    },
)

rust_library = rule(
    impl = _rust_library_impl,
    doc = "A Rust library: a real rlib, and an interface rlib that dependents compile against.",
    attrs = _COMMON_ATTRS,
)

rust_proc_macro = rule(
    impl = _rust_proc_macro_impl,
    doc = "A procedural macro crate (compiled with -Zno-link, linked with -Zlink-only).",
    attrs = _COMMON_ATTRS,
)

rust_binary = rule(
    impl = _rust_binary_impl,
    doc = "A Rust binary: compiled against dependency interfaces, linked with their real rlibs.",
    attrs = _COMMON_ATTRS | {
        "bin_name": attrs.option(attrs.string(), default = None, doc = "File name of the binary (default: the target name)."),
    },
)

rust_doc_test = rule(
    impl = _rust_doc_test_impl,
    doc = "The documentation tests of a rust_library, run as `cargo test` runs them (`rustdoc --test`): each example is compiled against the interfaces of the library and its dependencies, linked with their real rlibs, and run from the package directory, in one cached action (`RustDocTest`); the test prints its output and exits with its status.",
    attrs = {
        "aliases": attrs.dict(attrs.string(), attrs.string(), default = {}, doc = "Renamed dependencies of the examples, as on rust_library."),
        "crate": attrs.dep(providers = [RelinkRustInfo], doc = "The rust_library (or rust_proc_macro) whose doctests run."),
        "deps": attrs.list(attrs.dep(providers = [RelinkRustInfo]), default = [], doc = "Extra libraries the examples use (Cargo's dev-dependencies)."),
        "labels": attrs.list(attrs.string(), default = []),
        "proc_macro_deps": attrs.list(attrs.dep(providers = [RelinkRustInfo]), default = [], doc = "Extra proc-macro crates the examples use."),
        "_relink_toolchain": attrs.toolchain_dep(default = "toolchains//:relink", providers = [RelinkToolchainInfo]),
    },
)

rust_test = rule(
    impl = _rust_test_impl,
    doc = "A Rust test binary: unit tests of `crate`, or a standalone integration test.",
    attrs = _COMMON_ATTRS | {
        "binaries": attrs.list(attrs.dep(providers = [RelinkBinaryInfo]), default = [], doc = "rust_binary targets the test runs: `CARGO_BIN_EXE_<name>` is an absolute path to each, at compile time and at run time."),
        "crate": attrs.option(attrs.dep(providers = [RelinkRustInfo]), default = None, doc = "A rust_library whose sources are compiled with --test."),
        "env": attrs.dict(attrs.string(), attrs.string(), default = {}, doc = "Environment variables for the test run."),
        "run_in_package_dir": attrs.bool(default = False, doc = "Run the test with the package directory as working directory, as `cargo test` does."),
        "_launcher": attrs.source(default = "relink//rules/buck2:test_launcher.sh"),
    },
)
