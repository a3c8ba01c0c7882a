#!/usr/bin/env python3
"""relink vs Cargo on ripgrep 15.2.0, measured side by side (alternating runs, medians).

Scenarios (see bench/README.md):
  cold      cold debug build of rg: relink (empty cache) vs cargo (empty target dir)
  edit      ABI-preserving edit of a private body in globset, then in grep-searcher, rebuild
            rg: relink vs cargo (incremental) vs relink without cutoff (interfaces from the
            real compiles, what today's Bazel rules do) vs relink --rustc-incremental=false
  test      the same globset edit, then build and run every test: relink test vs cargo test
  fresh     a fresh checkout in another directory with relink's warm cache
  noop      a no-op build
Prints the settings both sides use, one table with absolute medians and ratios, and writes
results as JSON.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RELINK = REPO / "target" / "release" / "relink"
COMPILE_MNEMONICS = {"RustInterface", "RustCompile", "RustCompileNoLink"}
# Like with like: what both sides build with (printed beside the figures, kept in the JSON).
SETTINGS = (
    "both sides: ripgrep 15.2.0's dev profile (opt-level 0, debuginfo 2, debug-assertions and "
    "overflow-checks on, panic unwind; relink reads it through `relink import`), -j2; "
    "incremental: Cargo on (its default), relink on for workspace crates (its default; the "
    "`--rustc-incremental=false` rows: off); `cargo test` and `relink test` use the test profile (= dev)"
)

# Each edit writes a value unique to the iteration, so that no run can hit a cached result.
EDITS = {
    "globset": ("crates/globset/src/lib.rs", r"nfa_size_limit\(Some\(\d+ \* \(1 << 20\)\)\)", "nfa_size_limit(Some({n} * (1 << 20)))"),
    "grep-searcher": ("crates/grep-searcher/src/line_buffer.rs", r"configured allocation limit \(\{\}\) exceeded[^\"]*", "configured allocation limit ({{}}) exceeded (edit {n})"),
}
EDIT_COUNTER = [int(time.time()) % 1_000_000]


def run(cmd, cwd, env=None, check=True):
    """Run a command; returns (seconds, stdout, stderr)."""
    full_env = dict(os.environ, **(env or {}))
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if check and proc.returncode != 0:
        sys.exit(f"command failed: {' '.join(map(str, cmd))}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout, proc.stderr


def relink(ws, cache, *args, log=None, check=True):
    extra = ["--execution-log", str(log)] if log else []
    cmd = [str(RELINK), args[0], *extra, "--cache-dir", str(cache), *args[1:]]
    return run(cmd, ws, check=check)


def relink_counts(log):
    compiles = links = 0
    for line in Path(log).read_text().splitlines():
        entry = json.loads(line)
        if entry["cache"] != "miss":
            continue
        if entry["mnemonic"] in COMPILE_MNEMONICS:
            compiles += 1
        elif entry["mnemonic"] == "RustLink":
            links += 1
    return compiles, links


def action_ms(log, mnemonic, target):
    for line in Path(log).read_text().splitlines():
        entry = json.loads(line)
        if entry["mnemonic"] == mnemonic and entry["target"] == target and entry["cache"] == "miss":
            return entry["duration_ms"] / 1000.0
    return None


def cargo(ws, target_dir, *args, check=True):
    return run(["cargo", *args], ws, env={"CARGO_TARGET_DIR": str(target_dir)}, check=check)


def cargo_compiles(stderr):
    return len(re.findall(r"^\s+Compiling ", stderr, re.M))


def toggle_edit(ws, which):
    """Apply an ABI-preserving edit of a private body with a never-seen-before value."""
    path, pattern, template = EDITS[which]
    file = ws / path
    text = file.read_text()
    EDIT_COUNTER[0] += 1
    new = re.sub(pattern, template.format(n=EDIT_COUNTER[0]), text, count=1)
    assert new != text, f"the {which} edit did not apply"
    file.write_text(new)


class Results:
    def __init__(self):
        self.samples = {}
        self.counts = {}

    def add(self, key, seconds, count=None):
        self.samples.setdefault(key, []).append(seconds)
        if count is not None:
            self.counts[key] = count

    def median(self, key):
        return statistics.median(self.samples[key]) if key in self.samples else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (median)")
    parser.add_argument("--scenarios", default="cold,edit,test,fresh,noop")
    parser.add_argument("--work", help="work directory (default: a temporary one)")
    parser.add_argument("--json", help="write results to this file")
    args = parser.parse_args()
    scenarios = set(args.scenarios.split(","))

    run(["cargo", "build", "--release", "--workspace"], REPO)
    work = Path(args.work or tempfile.mkdtemp(prefix="relink-bench-"))
    ws = work / "ripgrep"
    if not ws.exists():
        run(["bash", str(REPO / "bench" / "ripgrep_workspace.sh"), str(ws)], REPO)
    cache = work / "relink-cache"
    run([str(RELINK), "import"], ws)
    res = Results()
    target = work / "cargo-target"

    if "cold" in scenarios:
        for i in range(args.runs):
            shutil.rmtree(cache, ignore_errors=True)
            log = work / "cold.jsonl"
            t, _, _ = relink(ws, cache, "build", "//:rg", log=log)
            res.add("cold/relink", t, relink_counts(log)[0])
            shutil.rmtree(target, ignore_errors=True)
            t, _, err = cargo(ws, target, "build", "--bin", "rg")
            res.add("cold/cargo", t, cargo_compiles(err))
            print(f"cold {i}: relink {res.samples['cold/relink'][-1]:.1f}s cargo {t:.1f}s", file=sys.stderr)

    # Warm every variant once.
    relink(ws, cache, "build", "//:rg")
    relink(ws, cache, "build", "--define", "relink_cutoff=0", "//:rg")
    relink(ws, cache, "build", "--rustc-incremental=false", "//:rg")
    cargo(ws, target, "build", "--bin", "rg")

    if "edit" in scenarios:
        for which in EDITS:
            for i in range(args.runs):
                toggle_edit(ws, which)
                log = work / "edit.jsonl"
                t, _, _ = relink(ws, cache, "build", "//:rg", log=log)
                res.add(f"edit-{which}/relink", t, relink_counts(log)[0])
                label = "//crates/globset:globset" if which == "globset" else "//crates/grep-searcher:grep-searcher"
                compile_s = action_ms(log, "RustCompile", label)
                link_s = action_ms(log, "RustLink", "//:rg")
                if compile_s is not None and link_s is not None:
                    res.add(f"edit-{which}/limit", compile_s + link_s)
                t, _, _ = relink(ws, cache, "build", "--define", "relink_cutoff=0", "//:rg", log=log)
                res.add(f"edit-{which}/relink-no-cutoff", t, relink_counts(log)[0])
                t, _, _ = relink(ws, cache, "build", "--rustc-incremental=false", "//:rg", log=log)
                res.add(f"edit-{which}/relink-stateless", t, relink_counts(log)[0])
                t, _, err = cargo(ws, target, "build", "--bin", "rg")
                res.add(f"edit-{which}/cargo", t, cargo_compiles(err))
                print(f"edit {which} {i}: " + ", ".join(f"{k.split('/')[1]} {v[-1]:.2f}s" for k, v in res.samples.items() if k.startswith(f"edit-{which}/")), file=sys.stderr)

    if "test" in scenarios:
        relink(ws, cache, "test", "//...")
        cargo(ws, target, "test", "--workspace", "--lib", "--bins", "--tests", "--no-run")
        for i in range(args.runs):
            toggle_edit(ws, "globset")
            log = work / "test.jsonl"
            t, _, _ = relink(ws, cache, "test", "//...", log=log)
            res.add("test/relink", t, relink_counts(log)[0])
            t, _, err = cargo(ws, target, "test", "--workspace", "--lib", "--bins", "--tests")
            res.add("test/cargo", t, cargo_compiles(err))
            print(f"test {i}: relink {res.samples['test/relink'][-1]:.1f}s cargo {t:.1f}s", file=sys.stderr)

    if "fresh" in scenarios:
        relink(ws, cache, "build", "//:rg")
        for i in range(args.runs):
            fresh = work / f"fresh-{i}"
            shutil.rmtree(fresh, ignore_errors=True)
            shutil.copytree(ws, fresh, ignore=shutil.ignore_patterns("relink-bin"))
            log = work / "fresh.jsonl"
            t, _, _ = relink(fresh, cache, "build", "//:rg", log=log)
            res.add("fresh/relink", t, relink_counts(log)[0])
            fresh_target = work / f"fresh-target-{i}"
            t, _, err = cargo(fresh, fresh_target, "build", "--bin", "rg")
            res.add("fresh/cargo", t, cargo_compiles(err))
            shutil.rmtree(fresh_target, ignore_errors=True)
            shutil.rmtree(fresh, ignore_errors=True)

    if "noop" in scenarios:
        for i in range(args.runs):
            t, _, _ = relink(ws, cache, "build", "//:rg")
            res.add("noop/relink", t)
            t, _, _ = cargo(ws, target, "build", "--bin", "rg")
            res.add("noop/cargo", t)

    report(res)
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": SETTINGS, "samples": res.samples, "counts": res.counts}, indent=1))


def report(res):
    rows = []

    def row(name, key, base_key, note=""):
        if key not in res.samples:
            return
        m = res.median(key)
        base = res.median(base_key)
        count = res.counts.get(key, "")
        rows.append((name, f"{m:.2f}", str(count), f"{m / base:.2f}" if base == base else "", note))

    row("cold build: relink", "cold/relink", "cold/cargo", "vs cargo")
    row("cold build: cargo", "cold/cargo", "cold/cargo")
    for which in EDITS:
        p = f"edit-{which}"
        row(f"edit {which}: relink", f"{p}/relink", f"{p}/cargo", "vs cargo")
        row(f"edit {which}: cargo (incremental)", f"{p}/cargo", f"{p}/cargo")
        row(f"edit {which}: relink, no cutoff", f"{p}/relink-no-cutoff", f"{p}/relink", "vs relink")
        row(f"edit {which}: relink --rustc-incremental=false", f"{p}/relink-stateless", f"{p}/cargo", "vs cargo")
        row(f"edit {which}: physical limit", f"{p}/limit", f"{p}/relink", "vs relink (compile + link alone)")
    row("test loop: relink test", "test/relink", "test/cargo", "vs cargo")
    row("test loop: cargo test", "test/cargo", "test/cargo")
    row("fresh checkout, warm cache: relink", "fresh/relink", "cold/relink", "vs relink cold")
    row("fresh checkout: cargo", "fresh/cargo", "cold/cargo", "vs cargo cold")
    row("no-op: relink", "noop/relink", "noop/cargo", "vs cargo")
    row("no-op: cargo", "noop/cargo", "noop/cargo")
    print(f"Settings: {SETTINGS}.")
    widths = [max(len(r[i]) for r in rows + [("scenario", "median s", "compiles", "ratio", "ratio of")]) for i in range(5)]
    header = ("scenario", "median s", "compiles", "ratio", "ratio of")
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-|-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths)))


if __name__ == "__main__":
    main()
