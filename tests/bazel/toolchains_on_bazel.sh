#!/usr/bin/env bash
# Bazel as its users run it (issue 16), on Bazel 4.2.3 without network:
#  1. a new workspace written from the README's Bazel section (its WORKSPACE and .bazelrc
#     blocks, paths filled in) builds and tests the examples; relink-builder is built by the
#     repository rule (no RELINK_BUILDER) once per rules version;
#  2. `bazel shutdown` then `bazel build //...` does not rebuild it;
#  3. the toolchain inputs of a RustCompile (printed: files and MB);
#  4. `bazel coverage` stops at once with a message;
#  5. relink_register_toolchains(name = "my_rust") works;
#  6. tests/toolchains: two registered toolchains chosen by --platforms, the same outputs as
#     relink's for the same BUILD files.
# Prints "bazel toolchains: OK" on success.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib.sh
source "$REPO/tests/lib.sh"
RELINK=${RELINK:-$REPO/target/debug/relink}
BAZEL_ARCHIVES=${RELINK_BAZEL_ARCHIVES:-$(cd "$REPO/.." && pwd)/shared/data/bazel-4.2.3-offline}
command -v bazel >/dev/null || { apt-get update -qq >/dev/null && apt-get install -y -qq bazel-bootstrap >/dev/null; }
WORK=$(mktemp -d)
trap 'for d in "$WORK"/ws "$WORK"/tc; do bazel_discard "$d"; done; chmod -R u+w "$WORK"; rm -rf "$WORK"' EXIT
FLAGS=(--color=no --curses=no --show_progress_rate_limit=60)
unset RELINK_BUILDER

readme_block() { # MARKER -> the fenced block after <!-- MARKER --> in README.md
  python3 - "$REPO/README.md" "$1" <<'PY'
import sys
text = open(sys.argv[1]).read()
after = text.split("<!-- %s -->" % sys.argv[2], 1)[1]
print(after.split("```", 2)[1].split("\n", 1)[1], end="")
PY
}

# 1. The README's workspace around the examples' packages.
mkdir -p "$WORK/ws"
for d in app chain generic macros; do cp -r "$REPO/examples/$d" "$WORK/ws/"; done
readme_block bazel-workspace | sed -e "s|/path/to/rules_relink|$REPO|" -e "s|/path/to/bazel-4.2.3-offline|$BAZEL_ARCHIVES|" > "$WORK/ws/WORKSPACE"
readme_block bazel-rc > "$WORK/ws/.bazelrc"
diff <(grep -v '^#' "$REPO/examples/.bazelrc") "$WORK/ws/.bazelrc" || { echo "README's .bazelrc differs from examples/.bazelrc" >&2; exit 1; }
cd "$WORK/ws"
bazel build "${FLAGS[@]}" //... 2>&1 | tail -1
[ "$(./bazel-bin/app/app)" = "$(printf 'hello from App\nvalue=3\nlargest=Some(9)')" ] || { echo "app output differs" >&2; exit 1; }
bazel test "${FLAGS[@]}" //... 2>&1 | grep -E "Executed" | tee "$WORK/test.txt"
grep -q "Executed 2 out of 2 tests: 2 tests pass" "$WORK/test.txt" || { echo "the examples' tests did not pass" >&2; exit 1; }

# 2. A server restart keeps the builder the repository rule built (or found) for this version.
OUTPUT_BASE=$(bazel info output_base 2>/dev/null)
kept=$(readlink -f "$OUTPUT_BASE/external/relink_toolchain/relink-builder")
case "$kept" in */rules_relink/builder-*/relink-builder) ;; *) echo "relink-builder is not the kept one: $kept" >&2; exit 1 ;; esac
before=$(stat -c '%i %Y' "$kept")
bazel shutdown
start=$(date +%s)
bazel build "${FLAGS[@]}" //... 2>&1 | tail -1
echo "build after bazel shutdown: $(( $(date +%s) - start )) s"
[ "$(readlink -f "$OUTPUT_BASE/external/relink_toolchain/relink-builder")" = "$kept" ] && [ "$(stat -c '%i %Y' "$kept")" = "$before" ] \
  || { echo "relink-builder was rebuilt after a server restart" >&2; exit 1; }

