"""Action emitters: one function per action kind. Flags are built by relink-builder, not here."""

load("@bazel_tools//tools/cpp:toolchain_utils.bzl", "find_cpp_toolchain")
load("//rules/private:artifacts.bzl", "DEPENDENCY_ARTIFACT", "dependency_files")

def crate_args(ctx, crate, deps, mnemonic = "RustCompile"):
    """The builder arguments that describe `crate` and its deps.

    Args:
      ctx: the rule context.
      crate: the crate struct from rules.bzl.
      deps: RustInfo of the direct dependencies.
      mnemonic: the action kind, which decides the dependency artifacts (artifacts.bzl).

    Returns:
      an Args object.
    """
    tc = crate.config.toolchain
    args = ctx.actions.args()
    args.add("--rustc", tc.rustc_path)
    if tc.unstable:
        args.add("--unstable")
    args.add("--crate-name", crate.name)
    args.add("--crate-root", crate.root)
    args.add("--crate-type", crate.type)
    args.add("--edition", crate.edition)
    args.add("--metadata", crate.metadata)
    args.add_all(crate.config.mode_flags)
    args.add("--package-dir", crate.package_dir)
    args.add_all(crate.features, before_each = "--feature")
    args.add_all(tc.extra_rustc_flags, format_each = "--rustc-flag=%s")
    args.add_all(crate.rustc_flags, format_each = "--rustc-flag=%s")
    args.add_all(["%s=%s" % (k, v) for k, v in crate.rustc_env.items()], before_each = "--env")
    args.add_all(crate.srcs, before_each = "--src")
    args.add_all(crate.compile_data, before_each = "--data")
    if crate.build_script:
        args.add("--out-dir-env", crate.build_script.out_dir.path)
        args.add("--flags-file", crate.build_script.flags)
        args.add("--env-file", crate.build_script.env)
    real = DEPENDENCY_ARTIFACT[mnemonic] in ("rlib", "rlib_and_proc_macros")
    for dep in deps:
        artifact = dep.rlib if real and dep.rlib else dep.interface
        args.add("--extern", "%s=%s" % (crate.aliases.get(dep.label, dep.crate_name), artifact.path))

    # A doctest run links too, but compiles (and searches dependencies) against interfaces
    # only: a real rlib found beside an interface would be a second candidate for the crate.
    searched = "RustCompile" if DEPENDENCY_ARTIFACT[mnemonic] == "interface_and_rlib" else mnemonic
    args.add_all(dependency_files(searched, deps), before_each = "--dep")
    return args

def _run_builder(ctx, crate, mnemonic, verb, args, inputs, outputs, env, message, unused = None, requirements = None):
    """Run one relink-builder verb as an action of kind `mnemonic`.

    `unused`, a declared file, receives the inputs the action did not read (Bazel's
    `unused_inputs_list`): later builds ignore changes to them.
    """
    if unused:
        args.add("--unused-inputs-list", unused)
        outputs = outputs + [unused]
    ctx.actions.run(
        execution_requirements = requirements or {},
        mnemonic = mnemonic,
        executable = crate.config.toolchain.builder,
        arguments = [verb, args],
        inputs = inputs,
        outputs = outputs,
        env = env,
        progress_message = message % ctx.label,
        unused_inputs_list = unused,
    )

def _unused_list(ctx, output):
    """The file a compile-type action writing `output` lists its unused inputs in."""
    return ctx.actions.declare_file(output.basename + ".unused", sibling = output)

def _compile_inputs(crate, deps, mnemonic):
    return depset(crate.srcs + crate.compile_data + _build_script_files(crate), transitive = [dependency_files(mnemonic, deps), crate.config.toolchain.files])

def _build_script_files(crate):
    """What the crate's build script produced (OUT_DIR, flags, env), if it has one."""
    bs = crate.build_script
    return [bs.out_dir, bs.flags, bs.env] if bs else []

