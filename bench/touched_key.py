#!/usr/bin/env python3
"""Which items of its dependencies each workspace crate's compile touched, by rustc's own
account (issue 24, docs/interfaces.md §10).

A key built from names saturates: `new`, `len`, `text` join every crate's items, and only type
resolution can say which `new` a dependent calls (bench/finer_key.py). rustc knows: every
query it executes for an item of another crate (type, signature, MIR, layout, the impls it
considered) is keyed on that item's definition path. This replays a window of real commits
with Cargo (`cargo build --bin BIN`, incremental, as bench/replay.py does), every workspace
member compiled with `-Zself-profile -Zself-profile-events=query-provider,query-keys`, and
after each build reads the profiles (bench/touched_keys, analyzeme) into, per compiled crate,
the path segment names of the items of each workspace crate its queries were keyed on. A
query rustc did not execute (found green in the incremental cache) is not in the profile, so
a crate's set is the union over all its compiles since the cold build.

  python3 bench/touched_key.py --replay bench/results/replay-rust-analyzer.json \\
      --repo /work/data/ra/rust-analyzer-window.git --branch window --base 64cdaeb06f \\
      --bin rust-analyzer --out bench/results/touched-rust-analyzer.json

bench/finer_key.py --touched FILE then decides per dependent with these sets instead of the
name closure.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import interface_causes as ic  # noqa: E402

TOOL_DIR = ic.REPO / "bench" / "touched_keys"
TOOL = TOOL_DIR / "target" / "release" / "touched-keys"

WRAPPER = """#!/bin/sh
# rustc for Cargo: compiles of workspace members (crate names in $TOUCHED_CRATES, sources
# given relative) are profiled; anything else (build scripts' compiler probes) runs as is.
rustc="$1"; shift
member= name= next=
for a in "$@"; do
  if [ -n "$next" ]; then name="$a"; next=; fi
  case "$a" in
    --crate-name) next=1 ;;
    *.rs) case "$a" in /*) ;; *) member=1 ;; esac ;;
  esac
done
case " $TOUCHED_CRATES " in *" $name "*) ;; *) member= ;; esac
if [ -n "$member" ]; then
  RUSTC_BOOTSTRAP=1 exec "$rustc" "$@" -Zself-profile="$TOUCHED_PROFILES" -Zself-profile-events=query-provider,query-keys
fi
exec "$rustc" "$@"
"""


def crate_names(tree):
    """The crate names (as rustc spells them) of the workspace members' targets."""
    meta = json.loads(ic.run(["cargo", "metadata", "--format-version", "1", "--offline", "--no-deps"], tree).stdout)
    return sorted({t["name"].replace("-", "_") for p in meta["packages"] for t in p["targets"]})


def collect(profiles, crates):
    """From the profiles written (then removed), per compiled crate and workspace crate: the
    names touched, the definition paths touched, the traits whose impls there it looked at."""
    names, paths, impls = {}, {}, {}
    for profile in sorted(profiles.glob("*.mm_profdata")):
        compiled = profile.name.rsplit("-", 1)[0]
        proc = subprocess.run([TOOL, profile, *crates], capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"{profile}: {proc.stderr}")
        found = json.loads(proc.stdout)
        for out, part in ((names, "names"), (paths, "paths"), (impls, "impls")):
            for krate, values in found[part].items():
                if krate != compiled:
                    out.setdefault(compiled, {}).setdefault(krate, set()).update(values)
        profile.unlink()
    as_lists = lambda m: {c: {k: sorted(v) for k, v in d.items()} for c, d in m.items()}  # noqa: E731
    return as_lists(names), as_lists(paths), as_lists(impls)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ic.window_arguments(ap, "/tmp/touched-key")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    subprocess.run(["cargo", "build", "-q", "--release", "--manifest-path", TOOL_DIR / "Cargo.toml"], check=True)
    rows = json.loads(Path(args.replay).read_text())["rows"]
    work, src, by_short = ic.clone_window(args, "src")
    wrapper = work / "rustc-wrapper"
    wrapper.write_text(WRAPPER)
    wrapper.chmod(0o755)
    profiles = work / "profiles"
    profiles.mkdir()
    env = dict(os.environ, RUSTC_WRAPPER=str(wrapper), TOUCHED_PROFILES=str(profiles), CARGO_TARGET_DIR=str(work / "target"))
    result = {"base": args.base, "bin": args.bin, "builds": []}
    for rev, label in [(args.base, "base")] + [(by_short[r["commit"]], r["commit"]) for r in rows]:
        ic.run(["git", "checkout", "-q", rev], src)
        crates = crate_names(src)
        env["TOUCHED_CRATES"] = " ".join(crates)
        started = time.time()
        build = subprocess.run(["cargo", "build", "--bin", args.bin], cwd=src, env=env, capture_output=True, text=True)
        if build.returncode != 0:
            sys.exit(f"cargo build at {rev} failed:\n{build.stderr[-3000:]}")
        built_s = time.time() - started
        touched, paths, impls = collect(profiles, crates)
        result["builds"].append({"commit": label, "build_s": round(built_s, 1), "touched": touched, "paths": paths, "impls": impls})
        sizes = sum(len(n) for d in touched.values() for n in d.values())
        print(f"{label}: built in {built_s:.1f} s, {len(touched)} crates profiled, {sizes} touched names", flush=True)
        Path(args.out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
