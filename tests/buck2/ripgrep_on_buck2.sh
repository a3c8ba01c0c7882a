#!/usr/bin/env bash
# ripgrep 15.2.0 (assembled from crates.io) on a real Buck2 from BUCK files that
# `relink import --buck2` writes: rg builds, searches like Cargo's rg, all 21 test targets
# pass (13 test binaries, 8 libraries' doctests), and a private edit in globset runs only
# globset's stub, interface and compile and rg's link. Prints "buck2 ripgrep: OK" on success.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib.sh
source "$REPO/tests/lib.sh"
buck2_suite_setup ripgrep

bash "$REPO/bench/ripgrep_workspace.sh" "$WORK/ripgrep" >/dev/null
cd "$WORK/ripgrep"
RELINK_CACHE="$WORK/relink-cache" "$RELINK" import --buck2
"$BUCK2" build //:rg 2>&1 | tail -1
rg_buck2=$WORK/ripgrep/$("$BUCK2" build //:rg --show-output 2>/dev/null | awk '$1 ~ /\/\/:rg$/ { print $2 }')
cargo build --quiet --bin rg
searches=(
  "-n --sort path fn\\s+main crates"
  "-c --sort path TODO"
  "-i -l --sort path regex crates/globset"
  "-w -o --sort path Matcher crates/grep-matcher/src"
  "--vimgrep --sort path -e unsafe crates/grep-searcher/src/searcher"
  "--files --sort path crates/grep-cli"
)
for s in "${searches[@]}"; do
  # shellcheck disable=SC2086
  diff <("$rg_buck2" $s) <(./target/debug/rg $s) > /dev/null || fail "rg $s: Buck2's rg and Cargo's differ"
done
echo "${#searches[@]} searches: Buck2's rg prints what Cargo's prints"

"$BUCK2" test //... > "$WORK/test.txt" 2>&1 || { tail -30 "$WORK/test.txt" >&2; fail "buck2 test failed"; }
buck2_expect_passes "$WORK/test.txt" 21 "13 test binaries, 8 doctest targets"

sed -i 's/\.nfa_size_limit(Some(10 \* (1 << 20)))/.nfa_size_limit(Some(12 * (1 << 20)))/' crates/globset/src/lib.rs
"$BUCK2" build //:rg 2>&1 | tail -1
ran=$("$BUCK2" log what-ran 2>/dev/null | awk -F'\t' 'NF >= 2 && $1 == "build" { print $2 }' \
  | sed -E 's/^root\/\/([^ ]*) \([^)]*\) \(([a-z_]+) .*$/\1 \2/' | sort)
echo "ran after the globset edit:"; echo "$ran" | sed 's/^/  /'
expected=$(printf '%s\n' "crates/globset:globset rust_compile" "crates/globset:globset rust_interface" "crates/globset:globset rust_stub" ":rg rust_link" | sort)
[ "$ran" = "$expected" ] || fail "expected only globset's stub, interface and compile and rg's link:" "$expected"
echo "buck2 ripgrep: OK"
