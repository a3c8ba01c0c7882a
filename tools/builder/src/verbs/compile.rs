//! `relink-builder compile`: the real compilation of a crate against dependency interfaces.
//!
//! Libraries produce their real rlib (and, for crates that are never stubbed, their interface
//! from the same compilation: the rmeta wrapped as a hollow rlib). Binaries, tests and proc
//! macros compile with `-Zno-link` into a directory holding the `.rlink` and object files;
//! the rlink's paths are normalized so that the directory is independent of the sandbox.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::rlink;
use crate::rustc::{self, CrateOpts, DepSetup};
use crate::util;

/// Placeholder for the object directory inside a normalized rlink.
pub const OBJ_DIR_PLACEHOLDER: &str = "@RELINK_OBJ_DIR@";

/// File in the no-link directory listing the dependency files the rlink records.
pub const RECORDED_DEPS_FILE: &str = "relink-deps.txt";

/// Arguments of `relink-builder compile`.
#[derive(clap::Args, Debug)]
pub struct CompileArgs {
    #[command(flatten)]
    pub krate: CrateOpts,
    /// Library: path of the real rlib to write.
    #[arg(long, conflicts_with = "no_link_dir")]
    pub out: Option<PathBuf>,
    /// Library: also write the interface (hollow rlib of this compile's metadata) here.
    #[arg(long, requires = "out")]
    pub interface_out: Option<PathBuf>,
    /// Binary, test or proc macro: compile with `-Zno-link` into this directory.
    #[arg(long)]
    pub no_link_dir: Option<PathBuf>,
    /// Write the crate's sources and data files that rustc did not read here (from its
    /// dep-info), one path a line: Bazel's `unused_inputs_list`.
    #[arg(long)]
    pub unused_inputs_list: Option<PathBuf>,
    /// Use rustc's incremental cache under this directory (outside the sandbox; local only,
    /// never shared: outputs may differ from a non-incremental compile's in layout).
    #[arg(long)]
    pub incremental_dir: Option<PathBuf>,
}

/// The incremental directory of one compile of a crate: per crate (keyed like `-C metadata`),
/// configuration, and kind (`real` or `interface`: their inputs differ).
pub fn incremental_key(krate: &CrateOpts, kind: &str) -> String {
    let label: String = krate.metadata.chars().map(|c| if c.is_alphanumeric() { c } else { '_' }).collect();
    format!("{label}-{}-{}-{kind}", krate.opt_level, krate.debuginfo)
}

/// Run the verb.
pub fn run(args: &CompileArgs) -> Result<()> {
    let cwd = std::env::current_dir()?;
    let deps = DepSetup::new(&args.krate)?;
    let mut flags = args.krate.compile_flags(&deps, &cwd)?;
    flags.extend(CrateOpts::remap_flags(&cwd));
    if let Some(dir) = &args.incremental_dir {
        flags.push(format!("-Cincremental={}", dir.join(incremental_key(&args.krate, "real")).display()));
    }
    let env = args.krate.environment(&cwd)?;
    let dep_info = args.unused_inputs_list.as_ref().map(|list| cwd.join(util::sibling(list, "d")));
    match (&args.out, &args.no_link_dir) {
        (Some(out), None) => compile_library(args, out, flags, &env, &cwd, dep_info.as_deref())?,
        (None, Some(dir)) => compile_no_link(args, dir, flags, &env, &cwd, &deps, dep_info.as_deref())?,
        _ => bail!("compile needs exactly one of --out (library) or --no-link-dir (binary, test, proc macro)"),
    }
    if let (Some(list), Some(dep_info)) = (&args.unused_inputs_list, &dep_info) {
        write_unused_inputs(&args.krate, list, dep_info, &cwd, None, &Default::default())?;
    }
    Ok(())
}

