//! What an action may see and change (issue 10, first part).
//!
//! Derived inputs reach a sandbox as hard links to store blobs: without more, an action could
//! `chmod` one, overwrite it, restore its mtime, and every later build of any target would
//! receive the altered bytes. Each action therefore runs in its own user, mount, network and
//! PID namespace: every mount is made read-only, `/tmp` is replaced by a directory of the
//! action's own and `$HOME` by an empty one, then its sandbox and declared state directories
//! are bound writable, the workspace is hidden (or read-only, when something the
//! action needs lives in it), and the cache and every hard-linked input are read-only again on
//! top (parents first). The network namespace has only its loopback; the action is process 1
//! of its PID namespace, so whatever it leaves behind dies with it. It keeps its uid but not
//! the capability to undo the mounts. Writes fail with "Read-only file system". Of `/` only
//! the system's directories stay in sight (its files read as empty); the action's session
//! has no controlling terminal and its `/dev/pts` is its own; last, `syscalls`' seccomp
//! filter is installed.
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
/// allocate): the directories covered first (`/tmp` by the action's own, `$HOME` by an empty
/// one), then bind mounts in the order they are made (parents before children), each
/// read-only, writable or hidden, over a file system that is read-only as a whole.
pub struct Confinement {
    covers: Vec<Cover>,
    binds: Vec<Bind>,
    /// The working directory, entered again once the mounts are made (the directory entered
    /// before them is the one under the new mounts).
    cwd: CString,
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    root: bool,
    /// Terminals of the action's own: a new `devpts` instance on `/dev/pts` (none of the
    /// user's terminals in sight), and whether `/dev/ptmx` must be bound to its `ptmx` (it is
    /// a device node, not already a symlink to `pts/ptmx`).
    private_terminals: Option<bool>,
    /// The system calls the action may not make ([`crate::syscalls`]).
    filter: Option<&'static seccompiler::BpfProgram>,
    /// Covered files (those directly in `/`): `/dev/null` is bound on each.
    emptied_files: Vec<CString>,
}

/// A directory replaced before the binds are made: by a copy of the mounts at `source`
/// (the action's private tmp), or by an empty file system (`$HOME`).
struct Cover {
    target: CString,
    source: Option<CString>,
    /// Directories to create in an enclosing cover before this one is mounted (`$HOME` under
    /// a covered `/home`).
    mount_point: Option<Vec<(CString, bool)>>,
    /// The detached copy of `source`, taken before anything is covered.
    tree: libc::c_int,
}

/// One bind mount. A bind under a covered directory whose parents are not bound themselves
/// is made visible again: its mounts are copied (`open_tree`) before the covers hide them and
/// moved back onto a mount point made in the cover.
struct Bind {
    path: CString,
    mode: Mode,
    /// Directories (and, last, the file or directory itself) to create in the cover.
    mount_point: Option<Vec<(CString, bool)>>,
    tree: libc::c_int,
}

/// Where an action may write and what it must not change.
pub struct Layout<'a> {
    /// The action's execroot: writable.
    pub sandbox: &'a Path,
    /// Other writable directories: rustc's local incremental state.
    pub writable: Vec<PathBuf>,
    /// Read-only even inside writable directories: the workspace's sources, the cache, and
    /// every input hard-linked from the store.
    pub read_only: Vec<PathBuf>,
    /// Replaced by an empty read-only directory: the workspace, whose sources an action must
    /// not read behind the build's back.
    pub hidden: Vec<PathBuf>,
    /// The action's own `/tmp` (an empty directory it may fill), or `None` to leave `/tmp`
    /// shared and writable.
    pub private_tmp: Option<PathBuf>,
    /// Covered by an empty read-only directory (the user's home: credentials, configuration);
    /// what the action needs inside (the cache, the workspace, the toolchain) is bound again.
    /// A file here (one directly in `/`) reads as empty.
    pub covered: Vec<PathBuf>,
}

