#!/usr/bin/env python3
"""Start-up to exit of short programs, natively and under trapbox, and the host's memory.

    cargo build --release -p trapbox && python3 scripts/bench/startup.py --rounds 30

Rows, interleaved round by round (so a burst of load on this shared machine hits every row
alike): `/bin/true` (dynamically linked), busybox `true` (static) and busybox
`sh -c 'echo a | cat | wc -c'` (three processes, a pipe), each natively, under `trapbox run
--unconfined` (no policy), `--audit` (a policy, the host's tree with the base's mounts over it)
and sandboxed (`--allow-read / --allow-exec / --allow-write /tmp`: the grants-only root), and
`/bin/true` under narrower grants (`--allow-read /usr --allow-exec /usr`: a root assembled from
clones, the link scan). Each run is timed from `posix_spawn` to `waitpid` (the medians, in ms,
and the difference from native), with the CPU time of the whole process tree (`wait4`'s
rusage: trapbox, init and the guest's processes), which the machine's other load moves less.
`--trapbox before=PATH,after=PATH` puts two builds in the same rounds. Then the host's peak resident memory for the busybox pipeline
sandboxed: `VmHWM` of the trapbox process, polled from its `/proc/PID/status` until it ends
(the peak is monotonic; the last reading is its figure), and GNU time's maximum resident set
size (`ru_maxrss`: the largest of trapbox and every process it reaped, init and, through init's
reaping, the guest's), median of `--rss-runs`.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
import importlib.util

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("bench_runtime", os.path.join(ROOT, "scripts", "bench-runtime.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)
SANDBOX = ["--allow-read", "/", "--allow-exec", "/", "--allow-write", "/tmp"]
NARROW = ["--allow-read", "/usr", "--allow-exec", "/usr"]


def programs(busybox):
    true = shutil.which("true") or "/bin/true"
    return [
        ("/bin/true", [true]),
        ("busybox true (static)", [busybox, "true"]),
        ("busybox sh -c 'echo a | cat | wc -c'", [busybox, "sh", "-c", "echo a | cat | wc -c"]),
    ]


def rows(busybox, binaries):
    out = []
    for program, cmd in programs(busybox):
        out.append((program, "native", cmd))
        for label, trapbox in binaries:
            out.append((program, f"{label}--unconfined", [*trapbox, "--unconfined", "--", *cmd]))
            out.append((program, f"{label}--audit (sandboxed policy)", [*trapbox, "--audit", *SANDBOX, "--", *cmd]))
            out.append((program, f"{label}sandboxed", [*trapbox, *SANDBOX, "--", *cmd]))
            if program == "/bin/true":
                out.append((program, f"{label}sandboxed, narrow grants", [*trapbox, *NARROW, "--", *cmd]))
    return out


def timed(cmd, devnull):
    start = time.perf_counter()
    pid = os.posix_spawn(cmd[0], cmd, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)])
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status)


def host_peak_kib(cmd, devnull):
    """The trapbox process's VmHWM, polled until it is gone; GNU time's maximum RSS."""
    time_bin = os.path.exists("/usr/bin/time")
    full = ["/usr/bin/time", "-f", "%M", "-o", "/dev/stderr", *cmd] if time_bin else cmd
    proc = subprocess.Popen(full, stdout=devnull, stderr=subprocess.PIPE)
    # With GNU time in front, trapbox is its child: find it.
    host = None
    peak = 0
    while proc.poll() is None:
        if host is None:
            try:
                children = open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split() if time_bin else [str(proc.pid)]
            except OSError:
                children = []
            host = children[0] if children else None
        if host is not None:
            try:
                for line in open(f"/proc/{host}/status"):
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
    maxrss = None
    if time_bin:
        text = proc.stderr.read().decode().strip().splitlines()
        maxrss = int(text[-1]) if text and text[-1].isdigit() else None
    return peak, maxrss


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--rss-runs", type=int, default=10)
    parser.add_argument("--trapbox", default=None, help="the trapbox binary (default: target/release/trapbox); "
                        "LABEL=PATH,LABEL=PATH compares builds (or one build's `run` flags: "
                        "LABEL=PATH FLAGS...) in the same interleaved rounds")
    parser.add_argument("--busybox", default=shutil.which("busybox") or "/bin/busybox")
    args = parser.parse_args()
    binaries = [(f"trapbox {label + ' ' if label else ''}", path) for label, path in bench.trapbox_builds(args.trapbox)]
    table = rows(args.busybox, binaries)
    samples = {(p, c): [] for p, c, _ in table}
    cpu = {(p, c): [] for p, c, _ in table}
    failures = {(p, c): 0 for p, c, _ in table}
    devnull = os.open(os.devnull, os.O_WRONLY)
    for _ in range(args.rounds):
        for program, config, cmd in table:
            elapsed, used, code = timed(cmd, devnull)
            if code == 0:
                samples[(program, config)].append(elapsed)
                cpu[(program, config)].append(used)
            else:
                failures[(program, config)] += 1
    print(f"### Start-up to exit, median of {args.rounds} interleaved rounds (load average {os.getloadavg()[0]:.2f} at the end)\n")
    print("| program | configuration | ms | vs native | CPU ms (the whole tree) |")
    print("|---|---|---|---|---|")
    native = {}
    for program, config, _ in table:
        got = samples[(program, config)]
        if not got:
            print(f"| {program} | {config} | failed ({failures[(program, config)]} runs) | |")
            continue
        t = statistics.median(got) * 1e3
        if config == "native":
            native[program] = t
        delta = f"+{t - native[program]:.2f} ms" if program in native and config != "native" else ""
        failed = f" ({failures[(program, config)]} failed)" if failures[(program, config)] else ""
        print(f"| {program} | {config} | {t:.2f}{failed} | {delta} | {statistics.median(cpu[(program, config)]) * 1e3:.2f} |")
    for label, _ in binaries:
        pipeline = [cmd for program, config, cmd in table if config == f"{label}sandboxed" and "wc -c" in program][0]
        peaks, maxrss = [], []
        for _ in range(args.rss_runs):
            peak, rss = host_peak_kib(pipeline, devnull)
            peaks.append(peak)
            if rss is not None:
                maxrss.append(rss)
        print(f"\nHost memory ({label.strip()}), busybox pipeline sandboxed, median of {args.rss_runs} runs: trapbox's VmHWM "
              f"{statistics.median(peaks) / 1024:.1f} MiB (max {max(peaks) / 1024:.1f})"
              + (f"; GNU time's maximum resident set size (the whole tree) {statistics.median(maxrss) / 1024:.1f} MiB" if maxrss else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
