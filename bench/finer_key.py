#!/usr/bin/env python3
"""What a finer dependent key would skip on real history (issue 24, docs/interfaces.md §9).

Today a workspace crate recompiles when a dependency's interface changes. The finer key
recompiles a dependent D only when a changed item of a dependency is reachable from D: the
closure of the identifiers of D's sources over the items of its workspace dependencies' stubs
(`relink-builder observe`: the names that reach each item and the identifiers it mentions),
or when a change reaches every dependent (trait impl headers, macro definitions and item or
attribute macros, glob imports, derive lists, crate attributes, manifests, proc macros, build
scripts, a stub that fails).

For each commit of a replay already run (`bench/replay.py --json`), this stubs every workspace
library before and after, decides for every member which key recompiles it, and recomputes the
replay's ideal build time both ways from the Cargo timings the replay recorded. It builds
nothing: the numbers say what the finer key is worth before it is built into the action key.

  python3 bench/finer_key.py --replay bench/results/replay-rust-analyzer.json \\
      --repo /work/data/ra/rust-analyzer-window.git --branch window --base 64cdaeb06f
"""

import argparse
import collections
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import interface_causes as ic  # noqa: E402
import replay  # noqa: E402

BUILDER = ic.REPO / "target" / "release" / "relink-builder"


def load_rows(path):
    """The per-commit rows of a replay's JSON."""
    return json.loads(Path(path).read_text())["rows"]


class Workspace:
    """Members of one tree: package directory, library root, proc-macro flag, member deps."""

    def __init__(self, tree):
        out = ic.run(["cargo", "metadata", "--format-version", "1", "--offline", "--filter-platform", replay.host_triple()], tree).stdout
        meta = json.loads(out)
        self.graph = replay.Graph(meta)
        root = Path(meta["workspace_root"])
        self.members = {}
        for pid in meta["workspace_members"]:
            p = self.graph.by_id[pid]
            lib = next((t for t in p["targets"] if set(t["kind"]) & {"lib", "rlib", "proc-macro"}), None)
            self.members[p["name"]] = {
                "dir": str(Path(p["manifest_path"]).parent.relative_to(root)),
                "lib": str(Path(lib["src_path"]).relative_to(root)) if lib else None,
                "proc_macro": bool(lib and "proc-macro" in lib["kind"]),
                "targets": [(t["name"], t["kind"], str(Path(t["src_path"]).relative_to(root))) for t in p["targets"]],
            }

    def member_deps(self, name):
        return {d for d in self.graph.deps.get(name, ()) if d in self.members}

    def transitive(self, name):
        seen, todo = set(), list(self.member_deps(name))
        while todo:
            d = todo.pop()
            if d not in seen:
                seen.add(d)
                todo.extend(self.member_deps(d))
        return seen

    def files_of(self, name, changed):
        prefix = self.members[name]["dir"] + "/"
        return [f for f in changed if f.startswith(prefix) or self.members[name]["dir"] == "."]

    def sources(self, tree):
        """Crate name (as Cargo's units name it) -> files, for the ideal's "edited" test."""
        out = collections.defaultdict(set)
        for name, m in self.members.items():
            files = [str(p.relative_to(tree)) for p in (tree / m["dir"]).rglob("*.rs")]
            for tname, kinds, src in m["targets"]:
                if not set(kinds) & {"lib", "rlib", "proc-macro", "bin"}:
                    continue
                src_dir = str(Path(src).parent) + "/"
                if "bin" in kinds and src_dir.endswith("/bin/"):
                    mine = [f for f in files if f.startswith(src_dir)]
                elif "bin" in kinds:
                    mine = [src]
                else:
                    mine = [f for f in files if not any(f"/{d}/" in f for d in ("bin", "tests", "benches", "examples"))]
                out[tname.replace("-", "_")].update(mine)
        return out


def digest_of(paths):
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p).encode())
        h.update(Path(p).read_bytes() if Path(p).exists() else b"-")
    return h.hexdigest()


