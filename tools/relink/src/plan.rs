//! What a command builds: the session (workspace, cache, configuration), target patterns,
//! and the analysed action graph.
//!
//! Loading and analysis are reused from the previous command while nothing they read changed
//! (see [`relink_core::inputs`]): BUILD and `.bzl` files, the directory listings `glob()` and `//...`
//! walked, existence checks, the configuration, the patterns, the repositories and relink
//! itself. Then no Starlark runs at all, which is most of a no-op build's time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::BuildOpts;
use relink_analysis::{Analyzer, Config, Configured};
use relink_core::action::{Action, ActionGraph};
use relink_core::digest::digest_bytes;
use relink_core::inputs::Recorded;
use relink_core::label::Label;
use relink_core::workspace::Workspace;
use relink_exec as exec;
use relink_exec::cache::Cache;
use relink_loading::Loader;

pub fn cache_root(explicit: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir;
    }
    if let Ok(dir) = std::env::var("RELINK_CACHE") {
        return PathBuf::from(dir);
    }
    if let Ok(dir) = std::env::var("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("relink");
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".to_string());
    PathBuf::from(home).join(".cache/relink")
}

/// Records of this workspace (explain state).
pub fn state_dir(cache: &Cache, ws: &Workspace) -> PathBuf {
    let id = digest_bytes(ws.root.display().to_string().as_bytes());
    cache.root.join("workspaces").join(&id[..16])
}

/// One command's view of the workspace.
pub struct Session {
    pub loader: Loader,
    pub cache: Cache,
    pub config: Config,
    /// The package of the working directory (relative labels, `...` patterns).
    pub cwd_package: String,
    /// Source digests remembered across builds of this workspace.
    pub sources: exec::digests::SourceDigests,
    /// Where this workspace's records live (`relink explain`, digests, analyses).
    pub state_dir: PathBuf,
    /// The remote cache, when `--remote_cache` names one that answered.
    pub remote: Option<exec::remote::RemoteCache>,
    /// The cache held shared while the session lasts: no garbage collection meanwhile.
    _lease: std::fs::File,
}

/// The `--define` that selects the Cargo profile of imported targets (rules/private/profile.bzl).
pub const PROFILE_DEFINE: &str = "relink_profile";

pub fn open_session(opts: &BuildOpts) -> Result<Session> {
    let cwd = std::env::current_dir()?;
    let mut ws = Workspace::find(&cwd)?;
    let cache = Cache::open(cache_root(opts.cache_dir.clone()))?;
    let lease = cache.lease()?;
    crate::repos::register(&mut ws, &cache.root)?;
    let cwd_package =
        cwd.canonicalize()?.strip_prefix(&ws.root).map(|p| p.to_string_lossy().to_string()).unwrap_or_default();
    if !matches!(opts.compilation_mode.as_str(), "fastbuild" | "dbg" | "opt") {
        bail!("--compilation_mode must be fastbuild, dbg or opt, not `{}`", opts.compilation_mode);
    }
    let mut defines = BTreeMap::new();
    for d in &opts.defines {
        let (k, v) = d.split_once('=').ok_or_else(|| anyhow!("--define takes KEY=VALUE, got `{d}`"))?;
        defines.insert(k.to_string(), v.to_string());
    }
    if let Some(profile) = &opts.profile {
        if defines.get(PROFILE_DEFINE).is_some_and(|p| p != profile) {
            bail!("--profile {profile} and --define {PROFILE_DEFINE}={} disagree: give one", defines[PROFILE_DEFINE]);
        }
        defines.insert(PROFILE_DEFINE.to_string(), profile.clone());
    }
    if opts.rustc_incremental && opts.compilation_mode != "opt" {
        let dir = state_dir(&cache, &ws).join("incremental");
        fs_err::create_dir_all(&dir)?;
        defines.insert("relink_incremental_dir".to_string(), dir.display().to_string());
    }
    let mut toolchain_registrations = opts.extra_toolchains.clone();
    toolchain_registrations.extend(relink_analysis::toolchains::workspace_registrations(&ws.root)?);
    toolchain_registrations.extend(relink_analysis::toolchains::DEFAULT_REGISTRATIONS.iter().map(|s| s.to_string()));
    let config = Config {
        compilation_mode: opts.compilation_mode.clone(),
        defines,
        target_platform: opts.platforms.clone(),
        toolchain_registrations,
    };
    let state = state_dir(&cache, &ws);
    fs_err::create_dir_all(&state).with_context(|| format!("cannot create {}", state.display()))?;
    let sources = exec::digests::SourceDigests::load_with_shared(
        state.join("digests.json"),
        ws.root.clone(),
        cache.root.join("external-digests.json"),
    );
    let remote = connect_remote(opts, &ws.root);
    Ok(Session {
        loader: Loader::new(ws, relink_analysis::natives::globals),
        cache,
        config,
        cwd_package,
        sources,
        state_dir: state,
        remote,
        _lease: lease,
    })
}