/// The crate's sources and data files that the dep-info does not name, written to `list`.
/// Paths read from `scratch` (a stub overlay) stand for the declared paths they mirror, except
/// the `replaced` ones, whose real versions were not read.
pub fn write_unused_inputs(
    krate: &CrateOpts,
    list: &Path,
    dep_info: &Path,
    cwd: &Path,
    scratch: Option<&Path>,
    replaced: &std::collections::BTreeSet<String>,
) -> Result<()> {
    let compile_dir = krate.compile_dir(cwd)?;
    let map = crate::unused::PathMap { execroot: cwd, compile_dir: &compile_dir, scratch };
    let used: std::collections::BTreeSet<String> = crate::unused::dep_info_files(dep_info)?
        .iter()
        .filter_map(|f| map.exec_path(f))
        .filter(|p| !replaced.contains(p))
        .collect();
    let candidates: Vec<PathBuf> = krate.srcs.iter().chain(&krate.data).cloned().collect();
    crate::unused::write_list(list, &candidates, &used)?;
    fs_err::remove_file(dep_info).with_context(|| format!("cannot remove {}", dep_info.display()))
}

/// `--out-dir` beside `out`: where rustc writes its temporary objects and metadata (with
/// explicit `--emit` paths it would use the compile directory, which under Buck2 is the
/// package's source directory). Decides no output byte.
pub fn temps_dir(out: &Path) -> String {
    format!("--out-dir={}", out.parent().unwrap_or(Path::new(".")).display())
}

fn compile_library(
    args: &CompileArgs,
    out: &Path,
    mut flags: Vec<String>,
    env: &std::collections::BTreeMap<String, String>,
    cwd: &Path,
    dep_info: Option<&Path>,
) -> Result<()> {
    let out = &cwd.join(out);
    let rmeta = util::sibling(out, "rmeta");
    let mut emit = format!("--emit=link={}", out.display());
    if args.interface_out.is_some() {
        emit.push_str(&format!(",metadata={}", rmeta.display()));
    }
    if let Some(d) = dep_info {
        emit.push_str(&format!(",dep-info={}", d.display()));
    }
    flags.push(emit);
    flags.push(temps_dir(out));
    flags.push(cwd.join(&args.krate.crate_root).display().to_string());
    let output = rustc::run(&args.krate.rustc_path(cwd), &flags, env, None, &args.krate.compile_dir(cwd)?)?;
    rustc::check(&output, &format!("compile of crate `{}`", args.krate.crate_name))?;
    if args.incremental_dir.is_some() {
        crate::objects::normalize_rlib(out)?;
    }
    if let Some(interface) = &args.interface_out {
        let data = fs_err::read(&rmeta).with_context(|| format!("rustc wrote no {}", rmeta.display()))?;
        crate::hollow::write_hollow_rlib(&data, interface)?;
        fs_err::remove_file(&rmeta)?;
    }
    Ok(())
}

fn compile_no_link(
    args: &CompileArgs,
    dir: &Path,
    mut flags: Vec<String>,
    env: &std::collections::BTreeMap<String, String>,
    cwd: &Path,
    deps: &DepSetup,
    dep_info: Option<&Path>,
) -> Result<()> {
    let dir = &cwd.join(dir);
    util::fresh_dir(dir)?;
    if let Some(d) = dep_info {
        flags.push(format!("--emit=link,dep-info={}", d.display()));
    }
    flags.extend([
        "-Zno-link".to_string(),
        format!("--out-dir={}", dir.display()),
        cwd.join(&args.krate.crate_root).display().to_string(),
    ]);
    let output = rustc::run(&args.krate.rustc_path(cwd), &flags, env, None, &args.krate.compile_dir(cwd)?)?;
    rustc::check(&output, &format!("compile of crate `{}`", args.krate.crate_name))?;
    let rlink_path = util::single_file_with_extension(dir, "rlink")?;
    let mut data = fs_err::read(&rlink_path)?;
    if args.incremental_dir.is_some() {
        // Every renamed object in one pass over the rlink (a binary has hundreds).
        let renamed: std::collections::HashMap<String, String> = crate::objects::normalize_dir(dir)?
            .into_iter()
            .map(|(old, new)| (dir.join(old).display().to_string(), dir.join(new).display().to_string()))
            .collect();
        if !renamed.is_empty() {
            let prefix = format!("{}/", dir.display());
            data = rlink::rewrite_strings(&data, prefix.as_bytes(), |s| Ok(renamed.get(s).cloned()))?;
        }
    }
    let (mut normalized, recorded) =
        normalize_rlink(&data, dir, cwd, deps).with_context(|| format!("cannot normalize {}", rlink_path.display()))?;
    if let Some(incremental_dir) = &args.incremental_dir {
        // After the sandbox paths: a stable sandbox may lie inside the incremental directory.
        normalized = forget_incremental_sessions(&normalized, incremental_dir)
            .with_context(|| format!("cannot normalize {}", rlink_path.display()))?;
    }
    fs_err::write(&rlink_path, normalized)?;
    fs_err::write(dir.join(RECORDED_DEPS_FILE), recorded.join("\n"))?;
    Ok(())
}

