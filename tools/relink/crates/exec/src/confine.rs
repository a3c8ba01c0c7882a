//! What an action may see and change (issue 10, first part).
//!
//! Derived inputs reach a sandbox as hard links to store blobs: without more, an action could
//! `chmod` one, overwrite it, restore its mtime, and every later build of any target would
//! receive the altered bytes. Each action therefore runs in its own user, mount, network and
//! PID namespace: every mount is made read-only, then its sandbox, `/tmp` and declared state
//! directories are bound writable, the workspace is hidden (or read-only, when something the
//! action needs lives in it), and the cache and every hard-linked input are read-only again on
//! top (parents first). The network namespace has only its loopback; the action is process 1
//! of its PID namespace, so whatever it leaves behind dies with it. It keeps its uid but not
//! the capability to undo the mounts. Writes fail with "Read-only file system".
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

/// What one action's namespaces look like, prepared before `fork` (the child may not
/// allocate): bind mounts in the order they are made (parents before children), each
/// read-only or writable, over a file system that is read-only as a whole.
pub struct Confinement {
    binds: Vec<(CString, Mode)>,
    /// The working directory, entered again once the mounts are made (the directory entered
    /// before them is the one under the new mounts).
    cwd: CString,
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    root: bool,
}

/// Where an action may write and what it must not change.
pub struct Layout<'a> {
    /// The action's execroot: writable.
    pub sandbox: &'a Path,
    /// Other writable directories: `/tmp` (except the parts listed read-only or hidden) and
    /// rustc's local incremental state.
    pub writable: Vec<PathBuf>,
    /// Read-only even inside writable directories: the workspace's sources, the cache, and
    /// every input hard-linked from the store.
    pub read_only: Vec<PathBuf>,
    /// Replaced by an empty read-only directory: the workspace, whose sources an action must
    /// not read behind the build's back.
    pub hidden: Vec<PathBuf>,
}

impl Confinement {
    /// The namespaces of one action.
    pub fn new(layout: &Layout) -> Confinement {
        // SAFETY: getuid and getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let mut binds: Vec<(PathBuf, Mode)> = Vec::new();
        binds.extend(layout.writable.iter().filter(|p| p.exists()).map(|p| (p.clone(), Mode::Writable)));
        binds.extend(layout.read_only.iter().filter(|p| p.exists()).map(|p| (p.clone(), Mode::ReadOnly)));
        binds.extend(layout.hidden.iter().filter(|p| p.exists()).map(|p| (p.clone(), Mode::Hidden)));
        binds.push((layout.sandbox.to_path_buf(), Mode::Writable));
        // Parents first, so that a path inside another keeps its own mode; the sandbox before
        // the inputs linked into it.
        binds.sort_by_key(|(p, mode)| (p.components().count(), *mode));
        Confinement {
            binds: binds.into_iter().map(|(p, w)| (c_path(&p), w)).collect(),
            cwd: c_path(layout.sandbox),
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
            check(libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWNET))?;
            write_file(c"/proc/self/setgroups", b"deny")?;
            write_file(c"/proc/self/uid_map", &self.uid_map)?;
            write_file(c"/proc/self/gid_map", &self.gid_map)?;
            // No network but its own loopback (tests may serve on 127.0.0.1).
            loopback_up()?;
            // Nothing of this namespace may propagate back to relink's.
            check(libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            read_only_tree(c"/")?;
            for (path, mode) in &self.binds {
                match mode {
                    Mode::Hidden => hide(path)?,
                    Mode::Writable => bind(path, true)?,
                    Mode::ReadOnly => bind(path, false)?,
                }
            }
            check(libc::chdir(self.cwd.as_ptr()))?;
            own_pid_namespace()?;
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
        Confinement::new(&Layout {
            sandbox: &probe_dir,
            writable: Vec::new(),
            read_only: Vec::new(),
            hidden: Vec::new(),
        }).apply(&mut probe);
        let ok = probe.status().is_ok_and(|s| s.success());
        if !ok {
            eprintln!(
                "relink: warning: this kernel refuses user namespaces, so actions run without a read-only store (an action could alter what later builds receive); RELINK_CONFINE=0 silences this"
            );
        }
        ok
    })
}

/// Run the action as process 1 of its own PID namespace, so that everything it started dies
/// with it, including processes that left its process group (`setsid`). The process relink
/// spawned stays outside as a minimal parent: it waits for the action and ends the same way.
unsafe fn own_pid_namespace() -> std::io::Result<()> {
    check(libc::unshare(libc::CLONE_NEWPID))?;
    let child = libc::fork();
    check(child)?;
    if child == 0 {
        // The action: it dies if its minimal parent does (relink killed it).
        check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0))?;
        return Ok(());
    }
    // Keep no descriptor but stdio: relink learns that the action started when the last copy
    // of its spawn pipe closes (at the action's exec), not when this process ends.
    libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
    let mut status = 0;
    while libc::waitpid(child, &mut status, 0) < 0 {
        if *libc::__errno_location() != libc::EINTR {
            libc::_exit(127);
        }
    }
    if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        libc::signal(signal, libc::SIG_DFL);
        libc::kill(libc::getpid(), signal);
    }
    libc::_exit(libc::WEXITSTATUS(status));
}

/// What a path becomes in an action's mount namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    Writable,
    ReadOnly,
    Hidden,
}

/// Cover `path` with an empty read-only file system.
unsafe fn hide(path: &CString) -> std::io::Result<()> {
    let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    check(libc::mount(c"tmpfs".as_ptr(), path.as_ptr(), c"tmpfs".as_ptr(), flags, c"size=4k".as_ptr().cast()))
}

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// Every mount under `path` read-only (mount_setattr, Linux 5.12).
unsafe fn read_only_tree(path: &std::ffi::CStr) -> std::io::Result<()> {
    let attr = MountAttr { attr_set: MOUNT_ATTR_RDONLY, attr_clr: 0, propagation: 0, userns_fd: 0 };
    let result = libc::syscall(
        libc::SYS_mount_setattr,
        libc::AT_FDCWD,
        path.as_ptr(),
        libc::AT_RECURSIVE,
        &attr as *const MountAttr,
        std::mem::size_of::<MountAttr>(),
    );
    check(result as libc::c_int)
}

/// Bring the namespace's loopback interface up (SIOCSIFFLAGS).
unsafe fn loopback_up() -> std::io::Result<()> {
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        flags: libc::c_short,
        pad: [u8; 22],
    }
    let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
    check(fd)?;
    let mut req = IfReq { name: [0; 16], flags: 0, pad: [0; 22] };
    req.name[..2].copy_from_slice(b"lo");
    let mut result = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req as *mut IfReq);
    if result >= 0 {
        req.flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        result = libc::ioctl(fd, libc::SIOCSIFFLAGS, &req as *const IfReq);
    }
    libc::close(fd);
    check(result)
}

/// Bind `path` onto itself, read-only or writable, keeping the flags the kernel locks in a
/// user namespace (nosuid, nodev, noexec of the mount it lives on).
unsafe fn bind(path: &CString, writable: bool) -> std::io::Result<()> {
    let p = path.as_ptr();
    check(libc::mount(p, p, std::ptr::null(), libc::MS_BIND | libc::MS_REC, std::ptr::null()))?;
    let mut st: libc::statvfs = std::mem::zeroed();
    check(libc::statvfs(p, &mut st))?;
    let mut flags = libc::MS_BIND | libc::MS_REMOUNT;
    if !writable {
        flags |= libc::MS_RDONLY;
    }
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