impl Confinement {
    /// The namespaces of one action.
    pub fn new(layout: &Layout) -> Confinement {
        // SAFETY: getuid and getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        // Real paths (no `..`, no symlinks): which path lies inside which, and where a mount
        // point goes, must be what the kernel resolves.
        let real = |p: &Path| fs_err::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let mut binds: Vec<(PathBuf, Mode)> = Vec::new();
        binds.extend(layout.writable.iter().filter(|p| p.exists()).map(|p| (real(p), Mode::Writable)));
        binds.extend(layout.read_only.iter().filter(|p| p.exists()).map(|p| (real(p), Mode::ReadOnly)));
        binds.extend(layout.hidden.iter().filter(|p| p.exists()).map(|p| (real(p), Mode::Hidden)));
        // A sandbox inside a writable directory is reached through that directory's mount
        // (one mount: hard links between the two work).
        let sandbox = real(layout.sandbox);
        if !binds.iter().any(|(p, mode)| *mode == Mode::Writable && sandbox.starts_with(p)) {
            binds.push((sandbox, Mode::Writable));
        }
        // Parents first, so that a path inside another keeps its own mode; the sandbox before
        // the inputs linked into it.
        binds.sort_by_key(|(p, mode)| (p.components().count(), *mode));
        let mut cover_roots: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
        if let Some(tmp) = layout.private_tmp.as_ref().filter(|t| t.is_dir()) {
            cover_roots.push((real(Path::new("/tmp")), Some(real(tmp))));
        }
        for dir in layout.covered.iter().map(|d| real(d)).filter(|d| !d.is_file()) {
            let dir = &dir;
            // Never the root, /tmp again, or a directory that holds the sandbox's parents.
            let usable = dir.is_dir() && dir.components().count() > 1 && !cover_roots.iter().any(|(c, _)| c == dir);
            if usable && !binds.iter().any(|(p, _)| dir.starts_with(p) && dir != p) {
                cover_roots.push((dir.clone(), None));
            }
        }
        // Outer covers first: one inside another (`$HOME` under `/home`) is mounted on a
        // mount point made in the outer one.
        cover_roots.sort_by_key(|(root, _)| root.components().count());
        let innermost_cover = |path: &Path, except: Option<&Path>| {
            cover_roots
                .iter()
                .map(|(root, _)| root)
                .filter(|root| path.starts_with(root) && Some(root.as_path()) != except)
                .max_by_key(|root| root.components().count())
                .cloned()
        };
        let planned: Vec<Bind> = binds
            .iter()
            .enumerate()
            .map(|(i, (path, mode))| {
                let covered_by = innermost_cover(path, None);
                let inside_other = binds[..i].iter().any(|(p, _)| path.starts_with(p) && p != path);
                let mount_point = match covered_by {
                    Some(root) if !inside_other => Some(mount_point(&root, path)),
                    _ => None,
                };
                Bind { path: c_path(path), mode: *mode, mount_point, tree: -1 }
            })
            .collect();
        Confinement {
            covers: cover_roots
                .iter()
                .map(|(target, source)| Cover {
                    target: c_path(target),
                    source: source.as_ref().map(|s| c_path(s)),
                    mount_point: innermost_cover(target, Some(target)).map(|outer| mount_point(&outer, target)),
                    tree: -1,
                })
                .collect(),
            binds: planned,
            cwd: c_path(layout.sandbox),
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
            root: uid == 0,
            private_terminals: Path::new("/dev/pts")
                .is_dir()
                .then(|| !fs_err::symlink_metadata("/dev/ptmx").is_ok_and(|m| m.file_type().is_symlink())),
            filter: crate::syscalls::action_filter(),
            emptied_files: layout
                .covered
                .iter()
                .map(|f| real(f))
                .filter(|f| f.is_file() && !binds.iter().any(|(p, _)| p == f))
                .map(|f| c_path(&f))
                .collect(),
        }
    }

    /// Apply to `command`: the child enters its namespaces before it executes the program.
    pub fn apply(mut self, command: &mut Command) {
        use std::os::unix::process::CommandExt;
        // SAFETY: the closure only makes system calls on memory prepared before the fork.
        unsafe {
            command.pre_exec(move || self.enter());
        }
    }

