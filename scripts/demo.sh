#!/usr/bin/env bash
# The main job on a bundled example: rewrite busybox-static so that every system call
# becomes a trap, show the trap table, and run the rewritten program under trapbox.
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
