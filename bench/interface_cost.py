#!/usr/bin/env python3
"""Interface cost per crate of the ripgrep workspace: the time of a crate's RustInterface
(stub + -Zno-codegen compile) divided by the time of its full debug RustCompile, and the
median over crates. Goal <= 0.25.

Every crate of the graph is stubbed (--define relink_stub_all=1) and actions run one at a
time (-j 1) so that the two actions of a crate are timed on an otherwise idle machine; each
crate's ratio is the median over --runs cold builds.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RELINK = REPO / "target" / "release" / "relink"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--members-only", action="store_true", help="only the workspace members (stubbed by default)")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--workspace"], cwd=REPO, check=True, capture_output=True)
    work = Path(tempfile.mkdtemp(prefix="relink-iface-cost-"))
    ws = work / "ripgrep"
    subprocess.run(["bash", str(REPO / "bench" / "ripgrep_workspace.sh"), str(ws)], check=True, capture_output=True)
    subprocess.run([str(RELINK), "import"], cwd=ws, check=True, capture_output=True)
    ratios = {}
    for run in range(args.runs):
        cache = work / f"cache-{run}"
        log = work / f"log-{run}.jsonl"
        subprocess.run([str(RELINK), "build", "-j", "1", "--cache-dir", str(cache), "--execution-log", str(log),
                        "--define", "relink_stub_all=1", "//:rg"], cwd=ws, check=True, capture_output=True)
        times = {}
        for line in log.read_text().splitlines():
            e = json.loads(line)
            times.setdefault(e["target"], {})[e["mnemonic"]] = e["duration_ms"]
        for target, t in times.items():
            if "RustInterface" in t and "RustCompile" in t and t["RustCompile"] > 0:
                if args.members_only and not target.startswith("//crates/"):
                    continue
                ratios.setdefault(target, []).append(t["RustInterface"] / t["RustCompile"])
    rows = sorted((statistics.median(v), k) for k, v in ratios.items())
    for ratio, target in rows:
        print(f"{ratio:6.2f}  {target}")
    print(f"median over {len(rows)} crates: {statistics.median(r for r, _ in rows):.2f} (goal <= 0.25)")


if __name__ == "__main__":
    sys.exit(main())
