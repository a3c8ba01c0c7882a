//! The system calls a confined action may not make (issue 10), as a seccomp filter built with
//! `seccompiler` (rust-vmm's, Firecracker's filter compiler) and installed last, just before
//! the action's program runs.
//!
//! The namespaces of `confine` decide what an action sees; this filter closes what
//! they cannot: the kernel keyring of the user's login session, which a new user namespace
//! keeps (an action could read the Kerberos tickets or other secrets stored there), and the
//! terminal ioctls that type into or take over a terminal (`TIOCSTI`, `TIOCLINUX`), which
//! would reach the user's shell through any terminal the action can open. Everything else is
//! allowed: build scripts and tests run arbitrary programs, and what they may not do is
//! decided by what they can see. A denied call fails with `EPERM` ("Operation not
//! permitted"), as it would for a process without the privilege.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
};

/// `TIOCSTI` (asm-generic/ioctls.h): push a byte into a terminal's input, as if typed.
const TIOCSTI: u64 = 0x5412;
/// `TIOCLINUX`: the Linux console's requests, among them pasting its selection as input.
const TIOCLINUX: u64 = 0x541C;

/// The compiled filter for this machine's architecture, built once; `None` where seccompiler
/// has no backend (neither x86_64, aarch64 nor riscv64): actions then run without it.
pub fn action_filter() -> Option<&'static BpfProgram> {
    static FILTER: OnceLock<Option<BpfProgram>> = OnceLock::new();
    FILTER.get_or_init(|| build(std::env::consts::ARCH)).as_ref()
}

/// The filter for `arch`: every call allowed but the keyring's and the terminal-injecting
/// ioctls.
fn build(arch: &str) -> Option<BpfProgram> {
    let arch = arch.try_into().ok()?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    // An empty rule list matches every call of that number.
    for keyring in [libc::SYS_add_key, libc::SYS_keyctl, libc::SYS_request_key] {
        rules.insert(keyring, Vec::new());
    }
    // The request is an `unsigned int` in the kernel: compare its low 32 bits only, so that a
    // sign-extended or padded value is caught too.
    let ioctl_request = |value| {
        let condition = SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value).ok()?;
        SeccompRule::new(vec![condition]).ok()
    };
    rules.insert(libc::SYS_ioctl, vec![ioctl_request(TIOCSTI)?, ioctl_request(TIOCLINUX)?]);
    let filter =
        SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(libc::EPERM as u32), arch).ok()?;
    filter.try_into().ok()
}

/// Install `filter` on the calling process (between fork and exec: no allocation, two system
/// calls). `no_new_privs` comes with it, as seccomp requires of an unprivileged process: a
/// set-user-ID program run by the action gains nothing.
pub fn install(filter: &[seccompiler::sock_filter]) -> std::io::Result<()> {
    // The OS error, not seccompiler's (formatting it would allocate).
    seccompiler::apply_filter(filter).map_err(|_| std::io::Error::last_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_builds_for_the_architectures_seccompiler_knows() {
        for arch in ["x86_64", "aarch64"] {
            let program = build(arch).unwrap_or_else(|| panic!("no filter for {arch}"));
            assert!(program.len() > 10, "{arch}: {} instructions", program.len());
        }
        assert!(build("sparc64").is_none());
    }

    #[test]
    fn a_filtered_process_cannot_read_the_keyring_nor_type_into_a_terminal() {
        // In a child, so that the test process keeps its own calls.
        let filter = action_filter().expect("a filter for this machine");
        // SAFETY: the child makes system calls only, then exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = unsafe {
                if install(filter).is_err() {
                    10
                } else if libc::syscall(libc::SYS_keyctl, 0, -3 as libc::c_long, 0) != -1
                    || *libc::__errno_location() != libc::EPERM
                {
                    11
                } else if libc::ioctl(0, TIOCSTI as libc::Ioctl, c"x".as_ptr()) != -1
                    || *libc::__errno_location() != libc::EPERM
                {
                    12
                } else if libc::getpid() <= 0 {
                    13
                } else {
                    0
                }
            };
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waiting for the child just forked.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status), "the filtered child was killed: {status}");
        assert_eq!(libc::WEXITSTATUS(status), 0, "10: not installed, 11: keyctl allowed, 12: TIOCSTI allowed");
    }
}
