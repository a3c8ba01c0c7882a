#!/usr/bin/env python3
"""The ceiling of any finer dependent key, measured with rustc as the oracle (issue 24).

A finer key may skip a dependent's real compile only when the compile would produce the same
code. rustc's incremental compilation knows: after each commit of a window, Cargo rebuilds the
binary incrementally and every workspace library's rlib is read back; a dependent that Cargo
recompiled (a dependency's metadata changed) but whose object files came out byte-identical
observed nothing of the change, so a perfect key would have skipped it. Those sets, fed to the
replay's ideal schedule with the Cargo timings a replay recorded (`bench/replay.py --json`),
give the ideal build time of a perfect key, beside the whole-interface key's. A finer key built
from names (`bench/finer_key.py`) is judged against this ceiling.

Builds the window once with Cargo (its own target directory, no relink):
  python3 bench/cutoff_oracle.py --replay bench/results/replay-rust-analyzer.json \\
      --repo /work/data/ra/rust-analyzer-window.git --branch window --base 64cdaeb06f \\
      --bin rust-analyzer
"""

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import finer_key  # noqa: E402
import interface_causes as ic  # noqa: E402
import replay  # noqa: E402


def rlib_objects(path):
    """Object members of an rlib (codegen unit -> digest), the metadata member left out."""
    data = path.read_bytes()
    if data[:8] != b"!<arch>\n":
        return {}
    i, names, members = 8, b"", {}
    while i + 60 <= len(data):
        header = data[i:i + 60]
        name = header[:16].decode().strip()
        size = int(header[48:58].decode().strip())
        body = data[i + 60:i + 60 + size]
        if name == "//":
            names = body
        elif not name.startswith("/") or name[1:].isdigit():
            if name.startswith("/"):
                offset = int(name[1:])
                name = names[offset:names.index(b"/\n", offset)].decode()
            name = name.rstrip("/")
            if name != "lib.rmeta":
                # `crate-hash.CGU.SESSION.rcgu.o`: the session part changes on every compile.
                parts = name.split(".")
                members[parts[1] if len(parts) > 3 else name] = hashlib.sha256(body).hexdigest()
        i += 60 + size + (size & 1)
    return members


def snapshot(target):
    """Crate name -> (rlib mtime, object digests) of the newest rlib of each crate."""
    newest = {}
    for p in (target / "debug" / "deps").glob("lib*.rlib"):
        crate = p.name[3:].rsplit("-", 1)[0]
        if crate not in newest or p.stat().st_mtime > newest[crate].stat().st_mtime:
            newest[crate] = p
    return {c: (p.stat().st_mtime, rlib_objects(p)) for c, p in newest.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ic.window_arguments(ap, "/tmp/cutoff-oracle")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--finer", help="JSON written by bench/finer_key.py --json, to compare its decisions")
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    args = ap.parse_args()

    rows = finer_key.load_rows(args.replay)
    finer = {r["commit"]: r for r in json.loads(Path(args.finer).read_text())["rows"]} if args.finer else {}
    work, clone, by_short = ic.clone_window(args, "repo", fresh=False)
    env = dict(os.environ)
    env.pop("RUSTFLAGS", None)

    def build(rev):
        ic.run(["git", "-c", "advice.detachedHead=false", "checkout", "-q", "-f", rev], clone)
        replay.sh(["cargo", "build", "-q", "--bin", args.bin], clone, env=env)
        return snapshot(clone / "target")

    before = build(ic.run(["git", "rev-parse", f"{args.base}^{{commit}}"], clone).stdout.strip())
    out_rows = []
    for row in rows:
        after = build(by_short[row["commit"]])
        ws = finer_key.Workspace(clone)
        changed = row["changed_files"]
        edited = {n for n in ws.members if any(f.endswith((".rs", "Cargo.toml")) for f in ws.files_of(n, changed))}
        recompiled, observed = set(), set()
        for name in ws.members:
            crate = name.replace("-", "_")
            if name in edited or crate not in after or crate not in before:
                continue
            if after[crate][0] != before[crate][0]:
                recompiled.add(name)
                if after[crate][1] != before[crate][1]:
                    observed.add(name)
        # The binary's package: its library is a dependent like the others; its binary always
        # recompiles when a dependency's metadata changes (no rlib to compare), as in the replay.
        units, sources = row["cargo_units"], ws.sources(clone)
        args_ideal = (units, ws.graph, sources, changed, row["interface_changed"], row["link_ms"], args.jobs)
        ideal_whole = replay.ideal_time(*args_ideal)
        ideal_oracle = replay.ideal_time(*args_ideal, recompile=observed)
        f = finer.get(row["commit"])
        r = {
            "n": row["n"], "commit": row["commit"], "subject": row["subject"], "cargo_s": row["cargo_s"],
            "ideal_whole_s": ideal_whole, "ideal_oracle_s": ideal_oracle,
            "cargo_recompiled": sorted(recompiled), "observed": sorted(observed),
            "finer_recompiled": f["recompiled_fine"] if f else None,
        }
        out_rows.append(r)
        missed = sorted(observed - set(f["recompiled_fine"])) if f else []
        print(f"[{row['n']}] {row['commit']} cargo {row['cargo_s']:6.1f} s  ideal: whole key {ideal_whole:6.1f}  perfect key {ideal_oracle:6.1f}  "
              f"dependents Cargo recompiled {len(recompiled)}, of which changed code {len(observed)}: {sorted(observed)}"
              + (f"  finer key recompiles {len(f['recompiled_fine'])}, misses {missed}" if f else ""), flush=True)
        before = after
    total = lambda k: sum(r[k] for r in out_rows)  # noqa: E731
    summary = {"commits": len(out_rows), "cargo_s": total("cargo_s"), "ideal_whole_s": total("ideal_whole_s"), "ideal_oracle_s": total("ideal_oracle_s"),
               "cargo_recompiled": sum(len(r["cargo_recompiled"]) for r in out_rows), "observed": sum(len(r["observed"]) for r in out_rows)}
    summary["cargo_vs_ideal_whole"] = summary["cargo_s"] / max(summary["ideal_whole_s"], 1e-9)
    summary["cargo_vs_ideal_oracle"] = summary["cargo_s"] / max(summary["ideal_oracle_s"], 1e-9)
    totals = (f"Totals: Cargo {summary['cargo_s']:.1f} s; ideal, whole-interface key {summary['ideal_whole_s']:.1f} s "
              f"({summary['cargo_vs_ideal_whole']:.2f}x faster than Cargo); ideal, perfect key {summary['ideal_oracle_s']:.1f} s "
              f"(**{summary['cargo_vs_ideal_oracle']:.2f}x**). Dependents: {summary['cargo_recompiled']} recompiled by Cargo, "
              f"{summary['observed']} with changed code.")
    finer_key.write_results(args, summary, out_rows, ["ideal, whole-interface key s", "ideal, perfect key s", "dependents recompiled by Cargo", "of which with changed code"],
                            lambda r: [f"{r['ideal_whole_s']:.1f}", f"{r['ideal_oracle_s']:.1f}", str(len(r["cargo_recompiled"])), str(len(r["observed"]))], totals)


if __name__ == "__main__":
    main()
