//! What a test sees when `relink test` runs it (issue 21): the user's PATH, as under
//! `cargo test`, so a test that runs a tool installed outside the system directories passes.

mod common;

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
