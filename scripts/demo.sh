#!/usr/bin/env bash
# The main job on a bundled example: rewrite busybox-static so that every system call
# becomes a trap, show the trap table, and run the rewritten program under trapbox.
# (The pipeline exits 7 on purpose: trapbox hands back the guest's exit status.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked -p trapbox
trapbox=target/release/trapbox
out=target/demo
mkdir -p "$out"
set -x
"$trapbox" rewrite /bin/busybox -o "$out/busybox.trapped"
"$trapbox" inspect "$out/busybox.trapped" | head -12
"$trapbox" run -- "$out/busybox.trapped" sh -c 'seq 1 100000 | sort -rn | head -3; exit 7' || echo "exit status: $?"
"$trapbox" run --trace --keep-traps --allow-read /etc/hostname -- "$out/busybox.trapped" cat /etc/hostname
"$trapbox" run --allow-read /usr/share -- "$out/busybox.trapped" sh -c 'wc -l /usr/share/common-licenses/GPL-3; cat /etc/shadow' || true
