#!/usr/bin/env python3
"""Replay a window of real commits with relink and with Cargo, side by side.

For each commit (first-parent commits touching *.rs after --base), both tools build the same
binary in their own clone, alternating which runs first, with the same settings: the project's
dev profile on both sides (`cargo build`, and `relink build`, which honours the `[profile.dev]`
that `relink import` maps onto the targets: opt-level and debuginfo, per package). Per commit
it prints:

* wall time of relink (including `relink import` when a manifest changed) and of Cargo;
* the ideal time: an interface-based build that recompiles edited crates exactly as fast as
  Cargo's incremental did, recompiles a dependent only when one of its dependencies'
  interfaces changed (relink's interface outcomes), and only relinks binaries otherwise:
  scheduled on --jobs workers from Cargo's own per-unit timings (`--timings`), its pipelining
  (dependents start at a library's metadata) and the package graph (`cargo metadata`);
* the actions relink executed by mnemonic, and the crates each tool compiled;
* for every edited library: whether its interface stayed byte-identical and, when not, why
  (`relink-builder stub-diff` of its sources before and after: new item, signature, kept body
  and its keep rule, type definition, doc, private const, span shift; or the manifest);
* whether both binaries print the same on a fixed set of runs.

Then totals and ratios, a markdown table (--markdown) and all data as JSON (--json).

Example (ripgrep's default window):
  python3 bench/replay.py --repo ../shared/data/ripgrep.bundle --base 14.1.1 --count 40 \\
      --bin rg --work /tmp/replay-rg --markdown bench/results/replay-ripgrep.md
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMPILE_MNEMONICS = {"RustInterface", "RustStub", "RustCompile", "RustCompileNoLink"}


def sh(cmd, cwd, env=None, check=True, capture=True):
    """Run a command; returns (seconds, stdout, stderr)."""
    full_env = dict(os.environ, **(env or {}))
    start = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=full_env, capture_output=capture, text=True)
    elapsed = time.perf_counter() - start
    if check and proc.returncode != 0:
        sys.exit(f"command failed in {cwd}: {' '.join(map(str, cmd))}\n{(proc.stdout or '')[-4000:]}\n{(proc.stderr or '')[-4000:]}")
    return elapsed, proc.stdout or "", proc.stderr or ""


def git(cwd, *args):
    return sh(["git", *args], cwd)[1].strip()


class Window:
    """The commits to replay and the clones that replay them."""

    def __init__(self, args):
        self.work = Path(args.work).resolve()
        if self.work.exists() and not args.keep:
            subprocess.run(["chmod", "-R", "u+w", str(self.work)], check=False)
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.relink_dir = self.work / "relink"
        self.cargo_dir = self.work / "cargo"
        for d in (self.relink_dir, self.cargo_dir):
            if not d.exists():
                sh(["git", "clone", "-q", str(Path(args.repo).resolve()), str(d)], self.work)
        branch = args.branch or "HEAD"
        listed = git(self.relink_dir, "rev-list", "--first-parent", "--reverse", f"{args.base}..{branch}", "--", "*.rs").split()
        self.base = git(self.relink_dir, "rev-parse", f"{args.base}^{{commit}}")
        self.commits = listed[: args.count]
        if not self.commits:
            sys.exit("no commits in the window")

    def checkout(self, rev):
        for d in (self.relink_dir, self.cargo_dir):
            sh(["git", "-c", "advice.detachedHead=false", "checkout", "-q", "-f", rev], d)

    def changed_files(self, old, new):
        return git(self.relink_dir, "diff", "--name-only", old, new).splitlines()

    def subject(self, rev):
        return git(self.relink_dir, "log", "-1", "--format=%s", rev)

    def export(self, rev, dest):
        """The tree of `rev` in `dest` (for stub diffs)."""
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", rev], cwd=self.relink_dir, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


def cargo_metadata(cwd):
    out = sh(["cargo", "metadata", "--format-version", "1", "--filter-platform", host_triple()], cwd)[1]
    return json.loads(out)


_HOST = []


def host_triple():
    if not _HOST:
        out = sh(["rustc", "-vV"], REPO)[1]
        _HOST.append(next(l.split(": ")[1] for l in out.splitlines() if l.startswith("host: ")))
    return _HOST[0]


class Graph:
    """Workspace members, their library roots and the package dependency graph."""

    def __init__(self, meta):
        self.members = set(meta["workspace_members"])
        self.by_id = {p["id"]: p for p in meta["packages"]}
        self.root = Path(meta["workspace_root"])
        self.deps = {}
        for node in meta["resolve"]["nodes"]:
            name = self.by_id[node["id"]]["name"]
            # Normal and build dependencies only: dev-dependencies are not edges of a build.
            built_with = [d for d in node["deps"] if any(k.get("kind") in (None, "build") for k in d.get("dep_kinds", [{}]))]
            self.deps.setdefault(name, set()).update(self.by_id[d["pkg"]]["name"] for d in built_with)
        self.member_libs = {}
        for pid in self.members:
            pkg = self.by_id[pid]
            for t in pkg["targets"]:
                if set(t["kind"]) & {"lib", "rlib", "proc-macro"}:
                    self.member_libs[pkg["name"]] = Path(t["src_path"]).relative_to(self.root)

    def member_names(self):
        return {self.by_id[p]["name"] for p in self.members}


def cargo_units(cargo_dir):
    """Cargo's per-unit timings of its last build: name, kind, start, duration, rmeta time."""
    report = cargo_dir / "target" / "cargo-timings" / "cargo-timing.html"
    if not report.exists():
        return []
    text = report.read_text()
    start = text.index("const UNIT_DATA = ") + len("const UNIT_DATA = ")
    end = text.index("];", start) + 1
    units = []
    for u in json.loads(text[start:end]):
        frontend = next((s[1]["end"] for s in (u.get("sections") or []) if s[0] == "frontend"), None)
        kind = "build-script" if "build-script" in u["target"] or "build script" in u["target"] else ("bin" if '"bin"' in u["target"] else ("test" if '"test"' in u["target"] else "lib"))
        if u["mode"] == "run-custom-build":
            kind = "run-build-script"
        named = re.match(r'\s*(\S+) "(bin|test)"', u["target"])
        units.append({
            "name": u["name"],
            "target": named.group(1) if named else u["name"],
            "kind": kind,
            "duration": u["duration"],
            "rmeta": frontend if frontend is not None else u["duration"],
        })
    return units


