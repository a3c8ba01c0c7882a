//! What a build script, a proc macro, a test and a plain `ctx.actions.run` may do (issue 10):
//! each runs the same probes
//! (write into the source tree and `$HOME`, read a file of `$HOME`, share the host's `/tmp`,
//! connect to a server of the host, read an undeclared workspace file, read a file of a
//! non-system directory of `/`, read relink's environment, reach the user's terminal or other
//! terminals, read the session keyring) and each must be denied all of them. relink runs
//! under a terminal of its own (`script`), as a user at a shell would.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

const EXPECTED: &str = "source-tree:denied home:denied home-read:denied tmp:private network:denied undeclared-source:denied outside:denied top-file:denied environ:denied tty:none pts:private pty:own keyring:denied";

/// The probes, as Rust: included by the build script, the proc macro and the test.
fn probe_source(
    ws: &Path,
    home_leak: &str,
    home_secret: &str,
    tmp_marker: &str,
    port: u16,
    outside: &Path,
    top_file: &Path,
) -> String {
    format!(
        r#"extern "C" {{
    fn syscall(number: std::ffi::c_long, ...) -> std::ffi::c_long;
}}
#[cfg(target_arch = "x86_64")]
const SYS_KEYCTL: std::ffi::c_long = 250;
#[cfg(target_arch = "aarch64")]
const SYS_KEYCTL: std::ffi::c_long = 219;
/// keyctl(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user", KEY_NAME): the key's id if the
/// session keyring of the user's login can be searched.
#[allow(dead_code)]
fn session_key_found() -> bool {{
    let name = std::ffi::CString::new("{key_name}").unwrap();
    // SAFETY: valid NUL-terminated strings; the kernel only reads them.
    unsafe {{ syscall(SYS_KEYCTL, 10 as std::ffi::c_long, -3 as std::ffi::c_long, c"user".as_ptr(), name.as_ptr(), 0 as std::ffi::c_long) > 0 }}
}}
#[allow(dead_code)]
fn probes() -> String {{
    let mut r = Vec::new();
    let wrote = |p: &str| std::fs::write(p, "leak").is_ok();
    r.push(if wrote("{ws}/leak.txt") {{ "source-tree:written" }} else {{ "source-tree:denied" }});
    r.push(if wrote("{home_leak}") {{ "home:written" }} else {{ "home:denied" }});
    let home_secret = std::fs::read_to_string("{home_secret}").is_ok();
    r.push(if home_secret {{ "home-read:read" }} else {{ "home-read:denied" }});
    // The host's /tmp is not the action's; what the action writes there stays its own.
    let shared = std::path::Path::new("{tmp_marker}").exists();
    let own = wrote(&format!("{tmp_marker}.from-action-{{}}", std::process::id()));
    r.push(if !shared && own {{ "tmp:private" }} else if shared {{ "tmp:shared" }} else {{ "tmp:unwritable" }});
    let net = std::net::TcpStream::connect_timeout(&"127.0.0.1:{port}".parse().unwrap(), std::time::Duration::from_secs(2));
    r.push(if net.is_ok() {{ "network:connected" }} else {{ "network:denied" }});
    let secret = std::fs::read_to_string("{ws}/secret.txt").is_ok();
    r.push(if secret {{ "undeclared-source:read" }} else {{ "undeclared-source:denied" }});
    let outside = std::fs::read_to_string("{outside}").is_ok();
    r.push(if outside {{ "outside:read" }} else {{ "outside:denied" }});
    let top_file = std::fs::read_to_string("{top_file}").is_ok_and(|t| !t.is_empty());
    r.push(if top_file {{ "top-file:read" }} else {{ "top-file:denied" }});
    let mut environ = false;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {{
        if let Ok(bytes) = std::fs::read(entry.path().join("environ")) {{
            environ |= String::from_utf8_lossy(&bytes).contains("relink-test-secret");
        }}
    }}
    r.push(if environ {{ "environ:read" }} else {{ "environ:denied" }});
    // The terminal relink runs in: typing into it (TIOCSTI) or reading it.
    r.push(if std::fs::File::open("/dev/tty").is_ok() {{ "tty:open" }} else {{ "tty:none" }});
    let others: Vec<String> = std::fs::read_dir("/dev/pts").map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n != "ptmx").collect()).unwrap_or_default();
    r.push(if others.is_empty() {{ "pts:private" }} else {{ "pts:shared" }});
    // Terminals of its own still work (a test of a terminal program opens one).
    let master = std::fs::OpenOptions::new().read(true).write(true).open("/dev/ptmx");
    let opened = std::fs::read_dir("/dev/pts").map(|d| d.flatten().any(|e| e.file_name() != "ptmx")).unwrap_or(false);
    r.push(if master.is_ok() && opened {{ "pty:own" }} else {{ "pty:none" }});
    r.push(if session_key_found() {{ "keyring:read" }} else {{ "keyring:denied" }});
    r.join(" ")
}}
"#,
        ws = ws.display(),
        outside = outside.display(),
        top_file = top_file.display(),
        key_name = key_name(),
    )
}

