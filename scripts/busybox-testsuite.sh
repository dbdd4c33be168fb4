#!/usr/bin/env bash
# BusyBox's own testsuite (testsuite/runtest from Debian's busybox source package), run against
# the installed busybox-static natively and under `trapbox run` with a granting policy; prints
# both pass counts and the tests whose outcome differs. A script, not a CI test: it fetches the
# source package (enabling deb-src for the Debian mirror if no deb-src entry exists) and takes
# minutes.
#
#   bash scripts/busybox-testsuite.sh [applet...]      # default: every applet
#   TRAPBOX=target/release/trapbox WORK=target/busybox-testsuite  (the defaults)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
trapbox=$(realpath "${TRAPBOX:-$root/target/release/trapbox}")
work=$(realpath -m "${WORK:-$root/target/busybox-testsuite}")
[ -x "$trapbox" ] || { echo "build trapbox first: cargo build --release --workspace --bins" >&2; exit 1; }
bash "$root/scripts/setup.sh"
sudo_cmd=()
[ "$(id -u)" = 0 ] || sudo_cmd=(sudo)

version=$(dpkg-query -W -f='${source:Version}' busybox-static)
src="$work/src"
if ! [ -d "$src"/busybox-*/testsuite ]; then
    if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo "busybox-testsuite: enabling deb-src for the Debian mirror"
        uris=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
        suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
        printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "${uris:-http://deb.debian.org/debian}" "$suite" | "${sudo_cmd[@]}" tee /etc/apt/sources.list.d/trapbox-deb-src.sources >/dev/null
    fi
    "${sudo_cmd[@]}" apt-get update -qq
    command -v dpkg-source >/dev/null || DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq dpkg-dev >/dev/null
    rm -rf "$src" && mkdir -p "$src"
    (cd "$src" && apt-get source -qq "busybox=$version" >/dev/null 2>&1 || apt-get source -qq busybox >/dev/null)
fi
tree=$(echo "$src"/busybox-*)

# One copy per run: runtest writes beside the binary (its links directory) and in the tests' dir.
prepare() {
    local dir=$1
    rm -rf "$dir" && mkdir -p "$dir/bin"
    cp -a "$tree/testsuite" "$dir/testsuite"
    cp -a "$tree/scripts" "$dir/scripts"   # testing.sh builds ../scripts/echo.c
    cp /bin/busybox "$dir/bin/busybox"
    cp "$tree/debian/config/pkg/static" "$dir/bin/.config"
}
# The counts runtest prints: PASS/FAIL/SKIPPED lines (its old-style tests print the same words).
summarize() { grep -E '^(PASS|FAIL|SKIPPED|UNTESTED)' "$1" | sort > "$1.outcomes" || true; }
count() { grep -c "^$2" "$1.outcomes" || true; }

env_run=(env -i PATH=/usr/bin:/bin HOME=/tmp LANG=C TZ=UTC SKIP_KNOWN_BUGS=1 SKIP_INTERNET_TESTS=1)

prepare "$work/native"
echo "busybox-testsuite: native run ($version)"
(cd "$work/native/testsuite" && "${env_run[@]}" bindir="$work/native/bin" ./runtest "$@" > "$work/native.out" 2>&1) || true

prepare "$work/trapped"
echo "busybox-testsuite: under trapbox run --allow-exec /usr --allow-exec $work/trapped --allow-write $work/trapped --net loopback"
(cd "$work/trapped/testsuite" && "${env_run[@]}" bindir="$work/trapped/bin" "$trapbox" run --log "$work/trapbox.log" \
    --allow-exec /usr --allow-exec "$work/trapped" --allow-write "$work/trapped" --net loopback \
    -- ./runtest "$@" > "$work/trapped.out" 2>&1) || true

summarize "$work/native.out"
summarize "$work/trapped.out"
for run in native trapped; do
    printf '%-8s PASS %s  FAIL %s  SKIPPED %s\n' "$run" "$(count "$work/$run.out" PASS)" "$(count "$work/$run.out" FAIL)" "$(count "$work/$run.out" SKIPPED)"
done
echo "outcomes that differ (< native, > trapbox):"
sed "s#$work/native#WORK#g" "$work/native.out.outcomes" > "$work/native.cmp"
sed "s#$work/trapped#WORK#g" "$work/trapped.out.outcomes" > "$work/trapped.cmp"
diff "$work/native.cmp" "$work/trapped.cmp" || true
echo "trapbox's denials: $(grep -c '^trapbox: denied' "$work/trapbox.log" || true) (in $work/trapbox.log)"
