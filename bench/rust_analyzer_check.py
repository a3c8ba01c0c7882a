#!/usr/bin/env python3
"""Does rust-analyzer resolve every crate's dependencies from `relink rust-project`'s file?

Runs `rust-analyzer diagnostics DIR` (DIR holds rust-project.json) and collects the
diagnostics that mean a name could not be resolved: unresolved imports, extern crates,
modules and paths (E0432/E0433) whose path starts at a dependency (a crate of the file, or a
name a crate gives a dependency; the standard library's crates too when the toolchain has the
`rust-src` component, which rust-analyzer needs to read std). Prints each one and exits 1 if
any.

  python3 bench/rust_analyzer_check.py --rust-analyzer PATH DIR
`--break-deps` first removes every crate's dependencies from the file (a control: the check
must then report unresolved names).
"""

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

UNRESOLVED = {"unresolved-import", "unresolved-extern-crate", "unresolved-module", "E0432", "E0433"}
SYSROOT_CRATES = {"std", "core", "alloc", "proc_macro", "test"}
LINE = re.compile(
    r'at crate (?P<crate>\S+), file (?P<file>[^:]+): Error RustcHardError\("(?P<code>[^"]+)"\) '
    r"from LineCol \{ line: (?P<l1>\d+), col: (?P<c1>\d+) \} to LineCol \{ line: (?P<l2>\d+), col: (?P<c2>\d+) \}: (?P<msg>.*)"
)


def path_at(path, l1, c1, l2, c2):
    """The text of the diagnostic's span; inside a `use` (where rust-analyzer points at one
    leaf of `use a::{b, c}`), the whole use path from its root."""
    lines = Path(path).read_text().splitlines(keepends=True)
    start = sum(len(line) for line in lines[:l1]) + c1
    text = "".join(lines)
    before = text[:start]
    uses = [m.start() for m in re.finditer(r"(?<![A-Za-z0-9_])use\s", before)]
    if uses and ";" not in before[uses[-1]:] and "{" not in before[uses[-1]:].replace("::{", ""):
        end = text.find(";", start)
        return text[uses[-1]:end if end >= 0 else len(text)]
    if l1 == l2:
        return lines[l1][c1:c2]
    return "".join([lines[l1][c1:]] + lines[l1 + 1 : l2] + [lines[l2][:c2]])


def first_segment(text):
    text = re.sub(r"^(pub(\([^)]*\))?\s+)?(use|extern crate)\s+", "", text.strip())
    text = text.lstrip(":")
    return re.split(r"[^A-Za-z0-9_]", text, maxsplit=1)[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rust-analyzer", required=True)
    ap.add_argument("--break-deps", action="store_true")
    ap.add_argument("dir")
    args = ap.parse_args()
    project = Path(args.dir) / "rust-project.json"
    data = json.loads(project.read_text())
    has_src = (Path(data["sysroot"]) / "lib/rustlib/src/rust/library").is_dir()
    dependency_names = {d["name"] for krate in data["crates"] for d in krate["deps"]}
    dependency_names |= {k["display_name"] for k in data["crates"]}
    if has_src:
        dependency_names |= SYSROOT_CRATES
    if args.break_deps:
        for krate in data["crates"]:
            krate["deps"] = []
        project.write_text(json.dumps(data, indent=2))
    out = subprocess.run([args.rust_analyzer, "diagnostics", args.dir], capture_output=True, text=True)
    text = (out.stdout + out.stderr).replace("\r", "\n")
    found, seen = [], 0
    for line in text.splitlines():
        m = LINE.search(line)
        if not m or m["code"] not in UNRESOLVED:
            continue
        seen += 1
        name = first_segment(path_at(m["file"], int(m["l1"]), int(m["c1"]), int(m["l2"]), int(m["c2"])))
        if name not in dependency_names:
            # The crate's own modules and macros: with std missing (no rust-src), rust-analyzer
            # cannot expand much of a crate, and those follow; dependencies are what this checks.
            continue
        found.append(f"{m['file']}:{int(m['l1']) + 1}: crate {m['crate']}: {m['code']} `{name}`: {m['msg']}")
    crates = len(data["crates"])
    print(f"{crates} crates; {seen} unresolved-name diagnostics, {len(found)} about a dependency"
          f"{'' if has_src else ' (no rust-src: std is not loaded)'}")
    for f in found:
        print("  " + f)
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
