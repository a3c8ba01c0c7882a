//! `relink-builder build-script`: run a compiled Cargo build script the way Cargo does and turn
//! its `cargo:` / `cargo::` directives into files the crate's compile actions consume.
//!
//! Outputs: a flags file (`--cfg`, `--check-cfg`, `-l`, `-L`, `-Clink-arg`), an env file
//! (`rustc-env`), and a dep-env file (`DEP_<LINKS>_<KEY>=VALUE` for dependents' build scripts).
//! Absolute paths under the sandbox are written as `${pwd}/...`, which the builder expands
//! in the consuming action, so the files do not depend on the sandbox they were made in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::rustc::split_pair;

/// Arguments of `relink-builder build-script`.
#[derive(clap::Args, Debug)]
pub struct BuildScriptArgs {
    /// The compiled build script.
    #[arg(long)]
    pub script: PathBuf,
    /// Package name (for messages and `CARGO_PKG_NAME`).
    #[arg(long)]
    pub package: String,
    /// Package directory (the script runs there; `CARGO_MANIFEST_DIR`).
    #[arg(long)]
    pub manifest_dir: PathBuf,
    /// `OUT_DIR` (a declared output directory).
    #[arg(long)]
    pub out_dir: PathBuf,
    /// The `links` value of the package, if any.
    #[arg(long)]
    pub links: Option<String>,
    /// rustc of the toolchain (`RUSTC` for scripts that probe the compiler).
    #[arg(long)]
    pub rustc: PathBuf,
    /// `-C opt-level` of the package's crates (`OPT_LEVEL`).
    #[arg(long, default_value = "0")]
    pub opt_level: String,
    /// `PROFILE` as Cargo sets it: `release` for the release profile and profiles that
    /// inherit it, `debug` otherwise; from `--opt-level` when absent.
    #[arg(long, value_parser = ["debug", "release"])]
    pub profile: Option<String>,
    /// `DEBUG`: whether the package's crates have debuginfo.
    #[arg(long)]
    pub debug: bool,
    /// Whether the package's crates have debug assertions (`CARGO_CFG_DEBUG_ASSERTIONS`);
    /// rustc's default (on exactly at opt-level 0) when absent.
    #[arg(long, value_parser = ["on", "off"])]
    pub debug_assertions: Option<String>,
    /// Enabled features (`CARGO_FEATURE_<NAME>`).
    #[arg(long = "feature")]
    pub features: Vec<String>,
    /// Extra environment, `KEY=VALUE` (`CARGO_PKG_*`).
    #[arg(long = "env")]
    pub env: Vec<String>,
    /// Dep-env files of dependencies with `links`.
    #[arg(long = "dep-env-file")]
    pub dep_env_files: Vec<PathBuf>,
    /// Where to write rustc flags.
    #[arg(long)]
    pub flags_out: PathBuf,
    /// Where to write `rustc-env` variables.
    #[arg(long)]
    pub env_out: PathBuf,
    /// Where to write `DEP_*` variables for dependents.
    #[arg(long)]
    pub dep_env_out: PathBuf,
    /// The package's files the script may read; with `--unused-inputs-list`, those it did not
    /// declare through `rerun-if-changed` are listed there (Cargo's rerun semantics).
    #[arg(long = "package-file")]
    pub package_files: Vec<PathBuf>,
    /// Do not print the script's `cargo:warning`s (a registry crate's: Cargo shows those only
    /// with `-vv`).
    #[arg(long)]
    pub hide_warnings: bool,
    /// Bazel's `unused_inputs_list`.
    #[arg(long)]
    pub unused_inputs_list: Option<PathBuf>,
}

/// What the directives asked for.
#[derive(Default, Debug, PartialEq)]
pub struct Directives {
    pub flags: Vec<String>,
    pub env: Vec<(String, String)>,
    pub metadata: Vec<(String, String)>,
    pub warnings: Vec<String>,
    /// `rerun-if-changed` paths, as printed.
    pub rerun_if_changed: Vec<String>,
    /// Whether any `rerun-if-changed` or `rerun-if-env-changed` was printed: then Cargo no
    /// longer re-runs the script for other files of the package.
    pub rerun_directives: bool,
}

