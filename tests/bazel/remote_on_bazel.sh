#!/usr/bin/env bash
# The examples on Bazel 4.2.3 with remote execution on NativeLink (../shared/tools/nativelink):
# every action runs on the worker (counted in the server's log), tests pass remotely, a clean
# rebuild and another workspace directory are served from the remote cache, and a private body
# edit runs only the edited crate's compile and stub and the links remotely. Prints
# "bazel remote: OK" on success. RELINK_KEEP_WORK=1 keeps the scratch directory.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib.sh
source "$REPO/tests/lib.sh"
SHARED=$(cd "$REPO/.." && pwd)/shared
NATIVELINK=${RELINK_NATIVELINK:-$SHARED/tools/nativelink/start.sh}
[ -x "$NATIVELINK" ] || { echo "NativeLink not found at $NATIVELINK" >&2; exit 1; }
export RELINK_BUILDER=${RELINK_BUILDER:-$REPO/target/debug/relink-builder}
[ -x "$RELINK_BUILDER" ] || { echo "build relink-builder first (cargo build --workspace)" >&2; exit 1; }
BAZEL_ARCHIVES=${RELINK_BAZEL_ARCHIVES:-$SHARED/data/bazel-4.2.3-offline}
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  for d in "$WORK"/a "$WORK"/b; do bazel_discard "$d"; done
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

fail() { echo "$1" >&2; shift; printf '%s\n' "$@" >&2; exit 1; }

bazel_examples_ws "$WORK/a"
cd "$WORK/a"
before=$(worker_runs)
bazel build "${BAZEL_FLAGS[@]}" --execution_log_json_file="$WORK/cold.json" //... 2>&1 | tail -2
cold=$(bazel_spawns "$WORK/cold.json")
echo "$cold" | grep -v '^remote ' && fail "a spawn did not run remotely"
ran=$(( $(worker_runs) - before ))
[ "$ran" -ge 17 ] || fail "the worker ran $ran actions, expected every one of the 17"
[ "$(./bazel-bin/app/app)" = "$(printf 'hello from App\nvalue=3\nlargest=Some(9)')" ] || fail "app output differs"
bazel test "${BAZEL_FLAGS[@]}" //... 2>&1 | grep -E "tests pass|PASSED|FAILED" || true
bazel test "${BAZEL_FLAGS[@]}" //... >/dev/null 2>&1 || fail "bazel test failed remotely"

# A clean rebuild: every action comes from the remote cache.
bazel clean 2>/dev/null
bazel build "${BAZEL_FLAGS[@]}" --execution_log_json_file="$WORK/clean.json" //... 2>&1 | tail -1
bazel_spawns "$WORK/clean.json" | grep -v '^cache-hit ' && fail "a spawn ran again after bazel clean"

# A private body edit at the bottom of the chain: only base's compile and stub, and the links.
edit_base_privately
bazel build "${BAZEL_FLAGS[@]}" --execution_log_json_file="$WORK/edit.json" //... 2>&1 | tail -1
ran=$(bazel_spawns "$WORK/edit.json" | grep -E '^remote Rust' || true)
echo "ran remotely after the edit:"; echo "$ran" | sed 's/^/  /'
expected=$(bazel_base_edit_actions | sed 's/^/remote /')
[ "$ran" = "$expected" ] || fail "unexpected remote actions after a private edit; expected:" "$expected"
[ "$(./bazel-bin/app/app | sed -n 2p)" = "value=30" ] || fail "the relinked app does not show the edit"

# Another workspace directory with the same edit: everything comes from the remote cache but
# base's RustInterface. Its inputs include base's real sources (the fallback when a stub does
# not compile); the unused-inputs list that makes workspace a skip it is local to Bazel's own
# action cache and never part of a remote key. It runs again remotely, writes the same
# interface, and so middle and app are still cache hits.
bazel_examples_ws "$WORK/b"
cp "$WORK/a/chain/base/lib.rs" "$WORK/b/chain/base/lib.rs"
(cd "$WORK/b" && bazel build "${BAZEL_FLAGS[@]}" --execution_log_json_file="$WORK/b.json" //... 2>&1 | tail -1)
ran=$(bazel_spawns "$WORK/b.json" | grep -v '^cache-hit ' || true)
[ "$ran" = "remote RustInterface chain/base/_iface/libbase-base.rlib" ] || fail "another workspace directory ran actions the remote cache holds:" "$ran"
digests() { (cd "$1/bazel-bin" && find . -type f \( -name '*.rlib' -o -path './app/app' -o -name '*.so' \) ! -path '*/_pm/*' -print0 | sort -z | xargs -0 sha256sum); }
diff <(digests "$WORK/a") <(digests "$WORK/b") || fail "outputs differ between workspace directories"
echo "bazel remote: OK"
