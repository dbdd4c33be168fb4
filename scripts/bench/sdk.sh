#!/usr/bin/env bash
# The SDK's wc and sha256sum (examples/c, examples/rust) under `trapbox run --personality
# native` against the same C source built for plain Linux (hostcall.h's TRAPBOX_ON_LINUX:
# each hostcall is its Linux call) run natively, and coreutils, on one file of SIZE_MB
# (default 1024) MiB. Prints the median wall time of ROUNDS (default 3) runs of each.
#   bash scripts/bench/sdk.sh            # after cargo build --release -p trapbox
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MB=${SIZE_MB:-1024}
ROUNDS=${ROUNDS:-3}
work=${WORK:-/var/tmp/trapbox-bench-sdk}
mkdir -p "$work"
trapbox=target/release/trapbox
data="$work/data-$SIZE_MB"
if [ ! -s "$data" ]; then
    # Text-like content (words, lines) so wc has work to do; the same bytes every time.
    python3 - "$data" "$SIZE_MB" <<'PY'
import sys, random
random.seed(1)
words = [bytes(random.choice(b"abcdefghij") for _ in range(random.randint(1, 9))) for _ in range(4096)]
line = b" ".join(words[:12]) + b"\n"
block = b"".join(b" ".join(random.choice(words) for _ in range(random.randint(1, 14))) + b"\n" for _ in range(20000))
with open(sys.argv[1], "wb") as f:
    total = int(sys.argv[2]) << 20
    while total > 0:
        f.write(block[:total]); total -= len(block)
PY
fi
cflags="-O2 -static -nostdlib -fno-stack-protector -fno-builtin"
rflags="--edition=2021 -O -C panic=abort"
rustc $rflags --crate-type=rlib --crate-name=trapbox_abi abi/src/lib.rs -o "$work/libtrapbox_abi.rlib"
for p in wc sha256sum; do
    gcc $cflags -o "$work/$p.sdk" examples/c/$p.c
    gcc $cflags -DTRAPBOX_ON_LINUX -o "$work/$p.linux" examples/c/$p.c
    rustc $rflags -C relocation-model=static -C link-arg=-nostartfiles -C link-arg=-static \
        --extern trapbox_abi="$work/libtrapbox_abi.rlib" -o "$work/$p.rust-sdk" examples/rust/$p.rs
done
median() { python3 -c 'import sys,statistics; print("%.3f" % statistics.median(map(float, sys.argv[1:])))' "$@"; }
time_of() { # prints seconds of one run of "$@", output discarded, failure fatal
    local t0 t1
    t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N)
    python3 -c "print($t1 - $t0)"
}
cat /proc/cpuinfo | grep -m1 "model name" || true
echo "file: $data ($SIZE_MB MiB), median of $ROUNDS runs, seconds"
printf '%-10s %12s %12s %12s %12s\n' program "C native" "C SDK" "Rust SDK" coreutils
for p in wc sha256sum; do
    declare -a a=() b=() c=() d=()
    for _ in $(seq "$ROUNDS"); do
        a+=("$(time_of "$work/$p.linux" "$data")")
        b+=("$(time_of "$trapbox" run --personality native --allow-read "$work" -- "$work/$p.sdk" "$data")")
        c+=("$(time_of "$trapbox" run --personality native --allow-read "$work" -- "$work/$p.rust-sdk" "$data")")
        d+=("$(time_of "$p" "$data")")
    done
    printf '%-10s %12s %12s %12s %12s\n' "$p" "$(median "${a[@]}")" "$(median "${b[@]}")" "$(median "${c[@]}")" "$(median "${d[@]}")"
    # The four agree on the result.
    r1=$("$work/$p.linux" "$data"); r2=$("$trapbox" run --personality native --allow-read "$work" -- "$work/$p.sdk" "$data")
    r3=$("$trapbox" run --personality native --allow-read "$work" -- "$work/$p.rust-sdk" "$data"); r4=$("$p" "$data")
    [ "$r1" = "$r2" ] && [ "$r2" = "$r3" ] && [ "$r3" = "$r4" ] || { echo "results differ: $r1 / $r2 / $r3 / $r4"; exit 1; }
done
