#!/usr/bin/env python3
"""Cost of confining actions (issue 10): each action in its own user and mount namespace with
the store and every hard-linked input read-only, against RELINK_CONFINE=0.

A generated workspace: 20 producers, then 200 shell actions that each take all 20 produced
files as inputs (hard links from the store, so 20 read-only bind mounts plus the store's per
action). Cold builds at -j1 with a fresh cache, alternating the two settings; prints the
median wall time of each and the difference per action.

With --ripgrep: cold builds of ripgrep 15.2.0's rg instead (bench/ripgrep_workspace.sh,
imported), alternating, at -j2; prints each pair's ratio and their median.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RELINK = REPO / "target" / "release" / "relink"
DEFS = '''
def _sh_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".out")
    args = ctx.actions.args()
    args.add_all(ctx.files.srcs)
    ctx.actions.run(executable = "/bin/sh", arguments = ["-c", ctx.attr.cmd, "sh", out.path, args],
                    inputs = ctx.files.srcs, outputs = [out], mnemonic = "Shell")
    return [DefaultInfo(files = depset([out]))]

sh = rule(implementation = _sh_impl, attrs = {"cmd": attr.string(), "srcs": attr.label_list(allow_files = True)})
'''


def workspace(root, producers, consumers):
    root.mkdir(parents=True)
    (root / "MODULE.bazel").write_text('module(name = "confine_bench")\n')
    (root / "defs.bzl").write_text(DEFS)
    lines = ['load("//:defs.bzl", "sh")']
    for i in range(producers):
        lines.append(f'sh(name = "p{i}", cmd = "echo {i} > \\"$1\\"")')
    srcs = ", ".join(f'":p{i}"' for i in range(producers))
    for i in range(consumers):
        lines.append(f'sh(name = "c{i}", cmd = "out=\\"$1\\"; shift; cat \\"$@\\" > /dev/null; echo {i} > \\"$out\\"", srcs = [{srcs}])')
    (root / "BUILD.bazel").write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--producers", type=int, default=20)
    parser.add_argument("--consumers", type=int, default=200)
    parser.add_argument("--ripgrep", action="store_true", help="cold builds of ripgrep's rg instead")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--workspace"], cwd=REPO, check=True, capture_output=True)
    work = Path(tempfile.mkdtemp(prefix="confine-bench-"))
    if args.ripgrep:
        return ripgrep(work, args.runs)
    ws = work / "ws"
    workspace(ws, args.producers, args.consumers)
    times = {"1": [], "0": []}
    for _ in range(args.runs):
        for mode in ("1", "0"):
            cache = work / "cache"
            shutil.rmtree(cache, ignore_errors=True)
            start = time.perf_counter()
            subprocess.run([str(RELINK), "build", "-j", "1", "--cache-dir", str(cache), "//..."], cwd=ws, check=True,
                           capture_output=True, env=dict(os.environ, RELINK_CONFINE=mode))
            times[mode].append(time.perf_counter() - start)
    actions = args.producers + args.consumers
    on, off = statistics.median(times["1"]), statistics.median(times["0"])
    print(f"{actions} actions, {args.producers} linked inputs per consumer, -j1, median of {args.runs} cold builds:")
    print(f"  confined    {on:.3f} s")
    print(f"  unconfined  {off:.3f} s")
    print(f"  per action  {(on - off) / actions * 1000:+.2f} ms  (ratio {on / off:.3f})")
    shutil.rmtree(work, ignore_errors=True)


def ripgrep(work, runs):
    ws = work / "ripgrep"
    subprocess.run(["bash", str(REPO / "bench" / "ripgrep_workspace.sh"), str(ws)], check=True, capture_output=True)
    subprocess.run([str(RELINK), "import"], cwd=ws, check=True, capture_output=True)
    ratios = []
    for i in range(runs):
        pair = {}
        for mode in ("1", "0") if i % 2 == 0 else ("0", "1"):
            cache = work / "cache"
            shutil.rmtree(cache, ignore_errors=True)
            start = time.perf_counter()
            subprocess.run([str(RELINK), "build", "--cache-dir", str(cache), "//:rg"], cwd=ws, check=True,
                           capture_output=True, env=dict(os.environ, RELINK_CONFINE=mode))
            pair[mode] = time.perf_counter() - start
        ratios.append(pair["1"] / pair["0"])
        print(f"cold rg: confined {pair['1']:.2f} s, unconfined {pair['0']:.2f} s, ratio {ratios[-1]:.3f}")
    print(f"median ratio over {runs} pairs: {statistics.median(ratios):.3f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
