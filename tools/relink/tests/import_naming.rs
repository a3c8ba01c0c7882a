//! A package whose library and binary share a name (issue 11): Cargo names both crates NAME
//! and the binary file NAME; `relink import` must too (the target is NAME_bin, since a BUILD
//! package cannot hold two targets of one name). Also what import makes of examples,
//! benchmarks, features and paths no label can name.

mod common;

use common::*;

#[test]
fn a_binary_named_like_its_library_keeps_the_name() {
    let scratch = Scratch::new("naming");
    let dir = scratch.0.join("tool");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), "[package]\nname = \"tool\"\nversion = \"0.1.0\"\nedition = \"2021\"\n")
        .unwrap();
    std::fs::write(dir.join("src/lib.rs"), "pub fn hi() -> &'static str { \"hi\" }\n").unwrap();
    std::fs::write(dir.join("src/main.rs"), "fn main() {\n    let me = std::env::args().next().unwrap();\n    println!(\"{} from {}\", tool::hi(), me.rsplit('/').next().unwrap());\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn binary_unit_test() {\n        assert_eq!(tool::hi(), \"hi\");\n    }\n}\n").unwrap();
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::write(dir.join("tests/cli.rs"), "#[test]\nfn integration() {\n    assert_eq!(tool::hi().len(), 2);\n}\n")
        .unwrap();
    std::fs::create_dir_all(dir.join("examples")).unwrap();
    std::fs::write(dir.join("examples/demo.rs"), "fn main() {\n    println!(\"demo: {}\", tool::hi());\n}\n").unwrap();
    let cache = scratch.0.join("cache");
    let import = relink_command(&dir, &cache).arg("import").output().unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    // Examples are targets, as `cargo build --all-targets` builds them.
    let build = relink_command(&dir, &cache).args(["build", "//:demo"]).output().unwrap();
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
    let out = std::process::Command::new(dir.join("relink-bin/demo")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "demo: hi\n");
    let build = relink_command(&dir, &cache).args(["build", "//:tool_bin"]).output().unwrap();
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
    let out = std::process::Command::new(dir.join("relink-bin/tool")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi from tool\n", "the file is `tool`, as under Cargo");

    // `cargo test` runs the library's, the binary's own and the integration tests.
    let build_file = std::fs::read_to_string(dir.join("BUILD.bazel")).unwrap();
    assert!(build_file.contains("name = \"tool_bin_test\""), "{build_file}");
    assert!(
        build_file.contains("binaries = [\n        \":tool_bin\",\n    ],"),
        "the integration test gets the binary:\n{build_file}"
    );
    let test = relink_command(&dir, &cache).args(["test", "//..."]).output().unwrap();
    let report = String::from_utf8_lossy(&test.stdout);
    assert!(test.status.success(), "{}", String::from_utf8_lossy(&test.stderr));
    for target in ["//:tool_test", "//:tool_bin_test", "//:cli"] {
        assert!(report.contains(&format!("PASSED {target}")), "{target} ran:\n{report}");
    }
    assert!(report.contains("PASSED //:tool_bin_test (1 passed"), "the binary's own unit test:\n{report}");
}

#[test]
fn import_takes_cargos_feature_flags() {
    let scratch = Scratch::new("features");
    let dir = scratch.0.join("feat");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"feat\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[features]\ndefault = [\"greet\"]\ngreet = []\nloud = []\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        "fn main() {\n    println!(\"greet={} loud={}\", cfg!(feature = \"greet\"), cfg!(feature = \"loud\"));\n}\n",
    )
    .unwrap();
    let cache = scratch.0.join("cache");
    let run = |import_args: &[&str]| {
        let import = relink_command(&dir, &cache).arg("import").args(import_args).output().unwrap();
        assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
        let build = relink_command(&dir, &cache).args(["build", "//:feat"]).output().unwrap();
        assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
        String::from_utf8(std::process::Command::new(dir.join("relink-bin/feat")).output().unwrap().stdout).unwrap()
    };
    assert_eq!(run(&[]), "greet=true loud=false\n");
    assert_eq!(run(&["--features", "loud", "--no-default-features"]), "greet=false loud=true\n");
    assert_eq!(run(&["--all-features"]), "greet=true loud=true\n");
}

#[test]
fn a_path_dependency_outside_the_workspace_gets_an_error_that_says_what_to_do() {
    let scratch = Scratch::new("outside");
    let ws = scratch.0.join("ws");
    let helper = scratch.0.join("helper");
    for (dir, toml, file, src) in [
        (&ws, "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nhelper = { path = \"../helper\" }\n", "src/main.rs", "fn main() { helper::hi(); }\n"),
        (&helper, "[package]\nname = \"helper\"\nversion = \"0.2.0\"\nedition = \"2021\"\n", "src/lib.rs", "pub fn hi() {}\n"),
    ] {
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("Cargo.toml"), toml).unwrap();
        std::fs::write(dir.join(file), src).unwrap();
    }
    let import = relink_command(&ws, &scratch.0.join("cache")).arg("import").output().unwrap();
    let err = String::from_utf8_lossy(&import.stderr);
    assert!(!import.status.success(), "{err}");
    assert!(
        err.contains("`helper` 0.2.0 is a path dependency outside the workspace")
            && err.contains("[workspace] members"),
        "{err}"
    );
    assert!(err.contains(&helper.display().to_string()), "names the directory: {err}");
    assert!(!err.contains("generate-lockfile"), "{err}");
}

