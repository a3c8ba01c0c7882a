"""Implementations and declarations of rust_library, rust_binary, rust_test, rust_proc_macro."""

load("//rules:toolchain.bzl", "CPP_TOOLCHAIN_TYPE", "TOOLCHAIN_TYPE")
load("//rules/private:actions.bzl", "emit_build_script_run", "emit_compile", "emit_compile_no_link", "emit_doc_test", "emit_interface", "emit_link", "emit_macro_summary", "emit_stub")
load("//rules/private:context.bzl", "relink_context")
load("//rules/private:providers.bzl", "BuildScriptInfo", "CrateSpecInfo", "RustBinaryInfo", "RustInfo")

def _crate_name(ctx):
    return ctx.attr.crate_name or ctx.label.name.replace("-", "_")

def _crate_root(ctx, srcs, defaults):
    if ctx.file.crate_root:
        return ctx.file.crate_root
    if len(srcs) == 1:
        return srcs[0]
    for f in srcs:
        if f.basename in defaults:
            return f
    fail("%s: cannot tell the crate root among %d srcs: set `crate_root` (looked for %s)" % (ctx.label, len(srcs), ", ".join(defaults)))

def _crate(ctx, crate_type, srcs = None, root_defaults = ["lib.rs"], name = None, root = None, extra_rustc_env = {}, extra_rustc_flags = []):
    srcs = srcs if srcs != None else ctx.files.srcs
    if not srcs:
        fail("%s: `srcs` is empty" % ctx.label)
    config = relink_context(ctx)
    fields = _crate_fields(ctx, config, crate_type, srcs, root_defaults, name, root, extra_rustc_env)
    if extra_rustc_flags:
        fields["rustc_flags"] = fields["rustc_flags"] + extra_rustc_flags
    return struct(fields = fields, **fields)

def _spec(crate, deps):
    """CrateSpecInfo of a crate: what clippy and rustfmt need to see it as its compile does."""
    return CrateSpecInfo(crate_fields = crate.fields, deps = deps)

def _crate_fields(ctx, config, crate_type, srcs, root_defaults, name, root, extra_rustc_env):
    """The fields of the crate struct, as a dict (a doctest target adds its aliases to them)."""
    return dict(
        config = config,
        name = name or _crate_name(ctx),
        type = crate_type,
        root = root or _crate_root(ctx, srcs, root_defaults),
        srcs = srcs,
        compile_data = ctx.files.compile_data,
        edition = ctx.attr.edition,
        metadata = str(ctx.label),
        package_dir = (ctx.label.workspace_root + ("/" if ctx.label.workspace_root else "") + ctx.label.package) or ".",
        features = ctx.attr.crate_features,
        rustc_flags = ctx.attr.rustc_flags,
        rustc_env = dict(ctx.attr.rustc_env, **extra_rustc_env),
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin"},
        build_script = ctx.attr.build_script[BuildScriptInfo] if getattr(ctx.attr, "build_script", None) else None,
        stubbed = _use_stub(ctx, config),
        # A crate that can change (not third party): only those keep incremental state.
        changes = ctx.attr.stub_interface,
        aliases = _aliases(ctx),
    )

def _aliases(ctx):
    return {_normalize(str(dep.label)): name for dep, name in ctx.attr.aliases.items()}

def _normalize(label_string):
    """`//p:n`, `@//p:n` and `@@//p:n` (how Bazel versions print main-repo labels) alike."""
    s = label_string
    if s.startswith("@@//"):
        s = s[2:]
    elif s.startswith("@//"):
        s = s[1:]
    if s.startswith("//") and ":" not in s:
        s = s + ":" + s.split("/")[-1]
    return s

def _dep_infos(ctx):
    return [_with_label(d) for d in ctx.attr.deps + getattr(ctx.attr, "proc_macro_deps", [])]

def _with_label(target):
    return _dep_struct(target.label, target[RustInfo])

def _dep_struct(label, info):
    """A dependency as actions see it: its label (for `aliases`) and its RustInfo."""
    return struct(
        label = _normalize(str(label)),
        crate_name = info.crate_name,
        interface = info.interface,
        rlib = info.rlib,
        transitive_interfaces = info.transitive_interfaces,
        transitive_rlibs = info.transitive_rlibs,
        transitive_link_pairs = info.transitive_link_pairs,
        macros = info.macros,
    )

