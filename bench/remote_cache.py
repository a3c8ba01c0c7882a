#!/usr/bin/env python3
"""Remote cache on real code: ripgrep 15.2.0 (crates.io, `relink import`) in three checkouts
with three local caches and one NativeLink (../shared/tools/nativelink).

  A: cold build with --remote_cache (everything runs, results uploaded)
  B: cold build in another directory with --remote_cache (every output downloaded)
  T: the same with --remote_download_outputs=toplevel (only what is needed here)
  C: cold build in a third directory without a remote (the local baseline)

B, T and C rotate order per round. Prints wall times, B/C, what B executed, and whether the
three rg binaries are identical. Modes: `shared` (all with `--rustc-incremental=false`:
everything may be shared), `default` (all with workspace crates compiled with local-only
incremental state) and `ci` (A as CI runs it, stateless; B, T and C with the default: their
incremental compiles take A's stateless results on a local miss).

Usage: python3 bench/remote_cache.py [--rounds N] [--mode shared|default|ci|all]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELINK = os.path.join(REPO, "target/release/relink")
NATIVELINK = os.path.join(REPO, "../shared/tools/nativelink/start.sh")


def run(cmd, cwd, env=None, log=None):
    full = [RELINK, cmd[0]] + (["--execution-log", log] if log else []) + cmd[1:]
    start = time.monotonic()
    out = subprocess.run(full, cwd=cwd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"relink {' '.join(cmd)} failed in {cwd}:\n{out.stderr[-3000:]}")
    return time.monotonic() - start, out.stderr


def executed(log):
    ran = []
    for line in open(log):
        v = json.loads(line)
        if v["cache"] == "miss":
            ran.append(v["mnemonic"])
    return ran


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--mode", default="all", choices=["shared", "default", "ci", "all"])
    args = ap.parse_args()
    if not os.path.exists(RELINK):
        subprocess.run(["cargo", "build", "--release", "-q"], cwd=REPO, check=True)
    work = tempfile.mkdtemp(prefix="relink-remote-bench-")
    try:
        src = os.path.join(work, "ripgrep")
        subprocess.run(["bash", os.path.join(REPO, "bench/ripgrep_workspace.sh"), src], check=True, capture_output=True)
        env = dict(os.environ, RELINK_CACHE=os.path.join(work, "import-cache"))
        run(["import"], src, env)
        modes = ["shared", "default", "ci"] if args.mode == "all" else [args.mode]
        print(f"ripgrep 15.2.0, relink build //:rg, {os.cpu_count()} cores; NativeLink 1.6.6 on 127.0.0.1")
        for mode in modes:
            flags = ["--rustc-incremental=false"] if mode == "shared" else []
            a_flags = ["--rustc-incremental=false"] if mode in ("shared", "ci") else []
            for r in range(args.rounds):
                nl_dir = os.path.join(work, f"nl-{mode}-{r}")
                port = 50300 + 20 * r + {"shared": 0, "default": 100, "ci": 200}[mode]
                pid = subprocess.run(["bash", NATIVELINK, nl_dir, str(port), str(port + 10)],
                                     check=True, capture_output=True, text=True).stdout.strip()
                remote = [f"--remote_cache=grpc://127.0.0.1:{port}"]
                try:
                    dirs = {}
                    for name in "abtc":
                        d = os.path.join(work, f"{mode}-{r}-{name}")
                        shutil.copytree(src, d, symlinks=True)
                        dirs[name] = d
                    cache = lambda n: dict(os.environ, RELINK_CACHE=os.path.join(work, f"cache-{mode}-{r}-{n}"))
                    t_a, _ = run(["build"] + remote + a_flags + ["//:rg"], dirs["a"], cache("a"))
                    times = {}
                    order = ["btc", "ctb", "tcb"][r % 3]
                    for name in order:
                        log = os.path.join(work, f"log-{mode}-{r}-{name}.jsonl")
                        extra = {"b": remote, "t": remote + ["--remote_download_outputs=toplevel"]}.get(name, [])
                        times[name], _ = run(["build"] + extra + flags + ["//:rg"], dirs[name], cache(name), log)
                    ran_b = executed(os.path.join(work, f"log-{mode}-{r}-b.jsonl"))
                    ran_c = executed(os.path.join(work, f"log-{mode}-{r}-c.jsonl"))
                    rg = {n: open(os.path.join(dirs[n], "relink-bin/rg"), "rb").read() for n in "abtc"}
                    remote_same = rg["a"] == rg["b"] == rg["t"]
                    local_same = "same" if rg["c"] == rg["a"] else "differs (its own incremental compiles)"
                    counts = {}
                    for m in ran_b:
                        counts[m] = counts.get(m, 0) + 1
                    print(f"[{mode} round {r + 1}] A (cold, uploading) {t_a:.1f} s | B (remote) {times['b']:.1f} s"
                          f" | T (remote, toplevel) {times['t']:.1f} s | C (local) {times['c']:.1f} s"
                          f" | B/C {times['b'] / times['c']:.2f} | T/C {times['t'] / times['c']:.2f}"
                          f" | B ran {len(ran_b)} of {len(ran_c)} actions {counts} | rg of A, B, T identical: {remote_same}; C's {local_same}")
                finally:
                    subprocess.run(["kill", pid])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
