//! The crate description every verb receives, and the rustc command lines built from it.
//!
//! All flag construction lives here so that the interface, the real compile and the link of a
//! crate can never disagree on a flag that matters (crate name, `-C metadata`, symbol
//! mangling, cfgs, edition).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// What a rustc invocation for one crate needs; shared by every verb.
#[derive(clap::Args, Debug, Clone)]
pub struct CrateOpts {
    /// Path of the rustc binary of the toolchain.
    #[arg(long)]
    pub rustc: PathBuf,
    /// Crate name (`--crate-name`).
    #[arg(long)]
    pub crate_name: String,
    /// Crate root source file.
    #[arg(long)]
    pub crate_root: PathBuf,
    /// `rlib`, `bin`, `proc-macro` or `test` (a `--test` harness binary).
    #[arg(long, default_value = "rlib")]
    pub crate_type: String,
    /// Rust edition.
    #[arg(long, default_value = "2021")]
    pub edition: String,
    /// Value of `-C metadata`, derived from the target label by the rules.
    #[arg(long)]
    pub metadata: String,
    /// `-C opt-level`.
    #[arg(long, default_value = "0")]
    pub opt_level: String,
    /// `-C debuginfo`.
    #[arg(long, default_value = "0")]
    pub debuginfo: String,
    /// `-C debug-assertions` (Cargo's `debug-assertions`); rustc's default (on exactly at
    /// opt-level 0) when absent.
    #[arg(long, value_parser = ["on", "off"])]
    pub debug_assertions: Option<String>,
    /// `-C overflow-checks` (Cargo's `overflow-checks`); follows debug-assertions when absent.
    #[arg(long, value_parser = ["on", "off"])]
    pub overflow_checks: Option<String>,
    /// Panic strategy of the final artifact (Cargo's `panic`). Applied to `bin` crates only:
    /// libraries stay `unwind` so that one rlib serves binaries and test harnesses (libtest
    /// needs unwinding, and an `abort` binary may link `unwind` rlibs, as it links std).
    #[arg(long, value_parser = ["unwind", "abort"])]
    pub panic: Option<String>,
    /// `-C codegen-units` (Cargo's `codegen-units`); rustc's default when absent.
    #[arg(long)]
    pub codegen_units: Option<u32>,
    /// `-C strip` at link time (Cargo's `strip`: `none`, `debuginfo`, `symbols`).
    #[arg(long, value_parser = ["none", "debuginfo", "symbols"])]
    pub strip: Option<String>,
    /// `-C rpath` at link time (Cargo's `rpath`).
    #[arg(long)]
    pub rpath: bool,
    /// `-C lto` of a `bin` crate (Cargo's `lto`: `fat`, `thin`, `off`). Cross-crate LTO needs
    /// the real rlibs at compile time: the rules then give the compile real rlibs, and
    /// interfaces are the real metadata (no stubs), so every recorded crate hash matches.
    #[arg(long, value_parser = ["fat", "thin", "off"])]
    pub lto: Option<String>,
    /// Cargo features; each becomes `--cfg feature="..."`.
    #[arg(long = "feature")]
    pub features: Vec<String>,
    /// Raw `--cfg` values.
    #[arg(long = "cfg")]
    pub cfgs: Vec<String>,
    /// Direct dependencies: `name=path` of an interface rlib or a proc-macro shared object.
    #[arg(long = "extern")]
    pub externs: Vec<String>,
    /// Transitive dependency interfaces, found by rustc through `-L dependency=`.
    #[arg(long = "dep")]
    pub deps: Vec<PathBuf>,
    /// Environment for rustc (`env!`), `KEY=VALUE`.
    #[arg(long = "env")]
    pub env: Vec<String>,
    /// Files of `KEY=VALUE` lines (from build scripts) added to the environment.
    #[arg(long = "env-file")]
    pub env_files: Vec<PathBuf>,
    /// Files of extra rustc flags, one per line (from build scripts: `--cfg`, `-l`, `-L`).
    #[arg(long = "flags-file")]
    pub flags_files: Vec<PathBuf>,
    /// `OUT_DIR` for the crate (made absolute, remapped in outputs).
    #[arg(long)]
    pub out_dir_env: Option<PathBuf>,
    /// Package directory, exported as `CARGO_MANIFEST_DIR` (absolute).
    #[arg(long)]
    pub package_dir: Option<PathBuf>,
    /// Allow `-Z` flags (sets `RUSTC_BOOTSTRAP=1` for rustc). The toolchain switch.
    #[arg(long)]
    pub unstable: bool,
    /// Extra rustc flags from the user (`rustc_flags`).
    #[arg(long = "rustc-flag", allow_hyphen_values = true)]
    pub rustc_flags: Vec<String>,
    /// All source files of the crate (visible next to the stub so unreached modules and
    /// `include!` resolve).
    #[arg(long = "src")]
    pub srcs: Vec<PathBuf>,
    /// Compile-time data files (`include_bytes!`, `include_str!`), visible next to the stub.
    #[arg(long = "data")]
    pub data: Vec<PathBuf>,
}

