#!/usr/bin/env bash
# Assemble the ripgrep 15.2.0 workspace in its upstream layout from crates.io:
# ripgrep at the root; globset, grep, grep-cli, grep-matcher, grep-printer, grep-regex,
# grep-searcher and ignore under crates/ as workspace members and [patch.crates-io] paths.
# Every .crate is checked against a pinned sha256 (ripgrep's below, the members' from
# ripgrep's Cargo.lock). Usage: bench/ripgrep_workspace.sh DEST
set -euo pipefail
DEST=${1:?usage: $0 DEST}
RIPGREP_VERSION=15.2.0
RIPGREP_SHA256=a30750b6d0743bfdd2656ebbaf4555aa278c43144b84bc389bcbfa399485ec71
MEMBERS="globset grep grep-cli grep-matcher grep-printer grep-regex grep-searcher ignore"
CACHE=${RELINK_CRATE_DOWNLOADS:-${XDG_CACHE_HOME:-$HOME/.cache}/relink-crate-downloads}
mkdir -p "$CACHE" "$DEST"

fetch() { # NAME VERSION SHA256 -> path of the verified .crate
  local file="$CACHE/$1-$2.crate"
  if [ ! -f "$file" ]; then
    # A temporary name of this process: scripts and tests running side by side never read a
    # half-written file.
    curl -sSfL -o "$file.$$.tmp" "https://static.crates.io/crates/$1/$1-$2.crate"
    mv "$file.$$.tmp" "$file"
  fi
  if [ "$(sha256sum "$file" | cut -d' ' -f1)" != "$3" ]; then
    echo "checksum mismatch for $1-$2 ($file); delete it and retry" >&2
    exit 1
  fi
  echo "$file"
}

unpack() { # CRATE_FILE DEST_DIR
  local tmp; tmp=$(mktemp -d)
  tar xzf "$1" -C "$tmp"
  mkdir -p "$2"
  cp -a "$tmp"/*/. "$2"/
  rm -rf "$tmp"
}

unpack "$(fetch ripgrep "$RIPGREP_VERSION" "$RIPGREP_SHA256")" "$DEST"
lock_field() { # NAME FIELD (from ripgrep's Cargo.lock)
  awk -v name="$1" -v field="$2" '
    $1 == "name" { current = $3; gsub(/"/, "", current) }
    current == name && $1 == field { v = $3; gsub(/"/, "", v); print v; exit }' "$DEST/Cargo.lock"
}
{
  echo
  echo "[workspace]"
  printf 'members = ['; for m in $MEMBERS; do printf '"crates/%s", ' "$m"; done; echo ']'
  echo
  echo "[patch.crates-io]"
  for m in $MEMBERS; do echo "$m = { path = \"crates/$m\" }"; done
} >> "$DEST/Cargo.toml"
for m in $MEMBERS; do
  unpack "$(fetch "$m" "$(lock_field "$m" version)" "$(lock_field "$m" checksum)")" "$DEST/crates/$m"
done
echo "ripgrep $RIPGREP_VERSION workspace assembled in $DEST"
