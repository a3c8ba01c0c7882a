//! Running one action: a fresh sandbox (or, for incremental compiles, a stable locked
//! directory) with its inputs materialized, the command, the declared outputs collected into
//! the store, and for a failure a kept sandbox with `repro.sh`.

use fs_err as fs;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};

use super::cache::{ActionResult, Cache, OutputFile};
use super::{confine, diagnostics, interrupt, DerivedFiles, ExecOptions};
use relink_core::action::{Action, ActionGraph};
use relink_core::digest::digest_bytes;

/// What a sandbox's inputs point at outside it.
struct Materialized {
    /// Inputs hard-linked from the store.
    linked: Vec<PathBuf>,
    /// Targets of the symlinks to tools, toolchains and source directories.
    referenced: Vec<PathBuf>,
}

/// A fresh execroot holding exactly the declared inputs of one action.
struct Sandbox {
    root: PathBuf,
    /// Held while a stable directory is in use by this process.
    _lock: Option<std::fs::File>,
}

impl Sandbox {
    /// A new directory for `action`: unique, or for `no-sandbox` actions (rustc's local
    /// incremental state) the same path on every run, so that the paths the compiler hashes
    /// stay stable. A stable directory another build is using gives way to a unique one.
    fn create(action: &Action, opts: &ExecOptions) -> Result<Sandbox> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let (root, lock) = match stable_dir(action, opts)? {
            Some((dir, lock)) => (dir, Some(lock)),
            None => {
                (opts.sandbox_root.join(format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))), None)
            }
        };
        for dir in [&root, &private_tmp(&root)] {
            if dir.exists() {
                fs::remove_dir_all(dir).with_context(|| format!("cannot clear the sandbox {}", dir.display()))?;
            }
            fs::create_dir_all(dir).with_context(|| format!("cannot create the sandbox {}", dir.display()))?;
        }
        Ok(Sandbox { root, _lock: lock })
    }

    fn materialize(
        &self,
        graph: &ActionGraph,
        action: &Action,
        derived: &DerivedFiles,
        opts: &ExecOptions,
    ) -> Result<Materialized> {
        let mut linked = Vec::new();
        let mut referenced = Vec::new();
        let mut link_points = std::collections::HashSet::new();
        for path in &action.inputs {
            let dest = self.root.join(path);
            let point = match graph.producer_of(path) {
                Some(_) => None,
                None => external_link_point(opts, path)?,
            };
            if let Some(point) = point {
                // Inside a symlinked directory of an external repository (a toolchain's
                // sysroot): the sandbox links that directory once, as the repository does,
                // rather than each of its files.
                if link_points.insert(point.clone()) {
                    let dest = self.root.join(&point);
                    fs::create_dir_all(dest.parent().expect("an external path has a parent"))?;
                    let disk = opts.workspace.exec_path_on_disk(&point)?;
                    let target = fs::canonicalize(&disk).with_context(|| format!("missing input {path}"))?;
                    fs_err::os::unix::fs::symlink(&target, &dest)?;
                    referenced.push(target);
                }
                continue;
            }
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent)?;
            }
            match graph.producer_of(path) {
                Some(_) => {
                    let files = derived.get(path).ok_or_else(|| anyhow!("internal: no blob for {path}"))?;
                    if files.is_empty() {
                        fs::create_dir_all(&dest)?;
                    }
                    for f in files {
                        let dest = self.root.join(&f.path);
                        super::ensure_local(opts.cache, opts.remote, f)?;
                        opts.cache.materialize(f, &dest)?;
                        linked.push(dest);
                    }
                }
                None => {
                    let disk = opts.workspace.exec_path_on_disk(path)?;
                    if path.starts_with("external/") || disk.is_dir() {
                        // Tools and toolchains of external repositories: linked, not copied.
                        let target = fs::canonicalize(&disk).with_context(|| format!("missing input {path}"))?;
                        fs_err::os::unix::fs::symlink(&target, &dest)?;
                        referenced.push(target);
                    } else {
                        fs::copy(&disk, &dest).with_context(|| format!("cannot copy input {path}"))?;
                    }
                }
            }
        }
        for out in &action.outputs {
            let dest = self.root.join(&out.path);
            if out.is_dir {
                fs::create_dir_all(&dest)?;
            } else if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent)?;
            }
        }
        Ok(Materialized { linked, referenced })
    }

    fn remove(&self) {
        // RELINK_KEEP_SANDBOXES=1 keeps every sandbox for inspection.
        if std::env::var_os("RELINK_KEEP_SANDBOXES").is_none() {
            let _ = fs::remove_dir_all(&self.root);
            let _ = fs::remove_dir_all(private_tmp(&self.root));
        }
    }
}