impl CrateOpts {
    /// The rustc crate type flag value (`test` is a `bin` built with `--test`).
    fn crate_type_flag(&self) -> &str {
        match self.crate_type.as_str() {
            "test" => "bin",
            other => other,
        }
    }

    /// Flags every rustc call of this crate shares (compile, interface and link).
    pub fn common_flags(&self) -> Vec<String> {
        let mut flags = vec![
            format!("--crate-name={}", self.crate_name),
            format!("--edition={}", self.edition),
            format!("-Cmetadata={}", self.metadata),
        ];
        flags.extend(self.codegen_flags());
        for feature in &self.features {
            flags.push("--cfg".to_string());
            flags.push(format!("feature=\"{feature}\""));
        }
        for cfg in &self.cfgs {
            flags.push("--cfg".to_string());
            flags.push(cfg.clone());
        }
        flags
    }

    /// The profile's code generation flags and symbol mangling, without the crate's identity
    /// (name, edition, `-C metadata`) or cfgs: what another crate linked with this one's code
    /// (a doctest) must share with it.
    pub fn codegen_flags(&self) -> Vec<String> {
        let mut flags = vec![format!("-Copt-level={}", self.opt_level), format!("-Cdebuginfo={}", self.debuginfo)];
        if let Some(on) = &self.debug_assertions {
            flags.push(format!("-Cdebug-assertions={on}"));
        }
        if let Some(on) = &self.overflow_checks {
            flags.push(format!("-Coverflow-checks={on}"));
        }
        if let Some(units) = self.codegen_units {
            flags.push(format!("-Ccodegen-units={units}"));
        }
        if self.crate_type == "bin" {
            if let Some(panic) = &self.panic {
                flags.push(format!("-Cpanic={panic}"));
            }
            if let Some(lto) = &self.lto {
                flags.push(format!("-Clto={lto}"));
            }
        }
        if !self.needs_bitcode() {
            // Cargo's `-C embed-bitcode=no` outside cross-crate LTO: objects without a copy of
            // their LLVM bitcode, which only cross-crate LTO reads (rust-analyzer's hir-ty: an
            // rlib of 186 MB instead of 415 MB, and less LLVM work).
            flags.push("-Cembed-bitcode=no".to_string());
        }
        // Interface and real compilations must mangle identically (design note, section 2), and
        // only v0 is stub-invariant: a legacy symbol's hash covers the function's signature
        // binder, whose anonymous lifetimes are numbered with those of closures in the body
        // (measured: `grep_regex::ban::check` gets another hash from its stub, so dependents
        // fail to link). Backtrace frames therefore read as v0 demangles them.
        flags.push("-Csymbol-mangling-version=v0".to_string());
        if self.unstable {
            // No small body may be inlined across crates from an interface (pitfall 5).
            flags.push("-Zcross-crate-inline-threshold=never".to_string());
        }
        flags
    }

