//! `relink rust-project`: a `rust-project.json` for rust-analyzer (rules_rust users know the
//! same thing as `gen_rust_project`).
//!
//! Every crate comes from its compile action (the command line relink-builder receives names
//! the crate, its root, edition, features, cfgs, environment and `--extern`s), so the file
//! describes exactly what relink compiles. What rust-analyzer needs built, and only that, is
//! built first: build scripts' `OUT_DIR`s, cfgs and environment, and proc macros' shared
//! objects; they are linked into `relink-bin/` and named by absolute paths.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use anyhow::{Context, Result};
use relink_core::action::{Action, ActionKind};
use relink_exec as exec;

use crate::plan::{self, Session};
use crate::BuildOpts;

/// The compile actions, one per crate (what rust-analyzer sees, what clippy and rustfmt run on).
pub const COMPILES: &[&str] = &["RustCompile", "RustCompileNoLink", "RustCompileNoLinkLto"];

/// One crate as its compile action describes it (paths execroot-relative).
#[derive(Debug, Default, Clone)]
pub struct CompileSpec {
    owner: String,
    crate_name: String,
    pub root: String,
    crate_type: String,
    pub edition: String,
    package_dir: String,
    features: Vec<String>,
    cfgs: Vec<String>,
    env: BTreeMap<String, String>,
    externs: Vec<(String, String)>,
    out_dir: Option<String>,
    env_files: Vec<String>,
    flags_files: Vec<String>,
}

impl CompileSpec {
    /// Read relink-builder's `compile` arguments (flags this file does not need are passed
    /// over: their values never look like the flags below).
    pub fn parse(owner: &str, argv: &[String]) -> CompileSpec {
        let mut spec = CompileSpec { owner: owner.to_string(), ..Default::default() };
        let mut rustc_flags = Vec::new();
        let mut args = argv.iter().skip(2);
        while let Some(flag) = args.next() {
            if let Some(value) = flag.strip_prefix("--rustc-flag=") {
                rustc_flags.push(value.to_string());
                continue;
            }
            if !VALUE_FLAGS.contains(&flag.as_str()) {
                continue;
            }
            let Some(value) = args.next().cloned() else { break };
            match flag.as_str() {
                "--crate-name" => spec.crate_name = value,
                "--crate-root" => spec.root = value,
                "--crate-type" => spec.crate_type = value,
                "--edition" => spec.edition = value,
                "--package-dir" => spec.package_dir = value,
                "--feature" => spec.features.push(value),
                "--cfg" => spec.cfgs.push(value),
                "--out-dir-env" => spec.out_dir = Some(value),
                "--env-file" => spec.env_files.push(value),
                "--flags-file" => spec.flags_files.push(value),
                "--env" | "--extern" => {
                    if let Some((k, v)) = value.split_once('=') {
                        let pair = (k.to_string(), v.to_string());
                        if flag == "--env" {
                            spec.env.insert(pair.0, pair.1);
                        } else {
                            spec.externs.push(pair);
                        }
                    }
                }
                _ => {}
            }
        }
        spec.cfgs.extend(cfgs_of_flags(&rustc_flags));
        spec
    }
}

/// The compile flags this file reads, each followed by its value.
const VALUE_FLAGS: &[&str] = &[
    "--crate-name",
    "--crate-root",
    "--crate-type",
    "--edition",
    "--package-dir",
    "--feature",
    "--cfg",
    "--out-dir-env",
    "--env-file",
    "--flags-file",
    "--env",
    "--extern",
];

/// The `--cfg` values among rustc flags (`--cfg X`, `--cfg=X`).
fn cfgs_of_flags(flags: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter = flags.iter();
    while let Some(flag) = iter.next() {
        if flag == "--cfg" {
            out.extend(iter.next().cloned());
        } else if let Some(value) = flag.strip_prefix("--cfg=") {
            out.push(value.to_string());
        }
    }
    out
}

/// Write `rust-project.json` (to `out`, default the workspace root) for the crates that the
/// targets matching `patterns` compile.
pub fn command(opts: &BuildOpts, patterns: &[String], out: Option<PathBuf>) -> Result<()> {
    let session = plan::open_session(opts)?;
    let analysis = plan::analyze(&session, patterns)?;
    let graph = &analysis.graph;
    let wanted = crate::execution::requested_paths(&analysis.targets, false);
    let needed = exec::needed_actions(graph, &wanted);
    let specs: Vec<CompileSpec> = needed
        .iter()
        .map(|&i| &graph.actions[i])
        .filter(|a| COMPILES.contains(&a.mnemonic.as_str()))
        .filter_map(|a| match &a.kind {
            ActionKind::Run { argv, .. } => Some(CompileSpec::parse(&a.owner, argv)),
            _ => None,
        })
        .collect();
    let inputs = analyzer_inputs(&specs);
    build_paths(&session, opts, graph, &inputs)?;
    let layout = Layout::new(&session);
    let project = Project::assemble(&specs, &graph.actions, &layout)?;
    let json = serde_json::to_string_pretty(&project.to_json(&sysroot()?))?;
    let path = out.unwrap_or_else(|| session.loader.workspace.root.join("rust-project.json"));
    fs_err::write(&path, json + "\n")?;
    eprintln!("relink: wrote {} ({} crates)", path.display(), project.crates.len());
    Ok(())
}

