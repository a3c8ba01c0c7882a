//! relink as a Remote Execution API cache client (issue 22), against a real NativeLink
//! (../shared/tools/nativelink): a second checkout in another directory with another local
//! cache builds from the remote cache alone, with identical outputs; an edit shares all but
//! what its keys change; local-only actions stay local; a server that is gone, restarted or
//! silent never fails a build. BuildGrid, a server that speaks SHA256 only, shares results
//! too. A trust policy that requires cargo-vet audits takes only
//! audited crates.io crates from the remote.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{repo_root, Scratch, Ws};

struct NativeLink {
    pid: u32,
    data: PathBuf,
    port: u16,
}

impl NativeLink {
    fn start(data: &Path, port: u16) -> NativeLink {
        let script = repo_root().join("../shared/tools/nativelink/start.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg(data)
            .arg(port.to_string())
            .arg((port + 10).to_string())
            .output()
            .expect("start.sh runs");
        assert!(out.status.success(), "nativelink did not start: {}", String::from_utf8_lossy(&out.stderr));
        let pid = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        NativeLink { pid, data: data.to_path_buf(), port }
    }

    fn url(&self) -> String {
        format!("--remote_cache=grpc://127.0.0.1:{}", self.port)
    }

    fn stop(&self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).stderr(std::process::Stdio::null()).status();
        for _ in 0..50 {
            if !Path::new(&format!("/proc/{}", self.pid)).exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-9", &self.pid.to_string()]).status();
    }
}

impl Drop for NativeLink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free TCP port (the OS picks one; NativeLink takes it and the next ten).
fn free_port() -> u16 {
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if port < 60000 && std::net::TcpListener::bind(("127.0.0.1", port + 10)).is_ok() {
            return port;
        }
    }
}

fn examples_copy(scratch: &Scratch, name: &str) -> Ws {
    let dir = scratch.0.join(name);
    common::copy_tree(&repo_root().join("examples"), &dir);
    Ws::at(dir, scratch.0.join(format!("cache-{name}")))
}

/// (mnemonic, target) of actions that ran, and how many were remote hits.
fn ran_and_remote(ws: &Ws, args: &[&str]) -> (Vec<(String, String)>, usize, String) {
    let log = ws.dir.join("../log.jsonl");
    let mut full = vec![args[0], "--execution-log", log.to_str().unwrap()];
    full.extend_from_slice(&args[1..]);
    let out = ws.relink(&full);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "relink {args:?} failed:\n{stderr}");
    let text = std::fs::read_to_string(&log).unwrap();
    let mut ran = Vec::new();
    let mut remote = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["cache"] == "miss" {
            ran.push((v["mnemonic"].as_str().unwrap().to_string(), v["target"].as_str().unwrap().to_string()));
        }
        if v["remote"] == true {
            remote += 1;
        }
    }
    ran.sort();
    (ran, remote, stderr)
}

/// How many files rustc's incremental state holds under `dir` (symlinks not followed).
fn incremental_state_files(dir: &Path) -> usize {
    fn walk(dir: &Path, inside: bool) -> usize {
        let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
        entries
            .flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => walk(&e.path(), inside || e.file_name() == "incremental"),
                Ok(t) if t.is_file() && inside => 1,
                _ => 0,
            })
            .sum()
    }
    walk(dir, false)
}

/// The public key of signing key file `key` (as `relink provenance` shows it for a result
/// that key signed).
fn public_key_of(ws: &Ws, key: &Path, url: &str) -> String {
    let out = ws.relink(&[
        "provenance",
        url,
        "--rustc-incremental=false",
        &format!("--remote_signing_key={}", key.display()),
        "//app:app",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("signed by key "))
        .unwrap_or_else(|| panic!("no signer in:\n{text}"))
        .to_string()
}

/// Swap the first output digest of every entry of NativeLink's action cache for another of the
/// same length; returns how many entries were changed.
fn tamper_action_cache(data: &Path) -> usize {
    use bazel_remote_apis::build::bazel::remote::execution::v2::ActionResult;
    use prost::Message;
    let mut changed = 0;
    let mut stack = vec![data.join("content_path-ac")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let Ok(mut result) = ActionResult::decode(bytes.as_slice()) else { continue };
            let Some(digest) = result.output_files.first_mut().and_then(|f| f.digest.as_mut()) else { continue };
            digest.hash = digest.hash.chars().rev().collect();
            let new = result.encode_to_vec();
            assert_eq!(new.len(), bytes.len());
            std::fs::write(&path, new).unwrap();
            changed += 1;
        }
    }
    changed
}