/// The description of a key the test puts into its session keyring.
fn key_name() -> String {
    format!("relink-confinement-{}", std::process::id())
}

/// Put a key (a credential, as a login's Kerberos tickets would be) into the session keyring
/// that relink and its actions inherit.
fn add_session_key() {
    let name = std::ffi::CString::new(key_name()).unwrap();
    let payload = b"a credential";
    // SAFETY: add_key(2) with valid strings and payload; KEY_SPEC_SESSION_KEYRING is -3.
    let id = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            c"user".as_ptr(),
            name.as_ptr(),
            payload.as_ptr(),
            payload.len(),
            -3 as libc::c_long,
        )
    };
    assert!(id > 0, "add_key: {}", std::io::Error::last_os_error());
}

/// Take the test's key out of the session keyring again (KEYCTL_UNLINK from
/// KEY_SPEC_SESSION_KEYRING, found by KEYCTL_SEARCH).
fn remove_session_key() {
    let name = std::ffi::CString::new(key_name()).unwrap();
    // SAFETY: keyctl(2) with a valid type and description; -3 is KEY_SPEC_SESSION_KEYRING.
    unsafe {
        let id =
            libc::syscall(libc::SYS_keyctl, 10 as libc::c_long, -3 as libc::c_long, c"user".as_ptr(), name.as_ptr(), 0);
        if id > 0 {
            libc::syscall(libc::SYS_keyctl, 9 as libc::c_long, id, -3 as libc::c_long);
        }
    }
}

/// `relink ARGS` with a terminal of its own: `script` gives it a pseudo-terminal as its
/// controlling terminal, as a shell would.
fn under_a_terminal(relink: Command) -> Command {
    let quote = |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"));
    let line: Vec<String> = std::iter::once(relink.get_program()).chain(relink.get_args()).map(quote).collect();
    let mut script = Command::new("script");
    script.args(["-qec", &line.join(" "), "/dev/null"]);
    if let Some(dir) = relink.get_current_dir() {
        script.current_dir(dir);
    }
    for (k, v) in relink.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    script
}

const BUILD: &str = r#"load("@rules_relink//rules:defs.bzl", "cargo_build_script", "rust_binary", "rust_library", "rust_proc_macro", "rust_test")
load("//:run_probe.bzl", "run_probe")

cargo_build_script(
    name = "build_script",
    srcs = ["build.rs", "probe.rs"],
    crate_root = "build.rs",
)

rust_proc_macro(
    name = "probe_macro",
    srcs = ["macro.rs", "probe.rs"],
    crate_root = "macro.rs",
)

rust_library(
    name = "probed",
    srcs = ["lib.rs"],
    build_script = ":build_script",
    proc_macro_deps = [":probe_macro"],
)

rust_test(
    name = "probe_test",
    srcs = ["test.rs", "probe.rs"],
    crate_root = "test.rs",
    deps = [":probed"],
)

rust_binary(
    name = "probe_tool",
    srcs = ["tool.rs", "probe.rs"],
    crate_root = "tool.rs",
)

run_probe(
    name = "probe_run",
    tool = ":probe_tool",
)
"#;

/// A rule whose one action runs a tool, as any rule set's `ctx.actions.run` would.
const RUN_PROBE: &str = r#"def _run_probe_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".txt")
    ctx.actions.run(executable = ctx.executable.tool, arguments = [out.path], outputs = [out], mnemonic = "ProbeRun")
    return [DefaultInfo(files = depset([out]))]

run_probe = rule(
    implementation = _run_probe_impl,
    attrs = {"tool": attr.label(executable = True, cfg = "exec")},
)
"#;

