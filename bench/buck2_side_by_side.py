#!/usr/bin/env python3
"""ripgrep 15.2.0 (crates.io) built by relink, by Buck2 with the rules_relink cell
(`relink import --buck2`, ../shared/tools/buck2/buck2) and by Cargo, side by side: a cold
build of rg, then two edits in globset and a rebuild after each: a private body edit (a
constant inside a function) and a public signature edit (a new public function, which
changes globset's interface). Each tool works in its own copy of the workspace; the order of
the tools rotates per round. relink runs with its defaults (rustc's incremental state for
workspace crates), Buck2 with the cell's (no incremental state), Cargo with `cargo build
--bin rg` (dev profile, incremental).

Usage: python3 bench/buck2_side_by_side.py [--rounds N]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELINK = os.path.join(REPO, "target/release/relink")
BUCK2 = os.path.join(os.path.dirname(REPO), "shared/tools/buck2/buck2")
EDITS = [
    ("private body", ".nfa_size_limit(Some(10 * (1 << 20)))", ".nfa_size_limit(Some(12 * (1 << 20)))"),
    ("public item", "    /// Returns the number of globs in this set.",
     "    /// Added by the benchmark.\n    pub fn bench_added(&self) -> usize {\n        0\n    }\n\n    /// Returns the number of globs in this set."),
]


def timed(cmd, cwd, env=None):
    start = time.monotonic()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed in {cwd}:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return time.monotonic() - start


def edit(ws, old, new):
    path = os.path.join(ws, "crates/globset/src/lib.rs")
    text = open(path).read()
    if old not in text:
        sys.exit(f"the edit no longer applies: {old!r}")
    open(path, "w").write(text.replace(old, new, 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=REPO, check=True)
    work = tempfile.mkdtemp(prefix="relink-buck2-bench-")
    try:
        src = os.path.join(work, "src")
        subprocess.run(["bash", os.path.join(REPO, "bench/ripgrep_workspace.sh"), src], check=True, capture_output=True)
        timed([RELINK, "import", "--buck2"], src, dict(os.environ, RELINK_CACHE=os.path.join(work, "import-cache")))
        tools = {
            "relink": lambda ws, r: ([RELINK, "build", "//:rg"], dict(os.environ, RELINK_CACHE=os.path.join(work, f"cache-{r}"))),
            "buck2": lambda ws, r: ([BUCK2, "build", "//:rg"], None),
            "cargo": lambda ws, r: (["cargo", "build", "--quiet", "--bin", "rg"], None),
        }
        print(f"ripgrep 15.2.0, {os.cpu_count()} cores; seconds for: cold build of rg, then a rebuild after each globset edit")
        totals = {t: [0.0] * (1 + len(EDITS)) for t in tools}
        for r in range(args.rounds):
            order = list(tools)[r % 3:] + list(tools)[:r % 3]
            for tool in order:
                ws = os.path.join(work, f"{tool}-{r}")
                shutil.copytree(src, ws, symlinks=True)
                cmd, env = tools[tool](ws, r)
                times = [timed(cmd, ws, env)]
                for _, old, new in EDITS:
                    edit(ws, old, new)
                    times.append(timed(cmd, ws, env))
                if tool == "buck2":
                    subprocess.run([BUCK2, "kill"], cwd=ws, capture_output=True)
                for i, t in enumerate(times):
                    totals[tool][i] += t
                print(f"[round {r + 1}] {tool:7} cold {times[0]:6.1f}  " + "  ".join(
                    f"{name} {t:5.1f}" for (name, _, _), t in zip(EDITS, times[1:])))
        print("\nmean over rounds, and ratio to Cargo:")
        for tool, t in totals.items():
            cells = [f"{v / args.rounds:6.1f} s ({v / totals['cargo'][i]:.2f}x)" for i, v in enumerate(t)]
            print(f"  {tool:7} cold {cells[0]}  " + "  ".join(f"{name} {c}" for (name, _, _), c in zip(EDITS, cells[1:])))
    finally:
        subprocess.run(["chmod", "-R", "u+w", work])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