/// What rust-analyzer reads besides sources: build scripts' outputs, proc macros' objects.
fn analyzer_inputs(specs: &[CompileSpec]) -> Vec<String> {
    let mut paths = BTreeSet::new();
    for spec in specs {
        paths.extend(spec.out_dir.iter().cloned());
        paths.extend(spec.env_files.iter().cloned());
        paths.extend(spec.flags_files.iter().cloned());
        paths.extend(spec.externs.iter().map(|(_, p)| p.clone()).filter(|p| p.ends_with(".so")));
    }
    paths.into_iter().collect()
}

/// Run what produces `paths` and link them into relink-bin/.
fn build_paths(
    session: &Session,
    opts: &BuildOpts,
    graph: &relink_core::action::ActionGraph,
    paths: &[String],
) -> Result<()> {
    let needed = exec::needed_actions(graph, paths);
    let executed = exec::execute(graph, &needed, &crate::execution::exec_options(session, opts, false))?;
    session.sources.save()?;
    if let Some((_, err)) = executed.failed.into_iter().next() {
        return Err(err.context("building what rust-analyzer needs (build scripts, proc macros)"));
    }
    crate::execution::materialize_outputs(session, paths, &executed.outcomes)
}

/// Where things are for rust-analyzer: sources under the workspace root, outputs in relink-bin.
struct Layout {
    root: PathBuf,
    bin_prefix: String,
}

impl Layout {
    fn new(session: &Session) -> Layout {
        Layout { root: session.loader.workspace.root.clone(), bin_prefix: format!("{}/", session.config.bin_dir()) }
    }

    /// The absolute path of an execroot-relative source or output path.
    fn abs(&self, path: &str) -> PathBuf {
        let joined = match path.strip_prefix(&self.bin_prefix) {
            Some(rest) => self.root.join("relink-bin").join(rest),
            None => self.root.join(path),
        };
        // `.` (a package at the workspace root) adds nothing.
        joined.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect()
    }

    /// A value of a build script's env file: `${pwd}` is the execroot.
    fn env_value(&self, value: &str) -> String {
        let execroot = format!("{}/", self.root.display());
        let value = value.replace("${pwd}/", &execroot);
        value.replace(&format!("{execroot}{}", self.bin_prefix), &format!("{}/relink-bin/", self.root.display()))
    }
}

/// The crates of the file, in order, each with its dependencies resolved to indices.
struct Project {
    crates: Vec<serde_json::Value>,
}

impl Project {
    fn assemble(specs: &[CompileSpec], actions: &[Action], layout: &Layout) -> Result<Project> {
        // A library's unit tests compile its root again: rust-analyzer wants one crate per root.
        let lib_roots: BTreeSet<&str> =
            specs.iter().filter(|s| s.crate_type != "test").map(|s| s.root.as_str()).collect();
        let kept: Vec<&CompileSpec> =
            specs.iter().filter(|s| s.crate_type != "test" || !lib_roots.contains(s.root.as_str())).collect();
        let producer: HashMap<&str, &str> =
            actions.iter().flat_map(|a| a.outputs.iter().map(move |o| (o.path.as_str(), a.owner.as_str()))).collect();
        let index_of_label: HashMap<&str, usize> = kept
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s.crate_type.as_str(), "rlib" | "proc-macro"))
            .map(|(i, s)| (s.owner.as_str(), i))
            .collect();
        let mut crates = Vec::new();
        for spec in &kept {
            let deps: Vec<serde_json::Value> = spec
                .externs
                .iter()
                .filter_map(|(name, path)| {
                    let index = producer.get(path.as_str()).and_then(|owner| index_of_label.get(owner))?;
                    Some(serde_json::json!({"crate": index, "name": name}))
                })
                .collect();
            crates.push(crate_json(spec, deps, layout, &spec_link(spec, actions))?);
        }
        Ok(Project { crates })
    }

    fn to_json(&self, sysroot: &str) -> serde_json::Value {
        serde_json::json!({"sysroot": sysroot, "crates": self.crates})
    }
}

/// The proc macro's shared object (the output of the owner's RustLink), if it is one.
fn spec_link(spec: &CompileSpec, actions: &[Action]) -> Option<String> {
    if spec.crate_type != "proc-macro" {
        return None;
    }
    actions
        .iter()
        .find(|a| a.mnemonic == "RustLink" && a.owner == spec.owner)
        .and_then(|a| a.outputs.iter().find(|o| o.path.ends_with(".so")).map(|o| o.path.clone()))
}

