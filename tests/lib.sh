# Shell helpers shared by the Bazel and Buck2 suites (sourced, not run). The caller sets REPO
# (this repository) and, for the Bazel helpers, BAZEL_ARCHIVES.

# Print the message $1 and the lines after it on stderr, and fail.
fail() { echo "$1" >&2; shift; printf '%s\n' "$@" >&2; exit 1; }

# The Buck2 suites' setup: BUCK2 (the Buck2 beside this repository unless RELINK_BUCK2 names
# one), RELINK and RELINK_BUILDER (this checkout's debug builds unless set), and WORK, a
# scratch directory removed on exit after the Buck2 daemon of the project at $WORK/PROJECT is
# stopped.
buck2_suite_setup() { # PROJECT
  BUCK2=${RELINK_BUCK2:-$(cd "$REPO/.." && pwd)/shared/tools/buck2/buck2}
  [ -x "$BUCK2" ] || { echo "buck2 not found at $BUCK2" >&2; exit 1; }
  RELINK=${RELINK:-$REPO/target/debug/relink}
  export RELINK_BUILDER=${RELINK_BUILDER:-$REPO/target/debug/relink-builder}
  [ -x "$RELINK_BUILDER" ] || { echo "build relink-builder first (cargo build --workspace)" >&2; exit 1; }
  WORK=$(mktemp -d)
  # shellcheck disable=SC2064 # expanded now, on purpose
  trap "(cd '$WORK/$1' 2>/dev/null && '$BUCK2' kill >/dev/null 2>&1 || true); rm -rf '$WORK'" EXIT
}

# A `buck2 test` log ($1) without its colour codes.
buck2_plain() { sed 's/\x1b\[[0-9;]*m//g' "$1"; }

# Print the summary of the `buck2 test` log $1, and fail unless it says that $2 test targets
# passed and none failed ($3 says which).
buck2_expect_passes() { # LOG COUNT WHAT
  local summary
  summary=$(buck2_plain "$1" | grep "^Tests finished" || true)
  case "$summary" in
    *"Pass $2. Fail 0."*) echo "$summary" ;;
    *) tail -20 "$1" >&2; fail "expected $2 passing test targets ($3)" ;;
  esac
}

# The private body edit at the bottom of the examples' chain, in the examples copy at $PWD:
# base's step_size changes, its interface does not.
edit_base_privately() {
  python3 - <<'PY'
p = "chain/base/lib.rs"
s = open(p).read()
s = s.replace("fn step_size() -> u64 {\n    1\n}", "fn step_size() -> u64 {\n    let ten = |x: u64| x * 10;\n    ten(1)\n}")
open(p, "w").write(s)
PY
}

# The Rust spawns Bazel runs for //... after edit_base_privately, as bazel_spawns names them
# (without the runner): base's stub and compile, its unit test, and the links.
bazel_base_edit_actions() {
  printf '%s\n' "RustCompile chain/base/libbase-base.rlib" "RustCompileNoLink chain/base/base_test.nolink" \
    "RustLink app/app" "RustStub chain/base/_stub/base" "RustLink app/deps/app_test.bin" "RustLink chain/base/deps/base_test" | sort
}

# Stop the Bazel server of workspace DIR and delete its output base (about 1 GB for ripgrep):
# `bazel shutdown` alone leaves the output base behind in ~/.cache/bazel for every temporary
# workspace, which filled the disk over many runs.
bazel_discard() { # DIR
  [ -d "$1" ] && (cd "$1" && bazel clean --expunge >/dev/null 2>&1 || true)
  return 0
}

# A copy of the examples at DIR as a Bazel 4.2.3 workspace (WORKSPACE mode, offline: rules_cc
# and rules_java from the local archives Bazel's toolchain resolution loads).
bazel_examples_ws() { # DIR
  cp -r "$REPO/examples" "$1"
  rm -rf "$1/relink-bin"
  sed -i "s|path = \"..\"|path = \"$REPO\"|" "$1/WORKSPACE"
  sed -i "s|^relink_register_toolchains()|relink_register_toolchains(bazel_archives = \"$BAZEL_ARCHIVES\")|" "$1/WORKSPACE"
  rm -f "$1/MODULE.bazel"
}

# Bazel's --execution_log_json_file LOG as sorted "RUNNER MNEMONIC OUTPUT" lines: RUNNER is
# `cache-hit` for a remote cache hit, else Bazel's runner with spaces as dashes; OUTPUT is the
# first output below bazel-bin (Bazel 4.2.3 logs no target label).
bazel_spawns() { # LOG
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

# What a spawn log says ran (not a remote cache hit), as "MNEMONIC OUTPUT" lines.
bazel_executed() { # LOG
  bazel_spawns "$1" | awk '$1 != "cache-hit" { print $2, $3 }' | sort
}
