//! containerd (Debian's `containerd` 1.6 and `ctr`) runs containers through trapbox-oci: its
//! runc shim (`io.containerd.runc.v2`, pointed at trapbox with `--runc-binary`) drives trapbox
//! exactly as it drives runc, and a container's output and exit status are runc's.
//!
//! The shim calls its runtime with global `--root DIR --log BUNDLE/log.json --log-format json`
//! and then, for `ctr run --rm`: `create --bundle BUNDLE --pid-file BUNDLE/init.pid ID` (the
//! container's stdio are the shim's pipes), `start ID`, then — after reaping the pid of the
//! pid file as a child subreaper — `delete ID`, and `delete --force ID` when the shim cleans
//! up; `ctr task exec` adds `exec --process FILE --detach --pid-file BUNDLE/EXEC.pid ID`,
//! `ctr task ps` `ps --format json ID`, `ctr task kill` `kill [--all] ID SIGNAL` (a number).
//! On an error it reports the `msg` of the last `"level":"error"` line of the log.
//!
//! As root, the test starts a containerd of its own (private root, state, socket and config;
//! no CNI: `ctr run` gives the container a network namespace with loopback only), imports an
//! OCI image it builds from Debian's static busybox, and runs the same containers through runc
//! and through trapbox-oci. containerd needs root; as an unprivileged user the test replays
//! the shim's calls itself (a child subreaper that runs `create` and `start` with the shim's
//! arguments and reaps the pid of the pid file), which is also run as nobody when root.

mod run_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use run_support::is_root;
use trapbox_tests::{build_c, busybox, fixture_dir, run, scratch_dir, trapbox_bin, Outcome};

/// The namespace of containerd's that the test's containers and image live in.
const NAMESPACE: &str = "trapbox-test";
/// The image's name.
const IMAGE: &str = "docker.io/trapbox-test/busybox:static";
/// Applets the image holds as links to busybox.
const APPLETS: [&str; 6] = ["sh", "echo", "cat", "sleep", "id", "ls"];

fn s(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// `sha256sum`'s digest of `file`.
fn sha256(file: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(file));
    assert_eq!(out.status, 0, "sha256sum {}: {out:?}", file.display());
    out.stdout.split_whitespace().next().expect("a digest").to_string()
}

/// Stores `bytes` as a blob of the OCI layout `layout`; returns (digest, size).
fn blob(layout: &Path, bytes: &[u8]) -> (String, usize) {
    let tmp = layout.join("blob.tmp");
    std::fs::write(&tmp, bytes).expect("write a blob");
    let digest = sha256(&tmp);
    std::fs::rename(&tmp, layout.join("blobs/sha256").join(&digest)).expect("store a blob");
    (format!("sha256:{digest}"), bytes.len())
}

/// A root filesystem holding Debian's static busybox and [`APPLETS`] linked to it.
fn busybox_rootfs(rootfs: &Path) {
    std::fs::create_dir_all(rootfs.join("bin")).expect("mkdir rootfs/bin");
    std::fs::copy(busybox(), rootfs.join("bin/busybox")).expect("copy busybox");
    for applet in APPLETS {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).expect("applet link");
    }
}

/// An OCI image archive (what `ctr images import` takes) with one layer: [`busybox_rootfs`].
/// Built offline and byte-for-byte the same on every run (fixed owners and times, sorted).
fn busybox_image(dir: &Path) -> PathBuf {
    let rootfs = dir.join("image-rootfs");
    busybox_rootfs(&rootfs);
    let layout = dir.join("image-layout");
    std::fs::create_dir_all(layout.join("blobs/sha256")).expect("mkdir the layout");
    let layer = dir.join("layer.tar");
    let out = run(Command::new("tar")
        .args(["--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "--sort=name", "-C", s(&rootfs), "-cf", s(&layer), "."]));
    assert_eq!(out.status, 0, "tar the layer: {out:?}");
    let (layer_digest, layer_size) = blob(&layout, &std::fs::read(&layer).expect("read the layer"));
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    });
    let (config_digest, config_size) = blob(&layout, config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}],
    });
    let (manifest_digest, manifest_size) = blob(&layout, manifest.to_string().as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": {"io.containerd.image.name": IMAGE, "org.opencontainers.image.ref.name": "static"},
        }],
    });
    std::fs::write(layout.join("index.json"), index.to_string()).expect("write index.json");
    std::fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("write oci-layout");
    let archive = dir.join("image.tar");
    let out = run(Command::new("tar").args(["--owner=0", "--group=0", "--mtime=@0", "--sort=name", "-C", s(&layout), "-cf", s(&archive), "."]));
    assert_eq!(out.status, 0, "tar the image: {out:?}");
    archive
}