fn crate_json(
    spec: &CompileSpec,
    deps: Vec<serde_json::Value>,
    layout: &Layout,
    dylib: &Option<String>,
) -> Result<serde_json::Value> {
    let package_dir = layout.abs(&spec.package_dir);
    let mut cfg: Vec<String> = spec.features.iter().map(|f| format!("feature=\"{f}\"")).collect();
    cfg.extend(spec.cfgs.iter().map(|c| c.replace(' ', "")));
    let mut env = spec.env.clone();
    for file in &spec.env_files {
        let text = fs_err::read_to_string(layout.abs(file)).context("a build script's environment")?;
        for (k, v) in text.lines().filter_map(|l| l.split_once('=')) {
            env.insert(k.to_string(), layout.env_value(v));
        }
    }
    for file in &spec.flags_files {
        let text = fs_err::read_to_string(layout.abs(file)).context("a build script's flags")?;
        let flags: Vec<String> = text.lines().map(str::to_string).collect();
        cfg.extend(cfgs_of_flags(&flags));
    }
    if spec.crate_type == "test" {
        cfg.push("test".to_string());
    }
    env.insert("CARGO_MANIFEST_DIR".into(), package_dir.display().to_string());
    if env.contains_key("CARGO_MANIFEST_PATH") {
        env.insert("CARGO_MANIFEST_PATH".into(), package_dir.join("Cargo.toml").display().to_string());
    }
    let mut include_dirs = vec![package_dir.display().to_string()];
    if let Some(out_dir) = &spec.out_dir {
        // A script that writes nothing there leaves nothing to link into relink-bin.
        let out_dir = layout.abs(out_dir);
        fs_err::create_dir_all(&out_dir)?;
        let out_dir = out_dir.display().to_string();
        env.insert("OUT_DIR".into(), out_dir.clone());
        include_dirs.push(out_dir);
    }
    // `relink import` marks every crate it vendors.
    let member = !package_dir.join(relink_core::inputs::VENDORED_MARKER).exists();
    let mut value = serde_json::json!({
        "display_name": spec.crate_name,
        "root_module": layout.abs(&spec.root),
        "edition": spec.edition,
        "deps": deps,
        "cfg": cfg,
        "env": env,
        "is_workspace_member": member,
        "is_proc_macro": spec.crate_type == "proc-macro",
        "source": {"include_dirs": include_dirs, "exclude_dirs": []},
        "build": {"label": spec.owner, "build_file": package_dir.join("BUILD.bazel"), "target_kind": target_kind(&spec.crate_type)},
    });
    if let Some(so) = dylib {
        value["proc_macro_dylib_path"] = serde_json::json!(layout.abs(so));
    }
    Ok(value)
}

/// rust-project.json's `target_kind`.
fn target_kind(crate_type: &str) -> &'static str {
    match crate_type {
        "bin" => "bin",
        "test" => "test",
        _ => "lib",
    }
}

/// The sysroot of `rustc` on PATH (rust-analyzer finds the standard library's sources there,
/// if installed; rustfmt lives there).
pub fn sysroot() -> Result<String> {
    let out = std::process::Command::new("rustc").args(["--print", "sysroot"]).output().context("cannot run rustc")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_compile_command_line_describes_its_crate() {
        let argv: Vec<String> = "builder compile --rustc r --unstable --crate-name app --crate-root app/main.rs --crate-type bin --edition 2021 --package-dir app --feature fast --env K=V --rustc-flag=--cfg=docsrs --rustc-flag=--cfg --rustc-flag=tokio_unstable --extern a=out/_iface/liba.rlib --out-dir-env out/bs.out_dir --env-file out/bs.env --flags-file out/bs.flags --src app/main.rs"
            .split(' ')
            .map(str::to_string)
            .collect();
        let spec = CompileSpec::parse("//app:app", &argv);
        assert_eq!(
            (spec.crate_name.as_str(), spec.root.as_str(), spec.crate_type.as_str()),
            ("app", "app/main.rs", "bin")
        );
        assert_eq!((spec.edition.as_str(), spec.package_dir.as_str()), ("2021", "app"));
        assert_eq!(spec.features, ["fast"]);
        assert_eq!(spec.cfgs, ["docsrs", "tokio_unstable"]);
        assert_eq!(spec.env.get("K").map(String::as_str), Some("V"));
        assert_eq!(spec.externs, [("a".to_string(), "out/_iface/liba.rlib".to_string())]);
        assert_eq!(spec.out_dir.as_deref(), Some("out/bs.out_dir"));
        assert_eq!((spec.env_files.len(), spec.flags_files.len()), (1, 1));
    }

    #[test]
    fn paths_in_build_script_environments_point_into_relink_bin() {
        let layout = Layout { root: PathBuf::from("/ws"), bin_prefix: "relink-out/fastbuild/bin/".into() };
        assert_eq!(layout.env_value("${pwd}/relink-out/fastbuild/bin/x/out"), "/ws/relink-bin/x/out");
        assert_eq!(layout.abs("relink-out/fastbuild/bin/a/b.so"), Path::new("/ws/relink-bin/a/b.so"));
        assert_eq!(layout.abs("src/lib.rs"), Path::new("/ws/src/lib.rs"));
        assert_eq!(layout.abs("."), Path::new("/ws"));
    }
}
