#!/usr/bin/env python3
"""The two backends of `trapbox run` side by side (issue 10): which stops each workload takes
(`--stats`), and wall time against native, interleaved rounds, medians.

    cargo build --release -p trapbox && python3 scripts/bench/backends.py [--repeat 3] [--only stops|time]

Sandboxed means `--allow-read / --allow-exec / --allow-write /tmp`. `ptrace` is
`--backend ptrace --pin` (pinned to one CPU, as it was measured before unpinned became the
default); `unotify` is the default backend (unpinned); `unotify --pin` pins it. Parallel rows run two jobs at once in one guest
(`sh -c 'JOB & JOB & wait'`), as a parallel program would.
"""
import argparse
import json
import shlex
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAPBOX = os.path.join(ROOT, "target/release/trapbox")
SANDBOX = ["--allow-read", "/", "--allow-exec", "/", "--allow-write", "/tmp"]
BUSYBOX = "/bin/busybox"


def sh(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def prepare(work):
    data = os.path.join(work, "data-256M")
    with open(data, "wb") as f:
        f.write(os.urandom(256 << 20))
    trapped = os.path.join(work, "busybox.trapped")
    subprocess.run([TRAPBOX, "rewrite", BUSYBOX, "-o", trapped], check=True, stdout=subprocess.DEVNULL)
    hello = os.path.join(work, "hello.c")
    with open(hello, "w") as f:
        f.write('#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n')
    return data, trapped, hello


def workloads(data, busybox, hello, work):
    loop = f"i=0; while [ $i -lt 300 ]; do {busybox} true; i=$((i+1)); done"
    return {
        "find /usr": [busybox, "find", "/usr", "-type", "f"],
        "sha256sum 256 MiB": [busybox, "sha256sum", data],
        "300 execs (sh loop)": [busybox, "sh", "-c", loop],
        "20 x python3 -c pass": ["/bin/sh", "-c", "for i in $(seq 20); do python3 -c pass; done"],
        "gcc -O2 hello.c": ["gcc", "-O2", "-o", os.path.join(work, "hello"), hello],
    }


def configurations():
    return {
        "native": [],
        "ptrace": [TRAPBOX, "run", "--backend", "ptrace", "--pin", *SANDBOX, "--"],
        "unotify": [TRAPBOX, "run", *SANDBOX, "--"],
        "unotify --pin": [TRAPBOX, "run", "--pin", *SANDBOX, "--"],
    }


def stops(data, trapped, hello, work):
    """--stats of each workload, each backend: calls per route, and the debugger's stops."""
    print("### Stops per workload (`--stats`, sandboxed)\n")
    print("| workload | busybox | backend | debugger stops (seccomp + trap) | backstop calls | trap calls | directfs calls | unotify calls |")
    print("|---|---|---|---|---|---|---|---|")
    for build, busybox in (("unrewritten", BUSYBOX), ("rewritten", trapped)):
        for name, cmd in workloads(data, busybox, hello, work).items():
            if build == "rewritten" and not cmd[0].startswith(work):
                continue  # python3 and gcc are the system's, unrewritten
            for backend in ("ptrace", "unotify"):
                out = os.path.join(work, "stats.json")
                sh([TRAPBOX, "run", "--backend", backend, *SANDBOX, f"--stats={out}", "--", *cmd], cwd=work)
                with open(out) as f:
                    stats = json.load(f)
                routes = {}
                for row in stats["calls"]:
                    routes[row["route"]] = routes.get(row["route"], 0) + row["count"]
                c = stats["counters"]
                debugger = c["backstop"] + c["trap_ud2"] + c["trap_int3"]
                print(f"| {name} | {build} | {backend} | {debugger} | {routes.get('backstop', 0)} | {routes.get('trap', 0)} | {routes.get('directfs', 0)} | {routes.get('unotify', 0)} |")
    print()


def timed(cmds, cwd):
    started = time.monotonic()
    procs = [subprocess.Popen(c, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in cmds]
    for p in procs:
        p.wait()
    took = time.monotonic() - started
    # (Sandboxed, find exits 1: the masked systemd units under /usr are symlinks to /dev/null,
    # a device the host does not stat for a guest; the same on both backends.)
    if any(p.returncode not in (0, 1) for p in procs):
        raise SystemExit(f"failed: {cmds[0]} (exit {[p.returncode for p in procs]})")
    return took


def times(data, trapped, hello, work, repeat, only_rows=None):
    jobs = workloads(data, BUSYBOX, hello, work)
    rows = [(name, cmd, 1) for name, cmd in jobs.items()]
    # Two jobs in one guest (one sandbox, one host), as a parallel program would be.
    both = lambda cmd: [BUSYBOX, "sh", "-c", f"{shlex.join(cmd)} & {shlex.join(cmd)} & wait"]
    rows += [("two sha256sum in parallel", both(jobs["sha256sum 256 MiB"]), 1), ("two find /usr in parallel", both(jobs["find /usr"]), 1)]
    rows = [r for r in rows if not only_rows or only_rows in r[0]]
    configs = configurations()
    results = {(row[0], c): [] for row in rows for c in configs}
    for _ in range(repeat):
        for name, cmd, n in rows:
            for config, prefix in configs.items():
                results[(name, config)].append(timed([prefix + cmd] * n, work))
    print(f"### Wall time, sandboxed, median of {repeat} interleaved rounds (ratio to native)\n")
    print("| job | " + " | ".join(configs) + " |")
    print("|---|" + "---|" * len(configs))
    for name, _, _ in rows:
        native = statistics.median(results[(name, "native")])
        cells = []
        for config in configs:
            t = statistics.median(results[(name, config)])
            cells.append(f"{t:.2f} s" if config == "native" else f"{t:.2f} s ({t / native:.2f}x)")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=["stops", "time"])
    parser.add_argument("--rows", help="only the timed rows whose name contains this")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}; kernel {os.uname().release}\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="trapbox-backends-", dir="/tmp") as work:
        data, trapped, hello = prepare(work)
        if args.only in (None, "stops"):
            stops(data, trapped, hello, work)
        if args.only in (None, "time"):
            times(data, trapped, hello, work, args.repeat, args.rows)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.exit(main())