    /// Whether this crate's objects must carry LLVM bitcode, as Cargo decides: under
    /// cross-crate LTO (`fat`, `thin`) every crate's do (rustc rejects `-C lto=fat` beside
    /// `-C embed-bitcode=no`), and a binary under `lto = "off"` gets `-C lto=off` alone.
    fn needs_bitcode(&self) -> bool {
        match self.lto.as_deref() {
            Some("fat" | "thin") => true,
            Some(_) => self.crate_type == "bin",
            None => false,
        }
    }

    /// Flags for a compile (not a link): crate type, test harness, dependencies, user flags.
    /// Paths are absolute (`execroot` joined): compiles run in the package directory.
    pub fn compile_flags(&self, deps: &DepSetup, execroot: &Path) -> Result<Vec<String>> {
        self.compile_flags_with(deps, false, execroot)
    }

    /// Like [`CrateOpts::compile_flags`]; with `force_externs`, every direct dependency is
    /// recorded in the metadata even if the (stubbed) code no longer uses it, so that the
    /// link of a dependent still pulls in every crate the real code needs.
    pub fn compile_flags_with(&self, deps: &DepSetup, force_externs: bool, execroot: &Path) -> Result<Vec<String>> {
        let mut flags = self.common_flags();
        flags.push(format!("--crate-type={}", self.crate_type_flag()));
        if self.crate_type == "test" {
            flags.push("--test".to_string());
        }
        if self.crate_type == "proc-macro" {
            flags.push("--extern=proc_macro".to_string());
        }
        if force_externs {
            flags.push("-Zunstable-options".to_string());
        }
        flags.extend(deps.flags(force_externs, execroot));
        flags.extend(absolute_search_paths(&self.rustc_flags, execroot));
        flags.extend(self.flags_from_files()?);
        Ok(flags)
    }

    /// Where a compile of this crate runs: its package directory, as Cargo runs tests and
    /// build scripts. `CARGO_MANIFEST_DIR` is `/proc/self/cwd`, the same bytes in every
    /// sandbox and checkout, which names the package directory for rustc (`include_str!`),
    /// for proc macros, and for tests run from the package directory.
    pub fn compile_dir(&self, execroot: &Path) -> Result<PathBuf> {
        let dir = match &self.package_dir {
            Some(p) if p.as_os_str() != "." => execroot.join(p),
            _ => execroot.to_path_buf(),
        };
        fs_err::create_dir_all(&dir)
            .with_context(|| format!("cannot create the package directory {}", dir.display()))?;
        Ok(dir)
    }

    /// The rustc binary, absolute (compiles run in another directory than the execroot); a
    /// bare name (`rustc`, as a host toolchain under Buck2 gives it) is looked up on PATH.
    pub fn rustc_path(&self, execroot: &Path) -> PathBuf {
        resolve_rustc(&self.rustc, execroot)
    }

    /// Flags for `-Zlink-only`: the common ones, the user's, and the build script's (`-l`, `-L`,
    /// link arguments); no crate type or dependencies (the rlink records those).
    pub fn link_flags(&self) -> Result<Vec<String>> {
        let mut flags = self.common_flags();
        if let Some(strip) = &self.strip {
            flags.push(format!("-Cstrip={strip}"));
        }
        if self.rpath {
            flags.push("-Crpath".to_string());
        }
        flags.extend(self.rustc_flags.iter().cloned());
        flags.extend(self.flags_from_files()?);
        Ok(flags)
    }