/// A link named `trapbox-oci` to the trapbox under test, in `dir`: what engines are given.
fn trapbox_oci_link(dir: &Path, trapbox: &Path) -> PathBuf {
    let link = dir.join("trapbox-oci");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(trapbox, &link).expect("link trapbox-oci");
    link
}

/// A containerd of the test's own, ended (with every shim it started) and its directories
/// unmounted and removed when dropped.
struct Containerd {
    dir: PathBuf,
    socket: PathBuf,
    daemon: Child,
}

impl Containerd {
    fn start(dir: &Path) -> Containerd {
        for tool in ["/usr/bin/containerd", "/usr/bin/ctr", "/usr/bin/containerd-shim-runc-v2"] {
            assert!(Path::new(tool).exists(), "{tool} is missing: install Debian's containerd (apt-get install containerd)");
        }
        std::fs::create_dir_all(dir).expect("mkdir containerd's directory");
        let socket = dir.join("ctd.sock");
        assert!(s(&socket).len() < 100, "{} is too long for a socket address: use a shorter CARGO_TARGET_DIR", socket.display());
        let config = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
"#,
            root = s(&dir.join("root")),
            state = s(&dir.join("state")),
            socket = s(&socket),
            opt = s(&dir.join("opt")),
        );
        std::fs::write(dir.join("config.toml"), config).expect("write config.toml");
        let log = std::fs::File::create(dir.join("containerd.log")).expect("create containerd.log");
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup the log"))
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let containerd = Containerd { dir: dir.to_path_buf(), socket, daemon };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = run(&mut containerd.ctr(&["version"]));
            if out.status == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "containerd did not answer within 30 s: {out:?}\n{}", containerd.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        containerd
    }

    /// `ctr` on this containerd, in [`NAMESPACE`], bounded in time.
    fn ctr(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("timeout");
        cmd.args(["--kill-after=5", "60", "ctr", "--address", s(&self.socket), "--namespace", NAMESPACE]).args(args).stdin(Stdio::null());
        cmd
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
    }

    /// `ctr run` flags that point the runc shim at `runtime`, with fifos and the runtime's
    /// state beneath the test's directory (the shim's `--root` is `runtime-root/NAME/NAMESPACE`).
    fn runtime_flags(&self, runtime: &Path, name: &str) -> Vec<String> {
        let runc_root = self.dir.join("runtime-root").join(name);
        vec![
            "--runtime".into(),
            "io.containerd.runc.v2".into(),
            "--runc-binary".into(),
            s(runtime).into(),
            "--runc-root".into(),
            s(&runc_root).into(),
            "--fifo-dir".into(),
            s(&self.dir.join("fifo")).into(),
        ]
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // The shims this containerd started (each names its address on its command line).
        let address = format!("{}", self.socket.display());
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else { continue };
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            if args.first().is_some_and(|a| a.ends_with(b"containerd-shim-runc-v2")) && args.iter().any(|a| *a == address.as_bytes()) {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        // Snapshots and rootfs mounts left by a failed run, innermost first.
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut mounts: Vec<&str> =
            mountinfo.lines().filter_map(|l| l.split(' ').nth(4)).filter(|m| Path::new(m).starts_with(&self.dir)).collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for mount in mounts {
            let _ = Command::new("umount").args(["-l", mount]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What a `ctr` call shows of a container: its exit status and output (stderr only when the
/// call failed, as it carries containerd's and the runtime's messages).
fn shown(out: &Outcome) -> (i32, String) {
    (out.status, out.stdout.clone())
}

/// One runtime's answers to the same `ctr` calls.
#[derive(Debug, PartialEq, Eq)]
struct Answers {
    run: (i32, String),
    exec: (i32, String),
    exec_in_cwd: (i32, String),
    ps_count_positive: bool,
    killed: bool,
}

fn answers(containerd: &Containerd, runtime: &Path, name: &str) -> Answers {
    let flags = containerd.runtime_flags(runtime, name);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let id = format!("{name}-run");
    let out = run(&mut containerd.ctr(&[&["run", "--rm"], &flags[..], &[IMAGE, &id, "sh", "-c", "echo hi; exit 3"]].concat()));
    let run_answer = shown(&out);
    assert_eq!(run_answer, (3, "hi\n".to_string()), "{name}: ctr run --rm: {out:?}\n{}", containerd.log());

    // A detached container, an exec into it, ps, and a kill.
    let id = format!("{name}-detached");
    let out = run(&mut containerd.ctr(&[&["run", "-d", "--null-io"], &flags[..], &[IMAGE, &id, "sleep", "1000"]].concat()));
    assert_eq!(out.status, 0, "{name}: ctr run -d: {out:?}\n{}", containerd.log());
    let fifo = containerd.dir.join("fifo");
    let exec = run(&mut containerd.ctr(&["task", "exec", "--fifo-dir", s(&fifo), "--exec-id", "e1", &id, "sh", "-c", "echo in-exec; exit 5"]));
    let exec_in_cwd =
        run(&mut containerd.ctr(&["task", "exec", "--fifo-dir", s(&fifo), "--exec-id", "e2", "--cwd", "/bin", &id, "sh", "-c", "echo $PWD; ls busybox"]));
    let ps = run(&mut containerd.ctr(&["task", "ps", &id]));
    assert_eq!(ps.status, 0, "{name}: ctr task ps: {ps:?}");
    // A header line, then one line per process.
    let ps_count_positive = ps.stdout.lines().count() >= 2;
    let kill = run(&mut containerd.ctr(&["task", "kill", "--signal", "SIGKILL", &id]));
    assert_eq!(kill.status, 0, "{name}: ctr task kill: {kill:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ls = run(&mut containerd.ctr(&["task", "ls"]));
        if ls.stdout.lines().any(|l| l.starts_with(&id) && l.contains("STOPPED")) {
            break;
        }
        assert!(Instant::now() < deadline, "{name}: the killed container did not stop within 30 s: {ls:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let deleted = run(&mut containerd.ctr(&["task", "delete", &id]));
    // ctr reports the reaped status of the container's process.
    let killed = deleted.status == 0 && deleted.stderr.contains("exit code 137");
    let removed = run(&mut containerd.ctr(&["container", "delete", &id]));
    assert_eq!(removed.status, 0, "{name}: ctr container delete: {removed:?}");
    Answers { run: run_answer, exec: shown(&exec), exec_in_cwd: shown(&exec_in_cwd), ps_count_positive, killed }
}

/// `ctr run`, `task exec`, `task ps`, `task kill` and `task delete` through the runc shim give
/// the same answers with trapbox-oci as with runc, and trapbox's state directory is empty once
/// containerd has deleted its containers.
#[test]
fn containerd_runs_busybox_through_trapbox_oci_as_through_runc() {
    if !is_root() {
        // containerd needs root: what the shim asks of the runtime is replayed instead.
        replay_the_shims_calls(&scratch_dir("oci_containerd_replay_self"), false);
        return;
    }
    let dir = scratch_dir("oci_containerd");
    let image = busybox_image(&dir);
    let link = trapbox_oci_link(&dir, &trapbox_bin());
    let containerd = Containerd::start(&dir.join("ctd"));
    let out = run(&mut containerd.ctr(&["images", "import", s(&image)]));
    assert_eq!(out.status, 0, "ctr images import: {out:?}\n{}", containerd.log());
    assert!(run(&mut containerd.ctr(&["images", "ls", "-q"])).stdout.lines().any(|l| l == IMAGE), "the image was not imported");

    assert!(Path::new("/usr/sbin/runc").exists(), "/usr/sbin/runc is missing: install Debian's runc");
    let runc = answers(&containerd, Path::new("/usr/sbin/runc"), "runc");
    let trapbox = answers(&containerd, &link, "trapbox");
    let expected = Answers {
        run: (3, "hi\n".into()),
        exec: (5, "in-exec\n".into()),
        exec_in_cwd: (0, "/bin\nbusybox\n".into()),
        ps_count_positive: true,
        killed: true,
    };
    assert_eq!(runc, expected, "runc's own answers changed:\n{}", containerd.log());
    assert_eq!(trapbox, runc, "trapbox-oci answers the shim unlike runc:\n{}", containerd.log());

    let tasks = run(&mut containerd.ctr(&["task", "ls", "-q"]));
    assert_eq!((tasks.status, tasks.stdout.as_str()), (0, ""), "{tasks:?}");
    let left: Vec<_> = std::fs::read_dir(containerd.dir.join("runtime-root/trapbox").join(NAMESPACE))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "trapbox-oci left state behind after containerd deleted its containers: {left:?}");
    drop(containerd);
    assert!(!dir.join("ctd").exists(), "the test's containerd directories were not removed");
}

/// As root, the replay runs as nobody (the rootless case); unprivileged, as the invoking user.
#[test]
fn the_shims_calls_replayed_rootless_get_runcs_answers() {
    replay_the_shims_calls(&scratch_dir("oci_containerd_replay"), is_root());
}

/// A child subreaper that makes the shim's two calls and reaps what the pid file names, as the
/// runc shim does: `shimlike REPORT PIDFILE CREATE-ARGV... ';' START-ARGV...`. It writes
/// `create N`, `start N` and `exit N` (the reaped status, 128+signal) to REPORT.
const SHIMLIKE_C: &str = r#"#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int status_of(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

static int run(char **argv) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) { execv(argv[0], argv); _exit(127); }
    int status;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return status_of(status);
}

int main(int argc, char **argv) {
    if (argc < 6) return 2;
    FILE *report = fopen(argv[1], "w");
    if (!report) return 2;
    setvbuf(report, NULL, _IONBF, 0);
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) { fprintf(report, "prctl failed\n"); return 2; }
    int split = 3;
    while (split < argc && strcmp(argv[split], ";") != 0) split++;
    if (split >= argc - 1) return 2;
    argv[split] = NULL;
    int created = run(argv + 3);
    fprintf(report, "create %d\n", created);
    if (created != 0) return 0;
    long monitor = 0;
    FILE *pid_file = fopen(argv[2], "r");
    if (!pid_file || fscanf(pid_file, "%ld", &monitor) != 1 || monitor <= 0) { fprintf(report, "pid-file unreadable\n"); return 0; }
    fclose(pid_file);
    int started = run(argv + split + 1);
    fprintf(report, "start %d\n", started);
    if (started != 0) { kill((pid_t)monitor, SIGKILL); }
    int status;
    if (waitpid((pid_t)monitor, &status, 0) != (pid_t)monitor) { fprintf(report, "pid %ld is not this subreaper's\n", monitor); return 0; }
    fprintf(report, "exit %d\n", status_of(status));
    return 0;
}
"#;

fn shimlike() -> PathBuf {
    let src = fixture_dir().join("oci_shimlike.c");
    if std::fs::read_to_string(&src).ok().as_deref() != Some(SHIMLIKE_C) {
        let tmp = src.with_extension(format!("c.tmp{}", std::process::id()));
        std::fs::write(&tmp, SHIMLIKE_C).expect("write shimlike.c");
        std::fs::rename(&tmp, &src).expect("rename shimlike.c");
    }
    build_c(&src, &["-O2"])
}

/// The first number on the `key:` line of /proc/self/status (the real uid or gid).
fn own_id(key: &str) -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok()))
        .expect("an id in /proc/self/status")
}

