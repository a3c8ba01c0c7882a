//! `relink clippy` and `relink fmt`: Cargo's `cargo clippy --all-targets` and `cargo fmt` over
//! the crates of the matching targets.
//!
//! Clippy runs as an action per crate (`RustClippy`): the crate's compile action with
//! `clippy-driver` standing in for rustc and metadata as the only output, so it is cached
//! like a compile and re-runs only when what the compile reads changes. rustfmt rewrites (or,
//! with `--check`, diffs) the sources in place: not an action, as `cargo fmt` is not a build.

use std::collections::BTreeSet;

use anyhow::{bail, Result};
use relink_core::action::{Action, ActionKind, Output};
use relink_exec as exec;

use crate::plan;
use crate::rust_project::{CompileSpec, COMPILES};
use crate::BuildOpts;

/// Compile flags (with their values) that a clippy run does not take: it writes no rlib.
const OUTPUT_FLAGS: &[&str] =
    &["--out", "--interface-out", "--no-link-dir", "--unused-inputs-list", "--incremental-dir"];

/// The compile actions of the targets the patterns name (not of their dependencies).
fn target_compiles(analysis: &plan::Analysis) -> Vec<usize> {
    let owners: BTreeSet<&str> = analysis.targets.iter().map(|t| t.label.as_str()).collect();
    let wanted = crate::execution::requested_paths(&analysis.targets, false);
    exec::needed_actions(&analysis.graph, &wanted)
        .into_iter()
        .filter(|&i| {
            let a = &analysis.graph.actions[i];
            COMPILES.contains(&a.mnemonic.as_str()) && owners.contains(a.owner.as_str())
        })
        .collect()
}

/// The `RustClippy` action for the compile action `compile`, writing its diagnostics to
/// `log`.
fn clippy_action(compile: &Action, log: String, lint_flags: &[String]) -> Option<Action> {
    let ActionKind::Run { argv, env } = &compile.kind else { return None };
    let mut args = vec![argv[0].clone(), "clippy".to_string()];
    let mut iter = argv.iter().skip(2);
    let mut rustc = None;
    while let Some(arg) = iter.next() {
        if OUTPUT_FLAGS.contains(&arg.as_str()) {
            iter.next();
            continue;
        }
        if arg == "--rustc" {
            rustc = iter.clone().next().cloned();
        }
        args.push(arg.clone());
    }
    let rustc = rustc?;
    let driver = match rustc.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/clippy-driver"),
        None => "clippy-driver".to_string(),
    };
    args.extend(["--driver".to_string(), driver.clone(), "--log".to_string(), log.clone()]);
    args.extend(lint_flags.iter().map(|f| format!("--lint-flag={f}")));
    let mut inputs = compile.inputs.clone();
    inputs.push(driver);
    Some(Action {
        mnemonic: "RustClippy".to_string(),
        owner: compile.owner.clone(),
        kind: ActionKind::Run { argv: args, env: env.clone() },
        inputs,
        outputs: vec![Output { path: log, is_dir: false }],
        unused_inputs_list: None,
        requirements: Default::default(),
    })
}

/// Where the clippy run of a target's compile writes its diagnostics.
fn clippy_log(bin_dir: &str, owner: &str) -> String {
    let (package, name) = owner.trim_start_matches("//").split_once(':').unwrap_or(("", owner));
    let dir = if package.is_empty() { bin_dir.to_string() } else { format!("{bin_dir}/{package}") };
    format!("{dir}/{name}.clippy.log")
}

/// `relink clippy`: lint every crate of the matching targets; fails on lint errors.
pub fn clippy_command(opts: &BuildOpts, patterns: &[String], lint_flags: &[String]) -> Result<bool> {
    let session = plan::open_session(opts)?;
    let mut analysis = plan::analyze(&session, patterns)?;
    let bin_dir = session.config.bin_dir();
    let mut added = Vec::new();
    for i in target_compiles(&analysis) {
        let compile = analysis.graph.actions[i].clone();
        if let Some(action) = clippy_action(&compile, clippy_log(&bin_dir, &compile.owner), lint_flags) {
            analysis.graph.add(action)?;
            added.push(analysis.graph.actions.len() - 1);
        }
    }
    if added.is_empty() {
        bail!("no Rust crate among the targets matching {}", patterns.join(" "));
    }
    let logs: Vec<String> = added.iter().map(|&i| analysis.graph.actions[i].outputs[0].path.clone()).collect();
    let needed = exec::needed_actions(&analysis.graph, &logs);
    let mut log = crate::records::ExecutionLog::open(&session, opts.execution_log.as_deref())?;
    let executed = exec::execute(&analysis.graph, &needed, &crate::execution::exec_options(&session, opts, true))?;
    session.sources.save()?;
    log.record(&analysis.graph.actions, &executed.outcomes)?;
    log.record_failures(&analysis.graph.actions, &executed.failed)?;
    log.save()?;
    for i in &added {
        // A cached run printed nothing: show what it found.
        let Some(outcome) = executed.outcomes.get(i) else { continue };
        if outcome.cache == exec::CacheStatus::Hit {
            if let Some(file) = outcome.result.as_ref().and_then(|r| r.files.first()) {
                exec::ensure_local(&session.cache, session.remote.as_ref(), file)?;
                let text = fs_err::read_to_string(session.cache.blob_path(&file.digest, file.executable))?;
                eprint!("{text}");
            }
        }
    }
    for (_, err) in &executed.failed {
        eprintln!("ERROR: {err:#}");
    }
    eprintln!("relink clippy: {} crates, {} with errors", added.len(), executed.failed.len());
    Ok(executed.failed.is_empty() && executed.skipped == 0)
}