class Indexer:
    """Observed items of each member library's stub, cached by sources and macro summaries."""

    def __init__(self, work):
        self.work = work
        self.cache = {}

    def index(self, tree, ws, name, summaries, deps):
        m = ws.members[name]
        dep_macros = [summaries[d] for d in deps.get(name, []) if d in summaries]
        key = (name, digest_of(list((tree / m["dir"]).rglob("*.rs")) + dep_macros))
        if key not in self.cache:
            out = self.work / "stub"
            ok, _ = ic.stub(BUILDER, tree, m["lib"], out, "anchored", dep_macros)
            if not ok:
                self.cache[key] = None
            else:
                items = json.loads(ic.run([BUILDER, "observe", "--stub-dir", out], self.work).stdout)
                self.cache[key] = items
        return self.cache[key]


def idents_of(tree, directory):
    return set(json.loads(ic.run([BUILDER, "observe", "--sources", tree / directory], tree).stdout))


def changes_between(old, new):
    """(global reasons, changed named items) between two indexes of one crate."""
    if old is None or new is None:
        return {"stub failed (real sources)"}, [], set()
    a = {o["key"]: o for o in old}
    b = {o["key"]: o for o in new}
    reasons, items, traits = set(), [], set()
    for key in a.keys() | b.keys():
        x, y = a.get(key), b.get(key)
        if x and y and x["fingerprint"] == y["fingerprint"]:
            continue
        for item in (x, y):
            if not item:
                continue
            if item["global"]:
                reasons.add(item["global"])
                if item["global"] in IMPL_GLOBALS:
                    traits.add(impl_trait(item["key"]))
            elif item["names"] is None:
                reasons.add("item reached by every dependent")
            else:
                items.append(dict(item, added=x is None))
    return reasons, items, traits


def changed_names(items):
    """The names of changed items, sorted."""
    return sorted({n for i in items for n in i["names"]})


def reached(item, reach, crate):
    """Whether a named item of `crate` is reached: a public one (another crate can name it) by
    the dependent's own identifiers or by any reached item's text; a private one only by the
    text of reached items of its own crate (no other crate can mention it)."""
    own, derived, local = reach
    if item.get("public", True):
        return any(n in own or n in derived for n in item["names"])
    return any(n in local.get(crate, ()) for n in item["names"])


def closure(seed, indexes):
    """What a dependent reaches from `seed` (its own identifiers) over `indexes` (crate name ->
    lists of items): (its own identifiers, identifiers in the text of reached items, the same
    per crate). Public items are reached by any of those names, private ones only by names in
    the text of reached items of their own crate."""
    by_name = collections.defaultdict(list)
    items = [(crate, i) for crate, idxs in indexes.items() for idx in idxs for i in idx]
    derived, local = set(), collections.defaultdict(set)
    todo = [(name, None) for name in seed]

    def note(crate, idents):
        for i in idents:
            if i not in local[crate]:
                local[crate].add(i)
                todo.append((i, crate))
            derived.add(i)

    for n, (crate, item) in enumerate(items):
        if item["names"] is None:
            note(crate, item["idents"])
        else:
            for name in item["names"]:
                by_name[name].append(n)
    done, processed = set(), set()
    while todo:
        name, from_crate = todo.pop()
        if (name, from_crate) in processed:
            continue
        processed.add((name, from_crate))
        for n in by_name.get(name, ()):
            crate, item = items[n]
            if n in done or not (item.get("public", True) or crate == from_crate):
                continue
            done.add(n)
            note(crate, item["idents"])
    return set(seed), derived, local


class Touched:
    """What each crate's compiles touched of the workspace crates, by rustc's account
    (bench/touched_key.py): a crate's set before a commit is the union over the cold build
    and every commit before it (rustc executes, and so records, only queries it could not
    find green in its incremental cache)."""

    def __init__(self, path):
        self.builds = json.loads(Path(path).read_text())["builds"]
        # Profiles read before the tool reported impls: every changed impl stays global;
        # before it reported paths: items are matched by name alone.
        self.has_impls = all("impls" in b for b in self.builds)
        self.has_paths = all("paths" in b for b in self.builds)
        self.modules = collections.defaultdict(set)
        for b in self.builds:
            for per_crate in b.get("paths", {}).values():
                for krate, paths in per_crate.items():
                    for p in paths:
                        parts = p.split("::")
                        self.modules[krate].update("::".join(parts[:n]) for n in range(1, len(parts)))

    def before(self, commit, crates, part="touched"):
        """{workspace crate: names} touched by `crates` in builds before `commit` (`part`
        "impls": the traits whose impls in that crate they looked at)."""
        out = collections.defaultdict(set)
        for build in self.builds:
            if build["commit"] == commit:
                return out
            for c in crates:
                for krate, names in build.get(part, {}).get(c, {}).items():
                    out[krate].update(names)
        raise KeyError(f"{commit} is not among the profiled builds")