/// The directory a confined action sees as `/tmp`: beside its sandbox, gone with it.
fn private_tmp(sandbox: &Path) -> PathBuf {
    let mut name = sandbox.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// The stable directory of a `no-sandbox` action (per workspace and first output), locked for
/// this process; `None` for other actions or when another build holds it.
/// For an input of an external repository that lies below a symlinked directory of that
/// repository, the execroot path of that directory (remembered for the process: repositories
/// do not change during a build).
fn external_link_point(opts: &ExecOptions, path: &str) -> Result<Option<String>> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static POINTS: OnceLock<Mutex<HashMap<String, Option<String>>>> = OnceLock::new();
    let Some(rest) = path.strip_prefix("external/") else { return Ok(None) };
    let parts: Vec<&str> = rest.split('/').collect();
    // external/<repo>/<dir>/.../<file>: directories from <dir> down to the file's parent.
    for depth in 2..parts.len() {
        let dir = format!("external/{}", parts[..depth].join("/"));
        let memo = POINTS.get_or_init(Mutex::default);
        if let Some(known) = memo.lock().unwrap().get(&dir) {
            match known {
                Some(point) => return Ok(Some(point.clone())),
                None => continue,
            }
        }
        let disk = opts.workspace.exec_path_on_disk(&dir)?;
        let is_link = fs::symlink_metadata(&disk).is_ok_and(|m| m.file_type().is_symlink());
        memo.lock().unwrap().insert(dir.clone(), is_link.then(|| dir.clone()));
        if is_link {
            return Ok(Some(dir));
        }
    }
    Ok(None)
}