def _use_stub(ctx, config):
    """Interfaces from stubs: in fastbuild/dbg at opt-level 0, unless disabled (--define=relink_cutoff=0).

    Optimised crates get the real metadata as interface: rustc marks small bodies inlinable
    across crates there (design note, pitfall 5), unless the unstable toolchain forbids it.
    """
    if config.mode == "opt":
        return False
    if config.opt_level != "0" and not config.toolchain.unstable:
        return False
    if config.cross_crate_lto:
        # The LTO compile of a binary reads real rlibs, which record their dependencies'
        # crate hashes: those must be the real crates' (artifacts.bzl).
        return False
    if not config.cutoff:
        return False
    if config.stub_all:
        # Stub third-party crates too (differential tests of the stubber on real crates).
        return True
    return ctx.attr.stub_interface

def _out_name(crate_name, ctx, ext):
    return "lib%s-%s.%s" % (crate_name, ctx.label.name, ext)

def _rust_library_impl(ctx):
    crate = _crate(ctx, "rlib")
    deps = _dep_infos(ctx)
    rlib = ctx.actions.declare_file(_out_name(crate.name, ctx, "rlib"))
    interface = ctx.actions.declare_file("_iface/" + _out_name(crate.name, ctx, "rlib"))
    macros = ctx.actions.declare_file("_stub/" + ctx.label.name + ".macros.json")
    if crate.stubbed:
        stub_dir = ctx.actions.declare_directory("_stub/" + ctx.label.name)
        record = ctx.actions.declare_file("_stub/" + ctx.label.name + ".record.json")
        emit_stub(ctx, crate, deps, stub_dir, record, macros)
        emit_interface(ctx, crate, deps, interface, stub_dir)
        emit_compile(ctx, crate, deps, rlib)
    else:
        emit_macro_summary(ctx, crate, deps, macros)
        emit_compile(ctx, crate, deps, rlib, interface = interface)
    return [
        RustInfo(
            crate_name = crate.name,
            crate_type = "rlib",
            interface = interface,
            rlib = rlib,
            transitive_interfaces = depset([interface], transitive = [d.transitive_interfaces for d in deps]),
            transitive_rlibs = depset([rlib], transitive = [d.transitive_rlibs for d in deps]),
            transitive_link_pairs = depset(["%s=%s" % (interface.path, rlib.path)], transitive = [d.transitive_link_pairs for d in deps]),
            macros = macros,
        ),
        DefaultInfo(files = depset([rlib, interface]), runfiles = ctx.runfiles(files = ctx.files.data)),
        _spec(crate, deps),
    ]

def _link_crate(ctx, crate, deps, out):
    no_link = ctx.actions.declare_directory(ctx.label.name + ".nolink")
    emit_compile_no_link(ctx, crate, deps, no_link)
    emit_link(ctx, crate, deps, no_link, out)

def _rust_proc_macro_impl(ctx):
    crate = _crate(ctx, "proc-macro")
    deps = _dep_infos(ctx)
    so = ctx.actions.declare_file("_pm/" + _out_name(crate.name, ctx, "so"))
    _link_crate(ctx, crate, deps, so)
    info = RustInfo(
        crate_name = crate.name,
        crate_type = "proc-macro",
        interface = so,
        rlib = None,
        transitive_interfaces = depset([so], transitive = [d.transitive_interfaces for d in deps]),
        transitive_rlibs = depset(),
        transitive_link_pairs = depset(),
        macros = None,
    )
    return [
        info,
        DefaultInfo(files = depset([so])),
        _spec(crate, deps),
        # Its unit tests and doctests, as `cargo test` runs them for a proc-macro crate.
        _LibSrcsInfo(srcs = crate.srcs, root = crate.root, deps = deps, crate_fields = crate.fields, self_dep = _dep_struct(ctx.label, info)),
    ]

def _rust_binary_impl(ctx):
    crate = _crate(ctx, "bin", root_defaults = ["main.rs"])
    deps = _dep_infos(ctx)
    exe = ctx.actions.declare_file(ctx.attr.bin_name or ctx.label.name)
    _link_crate(ctx, crate, deps, exe)
    return [
        DefaultInfo(files = depset([exe]), executable = exe, runfiles = ctx.runfiles(files = ctx.files.data)),
        RustBinaryInfo(executable = exe),
        _spec(crate, deps),
    ]