# Global reasons that are trait impls: with profiles, they reach only dependents that looked up
# the trait's impls in that crate.
IMPL_GLOBALS = ("trait impl header", "blanket impl")


def rust_names(ws, member, lib_only=False):
    """The crate names (as rustc spells them) of a member's targets, or of its library."""
    targets = ws.members[member]["targets"]
    return {t[0].replace("-", "_") for t in targets if not lib_only or set(t[1]) & {"lib", "rlib"}}


def union_over(sets, crates):
    """The union of `sets[c]` over `crates`."""
    return set().union(*(sets.get(c, set()) for c in crates))


def impl_trait(key):
    """The trait's last path segment in an observed impl header's key (`src/a.rs:
    impl<T> fmt::Display for Foo<T>` -> `Display`), or None."""
    header = key.split("impl", 1)[-1]
    if " for " not in header:
        return None
    trait_path = header.split(" for ", 1)[0].split(" ")[-1]
    return trait_path.split("<", 1)[0].rsplit("::", 1)[-1] or None


def impls_looked_at(ws, dependent, hit, edits, touched, commit):
    """Whether a changed trait impl header of `hit` is of a trait whose impls in that crate
    `dependent`'s earlier compiles looked at; None when some global change is of another kind."""
    if not touched.has_impls:
        return None
    looked = touched.before(commit, rust_names(ws, dependent), "impls")
    found = False
    for d in hit:
        reasons, _, traits = edits[d]
        if reasons - set(IMPL_GLOBALS):
            return None
        if reasons and None in traits:
            return None
        found |= bool(traits & union_over(looked, rust_names(ws, d, lib_only=True)))
    return found


MEMBER = re.compile(r"::(?:fn|const|type) ([A-Za-z_][A-Za-z0-9_]*)$")


def own_names(item):
    """The names under which a compile that used an item touched it: a trait's or an impl's
    member by its own name (a compile that calls `Indent::dedent` queries `dedent`; one that
    only names the trait or the type does not observe the member's body), anything else by
    all the names that reach it."""
    member = MEMBER.search(item["key"])
    return [member.group(1)] if member else item["names"]


INHERENT_IMPL = re.compile(r": impl(?:<[^ ]*>)? [^ ]+$")


def module_subtree(use_item):
    """Which items a non-`pub` `use` can change: a private one, those of its module and the
    modules below it (the files of its file's module directory); a `pub(crate)` or
    `pub(super)` one (`pub` among its identifiers), those of the whole crate."""
    if "pub" in use_item["idents"]:
        return lambda item: True
    file = Path(use_item["key"].split(": ", 1)[0])
    if file.name in ("lib.rs", "main.rs"):
        return lambda item: True
    below = file.parent if file.name == "mod.rs" else file.with_suffix("")

    def inside(item):
        other = Path(item["key"].split(": ", 1)[0])
        return other == file or below in other.parents
    return inside


def observed_through(item, indexes):
    """The items through which a change to `item` reaches a dependent, when that is not the
    item itself: a private `use` changes what its names mean in the items of its crate that
    mention them (in any module: a child's `use super::*` carries it); an inherent impl's
    header (generics, where clause) changes its members. `indexes`: the crate's indexes before
    and after."""
    everything = [i for index in indexes for i in index]
    if ": use in" in item["key"] and not item.get("public", True):
        in_scope = module_subtree(item)
        return [
            i for i in everything
            if i["key"] != item["key"] and ": use in" not in i["key"] and in_scope(i)
            and set(i["idents"]) & set(item["names"])
        ]
    if INHERENT_IMPL.search(item["key"]):
        return [i for i in everything if i["key"].startswith(item["key"] + "::")]
    return None


def module_of(key, src_root):
    """The module an observed item's file defines (`src/ast/make.rs` -> `ast::make`; the crate
    root -> ``), or None for a file outside the crate's source directory."""
    if src_root is None:
        return None
    file = Path(key.split(": ", 1)[0])
    try:
        parts = list(file.relative_to(src_root).with_suffix("").parts)
    except ValueError:
        return None
    if parts and parts[-1] in ("lib", "main", "mod"):
        parts = parts[:-1]
    return "::".join(parts)