fn stable_dir(action: &Action, opts: &ExecOptions) -> Result<Option<(PathBuf, std::fs::File)>> {
    if !action.requirements.contains_key("no-sandbox") {
        return Ok(None);
    }
    let first = action.outputs.first().map_or("", |o| o.path.as_str());
    let id = digest_bytes(format!("{}\n{first}", opts.workspace.root.display()).as_bytes());
    // Inside the writable state directory when there is one: rustc hard-links its objects
    // from the incremental session into the output directory, which works only within one
    // mount (a confined action sees each bound directory as its own mount; across two, rustc
    // copies every object, ~0.1 s for ripgrep's 260).
    let parent = opts.writable.first().map_or_else(|| opts.sandbox_root.join("stable"), |w| w.join(".sandboxes"));
    let dir = parent.join(&id[..16]);
    fs::create_dir_all(&parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let lock_path = dir.with_extension("lock");
    let lock = std::fs::File::create(&lock_path).with_context(|| format!("cannot create {}", lock_path.display()))?;
    match lock.try_lock() {
        Ok(()) => Ok(Some((dir, lock))),
        Err(_) => Ok(None),
    }
}

pub(super) fn run_in_sandbox(
    graph: &ActionGraph,
    action: &Action,
    argv: &[String],
    env: &BTreeMap<String, String>,
    derived: &DerivedFiles,
    opts: &ExecOptions,
) -> Result<ActionResult> {
    let setup = Instant::now();
    let sandbox = Sandbox::create(action, opts)?;
    let inputs = sandbox.materialize(graph, action, derived, opts)?;
    let setup_ms = setup.elapsed().as_millis();
    let program = if argv[0].contains('/') && !argv[0].starts_with('/') {
        sandbox.root.join(&argv[0])
    } else {
        PathBuf::from(&argv[0])
    };
    let started = Instant::now();
    let mut command = Command::new(&program);
    command.args(&argv[1..]).env_clear().envs(env).current_dir(&sandbox.root);
    if opts.color {
        // Not in the action's key: colour changes diagnostics, never outputs.
        command.env(COLOR_ENV, "always");
    }
    interrupt::own_group_dying_with_relink(&mut command);
    command.stdin(std::process::Stdio::null());
    command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    if confine::available() {
        confine::Confinement::new(&confinement_layout(&sandbox.root, &argv[0], env, inputs, opts)).apply(&mut command);
    }
    let child = command
        .spawn()
        .with_context(|| format!("{} of {}: cannot start {}", action.mnemonic, action.owner, argv[0]))?;
    let group = interrupt::Running::register(child.id());
    let limit = action_timeout(action, opts);
    let (output, timed_out) = wait_for(child, group, limit);
    let output = output.with_context(|| format!("{} of {}: lost {}", action.mnemonic, action.owner, argv[0]))?;
    if !timed_out && interrupt::interrupted() {
        bail!("{} of {}: interrupted", action.mnemonic, action.owner);
    }
    diagnostics::show(&output.stderr, &format!("{} {}", action.mnemonic, action.owner))?;
    if timed_out || !output.status.success() {
        let repro = sandbox.root.join("repro.sh");
        fs::write(&repro, repro_script(argv, env)).with_context(|| format!("cannot write {}", repro.display()))?;
        if timed_out {
            bail!(
                "{} of {} timed out after {} s and was stopped with every process it started (its limit: execution requirement `timeout`, --test_timeout for tests).\nReproduce with:\n  sh {}",
                action.mnemonic,
                action.owner,
                limit.as_secs(),
                repro.display()
            );
        }
        return Err(ActionFailed {
            mnemonic: action.mnemonic.clone(),
            owner: action.owner.clone(),
            status: output.status.to_string(),
            exit_code: output.status.code(),
            duration_ms: started.elapsed().as_millis() as u64,
            sandbox: sandbox.root.clone(),
        }
        .into());
    }
    let ran_ms = started.elapsed().as_millis();
    let collect = Instant::now();
    let result = collect_outputs(&sandbox.root, action, opts.cache);
    let collect_ms = collect.elapsed().as_millis();
    sandbox.remove();
    if std::env::var("RELINK_TIMING").is_ok_and(|v| v == "actions") {
        eprintln!(
            "relink: {} {}: sandbox {setup_ms} ms, run {ran_ms} ms, outputs {collect_ms} ms, cleanup {} ms",
            action.mnemonic,
            action.owner,
            collect.elapsed().as_millis() - collect_ms
        );
    }
    result
}

/// What the action may write and see: the file system read-only but for its sandbox, a
/// `/tmp` of its own and the local state directories it declares; `$HOME` empty; the cache
/// and the inputs linked from the store read-only even there; the workspace hidden (an action
/// reads its declared inputs, copied into the sandbox, not the sources by absolute path),
/// unless something the action needs lives inside it, then read-only. What the action needs
/// by absolute path under `/tmp` or `$HOME` is read-only at its path: the toolchain and the
/// repositories its inputs link to, the program, the directories of its `PATH` (a test runs
/// the user's tools, as under `cargo test`) and rustup's home (the proxies on that `PATH`).
fn confinement_layout<'a>(
    sandbox: &'a Path,
    program: &str,
    env: &BTreeMap<String, String>,
    inputs: Materialized,
    opts: &ExecOptions,
) -> confine::Layout<'a> {
    let mut read_only = vec![opts.cache.root.clone()];
    read_only.extend(inputs.linked);
    let writable: Vec<PathBuf> = opts.writable.to_vec();
    let ws = &opts.workspace.root;
    let needed_inside = inputs.referenced.iter().chain(&writable).any(|p| p.starts_with(ws))
        || sandbox.starts_with(ws)
        || opts.cache.root.starts_with(ws)
        || Path::new(program).starts_with(ws);
    let mut hidden = Vec::new();
    if needed_inside {
        read_only.push(ws.clone());
    } else {
        hidden.push(ws.clone());
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).filter(|h| h.is_absolute() && h.components().count() > 1);
    // `$HOME`, every directory of `/` that is not the system's (other projects, other users'
    // homes, mounted data) and the files directly in `/`: what the action needs there is
    // bound again below.
    let mut covered: Vec<PathBuf> = home.clone().into_iter().collect();
    covered.extend(confine::non_system_dirs().iter().cloned());
    covered.extend(confine::top_level_files().iter().cloned());
    let under_cover = |p: &Path| p.starts_with("/tmp") || covered.iter().any(|c| p.starts_with(c));
    let bound = |p: &Path| p.starts_with(&opts.cache.root) || p.starts_with(ws);
    let program = Path::new(program);
    let program = program.is_absolute().then(|| fs::canonicalize(program).ok()).flatten();
    let path_dirs = env.get("PATH").into_iter().flat_map(|p| p.split(':')).map(PathBuf::from);
    let rustup_home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".rustup")));
    let tools = path_dirs
        .chain(rustup_home)
        .filter(|d| d.is_absolute())
        .filter_map(|d| fs::canonicalize(d).ok())
        .map(with_version_manager_root)
        .map(|d| with_install_prefix(d, home.as_deref(), confine::non_system_dirs()));
    for needed in inputs.referenced.into_iter().chain(program).chain(tools) {
        // A cover itself on PATH (`$HOME`, `/tmp`) stays covered.
        let a_cover = needed == Path::new("/tmp") || covered.contains(&needed);
        if under_cover(&needed) && !a_cover && !bound(&needed) && !read_only.contains(&needed) {
            read_only.push(needed);
        }
    }
    confine::Layout { sandbox, writable, read_only, hidden, private_tmp: Some(private_tmp(sandbox)), covered }
}

