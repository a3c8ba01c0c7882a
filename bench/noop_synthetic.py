#!/usr/bin/env python3
"""No-op build time of a synthetic workspace of N rust_library targets (default 500).

Generates PACKAGES packages of tiny crates, each depending on up to three crates of earlier
packages, builds everything once, then times `relink build //...` with nothing to do (median
of --runs). Target: <= 0.5 s for 500 targets.
"""

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RELINK = REPO / "target" / "release" / "relink"


def generate(root: Path, targets: int, per_package: int):
    root.mkdir(parents=True)
    (root / "MODULE.bazel").write_text('module(name = "synthetic")\n')
    rng = random.Random(42)
    names = []
    for p in range(targets // per_package):
        pkg = root / f"p{p:03d}"
        pkg.mkdir(parents=True)
        build = ['load("@rules_relink//rules:defs.bzl", "rust_library")\n']
        for i in range(per_package):
            name = f"c{p:03d}_{i}"
            deps = rng.sample(names, min(3, len(names))) if names else []
            uses = "".join(f"    let _ = {d.split(':')[1]}::value();\n" for d in deps)
            (pkg / f"{name}.rs").write_text(
                f"pub fn value() -> u64 {{\n{uses}    {p * 100 + i}\n}}\n\npub fn generic<T: Clone>(t: &T) -> T {{ t.clone() }}\n"
            )
            dep_list = ", ".join(f'"{d}"' for d in deps)
            build.append(f'rust_library(name = "{name}", srcs = ["{name}.rs"], deps = [{dep_list}], visibility = ["//visibility:public"])\n')
            names.append(f"//p{p:03d}:{name}")
        (pkg / "BUILD.bazel").write_text("\n".join(build))
    return names


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--targets", type=int, default=500)
    parser.add_argument("--per-package", type=int, default=10)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--workspace"], cwd=REPO, check=True, capture_output=True)
    work = Path(tempfile.mkdtemp(prefix="relink-noop-"))
    ws = work / "ws"
    generate(ws, args.targets, args.per_package)
    cache = work / "cache"
    cmd = [str(RELINK), "build", "--cache-dir", str(cache), "//..."]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ws, check=True, capture_output=True)
    cold = time.perf_counter() - start
    samples = []
    for _ in range(args.runs):
        start = time.perf_counter()
        out = subprocess.run(cmd, cwd=ws, check=True, capture_output=True, text=True)
        samples.append(time.perf_counter() - start)
        assert " 0 executed" in out.stderr, out.stderr
    print(f"synthetic workspace: {args.targets} rust_library targets ({2 * args.targets} actions)")
    print(f"cold build: {cold:.1f} s")
    print(f"no-op build: median {statistics.median(samples):.3f} s over {args.runs} runs (min {min(samples):.3f}, max {max(samples):.3f}); target <= 0.5 s")


if __name__ == "__main__":
    sys.exit(main())