/// Parse a build script's standard output.
pub fn parse_directives(stdout: &str) -> Result<Directives> {
    let mut d = Directives::default();
    for line in stdout.lines() {
        let rest = if let Some(r) = line.strip_prefix("cargo::") {
            r
        } else if let Some(r) = line.strip_prefix("cargo:") {
            r
        } else {
            continue;
        };
        let Some((key, value)) = rest.split_once('=') else { continue };
        match key {
            "rustc-cfg" => d.flags.extend(["--cfg".to_string(), value.to_string()]),
            "rustc-check-cfg" => d.flags.extend(["--check-cfg".to_string(), value.to_string()]),
            "rustc-link-lib" => d.flags.extend(["-l".to_string(), value.to_string()]),
            "rustc-link-search" => d.flags.extend(["-L".to_string(), value.to_string()]),
            "rustc-link-arg" | "rustc-cdylib-link-arg" => d.flags.push(format!("-Clink-arg={value}")),
            "rustc-flags" => d.flags.extend(value.split_whitespace().map(str::to_string)),
            "rustc-env" => {
                let (k, v) = split_pair(value, "cargo:rustc-env")?;
                d.env.push((k.to_string(), v.to_string()));
            }
            "warning" => d.warnings.push(value.to_string()),
            "error" => bail!("the build script reported an error: {value}"),
            "metadata" => {
                let (k, v) = split_pair(value, "cargo::metadata")?;
                d.metadata.push((k.to_string(), v.to_string()));
            }
            "rerun-if-changed" => {
                d.rerun_if_changed.push(value.to_string());
                d.rerun_directives = true;
            }
            "rerun-if-env-changed" => d.rerun_directives = true,
            // Link arguments for specific binaries, tests, examples: not for libraries.
            k if k.starts_with("rustc-link-arg-") => {}
            // Old-style metadata: any other key.
            other => d.metadata.push((other.to_string(), value.to_string())),
        }
    }
    Ok(d)
}

/// Cfg values of the host target as `CARGO_CFG_*` variables.
fn cfg_env(rustc: &Path) -> Result<BTreeMap<String, String>> {
    let out = Command::new(rustc).args(["--print", "cfg"]).output().context("cannot run rustc --print cfg")?;
    let mut env: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k, v.trim_matches('"').to_string()),
            None => (line, String::new()),
        };
        if key == "debug_assertions" {
            continue;
        }
        env.entry(format!("CARGO_CFG_{}", key.to_uppercase())).or_default().push(value);
    }
    Ok(env.into_iter().map(|(k, v)| (k, v.join(","))).collect())
}

/// `CARGO`: the cargo of rustc's toolchain (rustup's and the standalone installers put it
/// beside rustc), else the name `cargo`.
fn cargo_beside(rustc: &Path) -> PathBuf {
    let beside = rustc.with_file_name("cargo");
    if beside.is_file() {
        beside
    } else {
        PathBuf::from("cargo")
    }
}

