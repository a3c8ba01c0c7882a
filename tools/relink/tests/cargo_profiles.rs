//! Cargo profiles (issue 18): a workspace whose `[profile.dev]` sets `panic = "abort"` and
//! `debug = "line-tables-only"`, with a per-package `opt-level = 3`, and a custom profile.
//! relink's binaries must behave as Cargo's: exit code on a panic, backtrace frames with
//! `at file:line`, overflow checks, debug assertions, build-script environment; and each
//! setting must reach the compile action that needs it.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

const MANIFEST: &str = r#"[workspace]
members = ["app", "fast", "util"]
resolver = "2"

[profile.dev]
panic = "abort"
debug = "line-tables-only"
no-such-key = 1

[profile.dev.package.fast]
opt-level = 3

[profile.small]
inherits = "release"
panic = "abort"
codegen-units = 1
strip = true
lto = true
"#;

const APP: &str = r#"fn main() {
    let arg: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(0);
    println!(
        "double={} fast_checks={} app_checks={} build={}",
        fast::double(arg),
        fast::checks(),
        cfg!(debug_assertions),
        util::BUILD_ENV
    );
    if arg == 100 {
        println!("sum={}", util::add(200, arg as u8));
    }
    println!("next={}", util::fail_if(arg));
}
"#;

const FAST: &str = r#"/// Small enough that rustc inlines it across crates when optimised.
pub fn double(x: u32) -> u32 {
    x.wrapping_mul(2)
}

/// Debug assertions of this crate: Cargo keeps the profile's, even at opt-level 3.
pub fn checks() -> bool {
    cfg!(debug_assertions)
}
"#;

const UTIL: &str = r#"/// What the build script saw.
pub const BUILD_ENV: &str = env!("UTIL_BUILD_ENV");

pub fn fail_if(n: u32) -> u32 {
    if n > 3 {
        panic!("n too large: {n}");
    }
    n + 1
}

pub fn add(a: u8, b: u8) -> u8 {
    a + b
}

#[cfg(test)]
mod tests {
    // The test harness unwinds even when the profile aborts, as under `cargo test`.
    #[test]
    #[should_panic(expected = "n too large")]
    fn large_values_panic() {
        super::fail_if(9);
    }
}
"#;

const UTIL_BUILD: &str = r#"fn main() {
    let get = |k: &str| std::env::var(k).unwrap_or_default();
    println!("cargo:rustc-env=UTIL_BUILD_ENV={}/{}/{}", get("OPT_LEVEL"), get("DEBUG"), get("PROFILE"));
}
"#;

fn write_workspace(dir: &Path) {
    let member = |name: &str, extra: &str, file: &str, text: &str| {
        std::fs::create_dir_all(dir.join(name).join("src")).unwrap();
        std::fs::write(
            dir.join(name).join("Cargo.toml"),
            format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n{extra}"),
        )
        .unwrap();
        std::fs::write(dir.join(name).join(file), text).unwrap();
    };
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("Cargo.toml"), MANIFEST).unwrap();
    member(
        "app",
        "\n[dependencies]\nfast = { path = \"../fast\" }\nutil = { path = \"../util\" }\n",
        "src/main.rs",
        APP,
    );
    member("fast", "", "src/lib.rs", FAST);
    member("util", "", "src/lib.rs", UTIL);
    std::fs::write(dir.join("util/build.rs"), UTIL_BUILD).unwrap();
}

/// Exit code (or 128 + signal), stdout, and the panic message with the backtrace's user frames
/// (frames of the workspace's crates and their `at file:line`; std's frames read differently
/// under relink's v0 symbol mangling, see docs/interfaces.md §7), Cargo's `./` prefix dropped.
/// Runs in the workspace root, where backtraces print Cargo's paths relative (`./util/...`).
fn run(exe: &Path, arg: &str) -> (i32, String, Vec<String>) {
    use std::os::unix::process::ExitStatusExt;
    let root = exe.ancestors().find(|d| d.join("Cargo.lock").is_file()).unwrap();
    let out = Command::new(exe).arg(arg).current_dir(root).env("RUST_BACKTRACE", "1").output().unwrap();
    let code = out.status.code().unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0));
    let trace = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.starts_with("thread '"))
        .map(|l| l.trim().replace("at ./", "at "))
        .filter(|l| {
            let frame = l.split_once(": ").map(|(n, f)| (n.parse::<u32>().is_ok(), f));
            match frame {
                Some((true, name)) => ["app::", "util::", "fast::"].iter().any(|c| name.starts_with(c)),
                _ => !l.starts_with("at /rustc/"),
            }
        })
        .collect();
    (code, String::from_utf8_lossy(&out.stdout).to_string(), trace)
}