def cargo_sources(cargo_dir):
    """Source files each crate's newest dep-info names (workspace-relative)."""
    deps = cargo_dir / "target" / "debug" / "deps"
    newest = {}
    for d in deps.glob("*.d"):
        crate = d.stem.rsplit("-", 1)[0]
        if crate not in newest or d.stat().st_mtime > newest[crate].stat().st_mtime:
            newest[crate] = d
    out = {}
    root = str(cargo_dir) + "/"
    for crate, d in newest.items():
        files = set()
        for line in d.read_text().splitlines():
            if ":" not in line or line.startswith("#"):
                continue
            target, _, rest = line.partition(": ")
            for f in [target.rstrip(":")] + rest.split():
                if f.startswith(root):
                    files.add(f[len(root):])
                elif not f.startswith("/") and not f.endswith((".rlib", ".rmeta", ".d")):
                    files.add(f)
        out[crate] = files
    return out


def ideal_time(units, graph, sources, changed, iface_changed, link_ms, jobs, recompile=None):
    """Makespan of the ideal interface build on `jobs` workers (see the module doc).

    `recompile`, when given, is the set of members a dependency change recompiles (a finer
    key than "a direct dependency's interface changed": bench/finer_key.py)."""
    changed = set(changed)
    members = graph.member_names()
    chosen = {}
    for u in units:
        name, kind = u["name"], u["kind"]
        crate = u["target"].replace("-", "_")
        edited = bool(sources.get(crate, set()) & changed) or kind in ("build-script", "run-build-script")
        if recompile is not None:
            deps_changed = name in recompile
        else:
            deps_changed = any(iface_changed.get(d, False) for d in graph.deps.get(name, ()))
        if name not in members or edited or deps_changed:
            chosen[(name, kind)] = (u["duration"], u["rmeta"] if kind == "lib" else u["duration"])
        elif kind == "bin":
            ms = link_ms.get(u["target"], 0)
            chosen[(name, kind)] = (ms / 1000.0, ms / 1000.0)
    # List scheduling: a unit starts when its chosen dependencies have their metadata (libs)
    # and a worker is free; binaries also wait for their dependencies to finish.
    finish, meta_ready, free = {}, {}, [0.0] * max(1, jobs)
    pending = dict(chosen)
    while pending:
        progress = False
        for key, (dur, rmeta) in sorted(pending.items(), key=lambda kv: -kv[1][0]):
            name, kind = key
            dep_keys = [(d, "lib") for d in graph.deps.get(name, ()) if (d, "lib") in chosen]
            if kind in ("bin", "test", "run-build-script"):
                dep_keys += [(name, "lib")] if (name, "lib") in chosen else []
                dep_keys += [(name, "run-build-script")] if kind != "run-build-script" and (name, "run-build-script") in chosen else []
            if kind == "run-build-script":
                dep_keys = [(name, "build-script")] if (name, "build-script") in chosen else []
            if kind == "lib" and (name, "run-build-script") in chosen:
                dep_keys.append((name, "run-build-script"))
            if any(k not in finish for k in dep_keys):
                continue
            ready = max([meta_ready[k] for k in dep_keys] + [0.0])
            must_end = max([finish[k] for k in dep_keys] + [0.0]) if kind == "bin" else 0.0
            w = min(range(len(free)), key=lambda i: free[i])
            start = max(free[w], ready)
            end = max(start + dur, must_end)
            free[w] = end
            finish[key] = end
            meta_ready[key] = start + rmeta
            del pending[key]
            progress = True
            break
        if not progress:
            # A cycle in the approximation (should not happen): schedule the rest serially.
            t = max(free)
            for key, (dur, _) in pending.items():
                t += dur
                finish[key] = t
            break
    return max(finish.values(), default=0.0)


