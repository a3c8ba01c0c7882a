//! A Cargo workspace with proc-macro derives (serde, serde_json, clap) and a build script
//! that compiles C (bzip2-sys with `static`), imported and built with relink. Its Cargo.lock
//! is committed; the crates come from the registry at test time.

mod common;

use common::*;

#[test]
fn derives_and_c_build_scripts_work_at_run_time() {
    if !real_code_tier("derives_and_c_build_scripts_work_at_run_time") {
        return;
    }
    let ws = Ws::copy_of(&repo_root().join("tools/relink/tests/fixtures/cargo_derive"), "derive");
    let import = ws.relink(&["import"]);
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let log = ws.build_ok(&["build", "//:derive_demo"]);
    for (mnemonic, target) in [
        ("CargoBuildScriptRun", "//third_party/crates/bzip2-sys-0.1.13+1.0.8:build_script"),
        ("RustLink", "//third_party/crates/serde_derive-1.0.229:serde_derive"),
        ("RustLink", "//third_party/crates/clap_derive-4.6.7:clap_derive"),
    ] {
        assert!(log.iter().any(|e| e.mnemonic == mnemonic && e.target == target), "no {mnemonic} of {target}");
    }
    let out = std::process::Command::new(ws.path("relink-bin/derive_demo"))
        .args(["--name", "y", "--rounds", "3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The same line `cargo run -- --name y --rounds 3` prints.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{\"name\":\"y\",\"rounds\":3,\"compressed_len\":217}\n");
    let help = std::process::Command::new(ws.path("relink-bin/derive_demo")).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("Name to put in the JSON document"));
}

#[test]
fn a_checksum_mismatch_names_the_crate_and_what_to_do() {
    if !real_code_tier("a_checksum_mismatch_names_the_crate_and_what_to_do") {
        return;
    }
    // A private CARGO_HOME, so corrupting a downloaded .crate touches nothing else.
    let ws = Ws::copy_of(&repo_root().join("tools/relink/tests/fixtures/cargo_derive"), "derive-bad");
    let cargo_home = ws.dir.join("../cargo-home");
    let import =
        |ws: &Ws| relink_command(&ws.dir, &ws.cache).env("CARGO_HOME", &cargo_home).arg("import").output().unwrap();
    assert!(import(&ws).status.success());
    let cache = std::fs::read_dir(cargo_home.join("registry/cache")).unwrap().next().unwrap().unwrap().path();
    let crate_file = cache.join("itoa-1.0.18.crate");
    let mut data = std::fs::read(&crate_file).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0xff;
    std::fs::write(&crate_file, data).unwrap();
    std::fs::remove_dir_all(ws.path("third_party/crates/itoa-1.0.18")).unwrap();
    let out = import(&ws);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("crate `itoa` 1.0.18: checksum mismatch: Cargo.lock pins"), "{err}");
    assert!(err.contains("delete that file and run `cargo fetch`"), "{err}");
}

#[test]
fn a_failing_build_script_names_the_crate() {
    if !real_code_tier("a_failing_build_script_names_the_crate") {
        return;
    }
    let ws = Ws::copy_of(&repo_root().join("tools/relink/tests/fixtures/cargo_derive"), "derive-bs");
    let import = ws.relink(&["import"]);
    assert!(import.status.success());
    let build_rs = std::fs::read_dir(ws.path("third_party/crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("bzip2-sys-"))
        .unwrap()
        .join("build.rs");
    let text = std::fs::read_to_string(&build_rs).unwrap();
    std::fs::write(&build_rs, text.replace(".file(\"bzip2-1.0.8/bzlib.c\")", ".file(\"bzip2-1.0.8/missing.c\")"))
        .unwrap();
    let out = ws.relink(&["build", "//:derive_demo"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the build script of `bzip2-sys` failed"), "{err}");
    assert!(
        err.contains("CargoBuildScriptRun of //third_party/crates/bzip2-sys-0.1.13+1.0.8:build_script failed"),
        "{err}"
    );
}