fn cargo(dir: &Path, args: &[&str]) {
    let out = Command::new("cargo")
        .args(args)
        .arg("--quiet")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn relink_ok(dir: &Path, cache: &Path, args: &[&str]) -> String {
    let out = relink_command(dir, cache).args(args).output().unwrap();
    assert!(out.status.success(), "relink {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The builder flags of the actions of `mnemonic` that `relink aquery` lists for `target`.
fn action_flags(dir: &Path, cache: &Path, target: &str, mnemonic: &str, profile: &str) -> Vec<String> {
    let listing = relink_ok(dir, cache, &["aquery", "--profile", profile, target]);
    let action = listing
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|a| a["mnemonic"] == mnemonic && a["target"] == target)
        .unwrap_or_else(|| panic!("no {mnemonic} of {target} in:\n{listing}"));
    action["argv"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

fn has_flag(flags: &[String], flag: &str, value: &str) -> bool {
    flags.windows(2).any(|w| w[0] == flag && w[1] == value)
}

#[test]
fn dev_profile_panic_debuginfo_and_package_override_match_cargo() {
    let scratch = Scratch::new("profiles");
    let dir = scratch.0.join("ws");
    let cache = scratch.0.join("cache");
    write_workspace(&dir);
    cargo(&dir, &["generate-lockfile", "--offline"]);

    let import = relink_command(&dir, &cache).arg("import").output().unwrap();
    let warnings = String::from_utf8_lossy(&import.stderr);
    assert!(import.status.success(), "{warnings}");
    assert_eq!(warnings.matches("`profile.dev.no-such-key` is not applied").count(), 1, "one warning:\n{warnings}");
    assert_eq!(warnings.matches("warning").count(), 1, "nothing else is reported:\n{warnings}");

    // The override reaches the compile of `fast` only; debug assertions stay on there.
    let fast = action_flags(&dir, &cache, "//fast:fast", "RustCompile", "dev");
    assert!(has_flag(&fast, "--opt-level", "3") && has_flag(&fast, "--debug-assertions", "on"), "{fast:?}");
    let util = action_flags(&dir, &cache, "//util:util", "RustCompile", "dev");
    assert!(has_flag(&util, "--opt-level", "0") && has_flag(&util, "--debuginfo", "line-tables-only"), "{util:?}");
    let app = action_flags(&dir, &cache, "//app:app", "RustCompileNoLink", "dev");
    assert!(has_flag(&app, "--panic", "abort"), "{app:?}");

    cargo(&dir, &["build"]);
    relink_ok(&dir, &cache, &["build", "//app"]);
    let (cargo_bin, relink_bin) = (dir.join("target/debug/app"), dir.join("relink-bin/app/app"));
    for arg in ["2", "5", "100"] {
        let (code, stdout, trace) = run(&relink_bin, arg);
        assert_eq!(
            (code, &stdout, &trace),
            (run(&cargo_bin, arg).0, &run(&cargo_bin, arg).1, &run(&cargo_bin, arg).2),
            "app {arg}"
        );
        if arg != "2" {
            assert_eq!(code, 134, "panic = \"abort\": SIGABRT, as under Cargo");
            assert!(
                trace.iter().any(|l| l == "at util/src/lib.rs:6:9" || l == "at util/src/lib.rs:12:5"),
                "user frames have file:line:\n{}",
                trace.join("\n")
            );
        }
    }
    let (_, stdout, _) = run(&relink_bin, "2");
    assert_eq!(stdout, "double=4 fast_checks=true app_checks=true build=0/true/debug\nnext=3\n");

    // Tests unwind (a #[should_panic] test passes), as under `cargo test`.
    let report = relink_ok(&dir, &cache, &["test", "//util:util_test"]);
    assert!(report.contains("PASSED //util:util_test (1 passed"), "{report}");

    // `--profile release` is `cargo build --release`; a custom profile inherits it.
    cargo(&dir, &["build", "--release"]);
    relink_ok(&dir, &cache, &["build", "--profile", "release", "//app"]);
    for arg in ["2", "100"] {
        assert_eq!(run(&relink_bin, arg), run(&dir.join("target/release/app"), arg), "release app {arg}");
    }
    assert_eq!(run(&relink_bin, "2").1, "double=4 fast_checks=false app_checks=false build=3/false/release\nnext=3\n");
    cargo(&dir, &["build", "--profile", "small"]);
    relink_ok(&dir, &cache, &["build", "--profile", "small", "//app"]);
    let (code, stdout, _) = run(&relink_bin, "100");
    assert_eq!(
        (code, stdout.as_str()),
        (
            run(&dir.join("target/small/app"), "100").0,
            "double=200 fast_checks=false app_checks=false build=3/false/release\nsum=44\n"
        )
    );
    let link = action_flags(&dir, &cache, "//app:app", "RustLink", "small");
    assert!(has_flag(&link, "--strip", "symbols"), "{link:?}");
    // `lto = true`: the binary's compile reads real rlibs (no crate is stubbed then).
    let lto = action_flags(&dir, &cache, "//app:app", "RustCompileNoLinkLto", "small");
    assert!(has_flag(&lto, "--lto", "fat"), "{lto:?}");
    let util_extern = lto.iter().find(|a| a.starts_with("util=")).unwrap_or_else(|| panic!("{lto:?}"));
    assert!(util_extern.ends_with("/libutil-util.rlib") && !util_extern.contains("_iface"), "{util_extern}");

    let unknown = relink_command(&dir, &cache).args(["build", "--profile", "nope", "//app"]).output().unwrap();
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(!unknown.status.success() && err.contains("Cargo profile `nope` is not defined"), "{err}");
}