def touched_hits(ws, dependent, hit, edits, touched, commit, named_by_dependent, indexes):
    """The changed items of `hit` (edited dependencies) that `dependent` observes: an item that
    existed before when its earlier compiles touched it (its own names among the touched
    names of its crate); a new item, which no compile can have touched yet but which may now
    resolve a name differently (a glob import, a method), and a changed `use` (resolution
    through re-exports is the resolver's, not a query's), when the name closure reaches it
    (`named_by_dependent(crate, item)`)."""
    crates = rust_names(ws, dependent)
    sets = touched.before(commit, crates)
    path_sets = touched.before(commit, crates, "paths") if touched.has_paths else None
    impl_sets = touched.before(commit, crates, "impls") if touched.has_impls else None
    found = set()
    for d in hit:
        lib = rust_names(ws, d, lib_only=True)
        names = union_over(sets, lib)
        paths = union_over(path_sets, lib) if path_sets is not None else None
        src_root = str(Path(ws.members[d]["lib"]).parent) if ws.members[d]["lib"] else None
        modules = union_over(touched.modules, lib)
        looked = union_over(impl_sets, lib) if impl_sets is not None else None

        def used(item, names=names, paths=paths, src_root=src_root, modules=modules, looked=looked):
            """Whether the dependent touched `item`: a trait impl when it looked up that trait's
            impls in the crate; else in its module when the profiles name paths and the item's
            module is one rustc knows, else by its own names alone."""
            if item.get("global") in IMPL_GLOBALS:
                trait = impl_trait(item["key"])
                return looked is None or trait is None or trait in looked
            module = module_of(item["key"], src_root)
            if paths is None or module is None or (module and module not in modules):
                return any(n in names for n in own_names(item))
            member = MEMBER.search(item["key"])
            inside = [p for p in paths if not module or p.startswith(module + "::")]
            if member:
                return any(p.endswith("::" + member.group(1)) or p == member.group(1) for p in inside)
            return any(n in p.split("::") for p in inside for n in item["names"])

        for i in edits[d][1]:
            through = observed_through(i, indexes.get(d, []))
            by_name = i.get("added") or (through is None and ": use in" in i["key"])
            if by_name and named_by_dependent(d, i):
                found.add(f"{d}::{i['key']} (named)")
            elif through is not None:
                via = [j["key"] for j in through if (j["names"] is None and j.get("global") not in IMPL_GLOBALS) or used(j)]
                if via:
                    found.add(f"{d}::{i['key']} (through {via[0]})")
            elif not by_name and used(i):
                found.add(f"{d}::{i['key']}")
    return sorted(found)