#[test]
fn build_scripts_proc_macros_and_tests_are_confined_alike() {
    let scratch = Scratch::new("confinement");
    let ws = scratch.0.join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let home = std::env::var("HOME").unwrap();
    let home_leak = format!("{home}/.relink-leak-{}", std::process::id());
    let home_secret = format!("{home}/.relink-secret-{}", std::process::id());
    std::fs::write(&home_secret, "a credential").unwrap();
    let tmp_marker = format!("/tmp/relink-confinement-marker-{}", std::process::id());
    std::fs::write(&tmp_marker, "host").unwrap();
    // A directory of `/` that is not the system's, as `/work` or `/srv` would be. Only root
    // may make one (CI runs as root); elsewhere that one probe has nothing to find.
    let outside_dir = Path::new("/").join(format!("relink-confinement-{}", std::process::id()));
    let outside = outside_dir.join("data.txt");
    if let Err(e) =
        std::fs::create_dir_all(&outside_dir).and_then(|_| std::fs::write(&outside, "another project's file"))
    {
        eprintln!(
            "note: cannot make {} ({e}): the probe of a non-system directory is not exercised",
            outside_dir.display()
        );
    }
    // A file directly in `/` (`/container_info.json` on this machine), root's to make too.
    let top_file = Path::new("/").join(format!("relink-confinement-{}.json", std::process::id()));
    if let Err(e) = std::fs::write(&top_file, "{\"machine\": \"facts\"}") {
        eprintln!("note: cannot make {} ({e}): the probe of a file in / is not exercised", top_file.display());
    }
    let files = [
        ("MODULE.bazel", "module(name = \"confinement_probe\")\n".to_string()),
        ("BUILD.bazel", BUILD.to_string()),
        ("run_probe.bzl", RUN_PROBE.to_string()),
        (
            "tool.rs",
            "include!(\"probe.rs\");\nfn main() {\n    std::fs::write(std::env::args().nth(1).unwrap(), probes()).unwrap();\n}\n"
                .to_string(),
        ),
        ("secret.txt", "not an input\n".to_string()),
        ("probe.rs", probe_source(&ws, &home_leak, &home_secret, &tmp_marker, listener.local_addr().unwrap().port(), &outside, &top_file)),
        (
            "build.rs",
            "include!(\"probe.rs\");\nfn main() {\n    let out = std::env::var(\"OUT_DIR\").unwrap();\n    std::fs::write(format!(\"{out}/probes.txt\"), probes()).unwrap();\n}\n"
                .to_string(),
        ),
        (
            "macro.rs",
            "extern crate proc_macro;\ninclude!(\"probe.rs\");\n#[proc_macro]\npub fn probe(_: proc_macro::TokenStream) -> proc_macro::TokenStream {\n    format!(\"{:?}\", probes()).parse().unwrap()\n}\n"
                .to_string(),
        ),
        (
            "lib.rs",
            "pub const BUILD_SCRIPT: &str = include_str!(concat!(env!(\"OUT_DIR\"), \"/probes.txt\"));\npub const PROC_MACRO: &str = probe_macro::probe!();\n"
                .to_string(),
        ),
        (
            "test.rs",
            format!("include!(\"probe.rs\");\n#[test]\nfn denied() {{\n    assert_eq!(probed::BUILD_SCRIPT, {EXPECTED:?}, \"build script\");\n    assert_eq!(probed::PROC_MACRO, {EXPECTED:?}, \"proc macro\");\n    assert_eq!(probes(), {EXPECTED:?}, \"test\");\n}}\n"),
        ),
    ];
    for (name, text) in &files {
        std::fs::write(ws.join(name), text).unwrap();
    }
    add_session_key();
    let relink = |verb: &str, target: &str| {
        let mut relink = relink_command(&ws, &scratch.0.join("cache"));
        relink.args([verb, "--color", "never", target]).env("RELINK_TEST_TOKEN", "relink-test-secret");
        under_a_terminal(relink).stdin(std::process::Stdio::null()).output().unwrap()
    };
    let out = relink("test", "//:probe_test");
    let run = relink("build", "//:probe_run");
    remove_session_key();
    let _ = std::fs::remove_file(&top_file);
    let _ = std::fs::remove_file(&home_leak);
    let _ = std::fs::remove_file(&home_secret);
    let _ = std::fs::remove_file(&tmp_marker);
    let _ = std::fs::remove_dir_all(&outside_dir);
    let leaked_into_tmp: Vec<_> = std::fs::read_dir("/tmp")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name().to_string_lossy().starts_with(&format!("relink-confinement-marker-{}.", std::process::id()))
        })
        .map(|e| e.path())
        .collect();
    for p in &leaked_into_tmp {
        let _ = std::fs::remove_file(p);
    }
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && report.contains("PASSED //:probe_test (1 passed"),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ran = std::fs::read_to_string(ws.join("relink-bin/probe_run.txt")).unwrap_or_else(|e| {
        panic!("//:probe_run: {e}\n{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr))
    });
    assert_eq!(ran, EXPECTED, "ctx.actions.run");
    assert!(!ws.join("leak.txt").exists());
    assert!(leaked_into_tmp.is_empty(), "an action wrote into the host's /tmp: {leaked_into_tmp:?}");
    assert!(listener.accept().is_err(), "an action reached a server of the host");
}
