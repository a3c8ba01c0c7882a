//! Ctrl-C: every running action is stopped with all the processes it started, no new action
//! starts, and relink exits with 8 (Bazel's "interrupted").
//!
//! Each action runs in its own process group, so the terminal's SIGINT reaches only relink;
//! relink then kills every registered group (the builder, rustc, a build script and what
//! those started, unless they left the group themselves).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// Bazel's exit code for an interrupted build.
pub const EXIT_INTERRUPTED: i32 = 8;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Process groups of running actions (their leaders' pids).
fn running() -> &'static Mutex<HashSet<u32>> {
    static RUNNING: OnceLock<Mutex<HashSet<u32>>> = OnceLock::new();
    RUNNING.get_or_init(Default::default)
}

/// Route SIGINT and SIGTERM to [`interrupt`] (once per process; later calls do nothing).
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // Without the handler relink would die and leave its actions' groups running.
        let _ = ctrlc::set_handler(interrupt);
    });
}

/// Whether the user interrupted this invocation.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Stop: no new action starts, and every running one is killed with its process group.
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    for &group in running().lock().unwrap_or_else(|e| e.into_inner()).iter() {
        kill_group(group);
    }
}

/// SIGKILL to every process of `group`.
pub fn kill_group(group: u32) {
    // SAFETY: kill(2) with a negative pid signals a process group; it touches no memory.
    unsafe {
        libc::kill(-(group as libc::pid_t), libc::SIGKILL);
    }
}

/// Give `command` its own process group (Ctrl-C reaches relink only, which then stops the
/// whole group) and make it die with relink (`kill -9` of relink included).
pub fn own_group_dying_with_relink(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
    // SAFETY: prctl with constant arguments, between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A running action's process group, registered until dropped.
pub struct Running(u32);

impl Running {
    /// The group's id.
    pub fn group(&self) -> u32 {
        self.0
    }

    /// Register the group led by `pid` (a child spawned with `process_group(0)`); kills it
    /// at once if an interrupt came between its spawn and now.
    pub fn register(pid: u32) -> Running {
        running().lock().unwrap_or_else(|e| e.into_inner()).insert(pid);
        if interrupted() {
            kill_group(pid);
        }
        Running(pid)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        running().lock().unwrap_or_else(|e| e.into_inner()).remove(&self.0);
        // Whatever the action left behind in its group goes with it.
        kill_group(self.0);
    }
}