/// A rootless bundle shaped like the ones containerd writes (its mounts, its namespaces plus a
/// user namespace mapping the container's root to `uid`:`gid`), running `args`.
fn rootless_bundle(bundle: &Path, args: &[&str], uid: u32, gid: u32) {
    busybox_rootfs(&bundle.join("rootfs"));
    let config = serde_json::json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin"],
            "cwd": "/",
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true,
        },
        "root": {"path": "rootfs"},
        "hostname": "replay",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "bind", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "uidMappings": [{"containerID": 0, "hostID": uid, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": gid, "size": 1}],
            "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network"}, {"type": "user"}],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    });
    std::fs::write(bundle.join("config.json"), serde_json::to_string_pretty(&config).expect("json")).expect("write config.json");
}

/// `chown -hR uid:gid tree`.
fn chown_tree(tree: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(tree, Some(uid), Some(gid)).expect("chown");
    if tree.is_dir() && !tree.is_symlink() {
        for entry in std::fs::read_dir(tree).expect("read a directory").flatten() {
            chown_tree(&entry.path(), uid, gid);
        }
    }
}

/// Makes the runc shim's calls on a rootless bundle with trapbox-oci (as nobody when
/// `as_nobody`): the container's output reaches create's stdout, the pid in the pid file is
/// reaped by the subreaper with the container's exit status, `state` answers in between, and
/// `delete` leaves nothing behind.
fn replay_the_shims_calls(dir: &Path, as_nobody: bool) {
    use std::os::unix::fs::PermissionsExt;
    let (trapbox, helper) = run_support::unprivileged_copies(dir, &shimlike(), &[]);
    let runtime = trapbox_oci_link(dir, &trapbox);
    let (uid, gid) = if as_nobody { (65534, 65534) } else { (own_id("Uid:"), own_id("Gid:")) };
    let bundle = dir.join("bundle");
    rootless_bundle(&bundle, &["sh", "-c", "echo hi; echo err >&2; exit 3"], uid, gid);
    if as_nobody {
        // A rootless engine's root filesystems are its user's (the runtime makes the mount
        // points in them as the container's root).
        chown_tree(&bundle.join("rootfs"), uid, gid);
    }
    let root = dir.join("runtime-root");
    std::fs::create_dir(&root).expect("mkdir the runtime's root");
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).expect("chmod the runtime's root");
    let id = "replay1";
    let (log, pid_file, report) = (bundle.join("log.json"), bundle.join("init.pid"), dir.join("report"));
    std::fs::set_permissions(&bundle, std::fs::Permissions::from_mode(0o777)).expect("chmod the bundle");
    let global = [s(&runtime), "--root", s(&root), "--log", s(&log), "--log-format", "json"];
    let mut shim = if as_nobody {
        run_support::as_nobody_command(&helper)
    } else {
        Command::new(&helper)
    };
    shim.arg(&report)
        .arg(&pid_file)
        .args(global)
        .args(["create", "--bundle", s(&bundle), "--pid-file", s(&pid_file), id])
        .arg(";")
        .args(global)
        .args(["start", id])
        .current_dir(&bundle)
        .stdin(Stdio::null());
    let out = run(&mut shim);
    let report_text = std::fs::read_to_string(&report).unwrap_or_default();
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        (out.status, report_text.as_str(), out.stdout.as_str(), out.stderr.as_str()),
        (0, "create 0\nstart 0\nexit 3\n", "hi\n", "err\n"),
        "the replayed shim calls (as {}): log.json: {log_text}",
        if as_nobody { "nobody" } else { "the invoking user" }
    );
    let pid = std::fs::read_to_string(&pid_file).expect("the pid file");
    assert!(pid.parse::<u32>().is_ok(), "the pid file holds digits only, as runc writes it: {pid:?}");

    let as_caller = |args: &[&str]| {
        let mut cmd = if as_nobody { run_support::as_nobody_command(&runtime) } else { Command::new(&runtime) };
        run(cmd.args(&global[1..]).args(args).current_dir(&bundle))
    };
    let state = as_caller(&["state", id]);
    assert_eq!(state.status, 0, "{state:?}");
    let state: serde_json::Value = serde_json::from_str(&state.stdout).expect("state is JSON");
    assert_eq!((state["id"].as_str(), state["status"].as_str()), (Some(id), Some("stopped")), "{state}");
    let deleted = as_caller(&["delete", id]);
    assert_eq!(deleted.status, 0, "{deleted:?}");
    let left: Vec<_> = std::fs::read_dir(&root).expect("the runtime's root").flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "delete left state behind: {left:?}");
    // An unknown container is an error that says so, where the shim's error matching looks.
    let unknown = as_caller(&["state", id]);
    assert_ne!(unknown.status, 0, "{unknown:?}");
    assert!(unknown.stderr.contains("does not exist"), "{unknown:?}");
    let last_error = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["level"] == "error")
        .last()
        .and_then(|v| v["msg"].as_str().map(String::from));
    assert!(last_error.as_deref().is_some_and(|m| m.contains("does not exist")), "log.json's last error: {last_error:?}");
}
