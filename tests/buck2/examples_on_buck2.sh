#!/usr/bin/env bash
# The examples on a real Buck2 (../shared/tools/buck2/buck2, prelude bundled, offline) with the
# rules of rules/buck2/: build, run, test, a private body edit whose rebuild runs only the
# edited crate's actions and the links (`buck2 log what-ran`), and a no-op rebuild that runs
# nothing. Works in a scratch copy of the Buck2 project (this repository's .buckconfig, rules/
# and examples/). Prints "buck2 examples: OK" on success.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib.sh
source "$REPO/tests/lib.sh"
buck2_suite_setup project

mkdir -p "$WORK/project/target/release"
cp -r "$REPO/.buckconfig" "$REPO/.buckroot" "$REPO/BUCK" "$REPO/rules" "$REPO/examples" "$WORK/project/"
rm -rf "$WORK/project/examples/relink-bin" "$WORK/project/examples"/bazel-*
cp "$RELINK_BUILDER" "$WORK/project/target/release/relink-builder"
cd "$WORK/project/examples"

ran() { # what the last build ran: "target category" lines
  "$BUCK2" log what-ran 2>/dev/null | awk -F'\t' 'NF >= 2 && $1 == "build" { print $2 }' \
    | sed -E 's/^examples\/\/([^ ]*) \([^)]*\) \(([a-z_]+) .*$/\1 \2/' | sort
}

"$BUCK2" build //... 2>&1 | tail -1
[ "$("$BUCK2" run //app:app 2>/dev/null)" = "$(printf 'hello from App\nvalue=3\nlargest=Some(9)')" ] || fail "app output differs"
"$BUCK2" test //... > "$WORK/test.txt" 2>&1 || { cat "$WORK/test.txt" >&2; fail "buck2 test failed"; }
buck2_expect_passes "$WORK/test.txt" 2 "the two rust_test targets"

# Nothing changed: nothing runs.
"$BUCK2" build //... >/dev/null 2>&1
[ -z "$(ran)" ] || fail "a no-op build ran actions:" "$(ran)"

# A private body edit at the bottom of the chain: base's stub, interface (identical bytes, so
# Buck2 cuts off there) and compile, base's unit test, and the links; no compile of middle or
# app.
edit_base_privately
"$BUCK2" build //... 2>&1 | tail -1
actual=$(ran)
echo "ran after the edit:"; echo "$actual" | sed 's/^/  /'
expected=$(printf '%s\n' "chain/base:base rust_compile" "chain/base:base rust_interface" "chain/base:base rust_stub" \
  "chain/base:base_test rust_compile_no_link" "chain/base:base_test rust_link" "app:app rust_link" "app:app_test rust_link" | sort)
[ "$actual" = "$expected" ] || fail "unexpected actions after a private edit; expected:" "$expected"
[ "$("$BUCK2" run //app:app 2>/dev/null | sed -n 2p)" = "value=30" ] || fail "the relinked app does not show the edit"
echo "buck2 examples: OK"
