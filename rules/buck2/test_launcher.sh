#!/usr/bin/env bash
# Runs a Rust test binary built by rules/buck2/rules.bzl as `cargo test` would: each binary
# the test runs is reachable at the absolute CARGO_BIN_EXE_<name> path compiled into the
# test (a copy under --exe-dir, kept under a lock for the test's lifetime).
# With --cd DIR the test runs there, with CARGO_MANIFEST_DIR set to it, as under `cargo test`.
# Usage: test_launcher.sh --exe-dir DIR [--bin NAME=PATH]... [--cd DIR] -- TEST_BINARY [ARGS]...
set -euo pipefail
exe_dir=
cd_to=
bins=()
while [ $# -gt 0 ]; do
  case "$1" in
    --exe-dir) exe_dir=$2; shift 2 ;;
    --bin) bins+=("$2"); shift 2 ;;
    --cd) cd_to=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "test_launcher.sh: unexpected argument $1" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "test_launcher.sh: no test binary after --" >&2; exit 2; }
test_binary=$1; shift
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
if [ ${#bins[@]} -gt 0 ]; then
  mkdir -p -m 1777 "$(dirname "$exe_dir")" 2>/dev/null || true
  mkdir -p "$exe_dir"
  exec 9>"$exe_dir/.lock"
  flock 9 || { echo "cannot lock $exe_dir (flock from util-linux is needed)" >&2; exit 1; }
  for pair in "${bins[@]}"; do
    name=${pair%%=*}
    # A copy, not a symlink: current_exe() of the binary must be CARGO_BIN_EXE_<name>, as
    # under Cargo (just's tests compare them).
    cp -f "$(absolute "${pair#*=}")" "$exe_dir/$name.tmp"
    mv -f "$exe_dir/$name.tmp" "$exe_dir/$name"
    export "CARGO_BIN_EXE_$name=$exe_dir/$name"
  done
fi
test_binary=$(absolute "$test_binary")
if [ -n "$cd_to" ]; then
  cd "$cd_to"
  export CARGO_MANIFEST_DIR="$PWD"
fi
exec "$test_binary" "$@"
