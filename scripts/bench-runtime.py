#!/usr/bin/env python3
"""Runtime benchmarks: trap round trip and whole programs, trapbox vs native vs peers.

    python3 scripts/bench-runtime.py [--iterations 200000] [--repeat 3] [--skip-programs]

1. Trap round trip: a loop of raw getpid calls (scripts/bench/getpid_loop.S), rewritten
   with ud2 and with int3. Timed natively, under a minimal C tracer that does the least a
   trap debugger can (scripts/bench/bare_tracer.c: GETREGS, answer, SETREGS, continue), under
   `trapbox run`, and the unrewritten loop under strace and PRoot. Everything that traces is
   pinned with host and guest on one CPU (`taskset -c 0`), where ptrace stops are cheapest.
2. Programs: busybox sha256sum of a 256 MiB file, and `find /usr -type f | wc -l`, natively,
   under trapbox --unconfined (rewritten busybox as run by default, rewritten with every trap
   kept, unrewritten), sandboxed under a default-deny policy, strace -f and PRoot.
3. File reading: a 1 GiB file summed through the SDK's zero-copy map_file (native
   personality), through read() natively, under trapbox on the granted fd, and with a trap
   per read().
5. Mapping vs reading (--only-access): scripts/bench/file_access.c maps or reads one file
   in one pass, four passes, random 8-byte reads, and as two processes at once; natively,
   under trapbox as a Linux program (mmap and read run natively) and as an SDK guest
   (map_file, read hostcalls).
4. Start-up (--only-startup): `/bin/true` natively, under trapbox (its namespaces, init and
   host area included; unconfined, sandboxed with --net none and loopback, sandboxed --bare (what the base
   environment's mounts and grants cost is the difference), and with --no-namespaces), under `bwrap --unshare-all` (Debian's bubblewrap) and under `unshare`
   with the same namespaces (the kernel's floor), rounds interleaved; then the kernel's costs
   of each namespace, the id maps and a private /tmp, /proc and /dev, measured in-process.

Every figure is a median of --repeat runs; ratios are against the native run or the bare
tracer of the same run. Needs `cargo build --release`; installs strace and proot if missing.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TRAPBOX = os.path.join(ROOT, "target", "release", "trapbox")
BUSYBOX = "/bin/busybox"
PIN = ["taskset", "-c", "0"]


# Every table's rows, for --json (and scripts/bench-chart.py): {section: [[label, value, unit], ...]}.
RESULTS = {}


def trapbox_builds(spec):
    """The trapbox runs a benchmark compares, as (label, the command up to the run's own
    flags: `[PATH, "run", FLAG...]`): `spec` is None (this tree's release build, no label)
    or `LABEL=PATH,LABEL=PATH` (or bare paths), where a PATH may be followed by `trapbox run`
    flags (`sleep=target/release/trapbox --spin-wait 0`), each measured in the same
    interleaved rounds."""
    if not spec:
        return [("", [TRAPBOX, "run"])]
    builds = []
    for build in spec.split(","):
        label, run = build.split("=", 1) if "=" in build else ("", build)
        path, *flags = run.split()
        builds.append((label, [path, "run", *flags]))
    return builds


def record(section, label, value, unit):
    RESULTS.setdefault(section, []).append([label, value, unit])


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def timed(cmd, repeat, stdout=subprocess.DEVNULL):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=stdout, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ensure_tools():
    missing = [p for p in ("strace", "proot", "bwrap", "runsc") if shutil.which(p) is None]
    if missing:
        packages = ["bubblewrap" if p == "bwrap" else p for p in missing]
        sh(["apt-get", "install", "-y", "-qq", *packages], stdout=subprocess.DEVNULL)


def trap_round_trip(work, iterations, repeat):
    loop = os.path.join(work, "getpid_loop")
    tracer = os.path.join(work, "bare_tracer")
    sh(["gcc", "-nostdlib", "-static", f"-DITERATIONS={iterations}", "-o", loop, os.path.join(ROOT, "scripts/bench/getpid_loop.S")])
    sh(["gcc", "-O2", "-o", tracer, os.path.join(ROOT, "scripts/bench/bare_tracer.c")])
    for trap in ("ud2", "int3"):
        sh([TRAPBOX, "rewrite", "--trap", trap, loop, "-o", f"{loop}.{trap}"], stdout=subprocess.DEVNULL)

    rows = []
    native = timed([loop], repeat)
    rows.append(("native getpid (no tracer)", native, None))
    bare = {}
    for trap in ("ud2", "int3"):
        bare[trap] = timed(PIN + [tracer, trap, f"{loop}.{trap}"], repeat)
        rows.append((f"bare C tracer, {trap} trap", bare[trap], None))
    for trap in ("ud2", "int3"):
        t = timed(PIN + [TRAPBOX, "run", "--unconfined", "--keep-traps", "--", f"{loop}.{trap}"], repeat)
        rows.append((f"trapbox run, {trap} trap (getpid run from the stub page)", t, t / bare[trap]))
    t = timed(PIN + [TRAPBOX, "run", "--unconfined", "--", loop], repeat)
    rows.append(("trapbox run, unrewritten (getpid runs natively: no stop)", t, None))
    t = timed(PIN + ["strace", "-f", "-o", "/dev/null", loop], repeat)
    rows.append(("strace -f -o /dev/null, unrewritten", t, None))
    t = timed(PIN + ["proot", loop], repeat)
    rows.append(("PRoot, unrewritten", t, None))

    print(f"### Trap round trip: {iterations} getpid calls, median of {repeat}\n")
    print("| configuration | total s | µs per call | vs bare tracer of the same trap |")
    print("|---|---|---|---|")
    for name, total, ratio in rows:
        print(f"| {name} | {total:.3f} | {total / iterations * 1e6:.2f} | {'' if ratio is None else f'{ratio:.3f}x'} |")
        record("trap round trip (µs per getpid)", name, total / iterations * 1e6, "µs")
    print()


def programs(work, repeat):
    trapped = os.path.join(work, "busybox.trapped")
    sh([TRAPBOX, "rewrite", "--no-cross-check", BUSYBOX, "-o", trapped], stdout=subprocess.DEVNULL)
    data = os.path.join(work, "data.bin")
    with open(data, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(256):
            f.write(chunk)
    # Each job gets the busybox it runs under, so the exec loop execs that same binary.
    jobs = {
        "sha256sum 256 MiB": lambda bb: ["sha256sum", data],
        "find /usr -type f \\| wc -l": lambda bb: ["sh", "-c", "find /usr -type f | wc -l"],
        "300 execs (sh loop running `busybox true`)": lambda bb: ["sh", "-c", f"i=0; while [ $i -lt 300 ]; do {bb} true; i=$((i+1)); done"],
    }
    runners = [
        ("native", lambda bb, args: [bb, *args], BUSYBOX),
        ("trapbox, rewritten busybox", lambda bb, args: PIN + [TRAPBOX, "run", "--unconfined", "--", bb, *args], trapped),
        ("trapbox --keep-traps, rewritten busybox", lambda bb, args: PIN + [TRAPBOX, "run", "--unconfined", "--keep-traps", "--", bb, *args], trapped),
        ("trapbox, unrewritten busybox", lambda bb, args: PIN + [TRAPBOX, "run", "--unconfined", "--", bb, *args], BUSYBOX),
        ("trapbox sandboxed (default deny, --allow-read /usr and the data)", lambda bb, args: PIN + [TRAPBOX, "run", "--allow-read", "/usr", "--allow-read", work, "--", bb, *args], trapped),
        ("strace -f -o /dev/null", lambda bb, args: PIN + ["strace", "-f", "-o", "/dev/null", bb, *args], BUSYBOX),
        ("PRoot", lambda bb, args: PIN + ["proot", bb, *args], BUSYBOX),
    ]
    print(f"### Programs (busybox-static), median of {repeat}\n")
    print("| job | " + " | ".join(name for name, _, _ in runners) + " |")
    print("|---|" + "---|" * len(runners))
    for job, job_args in jobs.items():
        cells = []
        native = None
        for name, make, bb in runners:
            t = timed(make(bb, job_args(bb)), repeat)
            native = native or t
            cells.append(f"{t:.2f} s" + ("" if name == "native" else f" ({t / native:.2f}x)"))
            record(f"program: {job} (vs native)", name, t / native, "x")
        print(f"| {job} | " + " | ".join(cells) + " |")
    print()


def warm_data_file(work, size_mib):
    """A file of `size_mib` MiB of random bytes in `work`, synced and in the page cache."""
    data = os.path.join(work, "big.bin")
    with open(data, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(size_mib):
            f.write(chunk)
    os.sync()  # no writeback of the fresh file may overlap the first measurement
    subprocess.run(["cat", data], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    return data


def interleaved_medians(rows, repeat):
    """Each row's median time over `repeat` rounds that interleave the rows, so a drift in
    the machine's speed hits them alike. A row's command is a list, or a list of lists run
    at once (timed until the last ends)."""
    samples = {name: [] for name, _ in rows}
    for _ in range(repeat):
        for name, cmd in rows:
            if cmd and isinstance(cmd[0], list):
                start = time.perf_counter()
                running = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in cmd]
                if any(p.wait() != 0 for p in running):
                    raise SystemExit(f"{name}: a run failed")
                samples[name].append(time.perf_counter() - start)
            else:
                samples[name].append(timed(cmd, 1))
    return {name: statistics.median(times) for name, times in samples.items()}


def file_reading(work, repeat, size_mib):
    data = warm_data_file(work, size_mib)
    read_sum = os.path.join(work, "read_sum")
    map_sum = os.path.join(work, "map_sum")
    sh(["gcc", "-O2", "-static", "-o", read_sum, os.path.join(ROOT, "scripts/bench/read_sum.c")])
    sh(["gcc", "-O2", "-static", "-nostdlib", "-fno-stack-protector", "-fno-builtin", "-I", os.path.join(ROOT, "examples/c"),
        "-o", map_sum, os.path.join(ROOT, "scripts/bench/map_sum.c")])
    sh([TRAPBOX, "rewrite", "--no-cross-check", read_sum, "-o", f"{read_sum}.trapped"], stdout=subprocess.DEVNULL)
    grant = ["--allow-read", work]
    rows = [
        ("native read(), 64 KiB buffer (pinned like the others)", PIN + [read_sum, data]),
        ("trapbox: SDK map_file, native personality", PIN + [TRAPBOX, "run", "--personality", "native", *grant, "--", map_sum, data]),
        ("trapbox: read() on the granted fd (runs natively)", PIN + [TRAPBOX, "run", *grant, "--", f"{read_sum}.trapped", data]),
        ("trapbox: read() through a trap each time (--keep-traps)", PIN + [TRAPBOX, "run", "--keep-traps", *grant, "--", f"{read_sum}.trapped", data]),
    ]
    print(f"### Reading a {size_mib} MiB file (warm page cache), median of {repeat}\n")
    print("| configuration | s | GB/s | vs native read() |")
    print("|---|---|---|---|")
    medians = interleaved_medians(rows, repeat)
    native = None
    for name, _ in rows:
        t = medians[name]
        native = native or t
        print(f"| {name} | {t:.3f} | {size_mib * (1 << 20) / t / 1e9:.2f} | {native / t:.2f}x throughput |")
        record(f"reading a {size_mib} MiB file (GB/s)", name, size_mib * (1 << 20) / t / 1e9, "GB/s")
    print()


def file_access(work, repeat, size_mib, random_reads):
    """Mapping vs reading one file, natively and under trapbox, for the access patterns where
    either may win: one sequential pass, four passes (re-reading), random 8-byte reads, and
    two processes reading the same file at once. scripts/bench/file_access.c is built for
    Linux (mmap and read are system calls; under `trapbox run` they run natively on the
    granted fd) and as an SDK guest (map_file and read are hostcalls)."""
    data = warm_data_file(work, size_mib)
    source = os.path.join(ROOT, "scripts/bench/file_access.c")
    flags = ["-O2", "-static", "-nostdlib", "-fno-stack-protector", "-fno-builtin", "-I", os.path.join(ROOT, "examples/c")]
    linux, sdk = os.path.join(work, "file_access.linux"), os.path.join(work, "file_access.sdk")
    sh(["gcc", *flags, "-DTRAPBOX_ON_LINUX", "-o", linux, source])
    sh(["gcc", *flags, "-o", sdk, source])
    grant = ["--allow-read", work]
    ways = [
        ("native mmap", lambda *a: PIN + [linux, "map", *a]),
        ("native read()", lambda *a: PIN + [linux, "read", *a]),
        ("trapbox, Linux build: mmap", lambda *a: PIN + [TRAPBOX, "run", *grant, "--", linux, "map", *a]),
        ("trapbox, Linux build: read()", lambda *a: PIN + [TRAPBOX, "run", *grant, "--", linux, "read", *a]),
        ("trapbox SDK: map_file", lambda *a: PIN + [TRAPBOX, "run", "--personality", "native", *grant, "--", sdk, "map", *a]),
        ("trapbox SDK: read hostcall", lambda *a: PIN + [TRAPBOX, "run", "--personality", "native", *grant, "--", sdk, "read", *a]),
    ]
    patterns = [
        ("one pass", ["seq", data, "1"]),
        ("four passes (re-reading)", ["reread", data, "4"]),
        (f"{random_reads} random 8-byte reads", ["random", data, str(random_reads)]),
    ]
    print(f"### Mapping vs reading a {size_mib} MiB file (warm page cache), median of {repeat}\n")
    print("| access | " + " | ".join(name for name, _ in ways) + " | mapping vs reading: native, trapbox Linux build, trapbox SDK |")
    print("|---|" + "---|" * len(ways) + "---|")
    for pattern, args in patterns:
        medians = interleaved_medians([(name, way(*args)) for name, way in ways], repeat)
        t = [medians[name] for name, _ in ways]
        cells = [f"{v:.3f} s" for v in t]
        wins = ", ".join(f"{t[i + 1] / t[i]:.2f}x" for i in (0, 2, 4))
        print(f"| {pattern} | " + " | ".join(cells) + f" | {wins} |")
        for name, v in zip([n for n, _ in ways], t):
            record(f"file access: {pattern} (s)", name, v, "s")
    # Two processes at once, each one pass: unpinned, as natively (trapbox --no-pin).
    shared = [
        ("native mmap", [[linux, "map", "seq", data, "1"]] * 2),
        ("native read()", [[linux, "read", "seq", data, "1"]] * 2),
        ("trapbox SDK: map_file", [[TRAPBOX, "run", "--no-pin", "--personality", "native", *grant, "--", sdk, "map", "seq", data, "1"]] * 2),
        ("trapbox SDK: read hostcall", [[TRAPBOX, "run", "--no-pin", "--personality", "native", *grant, "--", sdk, "read", "seq", data, "1"]] * 2),
    ]
    medians = interleaved_medians(shared, repeat)
    print(f"\nTwo processes reading the same file at once (one pass each, unpinned): "
          + ", ".join(f"{name} {medians[name]:.3f} s" for name, _ in shared)
          + f"; mapping vs reading {medians['native read()'] / medians['native mmap']:.2f}x natively, "
          + f"{medians['trapbox SDK: read hostcall'] / medians['trapbox SDK: map_file']:.2f}x in the SDK.\n")
    for name, _ in shared:
        record("file access: two processes at once (s)", name, medians[name], "s")


def startup(repeat, gap):
    """`true` natively, under trapbox and under the floors it is measured against, rounds
    interleaved; then the kernel's own costs (scripts/bench/ns_cost.c) for the breakdown."""
    true = shutil.which("true") or "/bin/true"
    unshare = shutil.which("unshare") or "unshare"
    rows = [
        ("native", [true]),
        ("trapbox --version (the host binary's own start: exec, loader, clap)", [TRAPBOX, "--version"]),
        ("trapbox run --unconfined (no policy: the host's network namespace)", [TRAPBOX, "run", "--unconfined", "--", true]),
        ("trapbox run (default deny, --net none)", [TRAPBOX, "run", "--", true]),
        ("trapbox run --net loopback (default deny)", [TRAPBOX, "run", "--net", "loopback", "--", true]),
        ("trapbox run --bare (default deny, no base environment)", [TRAPBOX, "run", "--bare", "--", true]),
        ("trapbox run --no-namespaces (default deny)", [TRAPBOX, "run", "--no-namespaces", "--", true]),
        ("bwrap --unshare-all", ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all", true]),
        ("unshare -Urmpf --mount-proc", [unshare, "-Urmpf", "--mount-proc", true]),
        ("unshare -UrmpiuCf (trapbox's namespaces but the network)", [unshare, "-UrmpiuCf", true]),
        ("unshare -UrmpiuCfn (trapbox's namespaces)", [unshare, "-UrmpiuCfn", true]),
        ("unshare -n (a network namespace alone; root)", [unshare, "-n", true]),
    ]
    samples = {name: [] for name, _ in rows}
    for _ in range(repeat):
        for name, cmd in rows:
            # Back to back by default. A torn-down network namespace is freed by a kernel worker
            # afterwards, which a start right behind it can wait on; an idle gap instead lets
            # this VM's CPUs go cold (both move the figures by milliseconds: compare within
            # one table).
            if gap:
                time.sleep(gap)
            start = time.perf_counter()
            done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if done.returncode == 0:
                samples[name].append(time.perf_counter() - start)
    apart = f", {gap * 1e3:.0f} ms apart" if gap else ", back to back"
    print(f"### Start-up: `true`, median of {repeat} interleaved rounds{apart}\n")
    print("| configuration | ms | vs native | ratio |")
    print("|---|---|---|---|")
    native = statistics.median(samples["native"])
    for name, _ in rows:
        if not samples[name]:
            print(f"| {name} | failed here | | |")
            continue
        t = statistics.median(samples[name])
        print(f"| {name} | {t * 1e3:.2f} | +{(t - native) * 1e3:.2f} ms | {t / native:.1f}x |")
        record("start-up of `true` (ms)", name, t * 1e3, "ms")
    print()
    with tempfile.TemporaryDirectory() as work:
        probe = os.path.join(work, "ns_cost")
        sh(["gcc", "-O2", "-o", probe, os.path.join(ROOT, "scripts/bench/ns_cost.c")])
        out = subprocess.run([probe, str(max(repeat, 20))], capture_output=True, text=True)
    if out.returncode != 0:
        print(f"(ns_cost failed: {out.stderr.strip()})\n")
        return
    print("### The kernel's share, measured in one process (scripts/bench/ns_cost.c), median µs\n")
    print("| what | µs |")
    print("|---|---|")
    for line in out.stdout.splitlines():
        name, value = line.split()
        print(f"| {name} | {float(value):.0f} |")
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-programs", action="store_true")
    parser.add_argument("--file-mib", type=int, default=1024, help="size of the file-reading benchmark's file")
    parser.add_argument("--only-files", action="store_true", help="run only the file-reading benchmark")
    parser.add_argument("--only-programs", action="store_true", help="run only the whole-program benchmark")
    parser.add_argument("--only-startup", action="store_true", help="run only the start-up benchmark")
    parser.add_argument("--only-access", action="store_true", help="run only the mapping-vs-reading benchmark (its file is --file-mib)")
    parser.add_argument("--random-reads", type=int, default=20_000, help="random 8-byte reads of the mapping-vs-reading benchmark")
    parser.add_argument("--gap-ms", type=float, default=0, help="idle time before each start-up measurement (default: back to back)")
    parser.add_argument("--json", metavar="FILE", help="also write every table's rows to FILE (for scripts/bench-chart.py)")
    args = parser.parse_args()
    ensure_tools()
    try:
        run(args)
    finally:
        if args.json:
            with open(args.json, "w") as f:
                json.dump(RESULTS, f, indent=1, ensure_ascii=False)


def run(args):
    if args.only_startup:
        startup(max(args.repeat, 5), args.gap_ms / 1e3)
        return
    with tempfile.TemporaryDirectory() as work:
        if args.only_programs:
            programs(work, args.repeat)
            return
        if args.only_access:
            file_access(work, args.repeat, args.file_mib, args.random_reads)
            return
        if not args.only_files:
            trap_round_trip(work, args.iterations, args.repeat)
            if not args.skip_programs:
                programs(work, args.repeat)
        file_reading(work, args.repeat, args.file_mib)


if __name__ == "__main__":
    main()