def emit_stub(ctx, crate, deps, stub_dir, record, macros):
    """RustStub: the crate's stub text (no rustc).

    Also writes a record of what was kept and why, and the summary of its exported macros.

    Args:
      ctx: the rule context.
      crate: the crate struct from rules.bzl.
      deps: RustInfo of the direct dependencies.
      stub_dir: declared directory that receives the stub sources.
      record: declared file: what the stub kept and why.
      macros: declared file: the summary of the exported macros.
    """
    args = ctx.actions.args()
    args.add("--crate-root", crate.root)
    args.add("--out-dir", stub_dir.path)
    args.add("--record", record)
    args.add("--macros-out", macros)
    args.add("--span-policy", crate.config.span_policy)
    args.add_all(crate.srcs, before_each = "--src")
    dep_macros = dependency_files("RustStub", deps)
    args.add_all(dep_macros, before_each = "--dep-macros")
    inputs = depset(crate.srcs, transitive = [dep_macros])
    _run_builder(ctx, crate, "RustStub", "stub", args, inputs, [stub_dir, record, macros], {}, "Stubbing %s", unused = _unused_list(ctx, record))

def emit_macro_summary(ctx, crate, deps, macros):
    """RustMacros: what the exported macros of a crate that is not stubbed expand to.

    Args:
      ctx: the rule context.
      crate: the crate struct from rules.bzl.
      deps: RustInfo of the direct dependencies.
      macros: declared file: the summary of the exported macros.
    """
    args = ctx.actions.args()
    args.add("--macros-only")
    args.add("--crate-root", crate.root)
    args.add("--macros-out", macros)
    args.add_all(crate.srcs, before_each = "--src")
    dep_macros = dependency_files("RustMacros", deps)
    args.add_all(dep_macros, before_each = "--dep-macros")
    _run_builder(ctx, crate, "RustMacros", "stub", args, depset(crate.srcs, transitive = [dep_macros]), [macros], {}, "Summarizing the macros of %s")

def emit_interface(ctx, crate, deps, out, stub_dir):
    """RustInterface: the stub in `stub_dir`, over the real sources, compiled with -Zno-codegen.

    Args:
      ctx: the rule context.
      crate: the crate struct from rules.bzl.
      deps: RustInfo of the direct dependencies.
      out: declared output file.
      stub_dir: declared directory that receives the stub sources.
    """
    args = crate_args(ctx, crate, deps)
    args.add("--out", out)
    args.add("--stub-dir", stub_dir.path)
    audit = crate.config.audit
    if audit:
        args.add("--audit")

    # With incremental compiles on (relink's default), interfaces of workspace crates use the
    # state too, as Cargo's pipelined metadata does: the state can reorder entries of the
    # metadata (never what they say), so such interfaces are local only, like the real
    # compiles. `--define relink_interface_incremental=0` turns it off. docs/interfaces.md §5.
    use_state = not audit and crate.config.interface_incremental
    requirements = _incremental(crate, args) if use_state else None
    inputs = depset([stub_dir], transitive = [_compile_inputs(crate, deps, "RustInterface")])
    _run_builder(ctx, crate, "RustInterface", "interface", args, inputs, [out], crate.env, "Extracting the interface of %s", unused = _unused_list(ctx, out), requirements = requirements)

def _incremental(crate, args):
    """rustc's incremental state for crates that change (workspace members), local only.

    `--define relink_incremental_dir=DIR` (relink sets it unless `--rustc-incremental=false`)
    keeps the state under DIR. Such actions run unsandboxed in a stable directory, so that the
    paths rustc's incremental hashing sees do not change, and never remotely: the state never
    leaves the machine and the flag is part of the key, so no other build receives their
    outputs. Returns the execution requirements.
    """
    incremental = crate.config.incremental_dir
    if not incremental or not crate.stubbed or not crate.changes:
        # Third-party crates never change (even when --define relink_stub_all=1 stubs them):
        # state would cost time and disk for nothing.
        return None
    args.add("--incremental-dir", incremental)
    return {"no-sandbox": "1", "no-remote": "1"}