def read_log(path):
    return [json.loads(l) for l in Path(path).read_text().splitlines() if l.strip()]


def interface_digests(log):
    """Crate (target name) -> digest of its interface, from relink's execution log."""
    out = {}
    for e in log:
        name = e["target"].rsplit(":", 1)[-1]
        for path, digest in (e.get("output_digests") or {}).items():
            if "/_iface/" in path and path.endswith(".rlib"):
                out[name] = digest
    return out


ELAPSED = re.compile(r'"elapsed(_total)?":\{[^}]*\}')


def probe_outputs(binary, corpus, cases):
    """(exit code, stdout, stderr) of each case; timings (`--json` summaries) blanked. A case
    `["<FILE", args...]` feeds FILE (relative to the corpus) on standard input."""
    outs = []
    for case in cases:
        stdin = None
        if case and case[0].startswith("<"):
            stdin = (Path(corpus) / case[0][1:]).read_text()
            case = case[1:]
        proc = subprocess.run([str(binary), *case], cwd=corpus, capture_output=True, text=True, input=stdin)
        outs.append((proc.returncode, ELAPSED.sub("", proc.stdout), proc.stderr))
    return outs


RG_PROBES = [
    ["--sort", "path", "-n", "fn main", "."],
    ["--sort", "path", "-c", "-i", "glob", "crates"],
    ["--sort", "path", "--files", "-g", "*.toml"],
    ["--sort", "path", "-w", "-o", "Searcher", "crates"],
    ["--sort", "path", "--vimgrep", "unsafe", "crates"],
    ["--sort", "path", "-l", "--type", "rust", "impl.*Sink"],
    ["--sort", "path", "--json", "TODO", "crates"],
    ["--sort", "path", "-C2", "Sink", "crates"],
    ["--sort", "path", "--count-matches", "use "],
    ["--sort", "path", "-F", "a.b", "."],
    ["--sort", "path", "-e", "foo", "-e", "bar", "-c"],
    ["--sort", "path", "-U", "struct\\s+\\w+\\s*\\{", "crates/globset"],
    ["--sort", "path", "-t", "md", "-i", "ripgrep"],
    ["--sort", "path", "--hidden", "--files"],
    ["--type-list"],
    ["--sort", "path", "-r", "X", "-o", "[aeiou]{3}", "crates/ignore/src"],
    ["--sort", "path", "--no-heading", "--column", "-S", "Error", "crates/printer"],
    ["--sort", "path", "-g", "!*.rs", "-l", "the"],
    ["--sort", "path", "--max-count", "1", "-n", "let"],
    ["--sort", "path", "-v", "-c", "a", "README.md"],
]