def _rust_test_impl(ctx):
    if ctx.configuration.coverage_enabled:
        fail("rules_relink: `bazel coverage` is not supported for rust_test yet (no -Cinstrument-coverage instrumentation or lcov output); run `bazel test` instead")

    # CARGO_BIN_EXE_<name>: an absolute path, fixed at compile time (so that neither the
    # workspace path nor the binary's content enters the test's compile), that the launcher
    # points at this run's binary, under a lock held for the test's lifetime.
    exe_dir = _BIN_EXE_ROOT + "/" + _sanitize("%s_%s_%s_%s" % (ctx.workspace_name, ctx.bin_dir.path, ctx.label.package, ctx.label.name))
    bin_exes = [b[RustBinaryInfo].executable for b in ctx.attr.binaries]
    bin_env = {"CARGO_BIN_EXE_" + exe.basename: exe_dir + "/" + exe.basename for exe in bin_exes}
    deps = _dep_infos(ctx)

    # CARGO_TARGET_TMPDIR: integration tests get a directory of their own to write in, fixed
    # per target like exe_dir (`cargo test` gives target/tmp).
    tmp_dir = None if ctx.attr.crate else _TARGET_TMP_ROOT + "/" + _sanitize("%s_%s_%s_%s" % (ctx.workspace_name, ctx.bin_dir.path, ctx.label.package, ctx.label.name))
    if tmp_dir:
        bin_env = dict(bin_env, CARGO_TARGET_TMPDIR = tmp_dir)
    if ctx.attr.crate:
        # Unit tests: the library's own sources compiled with --test, its deps plus the test's.
        lib = ctx.attr.crate[_LibSrcsInfo]

        # A proc-macro crate's tests use the compiler's `proc_macro` crate as Cargo gives it.
        extern_proc_macro = ["--extern=proc_macro"] if lib.crate_fields["type"] == "proc-macro" else []
        crate = _crate(ctx, "test", srcs = lib.srcs, name = ctx.attr.crate[RustInfo].crate_name, root = lib.root, extra_rustc_env = bin_env, extra_rustc_flags = extern_proc_macro)
        deps = lib.deps + deps
    else:
        crate = _crate(ctx, "test", root_defaults = ["main.rs", "lib.rs", ctx.label.name + ".rs"], extra_rustc_env = bin_env)

    # Like Cargo, test binaries sit in deps/ one level below the package's binaries, so tests
    # that find a binary at current_exe()/../NAME (ripgrep's) work.
    needs_launcher = bool(ctx.attr.env) or ctx.attr.run_in_package_dir or bool(bin_exes) or bool(tmp_dir)
    binary = ctx.actions.declare_file("deps/" + ctx.label.name + (".bin" if needs_launcher else ""))
    _link_crate(ctx, crate, deps, binary)
    out_dir = [crate.build_script.out_dir] if crate.build_script else []
    runfiles = ctx.runfiles(files = ctx.files.data + ctx.files.binaries + [binary] + out_dir)
    if not needs_launcher:
        return [DefaultInfo(files = depset([binary]), executable = binary, runfiles = runfiles), _spec(crate, deps)]
    launcher = ctx.actions.declare_file("deps/" + ctx.label.name)
    up = "../" * len(launcher.short_path.split("/")[:-1])
    run_env = []
    lines = ["#!/bin/sh", "here=\"$(cd \"$(dirname \"$0\")\" && pwd)\"", "exe=\"$here/%s\"" % binary.basename]
    lines += ["export %s='%s'" % (k, v.replace("'", "'\\''")) for k, v in ctx.attr.env.items()]
    if out_dir:
        # Like `cargo test`: the build script's OUT_DIR at run time too.
        lines.append("export OUT_DIR=\"$here/%s%s\"" % (up, out_dir[0].short_path))
    if tmp_dir:
        lines.append("mkdir -p -m 1777 '%s' 2>/dev/null; mkdir -p '%s' || exit 1" % (_TARGET_TMP_ROOT, tmp_dir))
    if bin_exes:
        lines += [
            "mkdir -p -m 1777 '%s' 2>/dev/null; mkdir -p '%s' || exit 1" % (_BIN_EXE_ROOT, exe_dir),
            "exec 9>'%s/.lock' && flock 9 || { echo 'cannot lock %s for the test binaries (CARGO_BIN_EXE_*): flock from util-linux is needed' >&2; exit 1; }" % (exe_dir, exe_dir),
        ]
        for exe in bin_exes:
            # A copy, as Cargo's target/debug/NAME is the binary itself: a test that compares
            # the binary's current_exe() with CARGO_BIN_EXE_NAME (just's) sees the same path. Not
            # a hard link: the test could then write to the cache's blob through it.
            dest = "%s/%s" % (exe_dir, exe.basename)
            lines.append("cp -f \"$here/%s%s\" '%s.tmp' && mv -f '%s.tmp' '%s' || exit 1" % (up, exe.short_path, dest, dest, dest))

            # Binary names may hold `-`, which a shell variable cannot: set through env(1).
            run_env.append("'CARGO_BIN_EXE_%s=%s/%s'" % (exe.basename, exe_dir, exe.basename))
    if ctx.attr.run_in_package_dir:
        # Like `cargo test`: the working directory is the package directory.
        lines.append("cd '%s' || exit 1" % crate.package_dir)
        lines.append("export CARGO_MANIFEST_DIR=\"$(pwd)\"")
        lines.append("if [ -f Cargo.toml ]; then export CARGO_MANIFEST_PATH=\"$(pwd)/Cargo.toml\"; fi")
    lines.append("exec %s\"$exe\" \"$@\"" % ("env %s " % " ".join(run_env) if run_env else ""))
    ctx.actions.write(output = launcher, content = "\n".join(lines) + "\n", is_executable = True)
    return [DefaultInfo(files = depset([launcher]), executable = launcher, runfiles = runfiles), _spec(crate, deps)]