/// The remote cache of `--remote_cache`: one that cannot be reached or lacks what relink needs
/// is a warning, and the build is local.
fn connect_remote(opts: &BuildOpts, root: &std::path::Path) -> Option<exec::remote::RemoteCache> {
    let url = opts.remote_cache.clone().or_else(|| opts.remote_executor.clone())?;
    if opts.remote_executor.as_ref().is_some_and(|e| e != &url) {
        eprintln!("relink: WARNING: --remote_executor differs from --remote_cache; one server serves both: {url}");
    }
    let remote = exec::remote::RemoteOptions {
        url: url.clone(),
        instance: opts.remote_instance_name.clone(),
        upload: opts.remote_upload_local_results,
        timeout: std::time::Duration::from_secs(opts.remote_timeout),
        download_all: opts.remote_download_outputs == crate::RemoteDownload::All,
        signing_key: opts.remote_signing_key.clone().unwrap_or_else(exec::provenance::Signer::default_path),
        workspace_root: root.to_path_buf(),
        execute: opts.remote_executor.is_some(),
        exec_properties: opts
            .remote_default_exec_properties
            .iter()
            .map(|p| {
                p.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).unwrap_or((p.clone(), String::new()))
            })
            .collect(),
        queue_timeout: std::time::Duration::from_secs(opts.remote_queue_timeout),
        digest_function: match opts.digest_function.as_deref().map(exec::remote::DigestFunction::parse) {
            Some(Ok(f)) => Some(f),
            Some(Err(e)) => {
                eprintln!("relink: WARNING: {e:#}; building locally");
                return None;
            }
            None => None,
        },
    };
    match exec::remote::RemoteCache::connect(remote) {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("relink: WARNING: remote cache {url} is not usable ({e:#}); building locally");
            None
        }
    }
}

/// Expand target patterns into labels of rule targets (and explicit labels as given).
pub fn expand_patterns(session: &Session, patterns: &[String]) -> Result<Vec<Label>> {
    let base = Label::package_base("", &session.cwd_package);
    let mut out = Vec::new();
    for pattern in patterns {
        let (all_under, package_all) =
            if let Some(dir) = pattern.strip_suffix("/...").or_else(|| pattern.strip_suffix("...")) {
                (Some(dir.trim_start_matches("//").trim_end_matches('/').to_string()), None)
            } else if let Some(pkg) = pattern.strip_suffix(":all").or_else(|| pattern.strip_suffix(":*")) {
                (None, Some(pkg.trim_start_matches("//").to_string()))
            } else {
                (None, None)
            };
        let packages = match (&all_under, &package_all) {
            (Some(dir), _) => {
                let dir = if pattern.starts_with("//") {
                    dir.clone()
                } else {
                    relink_core::label::join_path(&session.cwd_package, dir)
                };
                session.loader.workspace.packages_under(&dir)?
            }
            (_, Some(pkg)) => vec![pkg.clone()],
            _ => {
                out.push(Label::parse(pattern, &base)?);
                continue;
            }
        };
        for pkg in packages {
            let package = session.loader.package("", &pkg)?;
            // As Bazel: wildcards skip targets tagged `manual` (built when something needs them).
            let matched = package.targets.values().filter(|t| !t.tags().iter().any(|tag| tag == "manual"));
            out.extend(matched.map(|t| t.label.clone()));
        }
    }
    if out.is_empty() {
        bail!("no targets match {}", patterns.join(" "));
    }
    Ok(out)
}

/// A configured target, as commands need it (no Starlark values).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetSummary {
    pub label: String,
    pub kind: String,
    pub is_test: bool,
    /// Execroot paths of DefaultInfo's files.
    pub default_files: Vec<String>,
    pub executable: Option<String>,
    pub runfiles: Vec<String>,
    pub deps: Vec<String>,
}