/// A renamed dependency (`helper = { package = "util", .. }`): the crate is passed as
/// `--extern helper=...`, the rules take the rename keyed by the dependency's label.
#[test]
fn a_renamed_dependency_is_used_by_its_new_name() {
    let scratch = Scratch::new("renamed");
    let ws = scratch.0.join("ws");
    let files = [
        ("Cargo.toml", "[workspace]\nmembers = [\"app\", \"util\"]\nresolver = \"2\"\n"),
        ("util/Cargo.toml", "[package]\nname = \"util\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        ("util/src/lib.rs", "pub fn hi() -> &'static str { \"hi from util\" }\n"),
        (
            "app/Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nhelper = { package = \"util\", path = \"../util\" }\n",
        ),
        ("app/src/main.rs", "fn main() {\n    println!(\"{}\", helper::hi());\n}\n"),
    ];
    for (path, text) in files {
        std::fs::create_dir_all(ws.join(path).parent().unwrap()).unwrap();
        std::fs::write(ws.join(path), text).unwrap();
    }
    let cache = scratch.0.join("cache");
    let import = relink_command(&ws, &cache).arg("import").output().unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let build_file = std::fs::read_to_string(ws.join("app/BUILD.bazel")).unwrap();
    assert!(build_file.contains("\"//util:util\": \"helper\""), "{build_file}");
    let build = relink_command(&ws, &cache).args(["build", "//app:app"]).output().unwrap();
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
    let out = std::process::Command::new(ws.join("relink-bin/app/app")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi from util\n");
}

#[test]
fn files_no_label_can_name_are_left_out_of_the_globs() {
    // bat ships `tests/syntax-tests/highlighted/ARM Assembly/test.S`: a glob that returned it
    // made every target of the package fail ("' ' is not allowed in a label").
    let scratch = Scratch::new("spaces");
    let dir = scratch.0.join("spaced");
    for sub in ["src", "data/ARM Assembly"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(dir.join("Cargo.toml"), "[package]\nname = \"spaced\"\nversion = \"0.1.0\"\nedition = \"2021\"\n")
        .unwrap();
    std::fs::write(dir.join("data/ARM Assembly/test.S"), "nop\n").unwrap();
    std::fs::write(dir.join("data/a b.txt"), "spaced\n").unwrap();
    std::fs::write(dir.join("data/plain.txt"), "plain\n").unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        "fn main() {\n    print!(\"{}\", include_str!(\"../data/plain.txt\"));\n}\n",
    )
    .unwrap();
    let cache = scratch.0.join("cache");
    let import = relink_command(&dir, &cache).arg("import").output().unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let build = relink_command(&dir, &cache).args(["build", "//:spaced"]).output().unwrap();
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
    let out = std::process::Command::new(dir.join("relink-bin/spaced")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "plain\n", "the other data files stay compile data");
}

#[test]
fn benches_build_as_cargo_builds_them_and_are_not_run_as_tests() {
    // `cargo build --all-targets` builds benchmarks (with the dev-dependencies) and `cargo test`
    // does not run them: a `harness = false` bench is a plain binary, a libtest one is compiled
    // with `--test` and run as `cargo bench` runs it.
    let scratch = Scratch::new("benches");
    let dir = scratch.0.join("bm");
    for sub in ["src", "benches"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"bm\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[[bench]]\nname = \"plain\"\nharness = false\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), "pub fn work(n: u64) -> u64 { (1..=n).sum() }\n").unwrap();
    std::fs::write(dir.join("benches/plain.rs"), "fn main() {\n    println!(\"plain: {}\", bm::work(10));\n}\n")
        .unwrap();
    std::fs::write(dir.join("benches/harnessed.rs"), "#[test]\nfn sums() {\n    assert_eq!(bm::work(4), 10);\n}\n")
        .unwrap();
    let cache = scratch.0.join("cache");
    let import = relink_command(&dir, &cache).arg("import").output().unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let build = relink_command(&dir, &cache).args(["build", "//..."]).output().unwrap();
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
    let out = std::process::Command::new(dir.join("relink-bin/plain")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "plain: 55\n");
    let listed = std::process::Command::new(dir.join("relink-bin/harnessed")).args(["--list"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().next(), Some("sums: test"), "a libtest harness");
    let test = relink_command(&dir, &cache).args(["test", "//..."]).output().unwrap();
    let report = String::from_utf8_lossy(&test.stdout);
    assert!(test.status.success(), "{report}\n{}", String::from_utf8_lossy(&test.stderr));
    assert!(report.contains("PASSED //:bm_test"), "{report}");
    assert!(!report.contains("//:plain") && !report.contains("//:harnessed"), "benches ran as tests:\n{report}");
}
