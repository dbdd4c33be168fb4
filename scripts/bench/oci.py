#!/usr/bin/env python3
"""Containers through trapbox-oci beside runc (and runsc where it runs), in one run.

    python3 scripts/bench/oci.py [--repeat 5] [--json FILE]
    python3 scripts/bench-chart.py FILE docs/bench      # the chart BENCHMARKS.md shows

Jobs, each as a container's start to its exit: `echo hi`, and busybox `sha256sum` of a 256
MiB file bound into the container read-only; once through podman (`podman run --rm`, its own
storage, the image a root filesystem of Debian's static busybox), once straight through the
runtime on a bundle (`RUNTIME run --bundle DIR ID`, no engine). Runtimes: runc (Debian's, the
reference), trapbox-oci (a link to target/release/trapbox), runsc (`--platform=ptrace
--network=none`: it refuses to run in a network namespace it did not make; where
Debian's package is installed and runs here; Debian's runsc leaves the host's /dev/null owned
by nobody after each run, which this script puts back). crun is not measured: it refuses this machine's
cgroup v1 hybrid layout ("cgroups in hybrid mode not supported").

Rounds are interleaved (every job under every runtime once per round); each figure is the
median of --repeat rounds, and each ratio is against runc's median of the same run.
Run as root (podman rootful). This machine's root lacks CAP_SYS_RESOURCE, so podman's default
ulimits are replaced by ones it can set, for every runtime alike.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TRAPBOX = os.path.join(ROOT, "target", "release", "trapbox")
BUSYBOX = "/bin/busybox"
IMAGE = "localhost/trapbox-bench-busybox"
SECTION = "OCI runtimes: container start to exit, times runc (one run, medians)"


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


DEV_NULL_OWNER = None


def timed(cmd):
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    # Debian's runsc (2022) leaves the host's /dev/null owned by nobody after each run; a
    # benchmark must not change the machine it measures (tests check that owner).
    st = os.stat("/dev/null")
    if (st.st_uid, st.st_gid) != DEV_NULL_OWNER:
        os.chown("/dev/null", *DEV_NULL_OWNER)
        print(f"(restored /dev/null's owner after: {os.path.basename(cmd[0])} {' '.join(a for a in cmd if a.startswith('--runtime'))})", file=sys.stderr)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr.decode(errors='replace')}")
    return took


def make_rootfs(work):
    rootfs = os.path.join(work, "rootfs")
    for sub in ["bin", "etc", "tmp", "proc", "dev", "sys", "data"]:
        os.makedirs(os.path.join(rootfs, sub), exist_ok=True)
    shutil.copy(BUSYBOX, os.path.join(rootfs, "bin", "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        link = os.path.join(rootfs, "bin", applet)
        if applet != "busybox" and not os.path.lexists(link):
            os.symlink("busybox", link)
    return rootfs


def make_data(work):
    data = os.path.join(work, "data.bin")
    with open(data, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(256):
            f.write(chunk)
    return data


def bundle(work, name, rootfs, args, data):
    """A bundle as `runc spec` writes one, running `args`, with `data` bound at /data/file."""
    path = os.path.join(work, name)
    os.makedirs(path, exist_ok=True)
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    config = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin"],
            "cwd": "/",
            "capabilities": {k: caps for k in ["bounding", "effective", "permitted", "ambient"]},
            "noNewPrivileges": True,
        },
        "root": {"path": rootfs, "readonly": True},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/data/file", "type": "bind", "source": data, "options": ["rbind", "ro"]},
        ],
        "linux": {"namespaces": [{"type": t} for t in ["pid", "network", "ipc", "uts", "mount"]]},
    }
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f)
    return path


def runtimes(work):
    link = os.path.join(work, "bin", "trapbox-oci")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if not os.path.lexists(link):
        os.symlink(TRAPBOX, link)
    found = [("runc", shutil.which("runc") or "/usr/sbin/runc", []), ("trapbox-oci", link, [])]
    runsc = shutil.which("runsc")
    if runsc:
        probe_bundle = bundle(work, "probe", os.path.join(work, "rootfs"), ["true"], "/dev/null")
        probe = subprocess.run([runsc, "--root", os.path.join(work, "runsc-probe"), "--platform=ptrace", "--network=none", "run", "--bundle", probe_bundle, "probe"], capture_output=True)
        if os.stat("/dev/null").st_uid != DEV_NULL_OWNER[0]:
            os.chown("/dev/null", *DEV_NULL_OWNER)
            print("runsc changed the owner of the host's /dev/null (restored after each of its runs)", file=sys.stderr)
        if probe.returncode == 0:
            found.append(("runsc (ptrace)", runsc, ["--platform=ptrace", "--network=none"]))
        else:
            print(f"runsc is installed but cannot run here: {probe.stderr.decode(errors='replace').strip().splitlines()[-1:]}", file=sys.stderr)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", metavar="FILE", help="write the ratios to FILE (for scripts/bench-chart.py)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (podman rootful, runc)")
    if not os.path.exists(TRAPBOX):
        sys.exit(f"{TRAPBOX} is missing: cargo build --release")
    global DEV_NULL_OWNER
    st = os.stat("/dev/null")
    DEV_NULL_OWNER = (st.st_uid, st.st_gid)
    work = tempfile.mkdtemp(prefix="trapbox-bench-oci-", dir="/var/tmp")
    try:
        rootfs = make_rootfs(work)
        data = make_data(work)
        store = ["--root", os.path.join(work, "storage"), "--runroot", os.path.join(work, "run"), "--tmpdir", os.path.join(work, "tmp"),
                 "--events-backend", "file", "--cgroup-manager", "cgroupfs"]
        tar = os.path.join(work, "rootfs.tar")
        sh(["tar", "-C", rootfs, "-cf", tar, "."])
        sh(["podman", *store, "import", tar, IMAGE], stdout=subprocess.DEVNULL)
        found = runtimes(work)
        limits = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]
        jobs = {
            "echo hi, podman run --rm": lambda rt, flags: ["podman", *store, "--runtime", rt, *[f"--runtime-flag={f.lstrip('-')}" for f in flags], "run", "--rm", *limits, IMAGE, "echo", "hi"],
            "sha256sum of 256 MiB, podman run --rm": lambda rt, flags: ["podman", *store, "--runtime", rt, *[f"--runtime-flag={f.lstrip('-')}" for f in flags], "run", "--rm", *limits, "-v", f"{data}:/data/file:ro", IMAGE, "sha256sum", "/data/file"],
        }
        bundles = {
            "echo hi, RUNTIME run --bundle": bundle(work, "echo", rootfs, ["echo", "hi"], data),
            "sha256sum of 256 MiB, RUNTIME run --bundle": bundle(work, "sha", rootfs, ["sha256sum", "/data/file"], data),
        }
        for name, path in bundles.items():
            jobs[name] = lambda rt, flags, path=path: [rt, "--root", os.path.join(work, "state-" + os.path.basename(rt)), *flags, "run", "--bundle", path, f"bench-{os.getpid()}"]
        times = {(job, name): [] for job in jobs for name, _, _ in found}
        for job, make in jobs.items():  # one warm-up of each
            for name, rt, flags in found:
                timed(make(rt, flags))
        for _ in range(args.repeat):
            for job, make in jobs.items():
                for name, rt, flags in found:
                    times[(job, name)].append(timed(make(rt, flags)))
        results = {}
        print(f"{'job':<44} {'runtime':<16} {'median s':>9} {'x runc':>8}")
        for job in jobs:
            base = statistics.median(times[(job, "runc")])
            rows = []
            for name, _, _ in found:
                median = statistics.median(times[(job, name)])
                print(f"{job:<44} {name:<16} {median:9.3f} {median / base:8.2f}")
                rows.append([name, median / base, "time ÷ runc's"])
            results[f"{SECTION} :: {job}"] = rows
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
    finally:
        subprocess.run(["podman", "--root", os.path.join(work, "storage"), "--runroot", os.path.join(work, "run"), "rmi", "-af"], capture_output=True)
        subprocess.run(["umount", "-R", os.path.join(work, "storage")], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
