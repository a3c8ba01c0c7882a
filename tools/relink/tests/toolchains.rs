//! Toolchain resolution on relink (issue 16): `rule(toolchains = ...)`, `toolchain()`,
//! platforms and constraints, `register_toolchains` in MODULE.bazel, `--platforms` and
//! `--extra_toolchains`, and a toolchain made of the files rustc needs rather than the whole
//! sysroot. The workspace (tests/toolchains) is the one tests/bazel/toolchains_on_bazel.sh
//! builds with Bazel 4.2.3.

mod common;

use common::{repo_root, Ws};

fn run_flavor(ws: &Ws, extra: &[&str]) -> String {
    let mut args = vec!["run"];
    args.extend_from_slice(extra);
    args.push("//app:flavor");
    let out = ws.relink(&args);
    assert!(out.status.success(), "relink {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The `relink aquery` record of //app:flavor's action of kind `mnemonic`.
fn flavor_action(ws: &Ws, mnemonic: &str) -> serde_json::Value {
    let out = ws.relink(&["aquery", "//app:flavor"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|a| a["mnemonic"] == mnemonic)
        .unwrap_or_else(|| panic!("no {mnemonic} action of //app:flavor"))
}

#[test]
fn the_platform_chooses_among_registered_toolchains() {
    let ws = Ws::copy_of(&repo_root().join("tests/toolchains"), "toolchains");
    assert_eq!(run_flavor(&ws, &[]), "host toolchain");
    assert_eq!(run_flavor(&ws, &["--platforms=//flavors:a"]), "flavor a");
    assert_eq!(run_flavor(&ws, &["--platforms=//flavors:b"]), "flavor b");
    // A platform without the flavor constraint: the host toolchain relink registers last.
    assert_eq!(run_flavor(&ws, &["--platforms=//flavors:plain"]), "host toolchain");

    // Registrations come from MODULE.bazel and WORKSPACE: without them only --extra_toolchains
    // brings the flavored toolchains back.
    ws.edit("MODULE.bazel", "register_toolchains(\"//flavors:all\")", "");
    assert_eq!(run_flavor(&ws, &["--platforms=//flavors:a"]), "flavor a", "WORKSPACE still registers them");
    ws.edit("WORKSPACE", "register_toolchains(\"//flavors:all\")", "");
    assert_eq!(run_flavor(&ws, &["--platforms=//flavors:a"]), "host toolchain");
    assert_eq!(run_flavor(&ws, &["--platforms=//flavors:a", "--extra_toolchains=//flavors:all"]), "flavor a");
}

#[test]
fn no_matching_toolchain_is_an_error_that_lists_every_candidate() {
    let ws = Ws::copy_of(&repo_root().join("tests/toolchains"), "toolchains-none");
    let out = ws.relink(&["build", "--platforms=//flavors:windows", "//app:flavor"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for expected in [
        "app/BUILD.bazel:3",
        "no toolchain of type @rules_relink//rules:toolchain_type matches target platform //flavors:windows",
        "//flavors:toolchain_a: target_compatible_with //flavors:flavor_a is not satisfied",
        "@relink_toolchain//:host: target_compatible_with @platforms//os:linux is not satisfied",
        "register_toolchains(",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    let out = ws.relink(&["build", "--platforms=//flavors:nope", "//app:flavor"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no platform() of that name in flavors/BUILD.bazel"), "{err}");
}

/// The compile's toolchain inputs are the files rustc reads (a few dozen), not the sysroot
/// directory with its 50,000 files.
#[test]
fn compiles_take_the_declared_toolchain_files_only() {
    let ws = Ws::copy_of(&repo_root().join("tests/toolchains"), "toolchains-inputs");
    let compile = flavor_action(&ws, "RustCompileNoLink");
    let inputs: Vec<&str> = compile["inputs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let toolchain: Vec<&&str> = inputs.iter().filter(|p| p.starts_with("external/relink_toolchain/")).collect();
    let sysroot = std::process::Command::new("rustc").args(["--print", "sysroot"]).output().unwrap().stdout;
    let sysroot = std::path::PathBuf::from(String::from_utf8(sysroot).unwrap().trim());
    let bytes: u64 = toolchain
        .iter()
        .filter_map(|p| p.strip_prefix("external/relink_toolchain/sysroot/"))
        .map(|rest| std::fs::metadata(sysroot.join(rest)).unwrap().len())
        .sum();
    eprintln!("toolchain inputs of RustCompileNoLink //app:flavor: {} files, {} MB", toolchain.len(), bytes >> 20);
    assert!(toolchain.contains(&&"external/relink_toolchain/sysroot/bin/rustc"), "{toolchain:?}");
    assert!(toolchain.iter().any(|p| p.contains("/lib/librustc_driver-")), "{toolchain:?}");
    assert!(toolchain.iter().any(|p| p.ends_with(".rlib") && p.contains("/libstd-")), "{toolchain:?}");
    assert!(!toolchain.contains(&&"external/relink_toolchain/sysroot"), "the sysroot directory is an input");
    assert!(!toolchain.iter().any(|p| p.contains("/share/doc/") || p.ends_with("/bin/cargo")), "{toolchain:?}");
    assert!(toolchain.len() < 1000, "{} toolchain inputs", toolchain.len());
}

/// Links use the C++ toolchain's linker driver (relink's host toolchain: the `cc` on PATH,
/// resolved as `@bazel_tools//tools/cpp:toolchain_type`), as they use Bazel's under Bazel.
#[test]
fn links_take_the_cpp_toolchains_linker() {
    let ws = Ws::copy_of(&repo_root().join("tests/toolchains"), "toolchains-linker");
    let link = flavor_action(&ws, "RustLink");
    let argv: Vec<&str> = link["argv"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let linker = argv.iter().find_map(|a| a.strip_prefix("--rustc-flag=-Clinker=")).expect("a -Clinker flag");
    assert!(linker.starts_with('/') && linker.ends_with("/cc"), "{linker}");
    assert_eq!(run_flavor(&ws, &[]), "host toolchain");
}