    /// Flags written by build scripts, one per line (`${pwd}` is the working directory).
    pub fn flags_from_files(&self) -> Result<Vec<String>> {
        let cwd = std::env::current_dir()?.display().to_string();
        let mut flags = Vec::new();
        for file in &self.flags_files {
            let text =
                fs_err::read_to_string(file).with_context(|| format!("cannot read flags file {}", file.display()))?;
            flags.extend(text.lines().filter(|l| !l.is_empty()).map(|l| l.replace("${pwd}", &cwd)));
        }
        Ok(flags)
    }

    /// The environment rustc runs with.
    pub fn environment(&self, cwd: &Path) -> Result<BTreeMap<String, String>> {
        let mut env = BTreeMap::new();
        for (key, value) in std::env::vars() {
            // Keep only what the linker driver needs to be found and to run.
            if matches!(key.as_str(), "PATH" | "TMPDIR" | "LANG" | "LC_ALL") {
                env.insert(key, value);
            }
        }
        if self.unstable {
            env.insert("RUSTC_BOOTSTRAP".into(), "1".into());
        }
        for pair in &self.env {
            let (k, v) = split_pair(pair, "--env")?;
            env.insert(k.to_string(), v.to_string());
        }
        for file in &self.env_files {
            let text =
                fs_err::read_to_string(file).with_context(|| format!("cannot read env file {}", file.display()))?;
            for line in text.lines().filter(|l| !l.is_empty()) {
                let (k, v) = split_pair(line, &file.display().to_string())?;
                env.insert(k.to_string(), v.replace("${pwd}", &cwd.display().to_string()));
            }
        }
        if let Some(out_dir) = &self.out_dir_env {
            env.insert("OUT_DIR".into(), cwd.join(out_dir).display().to_string());
        }
        if self.package_dir.is_some() {
            env.insert("CARGO_MANIFEST_DIR".into(), MANIFEST_DIR.into());
        }
        env.entry("CARGO_PKG_NAME".into()).or_insert_with(|| self.crate_name.replace('_', "-"));
        env.entry("CARGO_CRATE_NAME".into()).or_insert_with(|| self.crate_name.clone());
        Ok(env)
    }

    /// Remap flags so outputs never contain the absolute working directory.
    pub fn remap_flags(cwd: &Path) -> Vec<String> {
        vec![format!("--remap-path-prefix={}/=", cwd.display())]
    }
}

/// `CARGO_MANIFEST_DIR` of every compile: the package directory rustc runs in, under a name
/// that is the same in every sandbox and checkout (interfaces stay byte-identical).
pub const MANIFEST_DIR: &str = "/proc/self/cwd";

/// User flags with relative `-L` search paths made absolute (compiles run in the package
/// directory, user paths are execroot-relative as in Bazel).
fn absolute_search_paths(flags: &[String], execroot: &Path) -> Vec<String> {
    let mut out = Vec::with_capacity(flags.len());
    let mut next_is_path = false;
    for flag in flags {
        let fixed = if next_is_path {
            next_is_path = false;
            absolute_search_path(flag, execroot)
        } else if flag == "-L" {
            next_is_path = true;
            flag.clone()
        } else if let Some(value) = flag.strip_prefix("-L") {
            format!("-L{}", absolute_search_path(value, execroot))
        } else {
            flag.clone()
        };
        out.push(fixed);
    }
    out
}

/// `[KIND=]PATH` with a relative PATH made absolute.
fn absolute_search_path(value: &str, execroot: &Path) -> String {
    let (kind, path) = match value.split_once('=') {
        Some((k, p)) if matches!(k, "native" | "crate" | "dependency" | "framework" | "all") => (format!("{k}="), p),
        _ => (String::new(), value),
    };
    if path.starts_with('/') {
        value.to_string()
    } else {
        format!("{kind}{}", execroot.join(path).display())
    }
}

/// Split `KEY=VALUE`.
pub fn split_pair<'a>(pair: &'a str, origin: &str) -> Result<(&'a str, &'a str)> {
    pair.split_once('=').ok_or_else(|| anyhow!("{origin}: expected KEY=VALUE, got `{pair}`"))
}

