//! `relink-builder doctest`: run a library's documentation tests, as `cargo test` does with
//! `rustdoc --test`.
//!
//! rustdoc collects the examples from the real sources and compiles each one as a small
//! binary crate that uses the library. Those compiles see the same thing every other compile
//! sees: the *interfaces* of the library and its dependencies (a real rlib records the crate
//! hashes of the interfaces it was compiled against, so rlibs and interfaces cannot be mixed
//! in one compile). rustdoc therefore builds each doctest through this program
//! (`--test-builder`), which compiles it with `-Zno-link`, points the rlink at the real rlibs
//! and links with `-Zlink-only`: exactly what `RustCompileNoLink` and `RustLink` do for a
//! binary. The run's output and exit status are the action's outputs; a test target prints
//! them (`rust_doc_test`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::rlink;
use crate::rustc::{split_pair, CrateOpts, DepSetup};

/// Environment variable naming the test-builder configuration: when set, `relink-builder`
/// runs as rustdoc's test builder (see [`build_one`]).
pub const CONFIG_ENV: &str = "RELINK_DOCTEST_CONFIG";

/// Arguments of `relink-builder doctest`.
#[derive(clap::Args, Debug)]
pub struct DocTestArgs {
    /// The library whose doctests run; `--extern` lists its dependencies, its dev-dependencies
    /// and the library itself, all as interfaces.
    #[command(flatten)]
    pub krate: CrateOpts,
    /// Path of the rustdoc binary of the toolchain.
    #[arg(long)]
    pub rustdoc: PathBuf,
    /// `INTERFACE=RLIB` for every crate a doctest may link (the library and every transitive
    /// dependency).
    #[arg(long = "link-dep")]
    pub link_deps: Vec<String>,
    /// Where to write what the test run printed.
    #[arg(long)]
    pub log: PathBuf,
    /// Where to write the run's exit status (0: every doctest passed).
    #[arg(long)]
    pub status: PathBuf,
}

/// What the test builder needs, handed from the verb to the processes rustdoc starts.
#[derive(Serialize, Deserialize)]
struct BuilderConfig {
    /// The real rustc (absolute).
    rustc: PathBuf,
    /// Added to every doctest compile (the library's profile and symbol mangling).
    compile_flags: Vec<String>,
    /// Added to every doctest link (build scripts' `-l`/`-L`, the linker).
    link_flags: Vec<String>,
    /// Path of an interface as rustc may record it -> absolute path of its real rlib.
    real_of: BTreeMap<String, String>,
}

/// The rustdoc to run. A bare name (a Buck2 host toolchain's `rustdoc`) is the rustdoc beside
/// the rustc the crate compiles with, as a toolchain installs them: rustup's proxy on PATH
/// needs the user's environment, which the run does not get.
fn rustdoc_path(args: &DocTestArgs, cwd: &Path) -> PathBuf {
    if crate::rustc::is_host_tool(&args.rustdoc, cwd) {
        return args.krate.rustc_path(cwd).with_file_name(&args.rustdoc);
    }
    cwd.join(&args.rustdoc)
}

/// Run the verb: rustdoc's exit status goes to `--status`, its output to `--log`; only a
/// failure to run rustdoc at all is an error.
pub fn run(args: &DocTestArgs) -> Result<()> {
    let cwd = std::env::current_dir()?;
    if !args.krate.unstable {
        bail!("doctests need the unstable toolchain switch (rustdoc --test-builder, -Zno-link)");
    }
    let deps = DepSetup::new(&args.krate)?;
    let config_path = cwd.join(crate::util::sibling(&args.status, "builder.json"));
    write_config(args, &cwd, &config_path)?;
    let compile_dir = args.krate.compile_dir(&cwd)?;
    let mut env = args.krate.environment(&cwd)?;
    env.insert("RUSTC_BOOTSTRAP".into(), "1".into());
    env.insert(CONFIG_ENV.into(), config_path.display().to_string());
    let mut cmd = Command::new(rustdoc_path(args, &cwd));
    cmd.args(rustdoc_flags(args, &deps, &cwd, &compile_dir)?).env_clear().envs(&env).current_dir(&compile_dir);
    crate::util::die_with_parent(&mut cmd);
    let output = cmd.output().with_context(|| format!("cannot run {}", args.rustdoc.display()))?;
    let mut log = output.stdout;
    log.extend_from_slice(&output.stderr);
    crate::util::write_file(&cwd.join(&args.log), &log)?;
    let code = output.status.code().unwrap_or(101);
    crate::util::write_file(&cwd.join(&args.status), format!("{code}\n").as_bytes())?;
    fs_err::remove_file(&config_path)?;
    Ok(())
}

