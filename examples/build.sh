#!/usr/bin/env bash
# Builds every SDK example (examples/c and examples/rust) into DIR (default /tmp/sdk): NAME
# is the C program, NAME.linux the same C source built for plain Linux, NAME-rs the Rust one.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/sdk}
mkdir -p "$out"
cflags="-O2 -static -nostdlib -fno-stack-protector -fno-builtin"
rflags="--edition=2021 -O -C panic=abort"
rustc $rflags --crate-type=rlib --crate-name=trapbox_abi abi/src/lib.rs -o "$out/libtrapbox_abi.rlib"
for p in wc sha256sum cat cp grep kv; do
    gcc $cflags -o "$out/$p" examples/c/$p.c
    gcc $cflags -DTRAPBOX_ON_LINUX -o "$out/$p.linux" examples/c/$p.c
    rustc $rflags -C relocation-model=static -C link-arg=-nostartfiles -C link-arg=-static \
        --extern trapbox_abi="$out/libtrapbox_abi.rlib" -o "$out/$p-rs" examples/rust/$p.rs
done
gcc $cflags -o "$out/embed_guest" examples/c/embed_guest.c   # the guest of examples/embed.rs
echo "built into $out"