/// Dependency files handed to rustc, and the map from the canonical paths rustc records back
/// to the paths the build system knows.
pub struct DepSetup {
    externs: Vec<(String, PathBuf)>,
    search_dirs: BTreeSet<PathBuf>,
    /// canonical absolute path -> path as given (relative to the working directory)
    pub canonical_to_given: BTreeMap<String, String>,
}

impl DepSetup {
    /// Resolve `--extern` and `--dep` arguments.
    pub fn new(opts: &CrateOpts) -> Result<DepSetup> {
        let mut externs = Vec::new();
        let mut canonical_to_given = BTreeMap::new();
        let mut search_dirs = BTreeSet::new();
        let mut note = |path: &Path| -> Result<()> {
            let canonical = fs_err::canonicalize(path)
                .with_context(|| format!("dependency file {} does not exist", path.display()))?;
            canonical_to_given.insert(canonical.display().to_string(), path.display().to_string());
            Ok(())
        };
        for pair in &opts.externs {
            let (name, path) = split_pair(pair, "--extern")?;
            let path = PathBuf::from(path);
            note(&path)?;
            if let Some(parent) = path.parent() {
                search_dirs.insert(parent.to_path_buf());
            }
            externs.push((name.to_string(), path));
        }
        for dep in &opts.deps {
            note(dep)?;
            if let Some(parent) = dep.parent() {
                search_dirs.insert(parent.to_path_buf());
            }
        }
        Ok(DepSetup { externs, search_dirs, canonical_to_given })
    }

    /// `--extern` and `-L dependency=` flags (paths absolute under `execroot`).
    pub(crate) fn flags(&self, force: bool, execroot: &Path) -> Vec<String> {
        let mut flags = Vec::new();
        let modifier = if force { "force:" } else { "" };
        for (name, path) in &self.externs {
            flags.push(format!("--extern={modifier}{}={}", name, execroot.join(path).display()));
        }
        for dir in &self.search_dirs {
            flags.push(format!("-Ldependency={}", execroot.join(dir).display()));
        }
        flags
    }
}

/// `rustc` as an action names it, absolute: a path under the execroot, or for a bare name
/// (a host toolchain under Buck2) the real binary behind it on PATH.
pub fn resolve_rustc(rustc: &Path, execroot: &Path) -> PathBuf {
    if is_host_tool(rustc, execroot) {
        return host_rustc(rustc);
    }
    execroot.join(rustc)
}

/// Whether an action names `tool` by a bare name of the host's toolchain (Buck2's host
/// toolchain: `rustc`, `rustdoc`) rather than by a path under the execroot.
pub fn is_host_tool(tool: &Path, execroot: &Path) -> bool {
    tool.components().count() == 1 && !execroot.join(tool).exists()
}

