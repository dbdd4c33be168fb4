#!/usr/bin/env python3
"""The rows of issue 10's table, trapbox beside its peers, in one run.

    python3 scripts/bench/peers.py [--repeat 3] [--json FILE] [--only JOB ...]
    python3 scripts/bench-chart.py FILE docs/bench      # the chart BENCHMARKS.md shows

Jobs: 200k raw getpid calls (scripts/bench/getpid_loop.S), busybox sha256sum of a 256 MiB
file, busybox `find /usr -type f | wc -l`, 300 execs from a shell loop, `gcc -O2 hello.c`,
20 x `python3 -c pass`, two sha256sum and two `find /usr` in parallel, a `make -j2` build of
16 C files (`-B`: all of it each time) and `git status` in a repository of 3,000 files. Runners: native,
trapbox --unconfined, trapbox sandboxed (`--allow-read / --allow-exec / --allow-write /tmp`,
plus a write grant of the work directory that gcc writes to: the guest's /tmp is its own),
the same with --audit (every path call decided by the host, as before the grants-only root),
strace -f, PRoot and bwrap (`--ro-bind / / --dev /dev --proc /proc --unshare-all`, with a
tmpfs /tmp as trapbox's guest has, for gcc, and the work directory bound writable). runsc is measured when it is installed (Debian 12's
`runsc` package, a 2022 build; it leaves the host's /dev/null owned by nobody after a run,
which this script puts back when it ends). The script installs the peers it lacks (strace,
proot, bubblewrap, runsc) with apt-get.

Every job runs with TMPDIR in the work directory (gcc's temporary files on the same file
system whoever runs it: a sandboxed guest's /tmp is a tmpfs of its own). In each round each
job runs once natively, uncounted, before its runners, so that none meets the caches the
previous job left (a warm `find /usr` takes 1.0 s here, one after the 256 MiB sha256sum rows
2.4 s), and the runners take turns at going first.

The getpid row is a call the host answers: trapbox runs the loop rewritten with `ud2`
traps kept (`--keep-traps`; by default the host gives a known native call its `syscall`
back and it costs nothing); strace and PRoot stop at each call of the unrewritten loop.

Rounds are interleaved (every job under every runner once per round, --repeat rounds); each
figure is the median, and the ratio is against the native median of the same run. trapbox
runs as a user runs it (its own pinning, no taskset). Helpers come from scripts/bench-runtime.py.
"""
import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("bench_runtime", os.path.join(HERE, "..", "bench-runtime.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

BUSYBOX = bench.BUSYBOX
TRAPBOX = bench.TRAPBOX
GETPID_CALLS = 200_000
SECTION = "issue 10: each job under each runner, times native (one run, medians)"


def jobs(work):
    """Each job: (name, command, command for the getpid row's trapbox runs or None)."""
    data = os.path.join(work, "data.bin")
    if not os.path.exists(data):
        with open(data, "wb") as f:
            chunk = os.urandom(1 << 20)
            for _ in range(256):
                f.write(chunk)
    loop = os.path.join(work, "getpid_loop")
    bench.sh(["gcc", "-nostdlib", "-static", f"-DITERATIONS={GETPID_CALLS}", "-o", loop, os.path.join(HERE, "getpid_loop.S")])
    bench.sh([TRAPBOX, "rewrite", "--trap", "ud2", loop, "-o", loop + ".ud2"], stdout=subprocess.DEVNULL)
    hello = os.path.join(work, "hello.c")
    with open(hello, "w") as f:
        f.write('#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n')
    bb = BUSYBOX
    find = f"{bb} find /usr -type f | {bb} wc -l"
    project = make_project(os.path.join(work, "make"))
    repository = git_repository(os.path.join(work, "repository"))
    return [
        ("200k raw getpid", [loop], [loop + ".ud2"]),
        ("busybox sha256sum 256 MiB", [bb, "sha256sum", data], None),
        ("busybox find /usr -type f | wc -l", [bb, "sh", "-c", find], None),
        ("300 execs from a shell loop", [bb, "sh", "-c", f"i=0; while [ $i -lt 300 ]; do {bb} true; i=$((i+1)); done"], None),
        ("gcc -O2 hello.c", ["gcc", "-O2", "-o", os.path.join(work, "hello"), hello], None),
        ("20 x python3 -c pass", [bb, "sh", "-c", f"i=0; while [ $i -lt 20 ]; do {PYTHON} -c pass; i=$((i+1)); done"], None),
        ("two sha256sum in parallel", [bb, "sh", "-c", f"{bb} sha256sum {data} & {bb} sha256sum {data}; wait"], None),
        ("two find /usr in parallel", [bb, "sh", "-c", f"({find}) & ({find}); wait"], None),
        ("make -j2, 16 C files", ["make", "-s", "-B", "-j2", "-C", project], None),
        ("git status, 3,000 files", ["git", "-C", repository, "status", "--porcelain"], None),
    ]


def make_project(where, files=16):
    """A C program of `files` sources and a Makefile that builds it (`make -B` rebuilds it all)."""
    os.makedirs(where, exist_ok=True)
    for i in range(files):
        with open(os.path.join(where, f"part{i}.c"), "w") as f:
            f.write("#include <stdio.h>\n#include <string.h>\n")
            for j in range(8):
                f.write(f"int part{i}_{j}(const char *s) {{ int n = 0; for (size_t k = 0; k < strlen(s); k++) n += s[k] * {j + 1}; return n; }}\n")
    with open(os.path.join(where, "main.c"), "w") as f:
        f.write("".join(f"int part{i}_0(const char *);\n" for i in range(files)))
        f.write("int main(void) { int n = 0;" + "".join(f" n += part{i}_0(\"x\");" for i in range(files)) + " return n == 0; }\n")
    objects = " ".join([f"part{i}.o" for i in range(files)] + ["main.o"])
    with open(os.path.join(where, "Makefile"), "w") as f:
        f.write(f"OBJECTS = {objects}\nprogram: $(OBJECTS)\n\t$(CC) -o $@ $(OBJECTS)\n%.o: %.c\n\t$(CC) -O2 -c -o $@ $<\n")
    return where


def git_repository(where, files=3000, per_directory=50):
    """A committed git repository of `files` small files, `per_directory` to a directory."""
    if os.path.isdir(os.path.join(where, ".git")):
        return where
    for i in range(files):
        directory = os.path.join(where, f"d{i // per_directory:03}")
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, f"f{i:04}.txt"), "w") as f:
            f.write(f"file {i}\n")
    git = ["git", "-C", where, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    bench.sh([*git, "init", "-q"])
    bench.sh([*git, "add", "."])
    bench.sh([*git, "commit", "-q", "-m", "files"])
    return where


# The system's interpreter: a version manager's shim first on PATH (pyenv's is a bash script
# that execs several programs) would measure those execs, not python's start-up.
PYTHON = shutil.which("python3", path="/usr/bin:/bin") or "python3"


def runners(work, builds):
    sandbox = ["--allow-read", "/", "--allow-exec", "/", "--allow-write", "/tmp", "--allow-write", work]
    found = [("native", lambda cmd: cmd)]
    for label, trapbox in builds:
        named = f"trapbox {label + ' ' if label else ''}"
        found += [
            (f"{named}unconfined", lambda cmd, t=trapbox: [*t, "--unconfined", "--", *cmd]),
            (f"{named}sandboxed", lambda cmd, t=trapbox: [*t, "--quiet", *sandbox, "--", *cmd]),
            (f"{named}sandboxed --audit", lambda cmd, t=trapbox: [*t, "--quiet", "--audit", *sandbox, "--", *cmd]),
        ]
    found += [
        ("strace -f", lambda cmd: ["strace", "-f", "-o", "/dev/null", *cmd]),
        ("PRoot", lambda cmd: ["proot", *cmd]),
        ("bwrap", lambda cmd: ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--bind", work, work, "--unshare-all", *cmd]),
    ]
    if shutil.which("runsc"):
        # Debian's runsc chowns the host's /dev/null to nobody; put its owner back at the end.
        st = os.stat("/dev/null")
        import atexit
        atexit.register(os.chown, "/dev/null", st.st_uid, st.st_gid)
        state = os.path.join(work, "runsc")
        found.append(("runsc (ptrace)", lambda cmd: ["runsc", f"--root={state}", "--network=none", "--platform=ptrace", "do", *cmd]))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="rounds (each job under each runner once per round)")
    parser.add_argument("--json", metavar="FILE", help="write the ratios to FILE (for scripts/bench-chart.py)")
    parser.add_argument("--only", nargs="*", help="run only the jobs whose name contains one of these words")
    parser.add_argument("--trapbox", default=None, help="the trapbox binary (default: target/release/trapbox); "
                        "LABEL=PATH,LABEL=PATH compares builds (or one build's `run` flags: "
                        "LABEL=PATH FLAGS...) in the same interleaved rounds")
    parser.add_argument("--peers", action=argparse.BooleanOptionalAction, default=True,
                        help="measure strace, PRoot, bwrap and runsc too (--no-peers: native and trapbox only)")
    parser.add_argument("--work", default=os.path.join(bench.ROOT, "target", "bench-peers"),
                        help="work directory (not under /tmp: a sandboxed guest's /tmp is its own)")
    args = parser.parse_args()
    bench.ensure_tools()
    os.makedirs(args.work, exist_ok=True)
    work = os.path.realpath(args.work)
    os.makedirs(os.path.join(work, "tmp"), exist_ok=True)
    os.environ["TMPDIR"] = os.path.join(work, "tmp")
    table = [j for j in jobs(work) if not args.only or any(w in j[0] for w in args.only)]
    who = runners(work, bench.trapbox_builds(args.trapbox))
    if not args.peers:
        who = [(name, make) for name, make in who if name == "native" or name.startswith("trapbox")]
    times = {(job, name): [] for job, _, _ in table for name, _ in who}
    for round_ in range(args.repeat):
        for job, cmd, trapped in table:
            # Uncounted, so that no runner meets the caches the previous job left; and each
            # round starts with another runner.
            bench.timed(cmd, 1)
            for name, make in who[round_ % len(who):] + who[:round_ % len(who)]:
                run = trapped if trapped and name.startswith("trapbox") else cmd
                full = make(run)
                if trapped and name.startswith("trapbox"):
                    full.insert(full.index("--"), "--keep-traps")
                try:
                    times[(job, name)].append(bench.timed(full, 1))
                except subprocess.CalledProcessError as err:
                    print(f"{job} under {name} failed: {err}", file=sys.stderr)
        print(f"round {round_ + 1} of {args.repeat} done", file=sys.stderr)
    names = [name for name, _ in who]
    print(f"### Issue 10's table: median of {args.repeat} interleaved rounds, ratio vs native of this run\n")
    print("| job | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for job, _, _ in table:
        native = statistics.median(times[(job, "native")])
        cells = []
        for name in names:
            got = times[(job, name)]
            if not got:
                cells.append("failed")
                continue
            t = statistics.median(got)
            if name == "native":
                cells.append(f"{t:.3f} s")
            else:
                cells.append(f"{t / native:.2f}x")
                bench.record(f"{SECTION} :: {job}", name, t / native, "x native")
        if job == "200k raw getpid":
            cells = [c + (f" ({statistics.median(times[(job, n)]) / GETPID_CALLS * 1e6:.2f} µs/call)" if n != "native" and times[(job, n)] else "") for c, n in zip(cells, names)]
        print(f"| {job.replace('|', chr(92) + '|')} | " + " | ".join(cells) + " |")
    print()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(bench.RESULTS, f, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
