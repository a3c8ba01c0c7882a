//! relink as a Remote Execution API cache client (issue 22), against a real NativeLink
//! (../shared/tools/nativelink): a second checkout in another directory with another local
//! cache builds from the remote cache alone, with identical outputs; an edit shares all but
//! what its keys change; local-only actions stay local; a server that is gone, restarted or
//! silent never fails a build.

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
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
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

    // Default settings: compiles with rustc's incremental state are local-only (`no-remote`).
    let d = examples_copy(&scratch, "d");
    let (ran, remote, _) = ran_and_remote(&d, &["build", &url, "//..."]);
    assert!(ran.contains(&("RustCompile".into(), "//chain/base:base".into())), "{ran:?}");
    assert!(!ran.iter().any(|(m, _)| m == "RustInterface" || m == "RustStub"), "{ran:?}");
    assert!(remote >= 3, "{remote}");

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