# rust-analyzer's command line on files of the corpus (no project loading: deterministic).
RA_PROBES = [
    ["--help"],
    ["<crates/syntax/src/lib.rs", "parse"],
    ["<crates/hir-ty/src/lib.rs", "symbols"],
    ["<crates/ide/src/lib.rs", "symbols"],
    ["<crates/rust-analyzer/src/lib.rs", "parse", "--no-dump"],
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", required=True, help="git repository or bundle")
    ap.add_argument("--base", required=True, help="the commit before the window (built cold)")
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--branch", help="branch whose first-parent history is replayed (default HEAD)")
    ap.add_argument("--bin", required=True, help="the binary both tools build (cargo --bin)")
    ap.add_argument("--label", help="relink target (default //:BIN)")
    ap.add_argument("--relink-bin", help="the binary under relink-bin/ (default: the label's package and BIN)")
    ap.add_argument("--work", required=True)
    ap.add_argument("--keep", action="store_true", help="reuse the clones in --work")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--relink-flags", default="", help="extra settings for relink's side")
    ap.add_argument("--probes", choices=["rg", "ra", "version"], default="rg")
    ap.add_argument("--json", help="write all data here")
    ap.add_argument("--markdown", help="write the results table here")
    ap.add_argument("--no-build", action="store_true", help="use target/release as built")
    ap.add_argument("--relink-repo", default=str(REPO), help="checkout whose relink, builder and rules are measured (default: this one)")
    args = ap.parse_args()

    tools = Path(args.relink_repo).resolve()
    if not args.no_build:
        sh(["cargo", "build", "--release", "--locked"], tools, capture=False)
    window_work = Path(args.work).resolve()
    # The binaries are copied first: a rebuild during the run must not change what is measured.
    frozen = window_work.parent / (window_work.name + "-tools")
    frozen.mkdir(parents=True, exist_ok=True)
    for name in ("relink", "relink-builder"):
        shutil.copy2(tools / "target" / "release" / name, frozen / name)
    relink = frozen / "relink"
    builder = REPO / "target" / "release" / "relink-builder"  # stub-diff: always this checkout's
    label = args.label or f"//:{args.bin}"
    window = Window(args)
    cache = window.work / "relink-cache"
    env = {"RELINK_CACHE": str(cache), "RELINK_RULES_DIR": str(frozen / "rules-copy"), "RELINK_BUILDER": str(frozen / "relink-builder")}
    if (frozen / "rules-copy").exists():
        shutil.rmtree(frozen / "rules-copy")
    shutil.copytree(tools / "rules", frozen / "rules-copy" / "rules")
    for marker in ("WORKSPACE", "MODULE.bazel", "BUILD.bazel"):
        if (tools / marker).exists():
            shutil.copy2(tools / marker, frozen / "rules-copy" / marker)
    relink_flags = args.relink_flags.split()
    package = label.lstrip("/").split(":")[0]
    bin_rel = args.relink_bin or "/".join(p for p in (package, args.bin) if p)

    def relink_build(log):
        return sh([relink, "build", "-j", str(args.jobs), "--execution-log", log, *relink_flags, label], window.relink_dir, env)[0]

    def relink_import():
        return sh([relink, "import"], window.relink_dir, env)[0]

    def cargo_build():
        t, _, err = sh(["cargo", "build", "-j", str(args.jobs), "--bin", args.bin, "--timings"], window.cargo_dir)
        return t, [m.group(1) for m in re.finditer(r"Compiling (\S+) v", err)]

    corpus = window.work / "corpus"
    window.export(window.base, corpus)
    probes = {"rg": RG_PROBES, "ra": RA_PROBES, "version": [["--version"]]}[args.probes]

    print(f"cold build of {window.base[:10]} ...", flush=True)
    window.checkout(window.base)
    t_import = relink_import()
    log0 = window.work / "log-0.jsonl"
    cold_relink = t_import + relink_build(log0)
    cold_cargo, _ = cargo_build()
    print(f"cold: relink {cold_relink:.1f} s (import {t_import:.1f} s), cargo {cold_cargo:.1f} s", flush=True)
    prev_ifaces = interface_digests(read_log(log0))
    prev = window.base
    rows = []
    for n, commit in enumerate(window.commits, 1):
        window.checkout(commit)
        changed = window.changed_files(prev, commit)
        manifest_changed = any(f.endswith("Cargo.toml") or f.endswith("Cargo.lock") for f in changed)
        log = window.work / f"log-{n}.jsonl"
        order = ["relink", "cargo"] if n % 2 else ["cargo", "relink"]
        t_relink = t_cargo = 0.0
        compiled_cargo = []
        for side in order:
            if side == "relink":
                t_relink = (relink_import() if manifest_changed else 0.0) + relink_build(log)
            else:
                t_cargo, compiled_cargo = cargo_build()
        entries = read_log(log)
        executed = [e for e in entries if e["cache"] == "miss"]
        by_mnemonic = {}
        for e in executed:
            by_mnemonic[e["mnemonic"]] = by_mnemonic.get(e["mnemonic"], 0) + 1
        compiled_relink = sorted({e["target"] for e in executed if e["mnemonic"] in COMPILE_MNEMONICS})
        ifaces = interface_digests(entries)
        iface_changed = {k: prev_ifaces.get(k) != v for k, v in ifaces.items()}
        graph = Graph(cargo_metadata(window.cargo_dir))
        sources = cargo_sources(window.cargo_dir)
        edited = []
        old_tree = window.work / "old-tree"
        new_tree = window.work / "new-tree"
        exported = False
        for crate, root in sorted(graph.member_libs.items()):
            crate_dir = str(root.parent.parent if root.parent.name == "src" else root.parent)
            touched = [f for f in changed if f.startswith(crate_dir + "/") or (crate_dir == "." and f.endswith(".rs"))]
            if not any(f.endswith(".rs") or f.endswith("Cargo.toml") for f in touched):
                continue
            if not exported:
                window.export(prev, old_tree)
                window.export(commit, new_tree)
                exported = True
            identical = not iface_changed.get(crate, True)
            causes = []
            if not identical:
                if (old_tree / root).exists():
                    out = sh([builder, "stub-diff", "--old-root", old_tree / root, "--new-root", new_tree / root, "--json"], window.work, check=False)[1]
                    causes = sorted({json.loads(l)["cause"] for l in out.splitlines() if l.strip()})
                if any(f.endswith("Cargo.toml") for f in touched):
                    causes.append("manifest")
                if not causes:
                    causes = ["stub identical (flags, dependencies or data changed)"]
            edited.append({"crate": crate, "identical": identical, "causes": causes})
        link_ms = {e["target"].rsplit(":", 1)[-1]: e["duration_ms"] for e in executed if e["mnemonic"] == "RustLink"}
        units = cargo_units(window.cargo_dir)
        ideal = ideal_time(units, graph, sources, changed, iface_changed, link_ms, args.jobs)
        rg_relink = window.relink_dir / "relink-bin" / bin_rel
        rg_cargo = window.cargo_dir / "target" / "debug" / args.bin
        out_relink, out_cargo = probe_outputs(rg_relink, corpus, probes), probe_outputs(rg_cargo, corpus, probes)
        differing = [" ".join(probes[i]) for i, (a, b) in enumerate(zip(out_relink, out_cargo)) if a != b]
        same = not differing
        if differing:
            i = probes.index(differing[0].split(" ")) if differing[0].split(" ") in probes else 0
            print(f"  outputs differ for: {differing}\n  relink: {out_relink[i][1][:300]!r} {out_relink[i][2][:300]!r}\n  cargo:  {out_cargo[i][1][:300]!r} {out_cargo[i][2][:300]!r}", flush=True)
        # `--version` names the git revision a build script read: informational only.
        versions = [probe_outputs(b, corpus, [["--version"]])[0][1].splitlines()[:1] for b in (rg_relink, rg_cargo)]
        row = {
            "cargo_units": units, "changed_files": changed, "interface_changed": iface_changed, "link_ms": link_ms,
            "n": n, "commit": commit[:10], "subject": window.subject(commit)[:60], "relink_s": t_relink,
            "cargo_s": t_cargo, "ideal_s": ideal, "executed": by_mnemonic, "compiled_relink": compiled_relink,
            "compiled_cargo": compiled_cargo, "edited": edited, "outputs_equal": same, "differing_probes": differing, "manifest": manifest_changed,
            "version_relink": versions[0], "version_cargo": versions[1],
        }
        rows.append(row)
        iface_note = "; ".join(f"{e['crate']}: {'identical' if e['identical'] else ', '.join(e['causes'])}" for e in edited)
        print(f"[{n}/{len(window.commits)}] {commit[:10]} relink {t_relink:6.2f} s  cargo {t_cargo:6.2f} s  ideal {ideal:6.2f} s  "
              f"ratio {t_relink / max(t_cargo, 1e-9):4.2f}  same={same}  {iface_note}", flush=True)
        prev_ifaces.update(ifaces)
        prev = commit

    noop_relink = statistics.median(relink_build(window.work / "log-noop.jsonl") for _ in range(5))
    noop_cargo = statistics.median(cargo_build()[0] for _ in range(5))
    total_r = sum(r["relink_s"] for r in rows)
    total_c = sum(r["cargo_s"] for r in rows)
    total_i = sum(r["ideal_s"] for r in rows)
    summary = {
        "window": f"{window.base[:10]} + {len(rows)} commits", "jobs": args.jobs, "relink_flags": args.relink_flags or "(none)",
        "profile": "the project's dev profile on both sides (opt-level, debuginfo, debug-assertions, overflow-checks, panic as its Cargo.toml says; Cargo: incremental; relink: incremental for workspace crates)",
        "cold_relink_s": cold_relink, "cold_cargo_s": cold_cargo,
        "total_relink_s": total_r, "total_cargo_s": total_c, "total_ideal_s": total_i,
        "relink_vs_cargo": total_r / total_c, "relink_vs_ideal": total_r / max(total_i, 1e-9), "ideal_vs_cargo": total_i / total_c,
        "commits_slower_than_1_3x": sum(1 for r in rows if r["relink_s"] > 1.3 * r["cargo_s"]),
        "relink_faster_commits": sum(1 for r in rows if r["relink_s"] < r["cargo_s"]),
        "output_differences": sum(1 for r in rows if not r["outputs_equal"]),
        "edited_libraries": sum(len(r["edited"]) for r in rows),
        "identical_interfaces": sum(1 for r in rows for e in r["edited"] if e["identical"]),
        "noop_relink_s": noop_relink, "noop_cargo_s": noop_cargo,
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    if args.markdown:
        write_markdown(Path(args.markdown), summary, rows)


def write_markdown(path, summary, rows):
    lines = [
        f"Window {summary['window']}, -j{summary['jobs']}; {summary['profile']}; relink flags {summary['relink_flags']}.",
        "",
        "| # | commit | relink s | cargo s | ideal s | relink/cargo | relink ran | edited libraries: interface | same output |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ran = ", ".join(f"{k} {v}" for k, v in sorted(r["executed"].items()))
        ifaces = "; ".join(f"{e['crate']}: {'identical' if e['identical'] else ', '.join(e['causes'])}" for e in r["edited"]) or "-"
        lines.append(f"| {r['n']} | {r['commit']} {r['subject'][:40]} | {r['relink_s']:.2f} | {r['cargo_s']:.2f} | {r['ideal_s']:.2f} | "
                     f"{r['relink_s'] / max(r['cargo_s'], 1e-9):.2f} | {ran} | {ifaces} | {'yes' if r['outputs_equal'] else '**no**'} |")
    s = summary
    lines += [
        "",
        f"Totals: relink {s['total_relink_s']:.1f} s, Cargo {s['total_cargo_s']:.1f} s, ideal {s['total_ideal_s']:.1f} s: "
        f"relink/Cargo **{s['relink_vs_cargo']:.2f}**, relink/ideal **{s['relink_vs_ideal']:.2f}**, ideal/Cargo {s['ideal_vs_cargo']:.2f}. "
        f"Commits slower than 1.3x Cargo: {s['commits_slower_than_1_3x']}; relink faster on {s['relink_faster_commits']}/{len(rows)}. "
        f"Output differences: {s['output_differences']}. Edited libraries with an identical interface: "
        f"{s['identical_interfaces']}/{s['edited_libraries']}. Cold: relink {s['cold_relink_s']:.1f} s, Cargo {s['cold_cargo_s']:.1f} s. "
        f"No-op (median of 5): relink {s['noop_relink_s']:.2f} s, Cargo {s['noop_cargo_s']:.2f} s.",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
