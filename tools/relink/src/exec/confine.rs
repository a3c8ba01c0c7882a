//! The store cannot be changed through an action (issue 10, first part).
//!
//! Derived inputs reach a sandbox as hard links to store blobs: without more, an action could
//! `chmod` one, overwrite it, restore its mtime, and every later build of any target would
//! receive the altered bytes. Each action therefore runs in its own user and mount namespace
//! where the store directory and every hard-linked input are read-only bind mounts, under an
//! unprivileged uid (so it cannot remount them). Writes fail with "Read-only file system".
//!
//! Where the kernel refuses user namespaces, relink says so once and runs actions without this
//! protection (`RELINK_CONFINE=0` chooses that too); store blobs are still re-hashed when
//! their mtime moved.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `CAP_SYS_ADMIN` (linux/capability.h): what mounting and unmounting need.
const CAP_SYS_ADMIN: libc::c_ulong = 21;

/// What one action's namespace makes read-only, prepared before `fork` (the child may not
/// allocate).
pub struct Confinement {
    read_only: Vec<CString>,
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    root: bool,
}

impl Confinement {
    /// Read-only: the store directory and each path in `linked` (hard links into it).
    pub fn new(store: &Path, linked: &[PathBuf]) -> Confinement {
        // SAFETY: getuid and getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let mut read_only = vec![c_path(store)];
        read_only.extend(linked.iter().map(|p| c_path(p)));
        Confinement {
            read_only,
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
            root: uid == 0,
        }
    }

    /// Apply to `command`: the child enters its namespaces before it executes the program.
    pub fn apply(self, command: &mut Command) {
        use std::os::unix::process::CommandExt;
        // SAFETY: the closure only makes system calls on memory prepared before the fork.
        unsafe {
            command.pre_exec(move || self.enter());
        }
    }

    /// In the child, between fork and exec: only system calls, no allocation.
    fn enter(&self) -> std::io::Result<()> {
        // SAFETY: plain system calls with valid, NUL-terminated buffers owned by `self`.
        unsafe {
            check(libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS))?;
            write_file(c"/proc/self/setgroups", b"deny")?;
            write_file(c"/proc/self/uid_map", &self.uid_map)?;
            write_file(c"/proc/self/gid_map", &self.gid_map)?;
            // Nothing of this namespace may propagate back to relink's.
            check(libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            for path in &self.read_only {
                read_only_bind(path)?;
            }
            if self.root {
                // Root keeps its privileges over files, not the one to unmount these.
                check(libc::prctl(libc::PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0))?;
            }
        }
        Ok(())
    }
}

/// Whether actions can be confined on this machine (probed once per process).
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        if std::env::var_os("RELINK_CONFINE").is_some_and(|v| v == "0") {
            return false;
        }
        let probe_dir = std::env::temp_dir();
        let mut probe = Command::new("/bin/true");
        Confinement::new(&probe_dir, &[]).apply(&mut probe);
        let ok = probe.status().is_ok_and(|s| s.success());
        if !ok {
            eprintln!(
                "relink: warning: this kernel refuses user namespaces, so actions run without a read-only store (an action could alter what later builds receive); RELINK_CONFINE=0 silences this"
            );
        }
        ok
    })
}

/// Bind `path` onto itself and make that mount read-only, keeping the flags the kernel locks
/// in a user namespace (nosuid, nodev, noexec of the mount it lives on).
unsafe fn read_only_bind(path: &CString) -> std::io::Result<()> {
    let p = path.as_ptr();
    check(libc::mount(p, p, std::ptr::null(), libc::MS_BIND, std::ptr::null()))?;
    let mut st: libc::statvfs = std::mem::zeroed();
    check(libc::statvfs(p, &mut st))?;
    let mut flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
    for (st_flag, ms_flag) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if st.f_flag & st_flag != 0 {
            flags |= ms_flag;
        }
    }
    check(libc::mount(std::ptr::null(), p, std::ptr::null(), flags, std::ptr::null()))
}

unsafe fn write_file(path: &std::ffi::CStr, data: &[u8]) -> std::io::Result<()> {
    let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
    check(fd)?;
    let written = libc::write(fd, data.as_ptr().cast(), data.len());
    libc::close(fd);
    if written != data.len() as isize {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn check(result: libc::c_int) -> std::io::Result<()> {
    if result < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap_or_else(|_| CString::new("/nonexistent").expect("no NUL"))
}