# Where tests find the binaries they run (CARGO_BIN_EXE_*): one directory per test target and
# configuration, the same in every workspace.
_BIN_EXE_ROOT = "/tmp/relink-bin-exe"

# Where integration tests write (CARGO_TARGET_TMPDIR): one directory per test target and
# configuration, the same in every workspace.
_TARGET_TMP_ROOT = "/tmp/relink-target-tmp"

def _sanitize(s):
    return "".join([c if c.isalnum() or c in "-." else "_" for c in s.elems()])

def _cargo_build_script_impl(ctx):
    crate = _crate(ctx, "bin", root_defaults = ["build.rs"], name = "build_script_build")
    deps = _dep_infos(ctx)
    script = ctx.actions.declare_file(ctx.label.name + "_/build_script_build")
    _link_crate(ctx, crate, deps, script)
    info = BuildScriptInfo(
        out_dir = ctx.actions.declare_directory(ctx.label.name + ".out_dir"),
        flags = ctx.actions.declare_file(ctx.label.name + ".flags"),
        env = ctx.actions.declare_file(ctx.label.name + ".env"),
        dep_env = ctx.actions.declare_file(ctx.label.name + ".dep_env"),
    )
    run_crate = struct(name = ctx.attr.package_name or ctx.label.name, package_dir = crate.package_dir, config = crate.config)
    emit_build_script_run(
        ctx,
        script = script,
        crate = run_crate,
        info = info,
        links = ctx.attr.links,
        features = ctx.attr.crate_features,
        env = ctx.attr.build_script_env,
        inputs = ctx.files.data + ctx.files.srcs,
        dep_env_files = [d[BuildScriptInfo].dep_env for d in ctx.attr.link_deps],
        show_warnings = ctx.attr.show_warnings or crate.config.all_build_script_warnings,
    )
    return [info, DefaultInfo(files = depset([info.flags, info.env]))]

# Unit tests (`rust_test(crate = ":lib")`) recompile a library's sources: the library
# exports them through this private provider.
_LibSrcsInfo = provider(
    doc = "A library's sources, for its unit-test and doctest targets.",
    fields = ["srcs", "root", "deps", "crate_fields", "self_dep"],
)

