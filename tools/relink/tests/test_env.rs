//! What a test sees when `relink test` runs it (issues 21, 11): the user's PATH, as under
//! `cargo test`, so a test that runs a tool installed outside the system directories passes;
//! HOME, USER and LOGNAME as Bazel's test encyclopedia sets them; `--test_env` over both.

mod common;

use std::process::Command;

use common::*;

#[test]
fn a_test_finds_a_tool_on_the_users_path() {
    let scratch = Scratch::new("test-path");
    let ws = scratch.0.join("ws");
    let tools = scratch.0.join("tools");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::create_dir_all(&tools).unwrap();
    let tool = tools.join("relink-path-probe-tool");
    std::fs::write(&tool, "#!/bin/sh\necho tool-ran\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(ws.join("MODULE.bazel"), "module(name = \"test_path\")\n").unwrap();
    std::fs::write(
        ws.join("BUILD.bazel"),
        "load(\"@rules_relink//rules:defs.bzl\", \"rust_test\")\n\nrust_test(\n    name = \"uses_tool\",\n    srcs = [\"t.rs\"],\n)\n",
    )
    .unwrap();
    std::fs::write(
        ws.join("t.rs"),
        "#[test]\nfn runs_the_tool() {\n    let out = std::process::Command::new(\"relink-path-probe-tool\").output().expect(\"the tool is on PATH\");\n    assert_eq!(String::from_utf8_lossy(&out.stdout), \"tool-ran\\n\");\n}\n",
    )
    .unwrap();
    let path = format!("{}:{}", tools.display(), std::env::var("PATH").unwrap_or_default());
    let out = relink_command(&ws, &scratch.0.join("cache"))
        .env("PATH", &path)
        .args(["test", "//:uses_tool"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("PASSED //:uses_tool (1 passed"), "{stdout}");
}

/// HOME is the test's own writable TEST_TMPDIR, USER and LOGNAME the user's login name (as Bazel
/// sets them); `--test_env` gives another value, and the test runs again (its key changed).
#[test]
fn a_test_gets_home_and_user_as_bazel_sets_them() {
    let scratch = Scratch::new("test-home-user");
    let ws = scratch.0.join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap().trim().to_string();
    std::fs::write(ws.join("MODULE.bazel"), "module(name = \"test_home\")\n").unwrap();
    std::fs::write(
        ws.join("BUILD.bazel"),
        "load(\"@rules_relink//rules:defs.bzl\", \"rust_test\")\n\nrust_test(name = \"env\", srcs = [\"t.rs\"])\n",
    )
    .unwrap();
    std::fs::write(
        ws.join("t.rs"),
        "#[test]\nfn sees_home_and_user() {\n    let home = std::env::var(\"HOME\").unwrap();\n    \
         assert_eq!(home, std::env::var(\"TEST_TMPDIR\").unwrap());\n    \
         std::fs::write(std::path::Path::new(&home).join(\".probe\"), \"w\").expect(\"HOME is writable\");\n    \
         assert_eq!(std::env::var(\"USER\").unwrap(), std::env::var(\"EXPECTED_USER\").unwrap());\n    \
         assert_eq!(std::env::var(\"LOGNAME\").unwrap(), std::env::var(\"USER\").unwrap());\n}\n",
    )
    .unwrap();
    let cache = scratch.0.join("cache");
    let test = |extra: &[&str]| {
        let mut args = vec!["test", "//:env"];
        args.extend_from_slice(extra);
        let out = relink_command(&ws, &cache).args(&args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let expected = format!("EXPECTED_USER={user}");
    let (code, stdout) = test(&["--test_env", &expected]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("PASSED //:env (1 passed"), "{stdout}");
    let (code, stdout) = test(&["--test_env", "EXPECTED_USER=someone", "--test_env", "USER=someone"]);
    assert_eq!(code, Some(3), "--test_env USER wins over the default, and LOGNAME stays: {stdout}");
    assert!(stdout.contains("FAILED //:env"), "{stdout}");
}
