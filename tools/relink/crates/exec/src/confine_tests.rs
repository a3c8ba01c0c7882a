//! Unit tests of `confine`: the mounts planned for a layout, the directories covered.

use super::*;

#[test]
fn a_sandbox_inside_a_writable_directory_shares_its_mount() {
    let root = std::env::temp_dir().join(format!("confine-layout-{}", std::process::id()));
    let state = root.join("incremental");
    let sandbox = state.join(".sandboxes/0123");
    let input = sandbox.join("relink-out/lib.rlib");
    fs_err::create_dir_all(input.parent().unwrap()).unwrap();
    fs_err::write(&input, "").unwrap();
    fn layout<'a>(sandbox: &'a Path, state: &Path, input: &Path) -> Layout<'a> {
        Layout {
            sandbox,
            writable: vec![state.to_path_buf()],
            read_only: vec![input.to_path_buf()],
            hidden: Vec::new(),
            private_tmp: None,
            covered: Vec::new(),
        }
    }
    let bound = |c: &Confinement| -> Vec<(String, Mode)> {
        c.binds.iter().map(|b| (b.path.to_string_lossy().into_owned(), b.mode)).collect()
    };
    // One writable mount holds the sandbox and rustc's incremental state: rustc can hard-link
    // its objects from one to the other. Inputs linked into the sandbox stay read-only.
    let inside = bound(&Confinement::new(&layout(&sandbox, &state, &input)));
    assert_eq!(
        inside,
        vec![
            (state.canonicalize().unwrap().display().to_string(), Mode::Writable),
            (input.canonicalize().unwrap().display().to_string(), Mode::ReadOnly),
        ]
    );
    // A sandbox elsewhere is a mount of its own.
    let elsewhere = root.join("sandbox/7");
    fs_err::create_dir_all(&elsewhere).unwrap();
    let outside = bound(&Confinement::new(&layout(&elsewhere, &state, &input)));
    assert!(outside.contains(&(elsewhere.canonicalize().unwrap().display().to_string(), Mode::Writable)));
    fs_err::remove_dir_all(root).unwrap();
}

#[test]
fn every_directory_of_the_root_but_the_systems_is_covered() {
    let root = std::env::temp_dir().join(format!("confine-root-{}", std::process::id()));
    for dir in ["usr/bin", "etc", "opt", "work/project", "home/other", "srv"] {
        fs_err::create_dir_all(root.join(dir)).unwrap();
    }
    fs_err::write(root.join("notes.txt"), "").unwrap();
    std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
    std::os::unix::fs::symlink("work/project", root.join("project")).unwrap();
    let real = root.canonicalize().unwrap();
    let names: Vec<String> =
        non_system_dirs_of(&root).iter().map(|d| d.strip_prefix(&real).unwrap().display().to_string()).collect();
    // Symlinks count as what they name: `bin` is `/usr/bin` (system), `project` is inside
    // `work` (covered with it).
    assert_eq!(names, ["home", "srv", "work"]);
    // The files of the root are covered too (a link to a file elsewhere is not one of them).
    std::os::unix::fs::symlink("etc", root.join("etc-link")).unwrap();
    fs_err::write(root.join("etc/hosts"), "").unwrap();
    std::os::unix::fs::symlink("etc/hosts", root.join("hosts")).unwrap();
    let files: Vec<String> =
        top_level_files_of(&root).iter().map(|f| f.strip_prefix(&real).unwrap().display().to_string()).collect();
    assert_eq!(files, ["notes.txt"]);
    fs_err::remove_dir_all(root).unwrap();
}

#[test]
fn a_cover_inside_another_gets_its_mount_point_there() {
    let root = std::env::temp_dir().join(format!("confine-nested-{}", std::process::id()));
    let home = root.join("home/user");
    let sandbox = home.join(".cache/relink/sandbox/1");
    fs_err::create_dir_all(&sandbox).unwrap();
    let c = Confinement::new(&Layout {
        sandbox: &sandbox,
        writable: Vec::new(),
        read_only: Vec::new(),
        hidden: Vec::new(),
        private_tmp: None,
        covered: vec![home.clone(), root.join("home")],
    });
    let real = root.canonicalize().unwrap();
    let targets: Vec<String> = c.covers.iter().map(|c| c.target.to_string_lossy().into_owned()).collect();
    assert_eq!(targets, [real.join("home").display().to_string(), real.join("home/user").display().to_string()]);
    assert!(c.covers[0].mount_point.is_none());
    let points: Vec<String> =
        c.covers[1].mount_point.iter().flatten().map(|(p, _)| p.to_string_lossy().into_owned()).collect();
    assert_eq!(points, [real.join("home/user").display().to_string()]);
    // The sandbox is bound again inside the innermost cover, from there down.
    let sandbox_points = c.binds[0].mount_point.as_ref().unwrap();
    assert_eq!(sandbox_points[0].0.to_string_lossy(), real.join("home/user/.cache").display().to_string());
    fs_err::remove_dir_all(root).unwrap();
}