    /// In the child, between fork and exec: only system calls, no allocation.
    fn enter(&mut self) -> std::io::Result<()> {
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
            // Copies of what the covers will hide, taken while it is still in sight.
            for cover in self.covers.iter_mut() {
                if let Some(source) = &cover.source {
                    cover.tree = clone_tree(source)?;
                }
            }
            for b in self.binds.iter_mut() {
                if b.mount_point.is_some() && b.mode != Mode::Hidden {
                    b.tree = clone_tree(&b.path)?;
                }
            }
            read_only_tree(c"/")?;
            for cover in &self.covers {
                if let Some(points) = &cover.mount_point {
                    make_mount_point(points)?;
                }
                if cover.source.is_some() {
                    move_tree(cover.tree, &cover.target)?;
                    bind(&cover.target, true)?;
                } else {
                    check(libc::mount(
                        c"tmpfs".as_ptr(),
                        cover.target.as_ptr(),
                        c"tmpfs".as_ptr(),
                        libc::MS_NOSUID | libc::MS_NODEV,
                        c"size=1m,mode=0755".as_ptr().cast(),
                    ))?;
                }
            }
            for file in &self.emptied_files {
                check(libc::mount(
                    c"/dev/null".as_ptr(),
                    file.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null(),
                ))?;
            }
            for b in &self.binds {
                if let Some(points) = &b.mount_point {
                    make_mount_point(points)?;
                    if b.mode != Mode::Hidden {
                        move_tree(b.tree, &b.path)?;
                    }
                }
                match b.mode {
                    Mode::Hidden => hide(&b.path)?,
                    Mode::Writable => bind(&b.path, true)?,
                    Mode::ReadOnly => bind(&b.path, false)?,
                }
            }
            if let Some(bind_ptmx) = self.private_terminals {
                private_terminals(bind_ptmx)?;
            }
            // The empty covers were writable only for their mount points.
            for cover in self.covers.iter().filter(|c| c.source.is_none()) {
                let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV;
                check(libc::mount(std::ptr::null(), cover.target.as_ptr(), std::ptr::null(), flags, std::ptr::null()))?;
            }
            check(libc::chdir(self.cwd.as_ptr()))?;
            own_pid_namespace()?;
            if self.root {
                // Root keeps its privileges over files, not the one to unmount these.
                check(libc::prctl(libc::PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0))?;
            }
            if let Some(filter) = self.filter {
                crate::syscalls::install(filter)?;
            }
        }
        Ok(())
    }
}

/// The top-level directories that hold the system an action runs on: programs, libraries,
/// configuration, devices, add-on packages (`/opt`) and package stores (`/nix`, `/gnu`,
/// `/snap`), visible read-only. Every other directory of `/` (other users' homes, `/root`,
/// `/srv`, `/mnt`, `/media`, a `/work` holding other projects) is covered: an action reads what
/// it declares, not whatever lies on the machine.
const SYSTEM_DIRS: &[&str] = &[
    "bin", "dev", "etc", "gnu", "lib", "lib32", "lib64", "libx32", "nix", "opt", "proc", "run", "sbin", "snap", "sys",
    "tmp", "usr", "var",
];

/// The directories of `/` that are not the system's ([`SYSTEM_DIRS`]), read once.
pub fn non_system_dirs() -> &'static [PathBuf] {
    static DIRS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    DIRS.get_or_init(|| non_system_dirs_of(Path::new("/")))
}

/// The directories directly inside `root` (real paths: a symlink such as `/bin -> usr/bin`
/// is the directory it names) that are not system directories.
fn non_system_dirs_of(root: &Path) -> Vec<PathBuf> {
    let is_system = |p: &Path| p.file_name().is_some_and(|n| SYSTEM_DIRS.iter().any(|s| n == *s));
    entries_of(root, |real| real.is_dir() && !is_system(real))
}

/// The files directly in `/` (`/container_info.json`, an installer left there), read once:
/// covered like the non-system directories.
pub fn top_level_files() -> &'static [PathBuf] {
    static FILES: OnceLock<Vec<PathBuf>> = OnceLock::new();
    FILES.get_or_init(|| top_level_files_of(Path::new("/")))
}

/// The regular files directly inside `root` (symlinks resolved; those leading elsewhere are
/// covered where they lead, if at all).
fn top_level_files_of(root: &Path) -> Vec<PathBuf> {
    entries_of(root, |real| real.is_file())
}

