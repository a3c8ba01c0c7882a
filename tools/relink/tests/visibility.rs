//! `visibility`, `package(default_visibility)` and `package_group` are enforced as Bazel
//! enforces them: a BUILD file that relink accepts is one Bazel accepts too.

mod common;

use common::*;

const DEFS: &str = r#"
def _node_impl(ctx):
    return [DefaultInfo()]

node = rule(implementation = _node_impl, attrs = {"deps": attr.label_list()})
"#;

/// `lib` holds targets of every kind of visibility; `app`, `app/cli`, `other` and `friends`
/// depend on them.
fn workspace() -> (Scratch, Ws) {
    let scratch = Scratch::new("visibility");
    let dir = scratch.0.join("ws");
    let write = |path: &str, text: &str| {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("MODULE.bazel", "module(name = \"vis\")\n");
    write("defs.bzl", DEFS);
    write("BUILD.bazel", "");
    write(
        "lib/BUILD.bazel",
        r#"load("//:defs.bzl", "node")

node(name = "private")
node(name = "public", visibility = ["//visibility:public"])
node(name = "app_only", visibility = ["//app:__pkg__"])
node(name = "app_tree", visibility = ["//app:__subpackages__"])
node(name = "grouped", visibility = ["//groups:friends"])
node(name = "uses_private", deps = [":private"])
"#,
    );
    write(
        "groups/BUILD.bazel",
        "package_group(name = \"friends\", packages = [\"//friends/...\"], includes = [\":more\"])\npackage_group(name = \"more\", packages = [\"//other\"])\n",
    );
    write(
        "defaults/BUILD.bazel",
        "load(\"//:defs.bzl\", \"node\")\n\npackage(default_visibility = [\"//other:__pkg__\"])\n\nnode(name = \"defaulted\")\n",
    );
    let node = |deps: &[&str]| {
        let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\"")).collect();
        format!("load(\"//:defs.bzl\", \"node\")\n\nnode(name = \"n\", deps = [{}])\n", deps.join(", "))
    };
    write("app/BUILD.bazel", &node(&["//lib:public", "//lib:app_only", "//lib:app_tree"]));
    write("app/cli/BUILD.bazel", &node(&["//lib:app_tree"]));
    write("friends/deep/BUILD.bazel", &node(&["//lib:grouped"]));
    write("other/BUILD.bazel", &node(&["//lib:grouped", "//defaults:defaulted"]));
    write("bad_private/BUILD.bazel", &node(&["//lib:private"]));
    write("bad_pkg/BUILD.bazel", &node(&["//lib:app_only"]));
    write("app/cli2/BUILD.bazel", &node(&["//lib:app_only"]));
    write("bad_group/BUILD.bazel", &node(&["//lib:grouped"]));
    write("bad_default/BUILD.bazel", &node(&["//defaults:defaulted"]));
    let ws = Ws::at(dir, scratch.0.join("cache"));
    (scratch, ws)
}

#[test]
fn visible_dependencies_build_and_invisible_ones_are_refused_with_the_fix() {
    let (_scratch, ws) = workspace();
    let ok = ws.relink(&["build", "//app:n", "//app/cli:n", "//friends/deep:n", "//other:n", "//lib:uses_private"]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    for (package, dep, visibility) in [
        ("bad_private", "//lib:private", "private (no visibility)"),
        ("bad_pkg", "//lib:app_only", "[\"//app:__pkg__\"]"),
        ("app/cli2", "//lib:app_only", "[\"//app:__pkg__\"]"),
        ("bad_group", "//lib:grouped", "[\"//groups:friends\"]"),
        ("bad_default", "//defaults:defaulted", "[\"//other:__pkg__\"]"),
    ] {
        let out = ws.relink(&["build", &format!("//{package}:n")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "//{package}:n must not see {dep}");
        let expected = format!(
            "{package}/BUILD.bazel:3: attribute `deps` of node(): target `//{package}:n` depends on `{dep}`, which is not visible to this package: its visibility is {visibility}"
        );
        assert!(stderr.contains(&expected), "{expected}\nin:\n{stderr}");
        assert!(stderr.contains(&format!("Add \"//{package}:__pkg__\"")), "{stderr}");
    }
}
