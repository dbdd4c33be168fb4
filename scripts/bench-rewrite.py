#!/usr/bin/env python3
"""Rewriter throughput: `trapbox rewrite` on libc.so.6 and busybox-static.

Reports medians of N runs: the in-tool analysis+patch time (what the library spends),
the whole command's wall time (reading, writing and process start included), the yaxpeax-x86
cross-check, and `objdump -d` over the same file as a peer reference (a disassembler sweep
of the same code). Run from the repository root after `cargo build --release`:

    python3 scripts/bench-rewrite.py [--runs 21]
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time

TRAPBOX = os.path.join(os.path.dirname(__file__), "..", "target", "release", "trapbox")
FILES = ["/usr/lib/x86_64-linux-gnu/libc.so.6", "/bin/busybox"]
SUMMARY = re.compile(r"(\d+) sites patched .* in ([\d.]+) ms \((\d+) KiB of code")
CROSS = re.compile(r"cross-check: .* \(([\d.]+) ms\)")


def timed(cmd):
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return (time.perf_counter() - start) * 1e3, out.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    print(f"| file | code KiB | sites | rewrite (in-tool) ms | MB/s | `trapbox rewrite` wall ms | + yaxpeax-x86 cross-check ms | `objdump -d` wall ms | rewrite wall / objdump |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        out_path = os.path.join(tmp, "out")
        for path in FILES:
            in_tool, wall, cross, objdump = [], [], [], []
            sites = kib = 0
            for _ in range(args.runs):
                ms, text = timed([TRAPBOX, "rewrite", "--no-cross-check", path, "-o", out_path])
                m = SUMMARY.search(text)
                sites, kib = int(m.group(1)), int(m.group(3))
                in_tool.append(float(m.group(2)))
                wall.append(ms)
                _, text = timed([TRAPBOX, "rewrite", path, "-o", out_path])
                cross.append(float(CROSS.search(text).group(1)))
                ms, _ = timed(["sh", "-c", f"objdump -d {path} > /dev/null"])
                objdump.append(ms)
            med = statistics.median
            mbps = kib * 1024 / 1e6 / (med(in_tool) / 1e3)
            print(f"| {os.path.basename(path)} | {kib} | {sites} | {med(in_tool):.1f} | {mbps:.0f} | {med(wall):.1f} | {med(cross):.1f} | {med(objdump):.0f} | {med(wall) / med(objdump):.3f} |")


if __name__ == "__main__":
    main()