fn outputs(ws: &Ws) -> std::collections::BTreeMap<String, String> {
    common::digests_under(&ws.dir.join("relink-bin"))
}

#[test]
fn checkouts_share_results_through_nativelink_and_a_failing_server_never_fails_a_build() {
    if !common::real_code_tier("checkouts_share_results_through_nativelink") {
        return;
    }
    let scratch = Scratch::new("remote");
    let port = free_port();
    let server = NativeLink::start(&scratch.0.join("nativelink"), port);
    let url = server.url();
    let no_state = "--rustc-incremental=false";

    // First checkout: everything runs and is uploaded.
    let a = examples_copy(&scratch, "a");
    let (ran, remote, _) = ran_and_remote(&a, &["build", &url, no_state, "//..."]);
    assert_eq!(remote, 0);
    assert!(ran.len() >= 17, "{ran:?}");

    // Another directory, another local cache: nothing compiles or links, same bytes.
    let b = examples_copy(&scratch, "b");
    let (ran, remote, stderr) = ran_and_remote(&b, &["build", &url, no_state, "//..."]);
    assert!(ran.iter().all(|(m, _)| m == "FileWrite"), "ran although the remote cache has it: {ran:?}");
    assert!(remote >= 17, "{remote} remote hits");
    assert!(stderr.contains("remote)"), "{stderr}");
    assert_eq!(outputs(&a), outputs(&b));
    let app = Command::new(b.dir.join("relink-bin/app/app")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&app.stdout), "hello from App\nvalue=3\nlargest=Some(9)\n");

    // Downloading only what is needed here (Bazel's "build without the bytes"): the same
    // outputs, fewer bytes in the local store.
    let t = examples_copy(&scratch, "t");
    let (ran, remote, _) =
        ran_and_remote(&t, &["build", &url, no_state, "--remote_download_outputs=toplevel", "//app:app"]);
    assert!(ran.is_empty(), "{ran:?}");
    assert!(remote >= 8, "{remote}");
    let app = Command::new(t.dir.join("relink-bin/app/app")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&app.stdout), "hello from App\nvalue=3\nlargest=Some(9)\n");
    let stored = |ws: &Ws| common::digests_under(&ws.cache.join("cas")).len();
    assert!(stored(&t) < stored(&b), "toplevel stored {} blobs, all {}", stored(&t), stored(&b));
    // A later local action needs an input that was not downloaded: it is fetched then.
    t.edit("app/main.rs", "fn main() {", "fn main() {\n    let _unused = 1;");
    let (ran, _, _) = ran_and_remote(&t, &["build", &url, no_state, "--remote_download_outputs=toplevel", "//app:app"]);
    assert!(ran.contains(&("RustLink".into(), "//app:app".into())), "{ran:?}");
    let app = Command::new(t.dir.join("relink-bin/app/app")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&app.stdout), "hello from App\nvalue=3\nlargest=Some(9)\n");

    // A private edit in a third checkout: its keys change only for base's compile and the links.
    let c = examples_copy(&scratch, "c");
    c.edit("chain/base/lib.rs", "fn step_size() -> u64 {\n    1\n}", "fn step_size() -> u64 {\n    2\n}");
    let (ran, remote, _) = ran_and_remote(&c, &["build", &url, no_state, "//..."]);
    let ran_kinds: Vec<&str> = ran.iter().map(|(m, _)| m.as_str()).collect();
    assert!(ran.contains(&("RustCompile".into(), "//chain/base:base".into())), "{ran:?}");
    assert!(!ran.iter().any(|(m, t)| m == "RustCompile" && t != "//chain/base:base"), "{ran:?}");
    assert!(!ran_kinds.contains(&"RustInterface"), "the unchanged interface comes from the remote: {ran:?}");
    assert!(remote >= 8, "{remote} remote hits");

    // A different rustc flag on one target (middle, in the middle of the chain): its keys
    // change, and those of what reads its outputs; everything else still comes from the remote.
    let f = examples_copy(&scratch, "flag");
    f.edit("chain/middle/BUILD.bazel", "rust_library(", "rust_library(\n    rustc_flags = [\"-Coverflow-checks=on\"],");
    let (ran, remote, stderr) = ran_and_remote(&f, &["build", &url, no_state, "//app:app"]);
    let ran: Vec<(String, String)> = ran.into_iter().filter(|(m, _)| m != "FileWrite").collect();
    assert!(ran.contains(&("RustCompile".into(), "//chain/middle:middle".into())), "{ran:?}\n{stderr}");
    assert!(
        ran.iter().all(|(_, t)| t == "//chain/middle:middle" || t == "//app:app"),
        "only middle and what reads its outputs: {ran:?}"
    );
    assert!(remote >= 6, "base, generic and the macro from the remote: {remote}");

    // Default settings: compiles with rustc's incremental state are local-only (`no-remote`),
    // but on a local miss they take their stateless twin's result (what checkout a stored):
    // nothing compiles, the outputs are a's. The next edit compiles here, with state.
    let d = examples_copy(&scratch, "d");
    let (ran, remote, stderr) = ran_and_remote(&d, &["build", &url, "//..."]);
    assert!(ran.iter().all(|(m, _)| m == "FileWrite"), "{ran:?}\n{stderr}");
    assert!(remote >= 17, "{remote}");
    assert_eq!(outputs(&a), outputs(&d));
    d.edit("chain/base/lib.rs", "fn step_size() -> u64 {\n    1\n}", "fn step_size() -> u64 {\n    3\n}");
    let (ran, _, _) = ran_and_remote(&d, &["build", &url, "//app:app"]);
    assert!(ran.contains(&("RustCompile".into(), "//chain/base:base".into())), "{ran:?}");
    assert!(incremental_state_files(&d.cache) > 0, "the edit's compile kept rustc's incremental state");
    let app = Command::new(d.dir.join("relink-bin/app/app")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&app.stdout), "hello from App\nvalue=9\nlargest=Some(9)\n");

    // Provenance: who produced what this checkout took from the remote.
    let out = b.relink(&["provenance", &url, no_state, "//app:app"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for expected in [
        "RustLink //app:app",
        "signed by key ",
        "builder: relink ",
        "source  app/main.rs blake3:",
        "toolchain  rustc_version.txt blake3:",
        "command  external/relink_toolchain/relink-builder link",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    // Trust: another signer's key is not trusted, so its checkout refuses every result and
    // builds them itself; a workspace that trusts no key refuses as well.
    let u = examples_copy(&scratch, "u");
    let other_key = scratch.0.join("other-signing-key");
    let (ran, remote, stderr) = ran_and_remote(
        &u,
        &["build", &url, no_state, &format!("--remote_signing_key={}", other_key.display()), "//..."],
    );
    assert_eq!(remote, 0, "{stderr}");
    assert!(ran.len() >= 17, "{ran:?}");
    assert!(stderr.contains("refused the remote result of RustLink //app:app: signed by untrusted key"), "{stderr}");
    assert_eq!(outputs(&a), outputs(&u));
    // Trusting that key in .relink/trust.json (and not this user's) accepts its results.
    let v = examples_copy(&scratch, "v");
    let other_public = public_key_of(&u, &other_key, &url);
    std::fs::create_dir_all(v.dir.join(".relink")).unwrap();
    std::fs::write(
        v.dir.join(".relink/trust.json"),
        format!(r#"{{"keys": [{{"name": "teammate", "public_key": "{other_public}"}}], "trust_own_key": false}}"#),
    )
    .unwrap();
    let (ran, remote, stderr) = ran_and_remote(&v, &["build", &url, no_state, "//..."]);
    assert!(ran.iter().all(|(m, _)| m == "FileWrite"), "{ran:?}\n{stderr}");
    assert!(remote >= 17);

    // Tampered entries (an output digest swapped in the server's action cache, same length):
    // refused, rebuilt here, the same outputs.
    let tampered = tamper_action_cache(&server.data);
    assert!(tampered > 0);
    let w = examples_copy(&scratch, "w");
    let (ran, _, stderr) = ran_and_remote(&w, &["build", &url, no_state, "//..."]);
    assert!(stderr.contains("(tampered)"), "{stderr}");
    assert!(ran.iter().any(|(m, _)| m == "RustLink"), "{ran:?}");
    assert_eq!(outputs(&a), outputs(&w));

    // Remote execution on NativeLink's worker (a platform property of its own gives fresh
    // keys, so the cache cannot answer): the worker runs every action, the outputs are the
    // local build's, bit for bit.
    let executor = url.replace("--remote_cache", "--remote_executor");
    let x = examples_copy(&scratch, "x");
    let worker_runs =
        || std::fs::read_to_string(server.data.join("nativelink.log")).unwrap().matches("Command complete").count();
    let before = worker_runs();
    let (ran, _, stderr) =
        ran_and_remote(&x, &["build", &executor, "--remote_default_exec_properties=OSFamily=Linux", no_state, "//..."]);
    assert!(!stderr.contains("WARNING"), "{stderr}");
    assert!(ran.len() >= 17, "{ran:?}");
    assert!(worker_runs() >= before + 17, "the worker ran {} actions", worker_runs() - before);
    assert_eq!(outputs(&a), outputs(&x));
    // Its provenance says where it ran.
    let out = x.relink(&["provenance", &executor, no_state, "//app:app"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(executed by grpc://127.0.0.1:"), "{text}");
    assert!(text.contains(" worker "), "{text}");
    // A private edit, executed remotely: only base's stub and compiles and the links run, all
    // on the worker; the unchanged interface is not rebuilt.
    x.edit("chain/base/lib.rs", "fn step_size() -> u64 {\n    1\n}", "fn step_size() -> u64 {\n    2\n}");
    let before = worker_runs();
    let (ran, _, stderr) =
        ran_and_remote(&x, &["build", &executor, "--remote_default_exec_properties=OSFamily=Linux", no_state, "//..."]);
    let ran: Vec<(String, String)> = ran.into_iter().filter(|(m, _)| m != "FileWrite").collect();
    assert!(!stderr.contains("WARNING"), "{stderr}");
    assert!(ran.contains(&("RustCompile".into(), "//chain/base:base".into())), "{ran:?}");
    assert!(ran.contains(&("RustLink".into(), "//app:app".into())), "{ran:?}");
    assert!(
        ran.iter().all(|(m, t)| m == "RustLink" || m == "RustStub" || t.starts_with("//chain/base:")),
        "only base's actions and the links: {ran:?}"
    );
    assert!(!ran.iter().any(|(m, _)| m == "RustInterface"), "{ran:?}");
    assert_eq!(worker_runs() - before, ran.len(), "every action that ran, ran on the worker: {ran:?}");
    let app = Command::new(x.dir.join("relink-bin/app/app")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&app.stdout), "hello from App\nvalue=6\nlargest=Some(9)\n");
    // SHA256 (what a server without BLAKE3 speaks): separate entries, the same outputs; a
    // second checkout builds from them alone, and remote execution works with them too.
    let sha = "--digest_function=sha256";
    let s1 = examples_copy(&scratch, "s1");
    let (ran, remote, stderr) = ran_and_remote(&s1, &["build", &url, sha, no_state, "//..."]);
    assert_eq!(remote, 0, "SHA256 entries are not BLAKE3 ones: {stderr}");
    assert!(ran.len() >= 17, "{ran:?}");
    let s2 = examples_copy(&scratch, "s2");
    let (ran, remote, stderr) = ran_and_remote(&s2, &["build", &url, sha, no_state, "//..."]);
    assert!(ran.iter().all(|(m, _)| m == "FileWrite"), "{ran:?}\n{stderr}");
    assert!(remote >= 17, "{remote}");
    assert_eq!(outputs(&a), outputs(&s2));
    let s3 = examples_copy(&scratch, "s3");
    let before = worker_runs();
    let (ran, _, stderr) = ran_and_remote(
        &s3,
        &["build", &executor, sha, "--remote_default_exec_properties=OSFamily=Linux", no_state, "//..."],
    );
    assert!(!stderr.contains("WARNING"), "{stderr}");
    assert_eq!(worker_runs() - before, ran.iter().filter(|(m, _)| m != "FileWrite").count(), "{ran:?}");
    assert_eq!(outputs(&a), outputs(&s3));

    // A platform no worker offers: a bounded wait, one warning naming it, a local build.
    let y = examples_copy(&scratch, "y");
    let started = std::time::Instant::now();
    let (_, _, stderr) = ran_and_remote(
        &y,
        &[
            "build",
            &executor,
            "--remote_default_exec_properties=cpu_arch=arm64",
            "--remote_queue_timeout=2",
            no_state,
            "//...",
        ],
    );
    assert!(stderr.contains("no worker took the action within 2 s"), "{stderr}");
    assert!(stderr.contains("cpu_arch"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(90));
    assert_eq!(outputs(&a), outputs(&y));

    // Killed mid-build (1 s in, while the first actions send the toolchain to a fresh
    // server): the build finishes here with one warning and the same outputs.
    let doomed = NativeLink::start(&scratch.0.join("nativelink-doomed"), free_port());
    let k = examples_copy(&scratch, "k");
    let child = common::relink_command(&k.dir, &k.cache)
        .args(["build", &doomed.url().replace("--remote_cache", "--remote_executor"), no_state, "//..."])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    doomed.stop();
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("WARNING: remote cache").count(), 1, "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(120), "waited {:?}", started.elapsed());
    assert_eq!(outputs(&a), outputs(&k));

    // The server gone: one warning, a local build, the same outputs.
    server.stop();
    let e = examples_copy(&scratch, "e");
    let (ran, remote, stderr) = ran_and_remote(&e, &["build", &url, no_state, "//..."]);
    assert!(stderr.contains("WARNING: remote cache grpc://127.0.0.1:"), "{stderr}");
    assert_eq!(remote, 0);
    assert!(ran.len() >= 17);
    assert_eq!(outputs(&a), outputs(&e));

    // Restarted on the same data: its results are still there.
    let restarted = NativeLink::start(&server.data, port);
    let f = examples_copy(&scratch, "f");
    let (ran, remote, _) = ran_and_remote(&f, &["build", &restarted.url(), no_state, "//..."]);
    assert!(ran.iter().all(|(m, _)| m == "FileWrite"), "{ran:?}");
    assert!(remote >= 17);

    // A server that accepts connections and never answers: bounded wait, local build.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("--remote_cache=grpc://{}", silent.local_addr().unwrap());
    let g = examples_copy(&scratch, "g");
    let started = std::time::Instant::now();
    let (_, remote, stderr) = ran_and_remote(&g, &["build", &silent_url, "--remote_timeout=2", no_state, "//..."]);
    assert!(stderr.contains("is not usable"), "{stderr}");
    assert_eq!(remote, 0);
    assert!(started.elapsed() < std::time::Duration::from_secs(120), "waited {:?}", started.elapsed());
    assert_eq!(outputs(&a), outputs(&g));
}

/// `"require_audit"` in .relink/trust.json: pre-compiled results of a vendored crates.io crate
/// are taken only when the workspace's cargo-vet store certifies that version; others are
/// refused with a message naming the crate and built here, with the same binary.
#[test]
fn a_policy_requiring_cargo_vet_audits_takes_only_audited_crates_from_the_remote() {
    if !common::real_code_tier("a_policy_requiring_cargo_vet_audits") {
        return;
    }
    let scratch = Scratch::new("vet");
    let server = NativeLink::start(&scratch.0.join("nativelink"), free_port());
    let url = server.url();
    let src = scratch.0.join("src");
    std::fs::create_dir_all(src.join("src")).unwrap();
    std::fs::write(
        src.join("Cargo.toml"),
        "[package]\nname = \"vetted\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nitoa = \"=1.0.11\"\nmemchr = \"=2.7.4\"\n",
    )
    .unwrap();
    std::fs::write(
        src.join("src/main.rs"),
        "fn main() {\n    let mut b = itoa::Buffer::new();\n    println!(\"{} {:?}\", b.format(42), memchr::memchr(b'z', b\"xyz\"));\n}\n",
    )
    .unwrap();
    let import = common::relink_command(&src, &scratch.0.join("import-cache")).arg("import").output().unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let no_state = "--rustc-incremental=false";
    let first = Ws::copy_of(&src, "first");
    let (_, remote, stderr) = ran_and_remote(&first, &["build", &url, no_state, "//:vetted"]);
    assert_eq!(remote, 0, "{stderr}");

    let audited = Ws::copy_of(&src, "audited");
    std::fs::create_dir_all(audited.dir.join(".relink")).unwrap();
    std::fs::write(audited.dir.join(".relink/trust.json"), r#"{"require_audit": "safe-to-run"}"#).unwrap();
    std::fs::create_dir_all(audited.dir.join("supply-chain")).unwrap();
    std::fs::write(
        audited.dir.join("supply-chain/audits.toml"),
        "[[audits.itoa]]\nwho = \"A Reviewer\"\ncriteria = \"safe-to-deploy\"\nversion = \"1.0.11\"\n",
    )
    .unwrap();
    let (ran, remote, stderr) = ran_and_remote(&audited, &["build", &url, no_state, "//:vetted"]);
    let compiled: Vec<&str> =
        ran.iter().filter(|(m, _)| m.starts_with("RustCompile")).map(|(_, t)| t.as_str()).collect();
    assert!(compiled.iter().any(|t| t.contains("memchr")), "memchr has no audit, so it is built here: {ran:?}");
    assert!(!compiled.iter().any(|t| t.contains("itoa")), "itoa is audited, so it comes from the remote: {ran:?}");
    assert!(remote >= 1, "{stderr}");
    assert!(
        stderr.contains("unaudited crate: no cargo-vet audit or exemption certifies memchr 2.7.4 as `safe-to-run`"),
        "{stderr}"
    );
    let run = |ws: &Ws| Command::new(ws.dir.join("relink-bin/vetted")).output().unwrap().stdout;
    assert_eq!(String::from_utf8_lossy(&run(&audited)), "42 Some(2)\n");
    assert_eq!(run(&first), run(&audited));

    // A malformed store is an error naming the file and line, not a silent acceptance.
    std::fs::write(audited.dir.join("supply-chain/audits.toml"), "[[audits.itoa]]\nwho =\n").unwrap();
    let out = audited.relink(&["build", &url, no_state, "//:vetted"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("supply-chain/audits.toml:2"), "{stderr}");
}

/// BuildGrid (`bgd`, from PyPI; `.ci/run` installs it in a venv and sets RELINK_BUILDGRID): a
/// CAS and action cache that offers SHA256 only. relink picks SHA256 from its capabilities;
/// a second checkout builds from it alone, with the same outputs.
#[test]
fn buildgrid_a_sha256_only_server_shares_results_between_checkouts() {
    if !common::real_code_tier("buildgrid_a_sha256_only_server_shares_results") {
        return;
    }
    let bgd = std::env::var_os("RELINK_BUILDGRID").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("bgd"));
    if Command::new(&bgd).arg("--help").output().is_err() {
        eprintln!("skipped: BuildGrid's bgd not found (pip install buildgrid==0.4.4; RELINK_BUILDGRID=path)");
        return;
    }
    let scratch = Scratch::new("buildgrid");
    let port = free_port();
    let config = scratch.0.join("buildgrid.yml");
    std::fs::write(
        &config,
        format!(
            "server:\n  - !channel\n    address: \"127.0.0.1:{port}\"\n    insecure-mode: true\nauthorization:\n  method: none\nstorages:\n  - !disk-storage &cas\n    path: {}\ncaches:\n  - !lru-action-cache &ac\n    storage: *cas\n    max-cached-refs: 100000\n    allow-updates: true\n    cache-failed-actions: false\ninstances:\n  - name: main\n    services:\n      - !action-cache\n        cache: *ac\n      - !cas\n        storage: *cas\n      - !bytestream\n        storage: *cas\n",
            scratch.0.join("cas").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(scratch.0.join("buildgrid.log")).unwrap();
    let mut server = Command::new(&bgd)
        .args(["server", "start"])
        .arg(&config)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let up = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(200));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let url = format!("--remote_cache=grpc://127.0.0.1:{port}");
    let run = || -> Result<(), String> {
        if !up {
            return Err(std::fs::read_to_string(scratch.0.join("buildgrid.log")).unwrap_or_default());
        }
        let no_state = "--rustc-incremental=false";
        let a = examples_copy(&scratch, "a");
        let (ran, _, stderr) = ran_and_remote(&a, &["build", &url, "--remote_instance_name=main", no_state, "//..."]);
        if stderr.contains("WARNING") || ran.len() < 17 {
            return Err(format!("first checkout: {ran:?}\n{stderr}"));
        }
        let b = examples_copy(&scratch, "b");
        let (ran, remote, stderr) =
            ran_and_remote(&b, &["build", &url, "--remote_instance_name=main", no_state, "//..."]);
        if !ran.iter().all(|(m, _)| m == "FileWrite") || remote < 17 || outputs(&a) != outputs(&b) {
            return Err(format!("second checkout ran {ran:?}, {remote} remote hits\n{stderr}"));
        }
        Ok(())
    };
    let outcome = run();
    let _ = server.kill();
    let _ = server.wait();
    if let Err(why) = outcome {
        panic!("{why}");
    }
}
