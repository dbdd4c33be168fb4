#!/usr/bin/env python3
"""One open(2), warm and cold, natively and under trapbox sandboxed, in interleaved rounds.

    cargo build --release -p trapbox && python3 scripts/bench/open_cost.py [--rounds 5]

scripts/bench/open_cost.c opens one file (an existing one, then a missing one) 500 times and
times each open inside the program, with 0 or 4096 KiB of memory written between two opens:
a tight loop keeps every cache warm, the 4 MiB stand for a real program's own work between
its opens (python's start, gcc's include probes). Prints the median µs per open of each.
"""
import argparse
import os
import statistics
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--trapbox", default=os.path.join(ROOT, "target", "release", "trapbox"))
    args = parser.parse_args()
    # Not under /tmp: a sandboxed guest's /tmp is its own.
    target = os.path.join(ROOT, "target")
    os.makedirs(target, exist_ok=True)
    work = tempfile.mkdtemp(prefix="open-cost-", dir=target)
    program = os.path.join(work, "open_cost")
    subprocess.run(["gcc", "-O2", "-o", program, os.path.join(HERE, "open_cost.c")], check=True)
    existing = os.path.join(work, "present")
    with open(existing, "w") as f:
        f.write("x\n")
    missing = os.path.join(work, "absent")
    sandbox = [args.trapbox, "run", "--quiet", "--allow-read", "/", "--allow-exec", "/", "--"]
    cases = [(f"{file} file, {dirty} KiB between opens", file_path, dirty)
             for file, file_path in (("existing", existing), ("missing", missing)) for dirty in (0, 4096)]
    runners = {"native": [], "trapbox sandboxed": sandbox}
    got = {(case, runner): [] for case, _, _ in cases for runner in runners}
    for _ in range(args.rounds):
        for case, path, dirty in cases:
            for runner, prefix in runners.items():
                out = subprocess.run([*prefix, program, "500", path, str(dirty)], check=True, capture_output=True, text=True).stdout
                got[(case, runner)].append(float(out.split()[0]))
    print(f"µs per open, median of {args.rounds} interleaved rounds of 500 opens\n")
    print("| case | native | trapbox sandboxed | difference |")
    print("|---|---|---|---|")
    for case, _, _ in cases:
        native = statistics.median(got[(case, "native")])
        boxed = statistics.median(got[(case, "trapbox sandboxed")])
        print(f"| {case} | {native:.1f} | {boxed:.1f} | +{boxed - native:.1f} |")


if __name__ == "__main__":
    main()