fn write_config(args: &DocTestArgs, cwd: &Path, path: &Path) -> Result<()> {
    let mut real_of = BTreeMap::new();
    for pair in &args.link_deps {
        let (interface, real) = split_pair(pair, "--link-dep")?;
        // rustc records a crate named by `--extern` under its canonical path and one found by
        // `-L dependency=` search under the path in the search directory (in a sandbox of
        // symbolic links the two differ): map both.
        let real = cwd.join(real).display().to_string();
        let canonical = fs_err::canonicalize(cwd.join(interface))?;
        real_of.insert(canonical.display().to_string(), real.clone());
        real_of.insert(cwd.join(interface).display().to_string(), real);
    }
    let mut link_flags = args.krate.codegen_flags();
    link_flags.extend(args.krate.rustc_flags.iter().filter(|f| f.starts_with("-Clinker=")).cloned());
    link_flags.extend(flags_named(&args.krate.flags_from_files()?, &["-l", "-L", "-Clink-arg"]));
    let config = BuilderConfig {
        rustc: args.krate.rustc_path(cwd),
        compile_flags: args.krate.codegen_flags(),
        link_flags,
        real_of,
    };
    crate::util::write_file(path, &serde_json::to_vec_pretty(&config)?)
}

/// rustdoc's command line: the crate as its compile sees it (name, edition, cfgs, the
/// dependencies' interfaces), and this program as the test builder.
fn rustdoc_flags(args: &DocTestArgs, deps: &DepSetup, cwd: &Path, compile_dir: &Path) -> Result<Vec<String>> {
    let krate = &args.krate;
    let root = cwd.join(&krate.crate_root);
    // Doctest names read like Cargo's (`src/lib.rs - f (line 3)`): the root relative to the
    // package directory rustdoc runs in.
    let shown = root.strip_prefix(compile_dir).map_or(root.clone(), Path::to_path_buf);
    let mut flags = vec!["--test".to_string(), shown.display().to_string()];
    flags.extend([format!("--crate-name={}", krate.crate_name), format!("--edition={}", krate.edition)]);
    if krate.crate_type == "proc-macro" {
        // As Cargo documents a proc-macro crate: its examples use it as a dependency.
        flags.extend(["--crate-type=proc-macro".to_string(), "--extern=proc_macro".to_string()]);
    }
    for feature in &krate.features {
        flags.extend(["--cfg".to_string(), format!("feature=\"{feature}\"")]);
    }
    for cfg in &krate.cfgs {
        flags.extend(["--cfg".to_string(), cfg.clone()]);
    }
    flags.extend(deps.flags(false, cwd));
    // rustdoc takes cfgs and search paths; `-l` belongs to the link (the builder adds it there).
    let mut all: Vec<String> = krate.rustc_flags.clone();
    all.extend(krate.flags_from_files()?);
    flags.extend(flags_named(&all, &["--cfg", "--check-cfg", "-L"]));
    let builder = std::env::current_exe().context("cannot find relink-builder's own path")?;
    flags.extend(["-Zunstable-options".to_string(), "--test-builder".to_string(), builder.display().to_string()]);
    Ok(flags)
}