/// Placeholder for rustc's incremental session directory inside a normalized rlink.
pub const INCREMENTAL_PLACEHOLDER: &str = "@RELINK_INCREMENTAL@";

/// Drop the incremental session paths an rlink records: for each module, the files rustc
/// hard-linked from its incremental cache, under a session directory whose name holds a
/// timestamp and a random part. rustc reads that list only while compiling (it does not copy
/// such files into the cache again); the link step never does. Without this, every
/// incremental compile of a binary writes a different rlink (its link re-runs though the
/// objects are identical, and the rlink names this machine's cache directory), and a compile
/// that reused objects differs from a fresh one. A list rustc encoded otherwise than this
/// builder expects keeps its entries, as `@RELINK_INCREMENTAL@/<file name>`.
pub fn forget_incremental_sessions(data: &[u8], incremental_dir: &Path) -> Result<Vec<u8>> {
    let mut prefixes = vec![format!("{}/", incremental_dir.display())];
    // rustc canonicalizes the crate's incremental directory before it creates a session.
    if let Ok(canonical) = fs_err::canonicalize(incremental_dir) {
        prefixes.push(format!("{}/", canonical.display()));
    }
    prefixes.dedup();
    let mut data = data.to_vec();
    for prefix in &prefixes {
        let session_file = |s: &str| -> Option<String> {
            let rest = s.strip_prefix(prefix.as_str())?;
            let mut components = rest.rsplit('/');
            let (name, session) = (components.next()?, components.next()?);
            session.starts_with("s-").then(|| name.to_string())
        };
        data = rlink::empty_string_lists(
            &data,
            prefix.as_bytes(),
            |s| session_file(s).is_some(),
            |s| session_file(s).map(|name| format!("{INCREMENTAL_PLACEHOLDER}/{name}")),
        )?;
        if let Some((_, leftover)) = rlink::strings_starting_with(&data, prefix.as_bytes()).first() {
            bail!("the rlink still names an incremental session path after normalization: {leftover}");
        }
    }
    Ok(data)
}

/// Make an rlink independent of the sandbox: dependency paths back to the paths the build
/// system gave, the object directory to a placeholder, other workspace paths relative.
/// Also returns the dependency files the rlink records (the link step must map each one).
pub fn normalize_rlink(data: &[u8], obj_dir: &Path, cwd: &Path, deps: &DepSetup) -> Result<(Vec<u8>, Vec<String>)> {
    rlink::check_magic(data)?;
    // The object directory first: it lies under the working directory too.
    let obj = obj_dir.display().to_string();
    let data = rlink::rewrite_strings(data, obj.as_bytes(), |s| {
        if s == obj {
            return Ok(Some(OBJ_DIR_PLACEHOLDER.to_string()));
        }
        Ok(s.strip_prefix(&format!("{obj}/")).map(|rest| format!("{OBJ_DIR_PLACEHOLDER}/{rest}")))
    })?;
    let cwd_prefix = format!("{}/", cwd.display());
    let mut recorded = Vec::new();
    let data = rlink::rewrite_strings(&data, b"/", |s| {
        if let Some(given) = deps.canonical_to_given.get(s) {
            recorded.push(given.clone());
            return Ok(Some(given.clone()));
        }
        Ok(s.strip_prefix(&cwd_prefix).map(str::to_string))
    })?;
    if let Some((_, leftover)) = rlink::strings_starting_with(&data, cwd_prefix.as_bytes()).first() {
        bail!("the rlink still names a sandbox path after normalization: {leftover}");
    }
    recorded.sort();
    recorded.dedup();
    Ok((data, recorded))
}