def write_results(args, summary, rows, header, cells, totals):
    """Print the summary; write all data as JSON (--json) and a per-commit table (--markdown)
    with the given column `header`, a row's extra `cells` and the `totals` line."""
    print(json.dumps(summary, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    if args.markdown:
        lines = ["| # | commit | Cargo s | " + " | ".join(header) + " |", "|---" * (3 + len(header)) + "|"]
        lines += [f"| {r['n']} | {r['commit']} {r['subject'][:40]} | {r['cargo_s']:.1f} | " + " | ".join(cells(r)) + " |" for r in rows]
        Path(args.markdown).write_text("\n".join(lines + ["", totals]) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ic.window_arguments(ap, "/tmp/finer-key")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    ap.add_argument("--touched", help="JSON written by bench/touched_key.py: decide by what rustc touched")
    args = ap.parse_args()
    profiled = Touched(args.touched) if args.touched else None

    rows = load_rows(args.replay)
    work, clone, by_short = ic.clone_window(args, "repo")
    indexer = Indexer(work)
    third_cache = work / "macros-third-party"
    third_cache.mkdir()

    def state(rev, tag):
        tree = work / f"tree-{tag}"
        ic.export(clone, rev, tree)
        ws = Workspace(tree)
        libs, deps, third = ic.member_libs(tree)
        summaries = ic.macro_summaries(BUILDER, tree, libs, deps, work / f"macros-{tag}", third, third_cache)
        indexes = {n: indexer.index(tree, ws, n, summaries, deps) for n, m in ws.members.items() if m["lib"] and not m["proc_macro"]}
        return tree, ws, indexes

    prev = ic.run(["git", "rev-parse", f"{args.base}^{{commit}}"], clone).stdout.strip()
    _, _, old_indexes = state(prev, "old")
    out_rows = []
    reasons_total = collections.Counter()
    for row in rows:
        commit = by_short[row["commit"]]
        changed = row["changed_files"]
        tree, ws, new_indexes = state(commit, "new")
        lock_changed = any(f.endswith("Cargo.lock") for f in changed)
        # Per edited member: what changed in its stub, and whether that reaches everyone.
        edits = {}
        for name, m in ws.members.items():
            touched = ws.files_of(name, changed)
            if not any(f.endswith((".rs", "Cargo.toml")) for f in touched):
                continue
            reasons, names, traits = set(), [], set()
            if any(f.endswith("Cargo.toml") for f in touched):
                reasons.add("manifest")
            if any(f.endswith("build.rs") for f in touched):
                reasons.add("build script")
            if m["proc_macro"]:
                reasons.add("proc macro")
            elif m["lib"]:
                r, n, traits = changes_between(old_indexes.get(name), new_indexes.get(name))
                reasons |= r
                names += n
            edits[name] = (reasons, names, traits)
        whole, fine, why, fine_touched, why_touched = set(), set(), {}, set(), {}

        def dependent_reach(name, deps):
            """What `name` reaches of its dependencies `deps` by names (closure), and their
            indexes before and after."""
            seed = idents_of(tree, ws.members[name]["dir"])
            for d in ws.member_deps(name):
                if ws.members[d]["proc_macro"]:
                    # A workspace proc macro may emit any identifier of its own source.
                    seed |= idents_of(tree, ws.members[d]["dir"])
            indexes = {d: [ix for ix in (old_indexes.get(d), new_indexes.get(d)) if ix] for d in deps}
            return closure(seed, indexes), indexes
        for name, m in ws.members.items():
            if name in edits:
                continue
            deps = ws.transitive(name)
            if any(row["interface_changed"].get(d, False) for d in ws.graph.deps.get(name, ())):
                whole.add(name)
            hit = [d for d in deps if d in edits and (edits[d][0] or edits[d][1])]
            if lock_changed:
                hit_reason = "Cargo.lock"
            elif not hit:
                continue
            else:
                global_reasons = sorted({r for d in hit for r in edits[d][0]})
                hit_reason = f"global: {global_reasons[0]}" if global_reasons else None
            if profiled is not None and hit_reason is not None:
                impls = None if lock_changed else impls_looked_at(ws, name, hit, edits, profiled, row["commit"])
                if impls is None or impls:
                    fine_touched.add(name)
                    why_touched[name] = hit_reason
                else:
                    # Only trait impls changed, of traits this dependent never looked up
                    # there: its named items decide.
                    reach, indexes = dependent_reach(name, deps)
                    by_rustc = touched_hits(ws, name, hit, edits, profiled, row["commit"], lambda d, i: reached(i, reach, d), indexes)
                    if by_rustc:
                        fine_touched.add(name)
                        why_touched[name] = by_rustc[:3]
            if hit_reason is None:
                reach, indexes = dependent_reach(name, deps)
                named = sorted({f"{d}::{i['key']}" for d in hit for i in edits[d][1] if reached(i, reach, d)})
                if profiled is not None:
                    by_rustc = touched_hits(ws, name, hit, edits, profiled, row["commit"], lambda d, i: reached(i, reach, d), indexes)
                    if by_rustc:
                        fine_touched.add(name)
                        why_touched[name] = by_rustc[:3]
                hit_reason = f"names {', '.join(named[:3])}" if named else None
            if hit_reason:
                fine.add(name)
                why[name] = hit_reason
                reasons_total[hit_reason.split(" ")[0] if not hit_reason.startswith("global") else hit_reason] += 1
        units = row["cargo_units"]
        sources = ws.sources(tree)
        ideal_whole = replay.ideal_time(units, ws.graph, sources, changed, row["interface_changed"], row["link_ms"], args.jobs)
        ideal_fine = replay.ideal_time(units, ws.graph, sources, changed, row["interface_changed"], row["link_ms"], args.jobs, recompile=fine)
        ideal_touched = replay.ideal_time(units, ws.graph, sources, changed, row["interface_changed"], row["link_ms"], args.jobs, recompile=fine_touched) if profiled else None
        out = {
            "n": row["n"], "commit": row["commit"], "subject": row["subject"], "cargo_s": row["cargo_s"],
            "ideal_replay_s": row["ideal_s"], "ideal_whole_s": ideal_whole, "ideal_fine_s": ideal_fine,
            "edited": {k: {"global": sorted(v[0]), "names": changed_names(v[1])[:20], "changed_names": len(changed_names(v[1]))} for k, v in edits.items()},
            "recompiled_whole": sorted(whole), "recompiled_fine": sorted(fine), "why": why,
            "ideal_touched_s": ideal_touched, "recompiled_touched": sorted(fine_touched), "why_touched": why_touched,
        }
        out_rows.append(out)
        print(f"[{row['n']}] {row['commit']} cargo {row['cargo_s']:6.1f} s  ideal(replay) {row['ideal_s']:6.1f}  whole {ideal_whole:6.1f}  fine {ideal_fine:6.1f}  "
              f"dependents recompiled: whole {len(whole)} fine {len(fine)}"
              + (f"  touched {ideal_touched:6.1f} s, {len(fine_touched)} recompiled" if profiled else ""), flush=True)
        for k, v in edits.items():
            print(f"    edited {k}: global {sorted(v[0]) or '-'}; {len(changed_names(v[1]))} changed names {changed_names(v[1])[:8]}", flush=True)
        for k in sorted(fine):
            print(f"    recompiles {k}: {why[k]}", flush=True)
        old_indexes = new_indexes
        shutil.rmtree(work / "tree-old", ignore_errors=True)
        (work / "tree-new").rename(work / "tree-old")
    total = lambda k: sum(r[k] for r in out_rows)  # noqa: E731
    summary = {
        "commits": len(out_rows), "cargo_s": total("cargo_s"), "ideal_replay_s": total("ideal_replay_s"),
        "ideal_whole_s": total("ideal_whole_s"), "ideal_fine_s": total("ideal_fine_s"),
        "recompiled_whole": sum(len(r["recompiled_whole"]) for r in out_rows),
        "recompiled_fine": sum(len(r["recompiled_fine"]) for r in out_rows),
        "reasons": dict(reasons_total),
    }
    if profiled:
        summary["ideal_touched_s"] = total("ideal_touched_s")
        summary["recompiled_touched"] = sum(len(r["recompiled_touched"]) for r in out_rows)
        summary["cargo_vs_ideal_touched"] = summary["cargo_s"] / max(summary["ideal_touched_s"], 1e-9)
    summary["cargo_vs_ideal_whole"] = summary["cargo_s"] / max(summary["ideal_whole_s"], 1e-9)
    summary["cargo_vs_ideal_fine"] = summary["cargo_s"] / max(summary["ideal_fine_s"], 1e-9)
    totals = (f"Totals: Cargo {summary['cargo_s']:.1f} s; ideal with the whole-interface key {summary['ideal_whole_s']:.1f} s "
              f"({summary['cargo_vs_ideal_whole']:.2f}x faster than Cargo); with the finer key {summary['ideal_fine_s']:.1f} s "
              f"(**{summary['cargo_vs_ideal_fine']:.2f}x**). Dependents recompiled: {summary['recompiled_whole']} vs {summary['recompiled_fine']}.")
    header = ["ideal, whole-interface key s", "ideal, finer key s", "dependents recompiled (whole / finer)"]
    cells = lambda r: [f"{r['ideal_whole_s']:.1f}", f"{r['ideal_fine_s']:.1f}", f"{len(r['recompiled_whole'])} / {len(r['recompiled_fine'])}"]  # noqa: E731
    if profiled:
        header += ["ideal, touched key s", "recompiled (touched)"]
        plain = cells
        cells = lambda r: plain(r) + [f"{r['ideal_touched_s']:.1f}", str(len(r["recompiled_touched"]))]  # noqa: E731
        totals += (f" With what rustc touched (bench/touched_key.py): {summary['ideal_touched_s']:.1f} s "
                   f"(**{summary['cargo_vs_ideal_touched']:.2f}x**), {summary['recompiled_touched']} recompiled.")
    write_results(args, summary, out_rows, header, cells, totals)


if __name__ == "__main__":
    main()