/// The entries directly inside `root` whose real path (symlinks resolved) is still directly
/// inside it and passes `keep`, sorted, once each.
fn entries_of(root: &Path, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let Ok(root) = fs_err::canonicalize(root) else { return Vec::new() };
    let Ok(entries) = fs_err::read_dir(&root) else { return Vec::new() };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter_map(|e| fs_err::canonicalize(e.path()).ok())
        .filter(|real| real.parent() == Some(root.as_path()) && keep(real))
        .collect();
    found.sort();
    found.dedup();
    found
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
            private_tmp: None,
            covered: Vec::new(),
        })
        .apply(&mut probe);
        let why = match probe.status() {
            Ok(status) if status.success() => return true,
            Ok(status) => format!("a confined /bin/true ended with {status}"),
            Err(e) => e.to_string(),
        };
        eprintln!(
            "relink: warning: actions run without confinement (no read-only store: an action could alter what later \
             builds receive): setting it up failed here ({why}); it needs unprivileged user, mount, PID and network \
             namespaces, a devpts mount and a seccomp filter. RELINK_CONFINE=0 silences this"
        );
        false
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
        // A session of its own, without a controlling terminal: `/dev/tty` is not the user's.
        // (Its process group leaves relink's; the PID namespace still ends it.)
        check(libc::setsid())?;
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

/// The directories from below `root` down to `path` (the last one a file when `path` is
/// one), to be created in the cover of `root` before `path` is bound there again.
fn mount_point(root: &Path, path: &Path) -> Vec<(CString, bool)> {
    let mut points = Vec::new();
    let mut at = root.to_path_buf();
    if let Ok(rest) = path.strip_prefix(root) {
        for part in rest.components() {
            at.push(part);
            points.push((c_path(&at), at != path || path.is_dir()));
        }
    }
    points
}

/// Create the mount point of a bind inside a cover (existing entries are fine).
unsafe fn make_mount_point(points: &[(CString, bool)]) -> std::io::Result<()> {
    for (path, is_dir) in points {
        if *is_dir {
            if libc::mkdir(path.as_ptr(), 0o755) < 0 && *libc::__errno_location() != libc::EEXIST {
                return Err(std::io::Error::last_os_error());
            }
        } else {
            let fd = libc::open(path.as_ptr(), libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC, 0o644);
            check(fd)?;
            libc::close(fd);
        }
    }
    Ok(())
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;

/// A detached copy of the mounts at `path` (open_tree(2), Linux 5.2), to be moved elsewhere
/// once `path` is covered.
unsafe fn clone_tree(path: &CString) -> std::io::Result<libc::c_int> {
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_RECURSIVE as libc::c_uint;
    let fd = libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) as libc::c_int;
    check(fd)?;
    Ok(fd)
}

/// Attach a copy made by [`clone_tree`] at `target` (move_mount(2)).
unsafe fn move_tree(tree: libc::c_int, target: &CString) -> std::io::Result<()> {
    let result = libc::syscall(
        libc::SYS_move_mount,
        tree,
        c"".as_ptr(),
        libc::AT_FDCWD,
        target.as_ptr(),
        MOVE_MOUNT_F_EMPTY_PATH,
    ) as libc::c_int;
    libc::close(tree);
    check(result)
}

/// A `devpts` instance of the action's own on `/dev/pts` (it may open terminals, e.g. a test
/// of a terminal program, but sees none of the user's), and `/dev/ptmx` its multiplexer.
unsafe fn private_terminals(bind_ptmx: bool) -> std::io::Result<()> {
    check(libc::mount(
        c"devpts".as_ptr(),
        c"/dev/pts".as_ptr(),
        c"devpts".as_ptr(),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        c"newinstance,ptmxmode=0666,mode=0620".as_ptr().cast(),
    ))?;
    if bind_ptmx {
        check(libc::mount(
            c"/dev/pts/ptmx".as_ptr(),
            c"/dev/ptmx".as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        ))?;
    }
    Ok(())
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

#[cfg(test)]
#[path = "confine_tests.rs"]
mod tests;