# 3. What a compile stages of the toolchain.
bazel aquery "${FLAGS[@]}" 'mnemonic("RustCompileNoLink", //app:app)' --output=jsonproto 2>/dev/null > "$WORK/aquery.json"
python3 - "$WORK/aquery.json" "$OUTPUT_BASE" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
arts = {a["id"]: a for a in d["artifacts"]}
frags = {f["id"]: f for f in d["pathFragments"]}
sets = {s["id"]: s for s in d["depSetOfFiles"]}
def path(fid):
    parts = []
    while fid:
        parts.append(frags[fid]["label"]); fid = frags[fid].get("parentId")
    return "/".join(reversed(parts))
def files(sid, seen):
    if sid in seen: return []
    seen.add(sid); s = sets[sid]; out = list(s.get("directArtifactIds", []))
    for t in s.get("transitiveDepSetIds", []): out += files(t, seen)
    return out
(action,) = d["actions"]
ids = set()
for s in action["inputDepSetIds"]: ids |= set(files(s, set()))
tc = [p for p in (path(arts[i]["pathFragmentId"]) for i in ids) if p.startswith("external/relink_toolchain/")]
size = sum(os.path.getsize(os.path.join(sys.argv[2], p)) for p in tc)
print(f"toolchain inputs of RustCompileNoLink //app:app: {len(tc)} files, {size >> 20} MB (the whole sysroot: about 52,000 files, 1.4 GB)")
assert len(tc) <= 1000, len(tc)
assert not any(p.endswith("/sysroot") for p in tc), "the sysroot directory is an input"
assert any("/librustc_driver-" in p for p in tc) and "external/relink_toolchain/sysroot/bin/rustc" in tc
PY

# The linker driver is the C++ toolchain's (Bazel's autodetected local one), not `cc` on PATH.
linker=$(bazel aquery "${FLAGS[@]}" 'mnemonic("RustLink", //app:app)' 2>/dev/null | grep -o -- "-Clinker=[^ ']*" | head -1)
echo "RustLink //app:app links with ${linker:-nothing declared}"
case "$linker" in -Clinker=/*) ;; *) echo "RustLink does not take the C++ toolchain's linker" >&2; exit 1 ;; esac

# 4. Coverage: a clear stop, not a download or a silent nothing.
if bazel coverage "${FLAGS[@]}" //app:app_test > "$WORK/coverage.txt" 2>&1; then
  echo "bazel coverage unexpectedly succeeded" >&2; exit 1
fi
grep -q "bazel coverage. is not supported for rust_test yet" "$WORK/coverage.txt" || { cat "$WORK/coverage.txt" >&2; echo "no clear coverage message" >&2; exit 1; }

# 5. The toolchain repository under another name.
sed -i 's|^relink_register_toolchains(|relink_register_toolchains(name = "my_rust", |' WORKSPACE
bazel build "${FLAGS[@]}" //app:app 2>&1 | tail -1
[ -e "$OUTPUT_BASE/external/my_rust/relink-builder" ] || { echo "@my_rust was not created" >&2; exit 1; }
[ "$(./bazel-bin/app/app | sed -n 1p)" = "hello from App" ] || { echo "app built with @my_rust differs" >&2; exit 1; }

# 6. Two toolchains chosen by platform constraint; relink gives the same answers.
cp -r "$REPO/tests/toolchains" "$WORK/tc"
cd "$WORK/tc"
rm -f MODULE.bazel
sed -i -e "s|path = \"../..\"|path = \"$REPO\"|" -e "s|^relink_register_toolchains()|relink_register_toolchains(bazel_archives = \"$BAZEL_ARCHIVES\")|" WORKSPACE
for platform in "" //flavors:a //flavors:b //flavors:plain; do
  bazel build "${FLAGS[@]}" ${platform:+--platforms=$platform} //app:flavor 2>&1 | tail -1
  on_bazel=$(./bazel-bin/app/flavor)
  on_relink=$(RELINK_BUILDER="$(dirname "$RELINK")/relink-builder" RELINK_CACHE="$WORK/relink-cache" "$RELINK" run ${platform:+--platforms=$platform} //app:flavor 2>/dev/null)
  echo "platform ${platform:-host}: bazel '$on_bazel', relink '$on_relink'"
  [ "$on_bazel" = "$on_relink" ] || { echo "Bazel and relink chose different toolchains" >&2; exit 1; }
done
[ "$(./bazel-bin/app/flavor)" = "host toolchain" ] || exit 1
bazel build "${FLAGS[@]}" --platforms=//flavors:a //app:flavor >/dev/null 2>&1
[ "$(./bazel-bin/app/flavor)" = "flavor a" ] || { echo "--platforms=//flavors:a did not choose toolchain_a" >&2; exit 1; }
echo "bazel toolchains: OK"