def emit_compile(ctx, crate, deps, rlib, interface = None):
    """RustCompile: the real rlib, against dependency interfaces.

    When the crate is not stubbed, the same compile also writes its interface.

    Args:
      ctx: the rule context.
      crate: the crate struct from rules.bzl.
      deps: RustInfo of the direct dependencies.
      rlib: declared real rlib.
      interface: declared interface (hollow rlib), or None.
    """
    args = crate_args(ctx, crate, deps)
    args.add("--out", rlib)
    requirements = _incremental(crate, args)
    outputs = [rlib]
    if interface:
        args.add("--interface-out", interface)
        outputs.append(interface)
    _run_builder(ctx, crate, "RustCompile", "compile", args, _compile_inputs(crate, deps, "RustCompile"), outputs, crate.env, "Compiling %s", unused = _unused_list(ctx, rlib), requirements = requirements)

def emit_compile_no_link(ctx, crate, deps, out_dir):
    """RustCompileNoLink: a binary, test or proc macro compiled with -Zno-link.

    Args:
      ctx: the rule context.
      crate: the crate struct from rules.bzl.
      deps: RustInfo of the direct dependencies.
      out_dir: declared directory for the -Zno-link outputs.
    """
    mnemonic = "RustCompileNoLinkLto" if crate.type == "bin" and crate.config.cross_crate_lto else "RustCompileNoLink"
    args = crate_args(ctx, crate, deps, mnemonic)
    args.add("--no-link-dir", out_dir.path)
    requirements = _incremental(crate, args)
    _run_builder(ctx, crate, mnemonic, "compile", args, _compile_inputs(crate, deps, mnemonic), [out_dir], crate.env, "Compiling %s", unused = _unused_list(ctx, out_dir), requirements = requirements)

def emit_build_script_run(ctx, script, crate, info, links, features, env, inputs, dep_env_files, show_warnings = True):
    """CargoBuildScriptRun: run the compiled build script, record its directives.

    Args:
      ctx: the rule context.
      script: the compiled build script.
      crate: the crate struct from rules.bzl.
      info: BuildScriptInfo-shaped struct of declared outputs (out_dir, flags, env).
      links: the package's `links` value, or "".
      features: enabled Cargo features.
      env: extra environment for the script.
      inputs: files the script may read.
      dep_env_files: `DEP_*` environment files of the `links` dependencies.
      show_warnings: print the script's `cargo:warning`s.
    """
    tc = crate.config.toolchain
    cc = find_cpp_toolchain(ctx)
    if cc.compiler_executable and "CC" not in env:
        # C compiled by the script (the cc crate reads CC) uses the C++ toolchain's compiler.
        env = dict(env, CC = cc.compiler_executable)
    args = ctx.actions.args()
    args.add("--script", script)
    args.add("--package", crate.name)
    args.add("--manifest-dir", crate.package_dir)
    args.add("--out-dir", info.out_dir.path)
    args.add("--rustc", tc.rustc_path)
    args.add_all(crate.config.run_flags)
    if links:
        args.add("--links", links)
    args.add_all(features, before_each = "--feature")
    args.add_all(["%s=%s" % (k, v) for k, v in env.items()], before_each = "--env")
    args.add_all(dep_env_files, before_each = "--dep-env-file")
    args.add("--flags-out", info.flags)
    args.add("--env-out", info.env)
    args.add("--dep-env-out", info.dep_env)
    args.add_all(inputs, before_each = "--package-file")
    if not show_warnings:
        args.add("--hide-warnings")
    outputs = [info.out_dir, info.flags, info.env, info.dep_env]
    _run_builder(ctx, crate, "CargoBuildScriptRun", "build-script", args, depset([script] + inputs + dep_env_files, transitive = [tc.files, cc.all_files]), outputs, {"PATH": "/usr/local/bin:/usr/bin:/bin"}, "Running the build script of %s", unused = _unused_list(ctx, info.flags))