/// A PATH directory, and for a version manager's `shims` directory (pyenv's, rbenv's,
/// asdf's: `~/.pyenv/shims/python3` runs `~/.pyenv/libexec/pyenv`, which runs
/// `~/.pyenv/versions/..`) the manager's root instead: the shims alone cannot run.
fn with_version_manager_root(dir: PathBuf) -> PathBuf {
    match (dir.file_name(), dir.parent()) {
        (Some(name), Some(root)) if name == "shims" && root.components().count() > 2 => root.to_path_buf(),
        _ => dir,
    }
}

/// A PATH directory `PREFIX/bin` in a `covered` directory of `/` and outside `$HOME` (a tool
/// installed under `/home/linuxbrew/.linuxbrew` or `/work/tools`), as its whole prefix: its
/// programs run with the libraries and data installed beside them. Under `$HOME` only the
/// directory itself (`~/.cargo/bin`, not `~/.cargo` and its credentials).
fn with_install_prefix(dir: PathBuf, home: Option<&Path>, covered: &[PathBuf]) -> PathBuf {
    let covered = covered.iter().any(|c| dir.starts_with(c));
    let in_home = home.is_some_and(|h| dir.starts_with(h));
    let is_bin = dir.file_name().is_some_and(|n| n == "bin" || n == "sbin");
    match dir.parent() {
        Some(prefix) if covered && !in_home && is_bin && prefix.components().count() > 2 => prefix.to_path_buf(),
        _ => dir,
    }
}

/// How long an action's output pipes may stay open after its process ended (a process it
/// left behind may hold them; Cargo would wait forever).
const PIPE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Wait for the action's process, then end its process group, then collect what it wrote: a
/// background process that keeps stdout open can neither block the build nor outlive it in
/// the group (one that left the group is given `PIPE_GRACE`, then no longer waited for).
fn wait_for(
    mut child: std::process::Child,
    group: interrupt::Running,
    limit: std::time::Duration,
) -> (std::io::Result<std::process::Output>, bool) {
    use std::io::Read;
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::sync::mpsc::Receiver<Vec<u8>> {
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(mut pipe) = pipe {
            std::thread::spawn(move || {
                let mut data = Vec::new();
                let _ = pipe.read_to_end(&mut data);
                let _ = tx.send(data);
            });
        } else {
            let _ = tx.send(Vec::new());
        }
        rx
    }
    let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
    // A watchdog ends the group at the action's time limit.
    let (done, watch) = std::sync::mpsc::channel::<()>();
    let leader = group.group();
    let watchdog = std::thread::spawn(move || {
        let expired = matches!(watch.recv_timeout(limit), Err(std::sync::mpsc::RecvTimeoutError::Timeout));
        if expired {
            interrupt::kill_group(leader);
        }
        expired
    });
    let status = child.wait();
    let _ = done.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    drop(group);
    let collect = |rx: std::sync::mpsc::Receiver<Vec<u8>>| rx.recv_timeout(PIPE_GRACE).unwrap_or_default();
    let output = status.map(|status| std::process::Output { status, stdout: collect(stdout), stderr: collect(stderr) });
    (output, timed_out)
}

/// How long `action` may run: its `timeout` execution requirement (seconds), else relink's
/// default for every action.
pub(super) fn action_timeout(action: &Action, opts: &ExecOptions) -> std::time::Duration {
    action
        .requirements
        .get("timeout")
        .and_then(|t| t.parse::<u64>().ok())
        .map(std::time::Duration::from_secs)
        .unwrap_or(opts.default_timeout)
}

/// The variable that asks relink-builder for rustc's colours (relink-builder's `COLOR_ENV`).
const COLOR_ENV: &str = "RELINK_COLOR";

