#!/usr/bin/env python3
"""Why interfaces change on real commits: every edited library of a window, classified.

For each first-parent commit touching *.rs after --base, every workspace library whose files
changed is stubbed before and after (`relink-builder stub`, no compiler), and the two stubs are
compared (`relink-builder stub-diff`): identical (the interface cannot change), or the causes:
new/removed item, signature, kept body and the keep rule that kept it (generic, inline, impl
Trait, attribute macro, const fn, unknown macro, ...), type definition, doc comment, private
const/static, macro definition, span shift. Prints a per-commit list and a table of causes;
`--markdown` writes the table.

Builds nothing, so it runs in minutes on a large workspace. `--stubber` chooses the
relink-builder that stubs (to compare stub rules of two versions); the diff always uses this
checkout's. Example:
  python3 bench/interface_causes.py --repo ../shared/data/ripgrep.bundle --base 14.1.1 --count 40
"""

import argparse
import collections
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(cmd, cwd, check=True):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{proc.stderr[-3000:]}")
    return proc


def export(repo, rev, dest):
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=repo, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


def window_arguments(ap, work):
    """The arguments every tool over a replayed window takes: the replay's JSON, the repository
    and the window, and a work directory."""
    ap.add_argument("--replay", required=True, help="JSON written by bench/replay.py --json (commits, timings)")
    ap.add_argument("--repo", required=True)
    ap.add_argument("--branch", default="HEAD")
    ap.add_argument("--base", required=True)
    ap.add_argument("--work", default=work)


def clone_window(args, name, fresh=True):
    """(work directory, clone of the repository in it, {10-character prefix: commit} of the
    window's first-parent commits touching *.rs). `fresh`: the work directory is emptied
    first; otherwise an existing clone is reused."""
    work = Path(args.work).resolve()
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    clone = work / name
    if not clone.exists():
        run(["git", "clone", "-q", str(Path(args.repo).resolve()), str(clone)], work)
    commits = run(["git", "rev-list", "--first-parent", "--reverse", f"{args.base}..{args.branch}", "--", "*.rs"], clone).stdout.split()
    return work, clone, {c[:10]: c for c in commits}