/// The real rustc behind a bare name on PATH (`rustc`, often rustup's proxy, which needs the
/// user's environment that compiles do not get): `SYSROOT/bin/rustc`, asked once with this
/// process's environment. The name itself when that fails (the run then says so).
fn host_rustc(name: &Path) -> PathBuf {
    static RESOLVED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    RESOLVED
        .get_or_init(|| {
            Command::new(name)
                .args(["--print", "sysroot"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("bin/rustc"))
                .filter(|p| p.is_file())
                .unwrap_or_else(|| name.to_path_buf())
        })
        .clone()
}

/// `RELINK_COLOR=always` (set by relink when its stderr is a terminal or `--color=always`;
/// Bazel: `--action_env=RELINK_COLOR=always`): rustc's diagnostics in colour.
pub const COLOR_ENV: &str = "RELINK_COLOR";

/// Run rustc in `dir`; on failure return an error that carries its stderr verbatim.
pub fn run(
    rustc: &Path,
    args: &[String],
    env: &BTreeMap<String, String>,
    timeout: Option<Duration>,
    dir: &Path,
) -> Result<std::process::Output> {
    let mut cmd = Command::new(rustc);
    cmd.args(args).env_clear().envs(env).current_dir(dir);
    if std::env::var(COLOR_ENV).is_ok_and(|v| v == "always") {
        // Diagnostics only: colour changes no output, so the variable is not part of any key.
        cmd.arg("--color=always");
    }
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    crate::util::die_with_parent(&mut cmd);
    let child = cmd.spawn().with_context(|| format!("cannot run {}", rustc.display()))?;
    let output = match timeout {
        None => child.wait_with_output()?,
        Some(limit) => wait_with_timeout(child, limit)?,
    };
    Ok(output)
}

fn wait_with_timeout(mut child: std::process::Child, limit: Duration) -> Result<std::process::Output> {
    use std::io::Read;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            bail!("rustc did not finish within {} s", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(std::process::Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    })
}

/// Print rustc's diagnostics and fail if it failed.
pub fn check(output: &std::process::Output, what: &str) -> Result<()> {
    use std::io::Write;
    std::io::stderr().write_all(&output.stderr)?;
    if !output.status.success() {
        bail!("{what} failed ({})", output.status);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        krate: CrateOpts,
    }

    fn opts(args: &[&str]) -> CrateOpts {
        let base = ["x", "--rustc", "rustc", "--crate-name", "c", "--crate-root", "lib.rs", "--metadata", "m"];
        Cli::parse_from(base.iter().chain(args)).krate
    }

    #[test]
    fn profile_settings_reach_the_flags_that_need_them() {
        let profile = ["--opt-level", "3", "--debug-assertions", "on", "--overflow-checks", "off", "--panic", "abort"];
        let lib = opts(&profile).common_flags();
        for flag in ["-Copt-level=3", "-Cdebug-assertions=on", "-Coverflow-checks=off"] {
            assert!(lib.contains(&flag.to_string()), "{flag} in {lib:?}");
        }
        assert!(!lib.iter().any(|f| f.starts_with("-Cpanic")), "libraries unwind: one rlib serves binaries and tests");
        let bin = opts(&[&profile[..], &["--crate-type", "bin"]].concat()).common_flags();
        assert!(bin.contains(&"-Cpanic=abort".to_string()), "{bin:?}");
        let test = opts(&[&profile[..], &["--crate-type", "test"]].concat()).common_flags();
        assert!(!test.iter().any(|f| f.starts_with("-Cpanic")), "test harnesses unwind, as under cargo test");

        let link = opts(&["--crate-type", "bin", "--strip", "symbols", "--rpath"]).link_flags().unwrap();
        assert!(link.contains(&"-Cstrip=symbols".to_string()) && link.contains(&"-Crpath".to_string()), "{link:?}");
        let plain = opts(&[]).common_flags();
        assert!(!plain.iter().any(|f| f.contains("debug-assertions")), "rustc's defaults: {plain:?}");
        assert!(plain.contains(&"-Csymbol-mangling-version=v0".to_string()), "the one stub-invariant scheme");
    }

    #[test]
    fn bitcode_is_embedded_only_for_cross_crate_lto() {
        let no_bitcode = |args: &[&str]| opts(args).common_flags().contains(&"-Cembed-bitcode=no".to_string());
        assert!(no_bitcode(&[]), "Cargo's default outside LTO");
        assert!(no_bitcode(&["--crate-type", "bin"]));
        assert!(no_bitcode(&["--lto", "off"]), "a library under lto = \"off\"");
        for lto in ["fat", "thin"] {
            assert!(!no_bitcode(&["--lto", lto]), "LTO reads every rlib's bitcode");
            assert!(!no_bitcode(&["--lto", lto, "--crate-type", "bin"]));
        }
        assert!(!no_bitcode(&["--lto", "off", "--crate-type", "bin"]), "Cargo passes -Clto=off alone");
    }
}