fn host(rustc: &Path) -> Result<String> {
    let out = Command::new(rustc).arg("-vV").output().context("cannot run rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .context("rustc -vV names no host")
}

/// Run the verb.
pub fn run(args: &BuildScriptArgs) -> Result<()> {
    let cwd = std::env::current_dir()?;
    let rustc = crate::rustc::resolve_rustc(&args.rustc, &cwd);
    fs_err::create_dir_all(&args.out_dir)?;
    let mut cmd = script_command(args, &rustc, &cwd)?;
    let output = cmd.output().with_context(|| format!("cannot run the build script of {}", args.package))?;
    if !output.status.success() {
        bail!(
            "the build script of `{}` failed ({}):\n--- stdout\n{}\n--- stderr\n{}\nCheck that the system libraries and tools it needs are installed.",
            args.package,
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let directives = parse_directives(&String::from_utf8_lossy(&output.stdout))?;
    for w in directives.warnings.iter().filter(|_| !args.hide_warnings) {
        eprintln!("warning: {}@build.rs: {w}", args.package);
    }
    write_outputs(args, &directives, &cwd)?;
    if let Some(list) = &args.unused_inputs_list {
        let used = files_cargo_watches(&args.package_files, &directives, &args.manifest_dir, &cwd);
        crate::unused::write_list(list, &args.package_files, &used)?;
    }
    Ok(())
}

/// The script's command with the environment Cargo gives build scripts.
fn script_command(args: &BuildScriptArgs, rustc: &Path, cwd: &Path) -> Result<Command> {
    let abs = |p: &Path| cwd.join(p);
    // Two rustc start-ups side by side.
    let (host, cfg) = std::thread::scope(|s| {
        let cfg = s.spawn(|| cfg_env(rustc));
        (host(rustc), cfg.join().expect("rustc --print cfg does not panic"))
    });
    let (host, cfg) = (host?, cfg?);
    let manifest_dir = crate::util::normalize(&abs(&args.manifest_dir));
    let mut cmd = Command::new(abs(&args.script));
    crate::util::die_with_parent(&mut cmd);
    cmd.current_dir(&manifest_dir).env_clear();
    cmd.env("PATH", std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()));
    cmd.env("OUT_DIR", abs(&args.out_dir))
        .env("CARGO_MANIFEST_DIR", &manifest_dir)
        .env("CARGO_PKG_NAME", &args.package)
        .env("TARGET", &host)
        .env("HOST", &host)
        .env("RUSTC", rustc)
        .env("RUSTDOC", rustc.with_file_name("rustdoc"))
        .env("OPT_LEVEL", &args.opt_level)
        .env("PROFILE", args.profile.as_deref().unwrap_or(if args.opt_level == "0" { "debug" } else { "release" }))
        .env("DEBUG", if args.debug { "true" } else { "false" })
        // Cargo gives the job count; build scripts parallelize C compiles with it. It never
        // changes what a script writes, so it is not part of the action's key.
        .env("NUM_JOBS", std::thread::available_parallelism().map_or(1, |n| n.get()).to_string())
        .env("CARGO_ENCODED_RUSTFLAGS", "")
        .env("CARGO", cargo_beside(rustc));
    if let Some(links) = &args.links {
        cmd.env("CARGO_MANIFEST_LINKS", links);
    }
    for (k, v) in cfg {
        cmd.env(k, v);
    }
    let assertions = args.debug_assertions.as_deref().unwrap_or(if args.opt_level == "0" { "on" } else { "off" });
    if assertions == "on" {
        cmd.env("CARGO_CFG_DEBUG_ASSERTIONS", "");
    }
    let mut features: Vec<&str> = args.features.iter().map(String::as_str).collect();
    features.sort_unstable();
    cmd.env("CARGO_CFG_FEATURE", features.join(","));
    for feature in &args.features {
        cmd.env(format!("CARGO_FEATURE_{}", feature.to_uppercase().replace('-', "_")), "1");
    }
    for pair in &args.env {
        let (k, v) = split_pair(pair, "--env")?;
        cmd.env(k, v);
    }
    // After the package's variables, whose CARGO_MANIFEST_PATH names the compile directory.
    cmd.env("CARGO_MANIFEST_PATH", manifest_dir.join("Cargo.toml"));
    for file in &args.dep_env_files {
        for line in fs_err::read_to_string(file)?.lines().filter(|l| !l.is_empty()) {
            let (k, v) = split_pair(line, &file.display().to_string())?;
            cmd.env(k, v.replace("${pwd}", &cwd.display().to_string()));
        }
    }
    Ok(cmd)
}

/// The flags, env and `DEP_<links>_*` files, with the sandbox path made portable.
fn write_outputs(args: &BuildScriptArgs, directives: &Directives, cwd: &Path) -> Result<()> {
    let sandbox = format!("{}", cwd.display());
    let portable = |s: &str| s.replace(&sandbox, "${pwd}");
    let flags: Vec<String> = directives.flags.iter().map(|f| portable(f)).collect();
    fs_err::write(&args.flags_out, flags.join("\n"))?;
    let env: Vec<String> = directives.env.iter().map(|(k, v)| format!("{k}={}", portable(v))).collect();
    fs_err::write(&args.env_out, env.join("\n"))?;
    let dep_env: Vec<String> = match &args.links {
        Some(links) => directives
            .metadata
            .iter()
            .map(|(k, v)| {
                format!(
                    "DEP_{}_{}={}",
                    links.to_uppercase().replace('-', "_"),
                    k.to_uppercase().replace('-', "_"),
                    portable(v)
                )
            })
            .collect(),
        None => Vec::new(),
    };
    fs_err::write(&args.dep_env_out, dep_env.join("\n"))?;
    Ok(())
}

/// The package files whose change makes Cargo re-run the script: all of them, unless the
/// script printed `rerun-if-*`; then those at or under a `rerun-if-changed` path (relative to
/// the package directory, or absolute inside the sandbox).
fn files_cargo_watches(
    files: &[PathBuf],
    directives: &Directives,
    manifest_dir: &Path,
    cwd: &Path,
) -> std::collections::BTreeSet<String> {
    let all = || files.iter().map(|f| f.display().to_string()).collect();
    if !directives.rerun_directives {
        return all();
    }
    let watched: Vec<PathBuf> = directives
        .rerun_if_changed
        .iter()
        .map(|p| {
            let p = Path::new(p);
            let abs = if p.is_absolute() { p.to_path_buf() } else { cwd.join(manifest_dir).join(p) };
            crate::util::normalize(&abs).strip_prefix(cwd).map(Path::to_path_buf).unwrap_or(abs)
        })
        .collect();
    files.iter().filter(|f| watched.iter().any(|w| f.starts_with(w))).map(|f| f.display().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_of_both_syntaxes_are_parsed() {
        let d = parse_directives(
            "cargo:rustc-cfg=has_foo\ncargo::rustc-check-cfg=cfg(has_foo)\ncargo:rustc-link-lib=static=z\n\
             cargo:rustc-link-search=native=/out\ncargo:rustc-env=GIT=abc=d\ncargo:warning=careful\n\
             cargo::metadata=include=/out/include\ncargo:root=/out\ncargo:rerun-if-changed=build.rs\nnot a directive\n",
        )
        .unwrap();
        assert_eq!(d.flags, ["--cfg", "has_foo", "--check-cfg", "cfg(has_foo)", "-l", "static=z", "-L", "native=/out"]);
        assert_eq!(d.env, [("GIT".to_string(), "abc=d".to_string())]);
        assert_eq!(d.warnings, ["careful"]);
        assert_eq!(
            d.metadata,
            [("include".to_string(), "/out/include".to_string()), ("root".to_string(), "/out".to_string())]
        );
        assert_eq!(d.rerun_if_changed, ["build.rs"]);
        assert!(d.rerun_directives);
    }

    #[test]
    fn cargo_rerun_semantics_choose_the_watched_files() {
        let files: Vec<PathBuf> = ["pkg/build.rs", "pkg/src/lib.rs", "pkg/proto/a.proto", "pkg/CHANGELOG.md"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let cwd = Path::new("/sandbox");
        let watched = |stdout: &str| {
            let d = parse_directives(stdout).unwrap();
            let mut v: Vec<String> = files_cargo_watches(&files, &d, Path::new("pkg"), cwd).into_iter().collect();
            v.sort();
            v
        };
        assert_eq!(watched("cargo:rustc-cfg=x\n").len(), 4, "no rerun-if: every package file");
        assert_eq!(
            watched("cargo:rerun-if-changed=build.rs\ncargo:rerun-if-changed=proto\n"),
            ["pkg/build.rs", "pkg/proto/a.proto"]
        );
        assert_eq!(watched("cargo:rerun-if-changed=/sandbox/pkg/src/lib.rs\n"), ["pkg/src/lib.rs"]);
        assert!(watched("cargo:rerun-if-env-changed=CC\n").is_empty(), "env only: no file re-runs it");
    }

    #[test]
    fn an_error_directive_fails() {
        assert!(parse_directives("cargo::error=no libfoo").is_err());
    }
}
