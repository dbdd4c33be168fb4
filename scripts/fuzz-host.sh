#!/usr/bin/env bash
# A longer run of the host's fuzzer than the test suite's (tests/guests/fuzz_calls.c): for each
# seed, BATCHES batches of 200 random calls with hostile arguments, under a policy, static and
# rewritten. Prints one line per run and fails on the first run the host did not survive.
#   bash scripts/fuzz-host.sh [SEEDS] [BATCHES]      (default: 20 seeds, 300 batches)
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-20}
batches=${2:-300}
cargo build --release --locked -p trapbox --bin trapbox >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -static -O2 -o "$work/fuzz" tests/guests/fuzz_calls.c
./target/release/trapbox rewrite "$work/fuzz" -o "$work/fuzz.trapped" >/dev/null
for seed in $(seq 1 "$seeds"); do
    for program in "$work/fuzz" "$work/fuzz.trapped"; do
        mkdir -p "$work/scratch" && cd "$work/scratch"
        start=$(date +%s.%N)
        if ! out=$("$OLDPWD/target/release/trapbox" run --allow-read /usr --allow-write . --limit-processes 32 \
                --limit-memory 1G --limit-wall 300s --log "$work/host.log" -- "$program" "$seed" "$batches" 2>/dev/null) \
            || [ "$out" != "fuzz: done" ] || grep -q panicked "$work/host.log"; then
            echo "seed $seed $(basename "$program"): the host did not survive (log: $work/host.log)" >&2
            trap - EXIT
            exit 1
        fi
        cd "$OLDPWD"
        printf 'seed %s %-12s %6.1f s, %s denials logged\n' "$seed" "$(basename "$program")" \
            "$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { print e - s }')" "$(grep -c '^trapbox: denied' "$work/host.log" || true)"
    done
done
