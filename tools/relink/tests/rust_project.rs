//! `relink rust-project`: the rust-project.json rust-analyzer reads, checked against what the
//! build compiles (crates, roots, dependencies by name, proc macros' shared objects, build
//! scripts' OUT_DIR, cfgs and environment) and against the file format rust-analyzer
//! documents.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn generate(ws: &Ws) -> Value {
    let out = ws.relink(&["rust-project"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&std::fs::read_to_string(ws.path("rust-project.json")).unwrap()).unwrap()
}

/// The shape rust-analyzer's `ProjectJson` accepts: every crate has an existing root module
/// and an edition, dependencies point at other crates, proc macros name a shared object.
fn check_format(project: &Value) -> Vec<&Value> {
    let crates = project["crates"].as_array().expect("crates");
    assert!(Path::new(project["sysroot"].as_str().unwrap()).join("lib/rustlib").is_dir(), "{project}");
    let mut roots = std::collections::BTreeSet::new();
    for krate in crates {
        let root = krate["root_module"].as_str().unwrap();
        assert!(Path::new(root).is_absolute() && Path::new(root).is_file(), "{krate}");
        assert!(roots.insert(root), "one crate per root module: {root}");
        assert!(["2015", "2018", "2021", "2024"].contains(&krate["edition"].as_str().unwrap()), "{krate}");
        for dep in krate["deps"].as_array().unwrap() {
            let index = dep["crate"].as_u64().unwrap() as usize;
            assert!(index < crates.len() && dep["name"].is_string(), "{dep}");
        }
        if krate["is_proc_macro"] == true {
            assert!(Path::new(krate["proc_macro_dylib_path"].as_str().unwrap()).is_file(), "{krate}");
        }
        for dir in krate["source"]["include_dirs"].as_array().unwrap() {
            assert!(Path::new(dir.as_str().unwrap()).is_dir(), "{krate}");
        }
    }
    crates.iter().collect()
}

fn by_name<'a>(crates: &[&'a Value], name: &str) -> &'a Value {
    crates.iter().find(|c| c["display_name"] == name).unwrap_or_else(|| panic!("no crate {name}"))
}

fn dep_names(crates: &[&Value], krate: &Value) -> Vec<String> {
    let mut names: Vec<String> = krate["deps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let target = crates[d["crate"].as_u64().unwrap() as usize];
            format!("{}={}", d["name"].as_str().unwrap(), target["display_name"].as_str().unwrap())
        })
        .collect();
    names.sort();
    names
}

#[test]
fn the_examples_resolve_their_dependencies_and_proc_macros() {
    let ws = Ws::copy_of(&repo_root().join("examples"), "rust-project");
    let project = generate(&ws);
    let crates = check_format(&project);
    let app = by_name(&crates, "app");
    assert_eq!(dep_names(&crates, app), ["generic=generic", "hello_macro=hello_macro", "middle=middle"]);
    assert_eq!(dep_names(&crates, by_name(&crates, "middle")), ["base=base"]);
    assert_eq!(by_name(&crates, "hello_macro")["is_proc_macro"], true);
    assert_eq!(app["build"]["target_kind"], "bin");
    // base's unit tests compile base's root again: one crate for it.
    assert_eq!(crates.iter().filter(|c| c["display_name"] == "base").count(), 1);
    assert!(crates.iter().all(|c| c["is_workspace_member"] == true));
}

#[test]
fn build_script_outputs_and_package_variables_reach_the_crate() {
    let ws = Ws::copy_of(&repo_root().join("tools/relink/tests/fixtures/cargo_env"), "rust-project-env");
    let import = ws.relink(&["import"]);
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let project = generate(&ws);
    let crates = check_format(&project);
    let probe = by_name(&crates, "env_probe");
    let out_dir = probe["env"]["OUT_DIR"].as_str().unwrap();
    assert!(Path::new(out_dir).join("build_env.txt").is_file(), "the build script ran: {probe}");
    assert_eq!(probe["env"]["CARGO_PKG_VERSION"], "1.2.3-beta.4");
    assert_eq!(probe["env"]["CARGO_MANIFEST_DIR"].as_str().unwrap(), ws.dir.display().to_string());
    let cfg: Vec<&str> = probe["cfg"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(cfg.contains(&"feature=\"fast\"") && cfg.contains(&"feature=\"default\""), "{cfg:?}");
}