def _rust_library_with_srcs_impl(ctx):
    providers = _rust_library_impl(ctx)
    fields = providers[2].crate_fields
    crate = struct(**fields)
    self_dep = _dep_struct(ctx.label, providers[0])
    return providers + [_LibSrcsInfo(srcs = crate.srcs, root = crate.root, deps = _dep_infos(ctx), crate_fields = fields, self_dep = self_dep)]

def _rust_doc_test_impl(ctx):
    lib = ctx.attr.crate[_LibSrcsInfo]
    deps = [lib.self_dep] + lib.deps + _dep_infos(ctx)
    fields = dict(lib.crate_fields)
    aliases = dict(fields["aliases"])
    aliases.update(_aliases(ctx))
    fields["aliases"] = aliases
    log = ctx.actions.declare_file(ctx.label.name + ".doctest.log")
    status = ctx.actions.declare_file(ctx.label.name + ".doctest.status")
    emit_doc_test(ctx, struct(**fields), deps, log, status)

    # The test prints what the run printed and exits with its status.
    launcher = ctx.actions.declare_file(ctx.label.name)
    up = "../" * len(launcher.short_path.split("/")[:-1])
    lines = [
        "#!/bin/sh",
        "here=\"$(cd \"$(dirname \"$0\")\" && pwd)\"",
        "cat \"$here/%s%s\" || exit 1" % (up, log.short_path),
        "exit \"$(cat \"$here/%s%s\")\"" % (up, status.short_path),
    ]
    ctx.actions.write(output = launcher, content = "\n".join(lines) + "\n", is_executable = True)
    return [DefaultInfo(files = depset([launcher]), executable = launcher, runfiles = ctx.runfiles(files = [log, status]))]

_COMMON_ATTRS = {
    "srcs": attr.label_list(doc = "Rust source files of the crate.", allow_files = [".rs"]),
    "crate_root": attr.label(doc = "The crate root; defaults to lib.rs/main.rs or the only source.", allow_single_file = [".rs"]),
    "crate_name": attr.string(doc = "Crate name; defaults to the target name with `-` as `_`."),
    "edition": attr.string(doc = "Rust edition.", default = "2021"),
    "deps": attr.label_list(doc = "Rust libraries (and proc macros) this crate uses.", providers = [RustInfo]),
    "proc_macro_deps": attr.label_list(doc = "Proc-macro crates this crate uses (may also be listed in deps).", providers = [RustInfo]),
    "crate_features": attr.string_list(doc = "Cargo features: each becomes `--cfg feature=\"...\"`."),
    "rustc_flags": attr.string_list(doc = "Extra rustc flags."),
    "rustc_env": attr.string_dict(doc = "Environment variables for `env!()` at compile time."),
    "data": attr.label_list(doc = "Files needed at run time.", allow_files = True),
    "compile_data": attr.label_list(doc = "Files needed at compile time (`include_str!`).", allow_files = True),
    "stub_interface": attr.bool(doc = "Derive the interface from a stub (early cutoff). False for crates that never change (third party).", default = True),
    "aliases": attr.label_keyed_string_dict(doc = "Renamed dependencies: dependency -> the name the crate uses (`package =` in Cargo.toml)."),
    "build_script": attr.label(doc = "A cargo_build_script whose OUT_DIR, cfgs and env this crate compiles with.", providers = [BuildScriptInfo]),
    "_cc_toolchain": attr.label(default = "@bazel_tools//tools/cpp:current_cc_toolchain"),
    "cargo_profile": attr.string_dict(doc = "Cargo profile name -> settings (`opt-level=0 debuginfo=2 debug-assertions=on ...`), resolved from Cargo.toml by `relink import`. The build uses `--define relink_profile=NAME` (`relink build --profile NAME`), else `release` under `-c opt`, else `dev`; `-c dbg` forces full debuginfo. Empty: Bazel's compilation modes (fastbuild: opt-level 0, no debuginfo; opt: opt-level 3)."),
}

rust_library = rule(
    implementation = _rust_library_with_srcs_impl,
    doc = "A Rust library: a real rlib, and an interface rlib that dependents compile against.",
    attrs = _COMMON_ATTRS,
    toolchains = [TOOLCHAIN_TYPE, CPP_TOOLCHAIN_TYPE],
    fragments = ["cpp"],
)