/// An action whose command exited unsuccessfully. Its sandbox is kept, with `repro.sh`.
#[derive(Debug)]
pub struct ActionFailed {
    pub mnemonic: String,
    pub owner: String,
    /// How the process ended, as the OS says it (`exit status: 1`, `signal: 9`).
    pub status: String,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    /// The kept sandbox the action ran in.
    pub sandbox: PathBuf,
}

impl std::fmt::Display for ActionFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} failed ({}).\nReproduce with:\n  sh {}",
            self.mnemonic,
            self.owner,
            self.status,
            self.sandbox.join("repro.sh").display()
        )
    }
}

impl std::error::Error for ActionFailed {}

/// A shell script that reruns an action in its sandbox: its environment and argv, one a line.
fn repro_script(argv: &[String], env: &BTreeMap<String, String>) -> String {
    let mut script = String::from("#!/bin/sh\n# Reruns the failed action in its kept sandbox.\ncd \"$(dirname \"$0\")\" || exit 1\nexec env -i \\\n");
    for (k, v) in env {
        script.push_str(&format!("  {k}={} \\\n", shell_quote(v)));
    }
    let args: Vec<String> = argv.iter().map(|a| format!("  {}", shell_quote(a))).collect();
    script.push_str(&args.join(" \\\n"));
    script.push('\n');
    script
}

fn collect_outputs(root: &Path, action: &Action, cache: &Cache) -> Result<ActionResult> {
    use std::os::unix::fs::PermissionsExt;
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for out in &action.outputs {
        let path = root.join(&out.path);
        if out.is_dir {
            if !path.is_dir() {
                bail!("{} of {} did not create its output directory {}", action.mnemonic, action.owner, out.path);
            }
            dirs.push(out.path.clone());
            for file in walk_files(&path)? {
                let rel = file.strip_prefix(root)?.to_string_lossy().to_string();
                let executable = fs::metadata(&file)?.permissions().mode() & 0o111 != 0;
                let digest = cache.store_file(&file, executable)?;
                files.push(OutputFile { path: rel, digest, executable });
            }
        } else {
            let meta = fs::symlink_metadata(&path).map_err(|_| {
                anyhow!("{} of {} did not create its declared output {}", action.mnemonic, action.owner, out.path)
            })?;
            let executable = meta.permissions().mode() & 0o111 != 0;
            let digest = cache.store_file(&path, executable)?;
            files.push(OutputFile { path: out.path.clone(), digest, executable });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(ActionResult { files, dirs })
}

fn walk_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(dir)?.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let ft = e.file_type()?;
        if ft.is_dir() {
            out.extend(walk_files(&e.path())?);
        } else {
            out.push(e.path());
        }
    }
    Ok(out)
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+%".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_managers_shims_bring_its_root() {
        let root = |d: &str| with_version_manager_root(PathBuf::from(d));
        assert_eq!(root("/root/.pyenv/shims"), PathBuf::from("/root/.pyenv"));
        assert_eq!(root("/home/u/.asdf/shims"), PathBuf::from("/home/u/.asdf"));
        assert_eq!(root("/home/u/.cargo/bin"), PathBuf::from("/home/u/.cargo/bin"));
        assert_eq!(root("/shims"), PathBuf::from("/shims"), "never the root directory");
        assert_eq!(root("/opt/shims"), PathBuf::from("/opt/shims"), "nor a top-level one");
    }

    #[test]
    fn a_tool_directory_outside_the_system_brings_its_install_prefix() {
        let covered = [PathBuf::from("/home"), PathBuf::from("/work")];
        let home = Some(Path::new("/home/u"));
        let prefix = |d: &str| with_install_prefix(PathBuf::from(d), home, &covered);
        assert_eq!(prefix("/home/linuxbrew/.linuxbrew/bin"), PathBuf::from("/home/linuxbrew/.linuxbrew"));
        assert_eq!(prefix("/work/tools/sbin"), PathBuf::from("/work/tools"));
        assert_eq!(prefix("/home/u/.cargo/bin"), PathBuf::from("/home/u/.cargo/bin"), "not $HOME's credentials");
        assert_eq!(prefix("/usr/local/bin"), PathBuf::from("/usr/local/bin"), "system directories stay as they are");
        assert_eq!(prefix("/work/bin"), PathBuf::from("/work/bin"), "never a whole covered directory");
        assert_eq!(prefix("/work/tools/libexec"), PathBuf::from("/work/tools/libexec"));
    }
}