def emit_link(ctx, crate, deps, no_link_dir, out):
    """RustLink: -Zlink-only of `no_link_dir` with the real rlibs of every dependency.

    Args:
      ctx: the rule context.
      crate: the crate struct from rules.bzl.
      deps: RustInfo of the direct dependencies.
      no_link_dir: the RustCompileNoLink output directory.
      out: declared output file.
    """
    tc = crate.config.toolchain
    cc = find_cpp_toolchain(ctx)
    args = crate_args(ctx, crate, [])
    if cc.compiler_executable:
        # The linker driver of the C++ toolchain (Bazel's, or relink's host cc), not `cc`
        # from PATH.
        args.add("--rustc-flag=-Clinker=" + cc.compiler_executable)
    args.add("--rlink-dir", no_link_dir.path)
    args.add_all(depset(transitive = [d.transitive_link_pairs for d in deps]), before_each = "--link-dep")
    args.add("--out", out)
    _run_builder(ctx, crate, "RustLink", "link", args, depset([no_link_dir] + _build_script_files(crate), transitive = [dependency_files("RustLink", deps), tc.files, cc.all_files]), [out], crate.env, "Linking %s")

def emit_doc_test(ctx, crate, deps, log, status):
    """RustDocTest: `rustdoc --test` of a library, its output and exit status recorded.

    rustdoc compiles each doctest against the interfaces of the library and its dependencies
    and links it with their real rlibs, through relink-builder as its test builder.

    Args:
      ctx: the rule context.
      crate: the library's crate struct from rules.bzl.
      deps: RustInfo of the library itself, its dependencies and the test's own.
      log: declared file: what the doctests printed.
      status: declared file: rustdoc's exit status.
    """
    tc = crate.config.toolchain
    if not tc.rustdoc:
        fail("%s: the Rust toolchain has no `rustdoc`: set it on rust_toolchain to run doctests" % ctx.label)
    cc = find_cpp_toolchain(ctx)
    args = crate_args(ctx, crate, deps, "RustDocTest")
    if cc.compiler_executable:
        args.add("--rustc-flag=-Clinker=" + cc.compiler_executable)
    args.add("--rustdoc", tc.rustdoc)
    args.add_all(depset(transitive = [d.transitive_link_pairs for d in deps]), before_each = "--link-dep")
    args.add("--log", log)
    args.add("--status", status)
    inputs = depset(crate.srcs + crate.compile_data + _build_script_files(crate) + [tc.rustdoc], transitive = [dependency_files("RustDocTest", deps), tc.files, cc.all_files])
    _run_builder(ctx, crate, "RustDocTest", "doctest", args, inputs, [log, status], crate.env, "Running the doctests of %s")

def emit_clippy(ctx, crate, deps, log, lint_flags = []):
    """RustClippy: clippy-driver in rustc's place on the crate's compile, metadata only.

    Args:
      ctx: the rule or aspect context.
      crate: the crate struct from rules.bzl.
      deps: RustInfo-shaped structs of the direct dependencies.
      log: declared file: clippy's diagnostics.
      lint_flags: lint levels for this run (`-Dwarnings`).
    """
    tc = crate.config.toolchain
    if not tc.clippy_driver:
        fail("%s: the Rust toolchain has no `clippy_driver`: set it on rust_toolchain to run clippy" % ctx.label)
    args = crate_args(ctx, crate, deps)
    args.add("--driver", tc.clippy_driver)
    args.add("--log", log)
    args.add_all(lint_flags, format_each = "--lint-flag=%s")
    inputs = depset([tc.clippy_driver], transitive = [_compile_inputs(crate, deps, "RustCompile")])
    _run_builder(ctx, crate, "RustClippy", "clippy", args, inputs, [log], crate.env, "Running clippy on %s")
