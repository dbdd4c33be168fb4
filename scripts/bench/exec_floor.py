#!/usr/bin/env python3
"""The floor of following exec with ptrace, beside trapbox, on a loop of 300 execs.

    cargo build --release -p trapbox && python3 scripts/bench/exec_floor.py [--rounds 9]

Runs `busybox sh -c 'i=0; while [ $i -lt 300 ]; do busybox true; ...; done'` natively, under
scripts/bench/exec_floor.c (a tracer that follows fork, vfork, clone and exec with trapbox's
ptrace events, stops each exec in seccomp, and decides nothing: sleeping in waitpid,
polling first, with 0 or 4 injected calls at each exec's exit, and pinned to one CPU), and
under trapbox (sandboxed as issue 10's table runs it, unconfined, and `--pin`), in
interleaved rounds. Prints each median, its ratio to native and the range of the rounds.
The difference between a floor row and trapbox's row is trapbox's own work per exec; the
floor row itself is what any ptrace debugger that follows exec pays on this machine.
"""
import argparse
import os
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
BUSYBOX = "/bin/busybox"
LOOP = f"i=0; while [ $i -lt 300 ]; do {BUSYBOX} true; i=$((i+1)); done"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--trapbox", default=os.path.join(ROOT, "target", "release", "trapbox"))
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="exec-floor-")
    floor = os.path.join(work, "exec_floor")
    subprocess.run(["gcc", "-O2", "-o", floor, os.path.join(HERE, "exec_floor.c")], check=True)
    sandbox = ["--quiet", "--allow-read", "/", "--allow-exec", "/", "--allow-write", "/tmp"]
    runners = {
        "native": [],
        "native, pinned to one CPU": ["taskset", "-c", "0"],
        "floor: sleeping, no injection": [floor, "sleep", "0"],
        "floor: polling, no injection": [floor, "poll", "0"],
        "floor: polling, 4 injections": [floor, "poll", "4"],
        "floor: pinned, 4 injections": ["taskset", "-c", "0", floor, "sleep", "4"],
        "trapbox sandboxed": [args.trapbox, "run", *sandbox, "--"],
        "trapbox unconfined": [args.trapbox, "run", "--quiet", "--unconfined", "--"],
        "trapbox sandboxed --pin": [args.trapbox, "run", "--pin", *sandbox, "--"],
    }
    times = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, prefix in runners.items():
            start = time.perf_counter()
            subprocess.run([*prefix, BUSYBOX, "sh", "-c", LOOP], check=True)
            times[name].append(time.perf_counter() - start)
    native = statistics.median(times["native"])
    print(f"300 execs from a shell loop, median of {args.rounds} interleaved rounds\n")
    print("| runner | median | × native | rounds (min–max) |")
    print("|---|---|---|---|")
    for name, got in times.items():
        median = statistics.median(got)
        print(f"| {name} | {median * 1000:.0f} ms | {median / native:.2f}x | {min(got) * 1000:.0f}–{max(got) * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