/// The flags among `flags` named in `names`, with their values: `--cfg X` and `-L X` (two
/// arguments, as build scripts' flags files write them) or `--cfg=X`, `-LX`, `-Clink-arg=X`.
fn flags_named(flags: &[String], names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter = flags.iter();
    while let Some(flag) = iter.next() {
        if names.contains(&flag.as_str()) {
            out.push(flag.clone());
            out.extend(iter.next().cloned());
        } else if names.iter().any(|n| flag.starts_with(n)) {
            out.push(flag.clone());
        }
    }
    out
}

/// The test builder: rustdoc calls it with a rustc command line for one doctest (source on
/// stdin, `-o OUT`). A metadata-only check (`no_run`) or a compile that fails (`compile_fail`)
/// is rustc's alone; otherwise compile with `-Zno-link`, swap the real rlibs in, link.
/// Returns the exit code.
pub fn build_one(config_path: &str, rustc_args: &[String]) -> Result<i32> {
    let text = fs_err::read_to_string(config_path)?;
    let config: BuilderConfig = serde_json::from_str(&text).with_context(|| format!("cannot parse {config_path}"))?;
    let mut compile: Vec<String> = rustc_args.to_vec();
    compile.extend(config.compile_flags.iter().cloned());
    let metadata_only = rustc_args.iter().any(|a| a.starts_with("--emit") && a.contains("metadata"));
    if metadata_only {
        return status_code(Command::new(&config.rustc).args(&compile).status()?);
    }
    let out = output_path(rustc_args)?;
    compile.push("-Zno-link".to_string());
    let status = Command::new(&config.rustc).args(&compile).status()?;
    if !status.success() {
        return status_code(status);
    }
    let rlink_path = crate::util::sibling(&out, "rlink");
    let data = fs_err::read(&rlink_path)?;
    rlink::check_magic(&data)?;
    let data = rlink::rewrite_strings(&data, b"/", |s| Ok(config.real_of.get(s).cloned()))?;
    // An interface left in the rlink has no code: the link would fail on missing symbols.
    if let Some((_, left)) = rlink::strings_starting_with(&data, b"/").iter().find(|(_, s)| s.contains("/_iface/")) {
        bail!("the doctest uses the interface {left}, but no --link-dep gives its real rlib");
    }
    fs_err::write(&rlink_path, data)?;
    let mut link = config.link_flags.clone();
    link.extend(["-Zlink-only".to_string(), rlink_path.display().to_string(), "-o".to_string()]);
    link.push(out.display().to_string());
    status_code(Command::new(&config.rustc).args(&link).stdin(Stdio::null()).status()?)
}

fn output_path(args: &[String]) -> Result<PathBuf> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "-o" {
            return iter.next().map(PathBuf::from).context("`-o` without a path");
        }
        if let Some(path) = arg.strip_prefix("-o") {
            return Ok(PathBuf::from(path));
        }
    }
    bail!("rustdoc asked the test builder for no `-o` output: {args:?}")
}

fn status_code(status: std::process::ExitStatus) -> Result<i32> {
    Ok(status.code().unwrap_or(101))
}

#[cfg(test)]
mod tests {
    #[test]
    fn flags_keep_their_values() {
        let flags: Vec<String> = [
            "--cfg",
            "has_foo",
            "--check-cfg",
            "cfg(has_foo)",
            "-l",
            "static=z",
            "-L",
            "native=/out",
            "-Clink-arg=-x",
            "--cfg=bar",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            super::flags_named(&flags, &["--cfg", "--check-cfg", "-L"]),
            ["--cfg", "has_foo", "--check-cfg", "cfg(has_foo)", "-L", "native=/out", "--cfg=bar"]
        );
        assert_eq!(
            super::flags_named(&flags, &["-l", "-L", "-Clink-arg"]),
            ["-l", "static=z", "-L", "native=/out", "-Clink-arg=-x"]
        );
    }
}
