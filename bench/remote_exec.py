#!/usr/bin/env python3
"""Remote execution side by side: relink local, relink --remote_executor, Bazel 4.2.3 local
(linux-sandbox) and Bazel 4.2.3 --remote_executor, on the examples and on ripgrep 15.2.0
(crates.io, `relink import`), each remote run against its own fresh NativeLink
(../shared/tools/nativelink: one process, CAS + action cache + scheduler + one worker on this
machine, so "remote" here measures the protocol and staging cost, not extra cores).

For each project and executor: a cold build (empty local cache / `bazel clean`, empty server),
then a private body edit (examples: chain/base's step_size; ripgrep: a globset constant) and
the rebuild. relink runs with `--rustc-incremental=false` in both modes (incremental state is
local-only and never goes remote); Bazel with its defaults. Prints wall times, ratios against
relink local, what ran after the edit, and whether the binaries of the local and remote runs
of each tool are identical.

Usage: python3 bench/remote_exec.py [--projects examples,ripgrep]
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared")
RELINK = os.path.join(REPO, "target/release/relink")
BUILDER = os.path.join(REPO, "target/release/relink-builder")
NATIVELINK = os.path.join(SHARED, "tools/nativelink/start.sh")
ARCHIVES = os.path.join(SHARED, "data/bazel-4.2.3-offline")

PROJECTS = {
    # name: (target, binary under the output root, file, old text, new text)
    "examples": ("//app:app", "app/app", "chain/base/lib.rs",
                 "fn step_size() -> u64 {\n    1\n}", "fn step_size() -> u64 {\n    let ten = |x: u64| x * 10;\n    ten(1)\n}"),
    "ripgrep": ("//:rg", "rg", "crates/globset/src/lib.rs",
                ".nfa_size_limit(Some(10 * (1 << 20)))", ".nfa_size_limit(Some(12 * (1 << 20)))"),
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A fresh NativeLink in its own directory."""

    def __init__(self, work, name):
        self.port = free_port()
        self.dir = os.path.join(work, "nl-" + name)
        self.pid = subprocess.run(["bash", NATIVELINK, self.dir, str(self.port), str(free_port())],
                                  check=True, capture_output=True, text=True).stdout.strip()

    def worker_runs(self):
        return open(os.path.join(self.dir, "nativelink.log")).read().count("Command complete")

    def stop(self):
        subprocess.run(["kill", self.pid])


def timed(cmd, cwd, env):
    start = time.monotonic()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed in {cwd}:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return time.monotonic() - start


def relink_ran(log):
    ran = []
    for line in open(log):
        v = json.loads(line)
        if v["cache"] == "miss" and v["mnemonic"] != "FileWrite":
            ran.append(v["mnemonic"])
    return ran


def bazel_ran(log):
    text = open(log).read()
    dec, i, ran = json.JSONDecoder(), 0, []
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        obj, i = dec.raw_decode(text, i)
        if not obj.get("remoteCacheHit"):
            ran.append(obj.get("mnemonic", "?"))
    return ran


def summary(ran):
    counts = {}
    for m in ran:
        counts[m] = counts.get(m, 0) + 1
    return " ".join(f"{m}x{n}" for m, n in sorted(counts.items()))


def edit(ws, project):
    _, _, path, old, new = PROJECTS[project]
    p = os.path.join(ws, path)
    text = open(p).read()
    if old not in text:
        sys.exit(f"the edit of {path} no longer applies")
    open(p, "w").write(text.replace(old, new))


def source_tree(work, project):
    """The project's sources, imported where needed, with a WORKSPACE that works offline."""
    src = os.path.join(work, project + "-src")
    if project == "examples":
        shutil.copytree(os.path.join(REPO, "examples"), src, symlinks=True,
                        ignore=shutil.ignore_patterns("relink-bin", "bazel-*"))
        ws = open(os.path.join(src, "WORKSPACE")).read().replace('path = ".."', f'path = "{REPO}"')
        open(os.path.join(src, "WORKSPACE"), "w").write(ws)
    else:
        subprocess.run(["bash", os.path.join(REPO, "bench/ripgrep_workspace.sh"), src], check=True, capture_output=True)
        timed([RELINK, "import"], src, dict(os.environ, RELINK_CACHE=os.path.join(work, "import-cache")))
    ws = open(os.path.join(src, "WORKSPACE")).read()
    ws = ws.replace("relink_register_toolchains(", f'relink_register_toolchains(bazel_archives = "{ARCHIVES}", ', 1)
    ws = ws.replace(", )", ")")
    open(os.path.join(src, "WORKSPACE"), "w").write(ws)
    return src


