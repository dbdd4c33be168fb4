#!/usr/bin/env bash
# The whole test suite, as CI runs it: install what the tests need, build the `trapbox`
# binary the end-to-end tests drive, then run every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked --workspace --bins
cargo test --release --locked --workspace "$@"