def member_libs(tree):
    """Library crate roots of the workspace members (relative to the tree), each member's
    dependencies (member and third-party, for macro summaries), and the third-party libraries
    (id -> (crate root, package directory), absolute)."""
    proc = run(["cargo", "metadata", "--format-version", "1", "--offline"], tree, check=False)
    if proc.returncode != 0:
        # Without the dependency graph no crate gets its dependencies' macro summaries: the
        # counts would be worse than the build's. Say so (`cargo fetch` at that commit helps).
        print(f"WARNING: `cargo metadata --offline` failed in {tree} (crates not fetched?): "
              f"stubbing without dependency macro summaries\n{proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr, flush=True)
        proc = run(["cargo", "metadata", "--format-version", "1", "--no-deps", "--offline"], tree, check=False)
    if proc.returncode != 0:
        return {}, {}, {}
    meta = json.loads(proc.stdout)
    root = Path(meta["workspace_root"])
    members = set(meta["workspace_members"])
    libs = {}
    third_party = {}
    by_id = {}
    for pkg in meta["packages"]:
        for t in pkg["targets"]:
            if not set(t["kind"]) & {"lib", "rlib", "proc-macro"}:
                continue
            if pkg["id"] in members:
                src = Path(t["src_path"]).relative_to(root)
                pkg_dir = Path(pkg["manifest_path"]).parent.relative_to(root)
                libs[pkg["name"]] = (src, pkg_dir)
                by_id[pkg["id"]] = pkg["name"]
            elif "proc-macro" not in t["kind"]:
                key = f"{pkg['name']}-{pkg['version']}"
                third_party[key] = (Path(t["src_path"]), Path(pkg["manifest_path"]).parent)
                by_id[pkg["id"]] = key
    deps = {name: [] for name in list(libs) + list(third_party)}
    for node in (meta.get("resolve") or {}).get("nodes", []):
        if node["id"] in by_id:
            deps[by_id[node["id"]]] = [by_id[d["pkg"]] for d in node["deps"] if d["pkg"] in by_id]
    return libs, deps, third_party


def macro_summaries(builder, tree, libs, deps, out_dir, third_party=None, cache_dir=None):
    """Summaries of the exported macros of the members and of their third-party dependencies
    (as the build's `RustMacros` actions write them; cached by name and version in
    `cache_dir`), each computed with its own dependencies' summaries."""
    out_dir.mkdir(parents=True, exist_ok=True)
    third_party = third_party or {}
    done = {}

    def visit(name, stack=()):
        if name in done or name in stack:
            return
        for d in deps.get(name, []):
            visit(d, stack + (name,))
        if name in libs:
            root, pkg_dir = libs[name]
            cwd, out = tree, out_dir / f"{name}.json"
        else:
            root, pkg_dir = third_party[name]
            cwd, out = pkg_dir, cache_dir / f"{name}.json"
            root, pkg_dir = root.relative_to(pkg_dir), Path(".")
            if out.exists():
                done[name] = out
                return
        srcs = [str(p.relative_to(cwd)) for p in (cwd / pkg_dir).rglob("*.rs")]
        cmd = [builder, "stub", "--macros-only", "--crate-root", root, "--macros-out", out]
        for s in srcs:
            cmd += ["--src", s]
        for d in deps.get(name, []):
            if d in done:
                cmd += ["--dep-macros", done[d]]
        run(cmd, cwd, check=False)
        done[name] = out

    for name in libs:
        visit(name)
    return done


def trusted_macros(summary_files):
    """Macro names every given summary that defines them proves expression-only (as the
    stubber merges them)."""
    good, bad = set(), set()
    for f in summary_files:
        try:
            summary = json.loads(Path(f).read_text())
        except (OSError, ValueError):
            continue
        for name, m in summary.items():
            (good if m.get("expression_only") else bad).add(name)
    return good - bad


def stub(stubber, tree, root, out, policy, dep_macros=()):
    if out.exists():
        shutil.rmtree(out)
    cmd = [stubber, "stub", "--crate-root", root, "--out-dir", out, "--span-policy", policy]
    for m in dep_macros:
        if Path(m).exists():
            cmd += ["--dep-macros", m]
    proc = run(cmd, tree, check=False)
    return proc.returncode == 0, proc.stderr.strip().splitlines()[-1:] if proc.returncode else []


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--branch", default="HEAD")
    ap.add_argument("--work", default="/tmp/interface-causes")
    ap.add_argument("--policy", default="anchored", choices=["anchored", "compact"])
    ap.add_argument("--stubber", help="relink-builder that stubs (default: this checkout's release build)")
    ap.add_argument("--no-dep-macros", action="store_true", help="stub each crate alone (no dependency macro summaries), as before macro summaries existed")
    ap.add_argument("--members-only", action="store_true", help="summarize the macros of workspace members only, not of third-party dependencies (the build summarizes both)")
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    args = ap.parse_args()

    builder = REPO / "target" / "release" / "relink-builder"
    stubber = Path(args.stubber).resolve() if args.stubber else builder
    work = Path(args.work).resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    clone = work / "repo"
    third_cache = work / "macros-third-party"
    run(["git", "clone", "-q", str(Path(args.repo).resolve()), str(clone)], work)
    commits = run(["git", "rev-list", "--first-parent", "--reverse", f"{args.base}..{args.branch}", "--", "*.rs"], clone).stdout.split()[: args.count]
    prev = run(["git", "rev-parse", f"{args.base}^{{commit}}"], clone).stdout.strip()
    rows = []
    causes = collections.Counter()
    only = collections.Counter()
    unknown_macros = collections.Counter()
    edited = identical = 0
    for n, commit in enumerate(commits, 1):
        changed = run(["git", "diff", "--name-only", prev, commit], clone).stdout.splitlines()
        old_tree, new_tree = work / "old", work / "new"
        export(clone, prev, old_tree)
        export(clone, commit, new_tree)
        libs, deps, third = member_libs(new_tree)
        old_libs, old_deps, old_third = member_libs(old_tree)
        if not args.members_only:
            third_cache.mkdir(exist_ok=True)
        else:
            third, old_third = {}, {}
        summaries = {} if args.no_dep_macros else macro_summaries(builder, new_tree, libs, deps, work / "macros-new", third, third_cache)
        old_summaries = {} if args.no_dep_macros else macro_summaries(builder, old_tree, old_libs, old_deps, work / "macros-old", old_third, third_cache)
        for name, (root, pkg_dir) in sorted(libs.items()):
            prefix = "" if str(pkg_dir) == "." else f"{pkg_dir}/"
            touched = [f for f in changed if f.startswith(prefix) and (f.endswith(".rs") or f.endswith("Cargo.toml"))]
            if not touched:
                continue
            edited += 1
            if name not in old_libs:
                rows.append({"n": n, "commit": commit[:10], "crate": name, "causes": ["new crate"]})
                causes["new crate"] += 1
                continue
            old_dep_macros = [old_summaries[d] for d in old_deps.get(name, []) if d in old_summaries]
            new_dep_macros = [summaries[d] for d in deps.get(name, []) if d in summaries]
            ok_old, _ = stub(stubber, old_tree, old_libs[name][0], work / "stub-old", args.policy, old_dep_macros)
            ok_new, err = stub(stubber, new_tree, root, work / "stub-new", args.policy, new_dep_macros)
            if not (ok_old and ok_new):
                found = ["stub failed (falls back to real sources)"]
            else:
                out = run([builder, "stub-diff", "--old-stub-dir", work / "stub-old", "--new-stub-dir", work / "stub-new", "--json"], work).stdout
                lines = [json.loads(l) for l in out.splitlines() if l.strip()]
                found = sorted({l["cause"] for l in lines})
                trusted = trusted_macros(new_dep_macros)
                for l in lines:
                    for m in l.get("macros", []):
                        if m.split("::")[-1].rstrip("!") not in trusted:
                            unknown_macros[m] += 1
            if any(f.endswith("Cargo.toml") for f in touched) and found:
                found.append("manifest")
            if not found:
                identical += 1
            for c in found:
                causes[c] += 1
            if len(found) == 1:
                only[found[0]] += 1
            rows.append({"n": n, "commit": commit[:10], "crate": name, "causes": found})
            print(f"[{n}/{len(commits)}] {commit[:10]} {name}: {', '.join(found) or 'identical'}", flush=True)
        prev = commit
    summary = {"edited_libraries": edited, "identical": identical, "policy": args.policy, "stubber": str(stubber)}
    print(json.dumps(summary))
    print(f"{'cause':<45} {'crates':>6} {'only cause':>10}")
    for c, k in causes.most_common():
        print(f"{c:<45} {k:>6} {only[c]:>10}")
    if unknown_macros:
        print("macros not known to be item-free in changed kept bodies (bodies calling them):")
        for m, k in unknown_macros.most_common(20):
            print(f"  {m:<43} {k:>6}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "rows": rows, "causes": causes, "only": only, "unknown_macros": unknown_macros}, indent=1))
    if args.markdown:
        lines = [f"Identical interfaces: **{identical}/{edited}** edited libraries ({args.policy} policy).", "",
                 "| cause | edited libraries | as the only cause |", "|---|---|---|"]
        lines += [f"| {c} | {k} | {only[c]} |" for c, k in causes.most_common()]
        Path(args.markdown).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
