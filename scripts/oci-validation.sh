#!/usr/bin/env bash
# The OCI runtime-tools validation suite against trapbox-oci (or any runc-like runtime).
#
# Builds opencontainers/runtime-tools' `runtimetest` and its `validation/*` programs with
# Debian's Go (golang-go, 1.19), offline: the tree carries its dependencies in vendor/, and
# GOPROXY=off GOFLAGS=-mod=vendor keep the build from asking any module proxy. Debian's
# golang-github-opencontainers-runtime-tools-dev ships only the library packages (no cmd/, no
# validation/), so the programs come from the upstream tree at the commit Debian packages
# (0.9.0+git20220423.g0105384, whose go.mod asks go 1.16):
#   RUNTIME_TOOLS_SRC=DIR   a git checkout of opencontainers/runtime-tools (the commit below is
#                           exported from it) or an unpacked tree of it;
#   otherwise               `apt-get source golang-github-opencontainers-runtime-tools` (needs a
#                           deb-src entry and a mirror that serves the source).
# Then runs every program with RUNTIME set, as runtime-tools expects, each in a directory that
# holds runtimetest and the suite's rootfs-amd64.tar.gz, and prints one line per program and
# the counts. Needs root (the suite makes containers with every namespace and cgroups).
#
#   bash scripts/oci-validation.sh                       # trapbox-oci from target/release
#   RUNTIME=/usr/sbin/runc bash scripts/oci-validation.sh  # the same suite against runc
#   TESTS="create kill state" bash scripts/oci-validation.sh
#   SUMMARY_ONLY=1 bash scripts/oci-validation.sh          # the summary of the last run again
#
# Results: target/oci-validation/results/<runtime>/<program>.{tap,err,rc}. A program passes
# when it exits 0 with no `not ok` line and no `"error"` diagnostic unless it also has an `ok`
# (the hooks programs report a failure only as a diagnostic and a `1..0` plan; the `*_fail`
# programs print nothing when the runtime refuses their bundle, as it must). Exit status: 0
# when every program passed, 1 when some failed, 2 when the suite could not be built or run.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$here/target/oci-validation"
commit=0105384f68e16803891d0a17d9067b1def6a2778
src="$out/src"
bin="$out/bin"

