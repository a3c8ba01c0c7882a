#!/usr/bin/env bash
# The examples on real Bazel (4.2.3 from Debian's bazel-bootstrap, WORKSPACE mode,
# linux-sandbox): build, test, a private edit that relinks instead of rebuilding (executed
# actions counted from --execution_log_json_file), and identical outputs from two
# workspace directories. Prints "bazel examples: OK" on success.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib.sh
source "$REPO/tests/lib.sh"
if ! command -v bazel >/dev/null; then
  echo "installing bazel-bootstrap (Debian)..." >&2
  apt-get update -qq >/dev/null && apt-get install -y -qq bazel-bootstrap >/dev/null
fi
export RELINK_BUILDER=${RELINK_BUILDER:-$REPO/target/debug/relink-builder}
[ -x "$RELINK_BUILDER" ] || { echo "build relink-builder first (cargo build --workspace)" >&2; exit 1; }
BAZEL_ARCHIVES=${RELINK_BAZEL_ARCHIVES:-$(cd "$REPO/.." && pwd)/shared/data/bazel-4.2.3-offline}
WORK=$(mktemp -d)
trap 'for d in "$WORK"/a "$WORK"/b; do bazel_discard "$d"; done; chmod -R u+w "$WORK"; rm -rf "$WORK"' EXIT
BAZEL_FLAGS=(--spawn_strategy=linux-sandbox --color=no --curses=no --show_progress_rate_limit=60)

bazel_examples_ws "$WORK/a"
cd "$WORK/a"
bazel build "${BAZEL_FLAGS[@]}" //... 2>&1 | tail -3
[ "$(./bazel-bin/app/app)" = "$(printf 'hello from App\nvalue=3\nlargest=Some(9)')" ] || { echo "app output differs" >&2; exit 1; }
bazel test "${BAZEL_FLAGS[@]}" //... 2>&1 | tail -4

# Clippy as Bazel users run it (an aspect, output group clippy_checks) and rustfmt as a test.
bazel build "${BAZEL_FLAGS[@]}" --aspects=@rules_relink//rules:defs.bzl%rust_clippy_aspect --output_groups=clippy_checks //... 2>&1 | tail -1
for log in app/app.clippy.log chain/base/base.clippy.log macros/hello_macro.clippy.log; do
  [ -f "bazel-bin/$log" ] || { echo "rust_clippy_aspect wrote no $log" >&2; exit 1; }
done
printf '\nload("@rules_relink//rules:defs.bzl", "rustfmt_test")\n\nrustfmt_test(\n    name = "fmt_test",\n    targets = [":app", "//chain/base", "//macros:hello_macro"],\n)\n' >> app/BUILD.bazel
bazel test "${BAZEL_FLAGS[@]}" //app:fmt_test > "$WORK/fmt.txt" 2>&1 || true
grep -q "1 test passes" "$WORK/fmt.txt" || { cat "$WORK/fmt.txt" >&2; echo "rustfmt_test fails on formatted sources" >&2; exit 1; }

# A private body edit at the bottom of the chain.
edit_base_privately
bazel build "${BAZEL_FLAGS[@]}" --execution_log_json_file="$WORK/edit.json" //... 2>&1 | tail -2
ran=$(bazel_executed "$WORK/edit.json" | grep -E "^Rust" || true)
echo "executed after the edit:"; echo "$ran" | sed 's/^/  /'
expected=$(bazel_base_edit_actions)
if [ "$ran" != "$expected" ]; then
  echo "unexpected actions after a private edit; expected:" >&2; echo "$expected" >&2; exit 1
fi
[ "$(./bazel-bin/app/app | sed -n 2p)" = "value=30" ] || { echo "the relinked app does not show the edit" >&2; exit 1; }

# The same outputs from another workspace directory.
bazel_examples_ws "$WORK/b"
cp "$WORK/a/chain/base/lib.rs" "$WORK/b/chain/base/lib.rs"
(cd "$WORK/b" && bazel build "${BAZEL_FLAGS[@]}" //... 2>&1 | tail -1)
digests() { (cd "$1/bazel-bin" && find . -type f \( -name '*.rlib' -o -path './app/app' -o -name '*.so' \) ! -path '*/_pm/*' -print0 | sort -z | xargs -0 sha256sum); }
if ! diff <(digests "$WORK/a") <(digests "$WORK/b"); then
  echo "outputs differ between workspace directories" >&2; exit 1
fi
echo "bazel examples: OK"
