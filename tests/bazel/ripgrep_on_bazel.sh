#!/usr/bin/env bash
# ripgrep 15.2.0 (assembled from crates.io, imported with `relink import`) on Bazel 4.2.3:
# build rg, run all tests, and a private edit in globset that only recompiles globset and
# relinks rg. Prints "bazel ripgrep: OK" on success.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib.sh
source "$REPO/tests/lib.sh"
RELINK=${RELINK:-$REPO/target/debug/relink}
export RELINK_BUILDER=${RELINK_BUILDER:-$REPO/target/debug/relink-builder}
command -v bazel >/dev/null || { apt-get update -qq >/dev/null && apt-get install -y -qq bazel-bootstrap >/dev/null; }
BAZEL_ARCHIVES=${RELINK_BAZEL_ARCHIVES:-$(cd "$REPO/.." && pwd)/shared/data/bazel-4.2.3-offline}
WORK=$(mktemp -d)
trap 'bazel_discard "$WORK/ripgrep"; chmod -R u+w "$WORK"; rm -rf "$WORK"' EXIT
FLAGS=(--spawn_strategy=linux-sandbox --color=no --curses=no --show_progress_rate_limit=60)

bash "$REPO/bench/ripgrep_workspace.sh" "$WORK/ripgrep" >/dev/null
cd "$WORK/ripgrep"
RELINK_CACHE="$WORK/relink-cache" "$RELINK" import
# Offline: Bazel's own rules_cc and rules_java from local archives (toolchain resolution).
sed -i "s|^relink_register_toolchains(|relink_register_toolchains(bazel_archives = \"$BAZEL_ARCHIVES\", |" WORKSPACE
bazel build "${FLAGS[@]}" //:rg 2>&1 | tail -1
[ "$(./bazel-bin/rg -c 'fn new_regex' crates/globset/src/lib.rs)" = "2" ] || { echo "rg gives a wrong count" >&2; exit 1; }
# Cargo profiles reach the actions under Bazel too: ripgrep's release-lto profile (panic =
# "abort", codegen-units = 1, strip = "symbols", lto = "fat": the compile takes real rlibs) through
# --define relink_profile=NAME.
bazel aquery "${FLAGS[@]}" --define relink_profile=release-lto 'mnemonic("RustCompileNoLink.*", //:rg)' 2>/dev/null \
  | sed 's/ \\$//' | tr '\n' ' ' | tr -s ' ' > "$WORK/aquery.txt"
for flag in "RustCompileNoLinkLto" "--lto fat" "--panic abort" "--codegen-units 1" "--opt-level 3" "--debuginfo 0" "--strip symbols" "--debug-assertions off"; do
  grep -q -- "$flag" "$WORK/aquery.txt" || { echo "the release-lto profile does not give rg's compile $flag" >&2; exit 1; }
done
bazel test "${FLAGS[@]}" //... 2>&1 | grep -E "Executed|FAILED" | tee "$WORK/test.txt"
# 13 test binaries and the doctests of the 8 member libraries.
grep -q "Executed 21 out of 21 tests: 21 tests pass." "$WORK/test.txt" || { echo "ripgrep tests failed on Bazel" >&2; exit 1; }
grep -q "6 passed; 0 failed; 2 ignored" bazel-testlogs/crates/grep-cli/grep-cli_doctest/test.log || { echo "grep-cli's doctests: not cargo's counts" >&2; exit 1; }

sed -i 's/\.nfa_size_limit(Some(10 \* (1 << 20)))/.nfa_size_limit(Some(12 * (1 << 20)))/' crates/globset/src/lib.rs
bazel build "${FLAGS[@]}" --execution_log_json_file="$WORK/edit.json" //:rg 2>&1 | tail -1
ran=$(bazel_spawns "$WORK/edit.json" | cut -d" " -f2- | sort)
echo "executed after the globset edit:"; echo "$ran" | sed 's/^/  /'
expected=$(printf '%s\n' "RustCompile crates/globset/libglobset-globset.rlib" "RustLink rg" "RustStub crates/globset/_stub/globset" | sort)
[ "$ran" = "$expected" ] || { echo "expected only globset's stub and compile and rg's link (the unchanged stub's interface is a cache hit)" >&2; exit 1; }
echo "bazel ripgrep: OK"