rust_proc_macro = rule(
    implementation = _rust_proc_macro_impl,
    doc = "A procedural macro crate (compiled with -Zno-link, linked with -Zlink-only).",
    attrs = _COMMON_ATTRS,
    toolchains = [TOOLCHAIN_TYPE, CPP_TOOLCHAIN_TYPE],
    fragments = ["cpp"],
)

rust_binary = rule(
    implementation = _rust_binary_impl,
    doc = "A Rust binary: compiled against dependency interfaces, linked with their real rlibs.",
    attrs = dict(_COMMON_ATTRS, **{
        "bin_name": attr.string(doc = "File name of the binary (default: the target name). Cargo names a package's binary like its library; a BUILD package cannot have two targets of one name, so `relink import` names the target NAME_bin and the file NAME."),
    }),
    toolchains = [TOOLCHAIN_TYPE, CPP_TOOLCHAIN_TYPE],
    fragments = ["cpp"],
    executable = True,
)

cargo_build_script = rule(
    implementation = _cargo_build_script_impl,
    doc = "Compiles a Cargo build script with its build-dependencies and runs it (CargoBuildScriptRun).",
    attrs = dict(_COMMON_ATTRS, **{
        "package_name": attr.string(doc = "The Cargo package name."),
        "links": attr.string(doc = "The package's `links` value."),
        "link_deps": attr.label_list(doc = "Build scripts of dependencies with `links`, whose DEP_* metadata this script sees.", providers = [BuildScriptInfo]),
        "build_script_env": attr.string_dict(doc = "Environment of the script run (CARGO_PKG_*)."),
        "run_profile": attr.string_dict(doc = "Like `cargo_profile`, for the package's own crates: the script runs with their OPT_LEVEL, DEBUG and PROFILE, as under Cargo (`cargo_profile` is the script's own, host, compile)."),
        "show_warnings": attr.bool(doc = "Print the script's `cargo:warning`s. `relink import` sets False for registry crates, whose warnings Cargo shows only with -vv; `--define relink_build_script_warnings=all` shows them anyway.", default = True),
    }),
    toolchains = [TOOLCHAIN_TYPE, CPP_TOOLCHAIN_TYPE],
    fragments = ["cpp"],
)

rust_doc_test = rule(
    implementation = _rust_doc_test_impl,
    doc = "The documentation tests of a rust_library, run as `cargo test` runs them (`rustdoc --test`): each example is compiled against the interfaces of the library and its dependencies, linked with their real rlibs, and run from the package directory. The run is an action (`RustDocTest`), cached like any other: the test prints its output and exits with its status.",
    attrs = {
        "crate": attr.label(doc = "The rust_library whose doctests run.", providers = [RustInfo], mandatory = True),
        "deps": attr.label_list(doc = "Extra libraries the examples use (Cargo's dev-dependencies).", providers = [RustInfo]),
        "proc_macro_deps": attr.label_list(doc = "Extra proc-macro crates the examples use.", providers = [RustInfo]),
        "aliases": attr.label_keyed_string_dict(doc = "Renamed dependencies, as on rust_library."),
        "_cc_toolchain": attr.label(default = "@bazel_tools//tools/cpp:current_cc_toolchain"),
    },
    toolchains = [TOOLCHAIN_TYPE, CPP_TOOLCHAIN_TYPE],
    fragments = ["cpp"],
    test = True,
)

rust_test = rule(
    implementation = _rust_test_impl,
    doc = "A Rust test binary: unit tests of `crate`, or a standalone integration test.",
    attrs = dict(_COMMON_ATTRS, **{
        "crate": attr.label(doc = "A rust_library whose sources are compiled with --test.", providers = [RustInfo]),
        "env": attr.string_dict(doc = "Environment variables for the test run."),
        "run_in_package_dir": attr.bool(doc = "Run the test with the package directory as working directory, as `cargo test` does (set by `relink import`)."),
        "binaries": attr.label_list(doc = "rust_binary targets the test runs: `CARGO_BIN_EXE_<name>` is an absolute path to each, at compile time (`env!`) and at run time, as under `cargo test` (set by `relink import` for integration tests).", providers = [RustBinaryInfo]),
    }),
    toolchains = [TOOLCHAIN_TYPE, CPP_TOOLCHAIN_TYPE],
    fragments = ["cpp"],
    test = True,
)