/// `relink fmt [--check]`: rustfmt over the root of every crate of the matching targets
/// (rustfmt follows their modules and reads rustfmt.toml, as under `cargo fmt`).
pub fn fmt_command(opts: &BuildOpts, patterns: &[String], check: bool) -> Result<bool> {
    let session = plan::open_session(opts)?;
    let analysis = plan::analyze(&session, patterns)?;
    let mut roots: BTreeSet<(String, String)> = BTreeSet::new();
    for i in target_compiles(&analysis) {
        let action = &analysis.graph.actions[i];
        let ActionKind::Run { argv, .. } = &action.kind else { continue };
        let spec = CompileSpec::parse(&action.owner, argv);
        if !spec.root.starts_with("external/") && !spec.root.starts_with(&session.config.bin_dir()) {
            roots.insert((spec.edition, spec.root));
        }
    }
    let rustfmt = rustfmt_path()?;
    let mut ok = true;
    for (edition, root) in &roots {
        let mut cmd = std::process::Command::new(&rustfmt);
        cmd.args(["--edition", edition]).current_dir(&session.loader.workspace.root);
        if check {
            cmd.arg("--check");
        }
        let status = cmd.arg(root).status()?;
        ok &= status.success();
    }
    eprintln!(
        "relink fmt: {} crate roots{}",
        roots.len(),
        if check && !ok { ", not formatted (the diff is above)" } else { "" }
    );
    Ok(ok)
}

/// rustfmt of the toolchain rustc comes from.
fn rustfmt_path() -> Result<std::path::PathBuf> {
    let path = std::path::PathBuf::from(crate::rust_project::sysroot()?).join("bin/rustfmt");
    if !path.is_file() {
        bail!("no rustfmt at {}: install it (`rustup component add rustfmt`)", path.display());
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clippy_action_is_the_compile_without_its_outputs() {
        let argv: Vec<String> = "b compile --rustc external/tc/sysroot/bin/rustc --crate-name a --crate-root a/lib.rs --out o/liba.rlib --incremental-dir /s --unused-inputs-list o/u --extern x=o/_iface/libx.rlib"
            .split(' ')
            .map(str::to_string)
            .collect();
        let compile = Action {
            mnemonic: "RustCompile".into(),
            owner: "//a:a".into(),
            kind: ActionKind::Run { argv, env: Default::default() },
            inputs: vec!["a/lib.rs".into()],
            outputs: vec![Output { path: "o/liba.rlib".into(), is_dir: false }],
            unused_inputs_list: Some("o/u".into()),
            requirements: [("no-sandbox".to_string(), "1".to_string())].into(),
        };
        let action = clippy_action(&compile, clippy_log("bin", "//a:a"), &["-Dwarnings".into()]).unwrap();
        let ActionKind::Run { argv, .. } = &action.kind else { panic!() };
        let line = argv.join(" ");
        assert_eq!(line, "b clippy --rustc external/tc/sysroot/bin/rustc --crate-name a --crate-root a/lib.rs --extern x=o/_iface/libx.rlib --driver external/tc/sysroot/bin/clippy-driver --log bin/a/a.clippy.log --lint-flag=-Dwarnings");
        assert!(action.inputs.contains(&"external/tc/sysroot/bin/clippy-driver".to_string()));
        assert!(action.requirements.is_empty() && action.unused_inputs_list.is_none(), "sandboxed and cacheable");
        assert_eq!(clippy_log("bin", "//:root"), "bin/root.clippy.log");
    }
}
