//! `relink import` builds the crates Cargo builds, with the features Cargo gives them (issue
//! 21). Three crates.io applications whose lock files hold packages that only weak dependency
//! features (`"serde?/std"`) or unused build-dependencies name, and one (resolver "1") where a
//! dependency for another platform enables a feature: for each, the crates `relink aquery //...`
//! compiles and their `--feature`s against the units of `cargo build --all-targets
//! --unit-graph` (nothing is compiled on either side). And a resolver "2" package whose
//! Windows-only dependency `relink import` must not download. Real-code tier; about 20 s.

mod common;

use common::*;

#[test]
fn import_builds_the_crates_and_features_cargo_builds() {
    if !real_code_tier("import_builds_the_crates_and_features_cargo_builds") {
        return;
    }
    // hyperfine: borsh, rkyv, toml_edit & co. are in Cargo.lock only through rust_decimal's
    // weak features, and it is resolver "1" (syn gets `full` from a wasm-only dependency);
    // tealdeer: quinn, rand, zerocopy through weak features; tokei: sha2 & co. are
    // build-dependencies of a package without a build script.
    let mut report = String::new();
    let mut failed = false;
    for (name, version, lock_only) in [
        ("hyperfine", "1.20.0", "borsh@1.5.7"),
        ("tealdeer", "1.7.2", "quinn@0.11.5"),
        ("tokei", "13.0.0", "sha2@0.10.8"),
    ] {
        let scratch = Scratch::new(name);
        let ws = Ws::at(crates_io_package(name, version, &scratch.0), scratch.0.join("cache"));
        let import = ws.relink(&["import"]);
        assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
        let lock = std::fs::read_to_string(ws.path("Cargo.lock")).unwrap();
        let (krate, lock_version) = lock_only.split_once('@').unwrap();
        assert!(
            lock.contains(&format!("name = \"{krate}\"\nversion = \"{lock_version}\"")),
            "{name}: {lock_only} left Cargo.lock"
        );
        let relink = crate_sets::relink_crates(&ws);
        let cargo = crate_sets::cargo_units(&ws.dir);
        let diff = crate_sets::differences(&relink, &cargo);
        report += &format!(
            "{name} {version}: relink compiles {} crates, cargo {}; {lock_only} in Cargo.lock, built by neither: {}; differences: {}\n",
            relink.len(),
            cargo.len(),
            !relink.contains_key(lock_only) && !cargo.contains_key(lock_only),
            if diff.is_empty() { "none".to_string() } else { diff.join("; ") }
        );
        failed |= !diff.is_empty() || relink.contains_key(lock_only) || relink.len() < 50;
    }
    println!("{report}");
    assert!(!failed, "{report}");
}

#[test]
fn dependencies_for_other_platforms_are_neither_resolved_nor_downloaded() {
    if !real_code_tier("dependencies_for_other_platforms_are_neither_resolved_nor_downloaded") {
        return;
    }
    // Resolver "2": a Windows-only dependency enables nothing on this host, so `relink import`
    // must not make `cargo metadata` download it (ripgrep's musl-only allocator cost a replayed
    // commit half a second that Cargo's own build never spends). A private CARGO_HOME shows
    // what was fetched.
    let scratch = Scratch::new("platforms");
    let dir = scratch.0.join("platforms");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"platforms\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nitoa = \"=1.0.15\"\n\n\
         [target.'cfg(windows)'.dependencies]\nwinapi-util = \"=0.1.9\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        "fn main() {\n    println!(\"{}\", itoa::Buffer::new().format(42u8));\n}\n",
    )
    .unwrap();
    let cargo_home = scratch.0.join("cargo-home");
    let lock = std::process::Command::new("cargo")
        .arg("generate-lockfile")
        .current_dir(&dir)
        .env("CARGO_HOME", &cargo_home)
        .output()
        .unwrap();
    assert!(lock.status.success(), "{}", String::from_utf8_lossy(&lock.stderr));
    assert!(std::fs::read_to_string(dir.join("Cargo.lock")).unwrap().contains("name = \"windows-sys\""));
    let ws = Ws::at(dir, scratch.0.join("cache"));
    let import = relink_command(&ws.dir, &ws.cache).env("CARGO_HOME", &cargo_home).arg("import").output().unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let downloaded: Vec<String> = std::fs::read_dir(cargo_home.join("registry/cache"))
        .unwrap()
        .flat_map(|index| std::fs::read_dir(index.unwrap().path()).unwrap())
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(downloaded, ["itoa-1.0.15.crate"], "what `relink import` downloaded");
    ws.build_ok(&["build", "//:platforms"]);
    let out = std::process::Command::new(ws.path("relink-bin/platforms")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "42\n");
}