die() { echo "oci-validation: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "run as root: the suite makes containers with every namespace and cgroups"
command -v go >/dev/null || die "no go: apt-get install golang-go"

mkdir -p "$out"
if [ ! -f "$src/validation/util/test.go" ]; then
    rm -rf "$src.tmp" && mkdir -p "$src.tmp"
    if [ -n "${RUNTIME_TOOLS_SRC:-}" ]; then
        if git -C "$RUNTIME_TOOLS_SRC" cat-file -e "$commit^{commit}" 2>/dev/null; then
            git -C "$RUNTIME_TOOLS_SRC" archive "$commit" | tar -C "$src.tmp" -x || die "cannot export $commit from $RUNTIME_TOOLS_SRC"
        elif [ -f "$RUNTIME_TOOLS_SRC/validation/util/test.go" ]; then
            echo "oci-validation: $RUNTIME_TOOLS_SRC has no commit $commit: using its tree as it is" >&2
            cp -a "$RUNTIME_TOOLS_SRC/." "$src.tmp/"
        else
            die "RUNTIME_TOOLS_SRC=$RUNTIME_TOOLS_SRC is not a runtime-tools tree (no validation/util/test.go)"
        fi
    else
        (cd "$src.tmp" && apt-get source --download-only golang-github-opencontainers-runtime-tools >/dev/null 2>&1 \
            && dpkg-source -x ./*.dsc unpacked >/dev/null 2>&1) \
            || die "no source: apt-get source golang-github-opencontainers-runtime-tools failed (no deb-src, or the mirror does not serve it); set RUNTIME_TOOLS_SRC to a checkout of github.com/opencontainers/runtime-tools"
        tree="$src.tmp/unpacked"
        [ -f "$tree/validation/util/test.go" ] || die "the Debian source has no validation/ programs"
        mv "$tree" "$src.tmp.tree" && rm -rf "$src.tmp" && mv "$src.tmp.tree" "$src.tmp"
    fi
    [ -d "$src.tmp/vendor" ] || die "the runtime-tools tree has no vendor/: it cannot be built offline"
    rm -rf "$src" && mv "$src.tmp" "$src"
fi

# Offline, lean (one package at a time), caches inside target/.
export GOFLAGS=-mod=vendor GOPROXY=off GO111MODULE=on GOTOOLCHAIN=local GOSUMDB=off \
    GOCACHE="$out/gocache" GOPATH="$out/gopath"
mkdir -p "$bin"
if [ ! -x "$bin/runtimetest" ]; then
    echo "oci-validation: building runtimetest" >&2
    (cd "$src" && go build -p 1 -tags "netgo osusergo" -ldflags "-extldflags -static" -o "$bin/runtimetest" ./cmd/runtimetest) \
        || die "runtimetest does not build"
fi
all=()
for dir in "$src"/validation/*/; do
    name="$(basename "$dir")"
    [ "$name" = util ] && continue
    all+=("$name")
done
read -r -a tests <<<"${TESTS:-${all[*]}}"
for name in "${tests[@]}"; do
    [ -x "$bin/$name.t" ] && continue
    echo "oci-validation: building validation/$name" >&2
    (cd "$src" && go build -p 1 -o "$bin/$name.t" "./validation/$name") || die "validation/$name does not build"
done

runtime="${RUNTIME:-}"
if [ -z "$runtime" ]; then
    [ -x "$here/target/release/trapbox" ] || die "no target/release/trapbox: cargo build --release -p trapbox"
    ln -sf trapbox "$here/target/release/trapbox-oci"
    runtime="$here/target/release/trapbox-oci"
fi
[ -x "$runtime" ] || die "RUNTIME=$runtime is not executable"
results="$out/results/$(basename "$runtime")"
work="$out/work"
if [ -z "${SUMMARY_ONLY:-}" ]; then
    rm -rf "$work" && mkdir -p "$work"
    cp "$bin/runtimetest" "$src/rootfs-amd64.tar.gz" "$work/"
fi

if [ -z "${SUMMARY_ONLY:-}" ]; then
    rm -rf "$results" && mkdir -p "$results"
    for name in "${tests[@]}"; do
        (cd "$work" && RUNTIME="$runtime" timeout --kill-after=5 120 "$bin/$name.t" >"$results/$name.tap" 2>"$results/$name.err")
        echo "$?" >"$results/$name.rc"
    done
fi

passed=0 failed=0 ok=0 notok=0 skipped=0
failures=()
for name in "${tests[@]}"; do
    [ -f "$results/$name.rc" ] || die "no results for $name in $results"
    rc=$(cat "$results/$name.rc")
    o=$(grep '^ok' "$results/$name.tap" | grep -vc '# SKIP')
    s=$(grep -c '^ok.*# SKIP' "$results/$name.tap")
    n=$(grep -c '^not ok' "$results/$name.tap")
    ok=$((ok + o)) notok=$((notok + n)) skipped=$((skipped + s))
    # Some programs (the hooks ones) report a failure only as an "error" diagnostic and `1..0`.
    diagnosed="$(grep -m1 '^    "error": ' "$results/$name.tap" | sed 's/^    "error": "//; s/\\n.*//; s/",\?$//')"
    if [ "$rc" = 0 ] && [ "$n" = 0 ] && { [ "$o" -gt 0 ] || [ -z "$diagnosed" ]; }; then
        # (The *_fail programs print nothing when the runtime refuses their bundle, as it must.)
        passed=$((passed + 1))
        printf 'PASS %-36s %4d ok %3d skip\n' "$name" "$o" "$s"
    else
        failed=$((failed + 1))
        failures+=("$name")
        why="$(grep -m1 '^not ok' "$results/$name.tap" | sed 's/^not ok [0-9]* - //')"
        [ -n "$why" ] || why="$diagnosed"
        [ -n "$why" ] || why="$(grep -v '^\s*$' "$results/$name.err" | grep -v '^Clean: ' | tail -n 1)"
        [ -n "$why" ] || why="exit status $rc"
        printf 'FAIL %-36s %4d ok %3d not ok %3d skip rc=%s  %s\n' "$name" "$o" "$n" "$s" "$rc" "${why:0:110}"
    fi
done
echo "oci-validation: $(basename "$runtime"): $passed of ${#tests[@]} programs passed, $failed failed; TAP: $ok ok, $notok not ok, $skipped skipped"
[ "$failed" = 0 ] || { echo "oci-validation: failed: ${failures[*]}"; exit 1; }
exit 0
