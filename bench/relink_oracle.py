#!/usr/bin/env python3
"""What a perfect dependent key would still save over relink itself (issue 24).

`bench/cutoff_oracle.py` states the ceiling of a finer key in Cargo's timings. relink's own
recompiles of dependents are not Cargo's (they compile against stub interfaces, incrementally,
with their own codegen-unit reuse), so this script measures the same thing on relink's outputs:
it reads the work directory a `bench/replay.py --work DIR` run left (the execution log of every
commit, `log-N.jsonl`, and the relink cache of that replay) and, for every real compile of a
crate that the commit did not edit (`RustCompile`, `RustCompileNoLink`: a dependent recompiled
because an interface it compiles against changed), compares its object files with those of the
same action's previous result. Identical objects: the dependent observed nothing of the edit,
and a perfect key would have skipped that compile (its interface compile would still run:
`docs/interfaces.md` §8, point 5). Reported per commit: relink's wall time, the time of such
compiles (the action's own duration), and how many ran.

Run a replay that keeps its work directory, then (seconds, no build):
  python3 bench/replay.py ... --work /tmp/replay-ra --json /tmp/replay-ra.json
  python3 bench/relink_oracle.py --replay /tmp/replay-ra.json --work /tmp/replay-ra
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cutoff_oracle import rlib_objects  # noqa: E402

REAL_COMPILES = ("RustCompile", "RustCompileNoLink")


def blob(cache, digest):
    """The stored bytes of an output digest (`cas/ab/abcd...`)."""
    return cache / "cas" / digest[:2] / digest


def objects_of(cache, entry):
    """Object files of a real compile's outputs (name -> digest); None when unreadable."""
    objects = {}
    for path, digest in (entry.get("output_digests") or {}).items():
        if path.endswith(".rlib"):
            stored = blob(cache, digest)
            if not stored.exists():
                return None
            for name, member in rlib_objects(stored).items():
                objects[f"{path}:{name}"] = member
        elif path.endswith(".o"):
            objects[path] = digest
    return objects or None


def package_dir(label):
    """`//crates/hir-ty:hir_ty` -> `crates/hir-ty/` (`//:rg` -> ``)."""
    package = label[2:].split(":", 1)[0]
    return f"{package}/" if package else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replay", required=True, help="JSON written by bench/replay.py --json")
    ap.add_argument("--work", required=True, help="the replay's --work directory (logs and relink-cache)")
    ap.add_argument("--json")
    args = ap.parse_args()
    work = Path(args.work)
    cache = work / "relink-cache"
    rows = json.loads(Path(args.replay).read_text())["rows"]
    last = {}  # (mnemonic, target) -> objects of its latest result

    def real_compiles(log):
        """Each real compile of a log with its objects (read once), oldest first."""
        for line in log.read_text().splitlines():
            e = json.loads(line)
            if e["mnemonic"] in REAL_COMPILES:
                yield e, objects_of(cache, e)

    for e, objects in real_compiles(work / "log-0.jsonl"):
        if objects is not None:
            last[(e["mnemonic"], e["target"])] = objects
    out, totals = [], {"relink_s": 0.0, "dependents_s": 0.0, "identical_s": 0.0, "dependents": 0, "identical": 0}
    for row in rows:
        changed = row["changed_files"]
        dependents, identical = [], []
        for e, objects in real_compiles(work / f"log-{row['n']}.jsonl"):
            key = (e["mnemonic"], e["target"])
            # A dependent: it ran, and the commit edited nothing of its (workspace) package.
            prefix = package_dir(e["target"])
            dependent = e["cache"] == "miss" and not e["target"].startswith("//third_party/") and not any(
                f.startswith(prefix) for f in changed
            )
            if dependent:
                seconds = e.get("duration_ms", 0) / 1000
                dependents.append((e["target"], e["mnemonic"], seconds))
                if objects is not None and objects == last.get(key):
                    identical.append((e["target"], e["mnemonic"], seconds))
            if objects is not None:
                last[key] = objects
        r = {
            "n": row["n"], "commit": row["commit"], "relink_s": row["relink_s"], "cargo_s": row["cargo_s"],
            "dependents": [list(d) for d in dependents], "identical": [list(d) for d in identical],
            "dependents_s": sum(d[2] for d in dependents), "identical_s": sum(d[2] for d in identical),
        }
        out.append(r)
        for k in ("relink_s", "dependents_s", "identical_s"):
            totals[k] += r[k]
        totals["dependents"] += len(dependents)
        totals["identical"] += len(identical)
        print(f"[{row['n']}] {row['commit']} relink {row['relink_s']:6.1f} s  cargo {row['cargo_s']:6.1f} s  "
              f"dependents' real compiles {len(dependents)} ({r['dependents_s']:.1f} s), identical objects {len(identical)} "
              f"({r['identical_s']:.1f} s): {', '.join(f'{t} {s:.1f}s' for t, _, s in sorted(identical, key=lambda d: -d[2])[:6])}", flush=True)
    print(f"Totals: relink {totals['relink_s']:.1f} s; dependents' real compiles {totals['dependents']} taking {totals['dependents_s']:.1f} s "
          f"of action time, {totals['identical']} of them with identical objects taking {totals['identical_s']:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": totals, "rows": out}, indent=1) + "\n")


if __name__ == "__main__":
    main()
