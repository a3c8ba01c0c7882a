#!/usr/bin/env bash
# Doctests on a real Buck2: the doctests fixture (four members, a proc-macro crate among them)
# imported with `relink import --buck2`; `buck2 test //...` runs every `rust_doc_test`, and
# each one passes and ignores as many examples as `cargo test --doc` does for its package; a
# wrong private edit in base fails the doctests that observe it (base's and top's).
# Prints "buck2 doctests: OK" on success.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib.sh
source "$REPO/tests/lib.sh"
buck2_suite_setup ws

cp -r "$REPO/tools/relink/tests/fixtures/doctests" "$WORK/ws"
cd "$WORK/ws"
RELINK_CACHE="$WORK/relink-cache" "$RELINK" import --buck2 >/dev/null
"$BUCK2" test //... > "$WORK/test.txt" 2>&1 || { tail -30 "$WORK/test.txt" >&2; fail "buck2 test failed"; }
buck2_expect_passes "$WORK/test.txt" 9 "4 doctest targets, 3 unit-test targets, 2 integration tests"

# "N passed ... M ignored" of the last test result line a run printed.
counts() { grep -E '^test result: ' | tail -1 | sed -E 's/.* ([0-9]+) passed; [0-9]+ failed; ([0-9]+) ignored.*/\1 passed, \2 ignored/'; }
for package in base testkit top shout; do
  buck2_counts=$("$BUCK2" run "//$package:${package}_doctest" 2>/dev/null | counts)
  cargo_counts=$(CARGO_TARGET_DIR="$WORK/cargo-target" cargo test --doc --offline -q -p "$package" 2>/dev/null | counts)
  [ -n "$cargo_counts" ] || fail "cargo test --doc -p $package printed no result"
  [ "$buck2_counts" = "$cargo_counts" ] || fail "$package doctests: Buck2 $buck2_counts, cargo $cargo_counts"
  echo "//$package:${package}_doctest: $buck2_counts, as under cargo test --doc"
done
sed -i 's/    x \* 2/    x * 3/' base/src/lib.rs
if "$BUCK2" test //... > "$WORK/test.txt" 2>&1; then fail "a wrong private edit in base passed the doctests"; fi
failed=$(buck2_plain "$WORK/test.txt" | { grep -oE '✗ root//[a-z]+:[a-z_]+' || true; } | sed 's/.*root/root/' | sort | tr '\n' ' ')
[ "$failed" = "root//base:base_doctest root//top:top_doctest " ] || { tail -20 "$WORK/test.txt" >&2; fail "expected base's and top's doctests to fail, got: $failed"; }
echo "after a wrong private edit in base: $failed failed"
echo "buck2 doctests: OK"
