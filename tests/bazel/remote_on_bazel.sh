#!/usr/bin/env bash
# The examples on Bazel 4.2.3 with remote execution on NativeLink (../shared/tools/nativelink):
# every action runs on the worker (counted in the server's log), tests pass remotely, a clean
# rebuild and another workspace directory are served from the remote cache, and a private body
# edit runs only the edited crate's compile and stub and the links remotely. Prints
# "bazel remote: OK" on success. RELINK_KEEP_WORK=1 keeps the scratch directory.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=$(cd "$REPO/.." && pwd)/shared
NATIVELINK=${RELINK_NATIVELINK:-$SHARED/tools/nativelink/start.sh}
[ -x "$NATIVELINK" ] || { echo "NativeLink not found at $NATIVELINK" >&2; exit 1; }
export RELINK_BUILDER=${RELINK_BUILDER:-$REPO/target/debug/relink-builder}
[ -x "$RELINK_BUILDER" ] || { echo "build relink-builder first (cargo build --workspace)" >&2; exit 1; }
BAZEL_ARCHIVES=${RELINK_BAZEL_ARCHIVES:-$SHARED/data/bazel-4.2.3-offline}
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  for d in "$WORK"/a "$WORK"/b; do [ -d "$d" ] && (cd "$d" && bazel shutdown >/dev/null 2>&1 || true); done
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "${RELINK_KEEP_WORK:-}" ] || { chmod -R u+w "$WORK"; rm -rf "$WORK"; }
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
SERVER_PID=$("$NATIVELINK" "$WORK/nativelink" "$PORT" "$(free_port)")
BAZEL_FLAGS=(--color=no --curses=no --show_progress_rate_limit=60
  --remote_executor="grpc://127.0.0.1:$PORT" --remote_instance_name=main --spawn_strategy=remote)
worker_runs() { grep -c "Command complete" "$WORK/nativelink/nativelink.log" || true; }

make_ws() { # DIR
  cp -r "$REPO/examples" "$1"
  rm -rf "$1/relink-bin"
  sed -i "s|path = \"..\"|path = \"$REPO\"|" "$1/WORKSPACE"
  sed -i "s|^relink_register_toolchains()|relink_register_toolchains(bazel_archives = \"$BAZEL_ARCHIVES\")|" "$1/WORKSPACE"
  rm -f "$1/MODULE.bazel"  # Bazel 4.2.3: WORKSPACE mode
}

spawns() { # LOG -> "runner Mnemonic path" lines, one per spawn
  python3 - "$1" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
dec = json.JSONDecoder(); i = 0; out = []
while i < len(text):
    while i < len(text) and text[i].isspace(): i += 1
    if i >= len(text): break
    obj, i = dec.raw_decode(text, i)
    outputs = [o["path"] if isinstance(o, dict) else o for o in obj.get("listedOutputs", [])]
    first = outputs[0].split("/bin/", 1)[-1] if outputs else "?"
    runner = "cache-hit" if obj.get("remoteCacheHit") else obj.get("runner", "?").replace(" ", "-")
    out.append(f"{runner} {obj.get('mnemonic', '?')} {first}")
print("\n".join(sorted(out)))
PY
}
fail() { echo "$1" >&2; shift; printf '%s\n' "$@" >&2; exit 1; }

make_ws "$WORK/a"
cd "$WORK/a"
before=$(worker_runs)
bazel build "${BAZEL_FLAGS[@]}" --execution_log_json_file="$WORK/cold.json" //... 2>&1 | tail -2
cold=$(spawns "$WORK/cold.json")
echo "$cold" | grep -v '^remote ' && fail "a spawn did not run remotely"
ran=$(( $(worker_runs) - before ))
[ "$ran" -ge 17 ] || fail "the worker ran $ran actions, expected every one of the 17"
[ "$(./bazel-bin/app/app)" = "$(printf 'hello from App\nvalue=3\nlargest=Some(9)')" ] || fail "app output differs"
bazel test "${BAZEL_FLAGS[@]}" //... 2>&1 | grep -E "tests pass|PASSED|FAILED" || true
bazel test "${BAZEL_FLAGS[@]}" //... >/dev/null 2>&1 || fail "bazel test failed remotely"

# A clean rebuild: every action comes from the remote cache.
bazel clean 2>/dev/null
bazel build "${BAZEL_FLAGS[@]}" --execution_log_json_file="$WORK/clean.json" //... 2>&1 | tail -1
spawns "$WORK/clean.json" | grep -v '^cache-hit ' && fail "a spawn ran again after bazel clean"

# A private body edit at the bottom of the chain: only base's compile and stub, and the links.
python3 - <<'PY'
p = "chain/base/lib.rs"
s = open(p).read()
s = s.replace("fn step_size() -> u64 {\n    1\n}", "fn step_size() -> u64 {\n    let ten = |x: u64| x * 10;\n    ten(1)\n}")
open(p, "w").write(s)
PY
bazel build "${BAZEL_FLAGS[@]}" --execution_log_json_file="$WORK/edit.json" //... 2>&1 | tail -1
ran=$(spawns "$WORK/edit.json" | grep -E '^remote Rust' || true)
echo "ran remotely after the edit:"; echo "$ran" | sed 's/^/  /'
expected=$(printf 'remote %s\n' "RustCompile chain/base/libbase-base.rlib" "RustCompileNoLink chain/base/base_test.nolink" "RustLink app/app" "RustStub chain/base/_stub/base" "RustLink app/deps/app_test.bin" "RustLink chain/base/deps/base_test" | sort)
[ "$ran" = "$expected" ] || fail "unexpected remote actions after a private edit; expected:" "$expected"
[ "$(./bazel-bin/app/app | sed -n 2p)" = "value=30" ] || fail "the relinked app does not show the edit"

# Another workspace directory with the same edit: everything comes from the remote cache but
# base's RustInterface. Its inputs include base's real sources (the fallback when a stub does
# not compile); the unused-inputs list that makes workspace a skip it is local to Bazel's own
# action cache and never part of a remote key. It runs again remotely, writes the same
# interface, and so middle and app are still cache hits.
make_ws "$WORK/b"
cp "$WORK/a/chain/base/lib.rs" "$WORK/b/chain/base/lib.rs"
(cd "$WORK/b" && bazel build "${BAZEL_FLAGS[@]}" --execution_log_json_file="$WORK/b.json" //... 2>&1 | tail -1)
ran=$(spawns "$WORK/b.json" | grep -v '^cache-hit ' || true)
[ "$ran" = "remote RustInterface chain/base/_iface/libbase-base.rlib" ] || fail "another workspace directory ran actions the remote cache holds:" "$ran"
digests() { (cd "$1/bazel-bin" && find . -type f \( -name '*.rlib' -o -path './app/app' -o -name '*.so' \) ! -path '*/_pm/*' -print0 | sort -z | xargs -0 sha256sum); }
diff <(digests "$WORK/a") <(digests "$WORK/b") || fail "outputs differ between workspace directories"
echo "bazel remote: OK"