impl TargetSummary {
    fn of(t: &Configured) -> TargetSummary {
        TargetSummary {
            label: t.target.label.to_string(),
            kind: t.kind.clone(),
            is_test: t.is_test,
            default_files: t.default_files.iter().map(|f| f.path.clone()).collect(),
            executable: t.executable.as_ref().map(|f| f.path.clone()),
            runfiles: t.runfiles.iter().map(|f| f.path.clone()).collect(),
            deps: t.deps.iter().map(Label::to_string).collect(),
        }
    }
}

/// The requested targets and every action they may need.
pub struct Analysis {
    pub targets: Vec<TargetSummary>,
    pub graph: ActionGraph,
    /// Whether this came from a previous command (nothing it read had changed).
    pub reused: bool,
}

/// A stored analysis with what it read.
#[derive(Serialize, Deserialize)]
struct Stored {
    key: String,
    reads: Recorded,
    targets: Vec<TargetSummary>,
    actions: Vec<Action>,
}

/// Analyse `patterns`, or reuse the last analysis of the same patterns and configuration when
/// nothing it read changed.
pub fn analyze(session: &Session, patterns: &[String]) -> Result<Analysis> {
    let (key, name) = analysis_key(session, patterns)?;
    let file = session.state_dir.join(format!("analysis-{}.json", &digest_bytes(name.as_bytes())[..16]));
    match fs_err::read(&file).ok().map(|b| serde_json::from_slice::<Stored>(&b)) {
        Some(Ok(mut stored)) if stored.key == key => match stored.reads.first_change() {
            None => {
                if stored.reads.restamped() {
                    store(&file, &stored)?;
                }
                return Ok(Analysis {
                    targets: stored.targets,
                    graph: ActionGraph::from_actions(stored.actions)?,
                    reused: true,
                });
            }
            Some(change) => note(&format!("analysing again: {change}")),
        },
        Some(Ok(_)) => note("analysing again: another configuration"),
        Some(Err(e)) => note(&format!("analysing again: the stored analysis is unreadable ({e})")),
        None => {}
    }
    let labels = expand_patterns(session, patterns)?;
    let analyzer = Analyzer::new(&session.loader, session.config.clone());
    let targets: Vec<TargetSummary> =
        labels.iter().map(|l| analyzer.analyze(l).map(|t| TargetSummary::of(&t))).collect::<Result<_>>()?;
    let graph = analyzer.graph.into_inner();
    let stored =
        Stored { key, reads: session.loader.workspace.reads.snapshot(), targets, actions: graph.actions.clone() };
    store(&file, &stored)?;
    Ok(Analysis { targets: stored.targets, graph, reused: false })
}

/// Write a stored analysis atomically. A record that cannot be written only costs the next
/// command an analysis.
fn store(file: &Path, stored: &Stored) -> Result<()> {
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    if fs_err::write(&tmp, serde_json::to_vec(stored)?).is_ok() {
        let _ = fs_err::rename(&tmp, file);
    }
    Ok(())
}

/// Why an analysis was not reused, when `RELINK_TIMING` asks for phase details.
fn note(why: &str) {
    if std::env::var_os("RELINK_TIMING").is_some() {
        eprintln!("relink: {why}");
    }
}

/// Everything besides the files read that decides the analysis, and the part of it that names
/// the stored record (all but relink's own identity: a new relink replaces the record of the
/// old one instead of adding a file).
fn analysis_key(session: &Session, patterns: &[String]) -> Result<(String, String)> {
    let exe = std::env::current_exe()?;
    let meta = fs_err::metadata(&exe).with_context(|| format!("cannot stat {}", exe.display()))?;
    let ws = &session.loader.workspace;
    let mut material = serde_json::json!({
        "mode": session.config.compilation_mode,
        "defines": session.config.defines,
        "platforms": session.config.target_platform,
        "toolchains": session.config.toolchain_registrations,
        "patterns": patterns,
        "cwd_package": session.cwd_package,
        "root": ws.root,
        "name": ws.name,
        "repos": ws.repos,
    });
    let name = material.to_string();
    material["relink"] =
        serde_json::json!([exe.display().to_string(), meta.len(), format!("{:?}", meta.modified().ok())]);
    Ok((material.to_string(), name))
}