def run_relink(work, src, project, remote):
    name = f"{project}-relink-{'remote' if remote else 'local'}"
    ws = os.path.join(work, name)
    shutil.copytree(src, ws, symlinks=True)
    env = dict(os.environ, RELINK_CACHE=os.path.join(work, "cache-" + name))
    target, binary = PROJECTS[project][:2]
    server = Server(work, name) if remote else None
    flags = ["--rustc-incremental=false"] + ([f"--remote_executor=grpc://127.0.0.1:{server.port}"] if server else [])
    try:
        cold = timed([RELINK, "build"] + flags + [target], ws, env)
        before = server.worker_runs() if server else 0
        edit(ws, project)
        log = os.path.join(work, name + ".jsonl")
        warm = timed([RELINK, "build", "--execution-log", log] + flags + [target], ws, env)
        worker = server.worker_runs() - before if server else None
        return cold, warm, relink_ran(log), worker, open(os.path.join(ws, "relink-bin", binary), "rb").read()
    finally:
        if server:
            server.stop()


def run_bazel(work, src, project, remote):
    name = f"{project}-bazel-{'remote' if remote else 'local'}"
    ws = os.path.join(work, name)
    shutil.copytree(src, ws, symlinks=True)
    if os.path.exists(os.path.join(ws, "MODULE.bazel")):
        os.remove(os.path.join(ws, "MODULE.bazel"))
    env = dict(os.environ, RELINK_BUILDER=BUILDER)
    target, binary = PROJECTS[project][:2]
    server = Server(work, name) if remote else None
    flags = ["--color=no", "--curses=no"] + (
        [f"--remote_executor=grpc://127.0.0.1:{server.port}", "--remote_instance_name=main", "--spawn_strategy=remote"]
        if server else ["--spawn_strategy=linux-sandbox"])
    try:
        # Fetch and analyse once (repository rules, the toolchain's 486 MB glob) outside the
        # timing: relink's cold build is timed with its toolchain digests already known too.
        timed(["bazel", "build", "--nobuild"] + flags + [target], ws, env)
        cold = timed(["bazel", "build"] + flags + [target], ws, env)
        before = server.worker_runs() if server else 0
        edit(ws, project)
        log = os.path.join(work, name + ".json")
        warm = timed(["bazel", "build", f"--execution_log_json_file={log}"] + flags + [target], ws, env)
        worker = server.worker_runs() - before if server else None
        return cold, warm, bazel_ran(log), worker, open(os.path.join(ws, "bazel-bin", binary), "rb").read()
    finally:
        subprocess.run(["bazel", "shutdown"], cwd=ws, capture_output=True)
        if server:
            server.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--projects", default="examples,ripgrep")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=REPO, check=True)
    work = tempfile.mkdtemp(prefix="relink-remote-exec-bench-")
    print(f"{os.cpu_count()} cores; NativeLink 1.6.6 on 127.0.0.1 (worker on this machine); Bazel 4.2.3")
    try:
        for project in args.projects.split(","):
            src = source_tree(work, project)
            rows = {}
            for tool, runner in (("relink", run_relink), ("bazel", run_bazel)):
                for remote in (False, True):
                    rows[(tool, remote)] = runner(work, src, project, remote)
            base_cold, base_warm = rows[("relink", False)][:2]
            print(f"\n{project} ({PROJECTS[project][0]}): cold build, then a private edit of {PROJECTS[project][2]}")
            print(f"{'':16} {'cold s':>7} {'x':>5} {'edit s':>7} {'x':>5}  ran after the edit")
            for (tool, remote), (cold, warm, ran, worker, _) in rows.items():
                where = f" (worker ran {worker})" if worker is not None else ""
                print(f"{tool + (' remote' if remote else ' local'):16} {cold:7.1f} {cold / base_cold:5.2f}"
                      f" {warm:7.1f} {warm / base_warm:5.2f}  {summary(ran)}{where}")
            for tool in ("relink", "bazel"):
                same = rows[(tool, False)][4] == rows[(tool, True)][4]
                print(f"{tool}: local and remote binaries identical: {same}")
    finally:
        subprocess.run(["chmod", "-R", "u+w", work])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
