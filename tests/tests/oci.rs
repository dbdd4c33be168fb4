//! `trapbox oci`, the OCI runtime, driven as an engine drives it: bundles made here (a root
//! filesystem holding Debian's static busybox, a `config.json` as `runc spec` writes one),
//! run through `create`/`start`/`state`/`kill`/`delete`/`exec`/`run`, compared with runc on the
//! same bundle where runc can run (root), and attacked from inside. Then podman runs an image
//! of that root filesystem through trapbox-oci: output and exit status as with runc, `-d` +
//! `exec` + `logs` + `stop` + `rm`, a published port, a read-only root, a tmpfs, environment and
//! working directory, a pids limit, an escape attempt.

mod run_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};

use run_support::is_root;
use serde_json::{json, Value};
use trapbox_tests::{busybox, fixture_dir, run, scratch_dir, trapbox_bin, Outcome};

const RUNC: &str = "/usr/sbin/runc";

/// `trapbox-oci`: a link to the trapbox binary, which then behaves as `trapbox oci`.
fn trapbox_oci() -> PathBuf {
    let link = fixture_dir().join("oci-bin").join("trapbox-oci");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    let target = trapbox_bin();
    if std::fs::read_link(&link).ok().as_deref() != Some(target.as_path()) {
        let temporary = link.with_extension(format!("new{}", std::process::id()));
        let _ = std::fs::remove_file(&temporary);
        std::os::unix::fs::symlink(&target, &temporary).unwrap();
        std::fs::rename(&temporary, &link).unwrap();
    }
    link
}

/// A root filesystem of Debian's static busybox with every applet linked (made once).
fn rootfs() -> PathBuf {
    static MADE: OnceLock<PathBuf> = OnceLock::new();
    MADE.get_or_init(|| {
        let dir = fixture_dir().join("oci-rootfs");
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["bin", "etc", "tmp", "proc", "dev", "sys", "www", "data"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::copy(busybox(), dir.join("bin/busybox")).unwrap();
        let out = Command::new(dir.join("bin/busybox")).arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&out.stdout).lines().filter(|a| *a != "busybox") {
            std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet)).unwrap();
        }
        std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n").unwrap();
        std::fs::write(dir.join("etc/group"), "root:x:0:\nnobody:x:65534:\n").unwrap();
        std::fs::write(dir.join("etc/marker"), "inside the image\n").unwrap();
        std::fs::write(dir.join("www/index.html"), "<h1>served from a trapbox container</h1>\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
        dir
    })
    .clone()
}

/// A `config.json` like `runc spec`'s, running `args` without a terminal.
fn config(args: &[&str], readonly: bool) -> Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": readonly},
        "hostname": "oci-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/kcore"],
            "readonlyPaths": ["/proc/sys"]
        }
    })
}

/// A bundle in `dir` whose root is the shared root filesystem.
fn bundle(dir: &Path, config: &Value) -> PathBuf {
    let bundle = dir.join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    let mut config = config.clone();
    config["root"]["path"] = json!(rootfs());
    std::fs::write(bundle.join("config.json"), serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    bundle
}

/// Adds a bind mount of `source` at `destination`.
fn add_bind(config: &mut Value, source: &Path, destination: &str, read_only: bool) {
    let mut options = vec!["rbind", "rprivate"];
    if read_only {
        options.push("ro");
    }
    config["mounts"].as_array_mut().unwrap().push(json!({"destination": destination, "type": "bind", "source": source, "options": options}));
}

/// `trapbox oci --root ROOT ARGS…`.
fn oci(root: &Path, args: &[&str]) -> Outcome {
    run(Command::new(trapbox_oci()).arg("--root").arg(root).args(args))
}

/// `trapbox oci --root ROOT ARGS…` of a command that leaves the container running: its
/// output goes nowhere (the container inherits the streams, and would hold a pipe open).
fn oci_detached(root: &Path, args: &[&str]) -> i32 {
    let status = Command::new(trapbox_oci())
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    status.code().unwrap_or(-1)
}

/// `runc --root ROOT ARGS…`.
fn runc(root: &Path, args: &[&str]) -> Outcome {
    run(Command::new(RUNC).arg("--root").arg(root).args(args))
}

/// The OCI state of container `id`.
fn state(root: &Path, id: &str) -> Value {
    let out = oci(root, &["state", id]);
    assert_eq!(out.status, 0, "state {id}: {out:?}");
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("state is JSON ({e}): {}", out.stdout))
}

/// Waits (at most 20 s) for `done`; whether it came.
fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..2000 {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
}

/// The host's log of container bundle `bundle` (every refusal), as written so far.
fn host_log(bundle: &Path) -> String {
    std::fs::read_to_string(bundle.join("trapbox.log")).unwrap_or_default()
}

// ---- a bundle ----------------------------------------------------------------------------------

/// `run` gives the program's output and exit status, its hostname, user, working directory
/// and environment as runc does.
#[test]
fn a_bundle_runs_as_under_runc() {
    let dir = scratch_dir("oci_run_as_runc");
    let mut config = config(&["sh", "-c", "echo hi; hostname; id; pwd; echo \"$GREETING\"; cat /etc/marker; ls /dev/shm /dev/mqueue; exit 3"], false);
    config["process"]["env"].as_array_mut().unwrap().push(json!("GREETING=hello from the bundle"));
    config["process"]["cwd"] = json!("/tmp");
    let bundle = bundle(&dir, &config);
    let ours = oci(&dir.join("state"), &["run", "--bundle", bundle.to_str().unwrap(), "run-as-runc"]);
    assert_eq!(ours.status, 3, "{ours:?}");
    assert_eq!(ours.stdout, "hi\noci-test\nuid=0(root) gid=0(root)\n/tmp\nhello from the bundle\ninside the image\n/dev/mqueue:\n\n/dev/shm:\n", "{ours:?}");
    assert!(!dir.join("state/run-as-runc").exists(), "run leaves nothing behind");
    if is_root() {
        let theirs = runc(&dir.join("runc-state"), &["run", "--bundle", bundle.to_str().unwrap(), "run-as-runc"]);
        assert_eq!((ours.status, &ours.stdout), (theirs.status, &theirs.stdout), "runc: {theirs:?}");
    }
}

/// `create` sets the container up and its program does not run until `start`; `state` says
/// created, running, stopped as it goes, with the pid of `--pid-file`; `kill` signals it and
/// the monitor (that pid) exits with 128 + the signal; `delete` leaves nothing; a second
/// `start`, a `kill` of a stopped container and a `create` of an id in use are errors.
#[test]
fn create_waits_for_start_and_state_follows_the_container() {
    let dir = scratch_dir("oci_lifecycle");
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut config = config(&["sh", "-c", "trap 'echo caught; exit 7' TERM; echo ran > /out/marker; while :; do sleep 0.1; done"], true);
    add_bind(&mut config, &out_dir, "/out", false);
    let bundle = bundle(&dir, &config);
    let root = dir.join("state");
    let pid_file = dir.join("pid");
    assert_eq!(oci_detached(&root, &["create", "--bundle", bundle.to_str().unwrap(), "--pid-file", pid_file.to_str().unwrap(), "life"]), 0);
    let pid: i64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    let before = state(&root, "life");
    assert_eq!((before["status"].as_str(), before["pid"].as_i64(), before["id"].as_str()), (Some("created"), Some(pid), Some("life")), "{before}");
    assert_eq!(before["bundle"].as_str(), Some(bundle.to_str().unwrap()));
    assert!(!out_dir.join("marker").exists(), "the program ran before start");
    let again = oci(&root, &["create", "--bundle", bundle.to_str().unwrap(), "life"]);
    assert!(again.status != 0 && again.stderr.contains("already exists"), "{again:?}");

    assert_eq!(oci(&root, &["start", "life"]).status, 0);
    assert!(wait_for(|| out_dir.join("marker").exists()), "the program did not run after start");
    assert_eq!(state(&root, "life")["status"].as_str(), Some("running"));
    let twice = oci(&root, &["start", "life"]);
    assert!(twice.status != 0 && twice.stderr.contains("running"), "{twice:?}");
    let listed = oci(&root, &["list"]);
    assert!(listed.stdout.lines().any(|l| l.starts_with("life\t") && l.contains("running")), "{listed:?}");
    let ps = oci(&root, &["ps", "--format", "json", "life"]);
    let pids: Vec<i64> = serde_json::from_str(&ps.stdout).unwrap_or_else(|e| panic!("{e}: {ps:?}"));
    assert!(pids.len() >= 2, "trapbox's init and the program: {pids:?}");

    // The program stands where runc's PID 1 would: a signal it catches reaches it.
    assert_eq!(oci(&root, &["kill", "life", "TERM"]).status, 0);
    assert!(wait_for(|| !alive(pid)), "the monitor outlived its container");
    let after = state(&root, "life");
    assert_eq!(after["status"].as_str(), Some("stopped"), "{after}");
    let record: Value = serde_json::from_slice(&std::fs::read(root.join("life/state.json")).unwrap()).unwrap();
    assert_eq!(record["exit_code"].as_i64(), Some(7), "{record}");
    let dead = oci(&root, &["kill", "life", "KILL"]);
    assert!(dead.status != 0 && dead.stderr.contains("not running"), "{dead:?}");
    assert_eq!(oci(&root, &["delete", "life"]).status, 0);
    assert!(!root.join("life").exists());
}

/// Bad input gets runc's behaviour: an invalid `config.json` is an error naming the field,
/// an unknown id exits non-zero naming it, a bad signal is refused, and `delete --force` of a
/// running container ends every process of it and leaves nothing behind.
#[test]
fn bad_input_is_refused_and_delete_force_leaves_nothing() {
    let dir = scratch_dir("oci_bad_input");
    let root = dir.join("state");
    let mut wrong = config(&["true"], true);
    wrong["process"]["user"]["uid"] = json!("root");
    let bundle_dir = dir.join("wrong");
    let wrong_bundle = bundle(&bundle_dir, &wrong);
    let out = oci(&root, &["create", "--bundle", wrong_bundle.to_str().unwrap(), "wrong"]);
    assert!(out.status != 0 && out.stderr.contains("process.user.uid"), "{out:?}");
    assert!(!root.join("wrong").exists());
    let mut mount = config(&["true"], true);
    mount["mounts"].as_array_mut().unwrap().push(json!({"destination": "/x", "type": "nfs", "source": "server:/x"}));
    let mount_bundle = bundle(&dir.join("mount"), &mount);
    let out = oci(&root, &["create", "--bundle", mount_bundle.to_str().unwrap(), "nfs"]);
    assert!(out.status != 0 && out.stderr.contains("mounts[6].type"), "{out:?}");
    let missing = bundle(&dir.join("missing"), &config(&["no-such-program"], true));
    let out = oci(&root, &["create", "--bundle", missing.to_str().unwrap(), "missing"]);
    assert!(out.status != 0 && out.stderr.contains("executable file not found in $PATH"), "{out:?}");
    for args in [&["state", "ghost"][..], &["start", "ghost"], &["kill", "ghost", "TERM"], &["delete", "ghost"], &["exec", "ghost", "true"]] {
        let out = oci(&root, args);
        assert!(out.status != 0 && out.stderr.contains("\"ghost\" does not exist"), "{args:?}: {out:?}");
    }
    let running = bundle(&dir.join("running"), &config(&["sh", "-c", "sleep 60 & sleep 60 & exec sleep 60"], true));
    let pid_file = dir.join("pid");
    assert_eq!(oci_detached(&root, &["run", "--detach", "--bundle", running.to_str().unwrap(), "--pid-file", pid_file.to_str().unwrap(), "busy"]), 0);
    let mut pids: Vec<i64> = Vec::new();
    let forked = wait_for(|| {
        pids = serde_json::from_str(&oci(&root, &["ps", "--format", "json", "busy"]).stdout).unwrap();
        pids.len() >= 4
    });
    assert!(forked, "trapbox's init, the shell's two children and itself: {pids:?}");
    let bad_signal = oci(&root, &["kill", "busy", "SIGNOPE"]);
    assert!(bad_signal.status != 0 && bad_signal.stderr.contains("SIGNOPE"), "{bad_signal:?}");
    let refused = oci(&root, &["delete", "busy"]);
    assert!(refused.status != 0 && refused.stderr.contains("running"), "{refused:?}");
    assert_eq!(oci(&root, &["delete", "--force", "busy"]).status, 0);
    assert!(!root.join("busy").exists());
    let monitor: i64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(wait_for(|| !alive(monitor) && pids.iter().all(|p| !alive(*p))), "processes left after delete --force: {pids:?}");
}

/// `exec` runs another process in the running container: its files, hostname and PID
/// namespace, the same policy; its exit status (128 + signal) comes back, and `--detach`
/// returns once it runs, with a pid to wait for.
#[test]
fn exec_runs_in_the_running_container() {
    let dir = scratch_dir("oci_exec");
    let root = dir.join("state");
    let bundle = bundle(&dir, &config(&["sh", "-c", "echo from-init > /tmp/left; exec sleep 60"], false));
    assert_eq!(oci_detached(&root, &["run", "--detach", "--bundle", bundle.to_str().unwrap(), "ex"]), 0);
    assert!(wait_for(|| rootfs().join("tmp/left").exists()));
    let out = oci(&root, &["exec", "ex", "sh", "-c", "cat /etc/marker /tmp/left; hostname; cat /proc/2/comm; touch /proc/x; exit 4"]);
    assert_eq!(out.status, 4, "{out:?}");
    assert_eq!(out.stdout, "inside the image\nfrom-init\noci-test\nsleep\n", "{out:?}");
    let process = dir.join("process.json");
    std::fs::write(&process, serde_json::to_vec(&json!({"args": ["sh", "-c", "kill -USR1 $$"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}})).unwrap()).unwrap();
    let out = oci(&root, &["exec", "--process", process.to_str().unwrap(), "ex"]);
    assert_eq!(out.status, 128 + 10, "{out:?}");
    let pid_file = dir.join("exec.pid");
    assert_eq!(oci_detached(&root, &["exec", "--detach", "--pid-file", pid_file.to_str().unwrap(), "ex", "sleep", "1"]), 0);
    let exec_pid: i64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(alive(exec_pid));
    assert!(host_log(&bundle).contains("/proc/x"), "the refused touch is logged: {}", host_log(&bundle));
    assert_eq!(oci(&root, &["delete", "--force", "ex"]).status, 0);
    let _ = std::fs::remove_file(rootfs().join("tmp/left"));
}

/// A read-only root and a read-only bind refuse writes with `EROFS`, as under runc, and the
/// host logs each refusal; a writable bind takes them.
#[test]
fn read_only_mounts_say_erofs_as_under_runc_and_are_logged() {
    let dir = scratch_dir("oci_read_only");
    let (ro, rw) = (dir.join("ro"), dir.join("rw"));
    for d in [&ro, &rw] {
        std::fs::create_dir_all(d).unwrap();
    }
    let mut config = config(&["sh", "-c", "touch /x; touch /ro/x; echo kept > /rw/x && cat /rw/x"], true);
    add_bind(&mut config, &ro, "/ro", true);
    add_bind(&mut config, &rw, "/rw", false);
    let bundle = bundle(&dir, &config);
    let ours = oci(&dir.join("state"), &["run", "--bundle", bundle.to_str().unwrap(), "ro"]);
    assert_eq!(ours.stdout, "kept\n", "{ours:?}");
    assert_eq!(ours.stderr, "touch: /x: Read-only file system\ntouch: /ro/x: Read-only file system\n", "{ours:?}");
    let log = host_log(&bundle);
    assert!(log.contains("\"/x\"") && log.contains("\"/ro/x\""), "{log}");
    if is_root() {
        std::fs::remove_file(rw.join("x")).unwrap();
        let theirs = runc(&dir.join("runc-state"), &["run", "--bundle", bundle.to_str().unwrap(), "ro"]);
        assert_eq!((ours.status, &ours.stdout, &ours.stderr), (theirs.status, &theirs.stdout, &theirs.stderr), "runc: {theirs:?}");
    }
}

/// From inside a container (root in it), every way out fails and the host logs it: mounting,
/// making a device node, the kernel's sysrq trigger, a host path outside the root, the host's
/// processes, changing root to a directory fd's parent, tracing a process.
#[test]
fn escape_attempts_from_a_container_fail_and_are_logged() {
    let dir = scratch_dir("oci_escape");
    let secret = dir.join("host-secret");
    std::fs::write(&secret, "the host's\n").unwrap();
    let script = format!(
        "mount -t proc proc /tmp && echo mounted; mount --bind / /tmp && echo bound; mknod /tmp/disk b 8 0 && echo made; echo c > /proc/sysrq-trigger && echo triggered; \
         cat {} && echo read; ls /proc/1/root/ >/dev/null && echo host-root; chroot /proc/self/cwd/../../.. true && echo chrooted; \
         cat /sys/kernel/notes > /dev/null; echo done",
        secret.display()
    );
    let bundle = bundle(&dir, &config(&["sh", "-c", &script], false));
    let out = oci(&dir.join("state"), &["run", "--bundle", bundle.to_str().unwrap(), "escape"]);
    assert_eq!(out.stdout, "done\n", "every attempt must fail: {out:?}");
    let log = host_log(&bundle);
    for refused in ["mount(", "mknod", "sysrq-trigger", "chroot"] {
        assert!(log.lines().any(|l| l.contains("denied") && l.contains(refused)), "no denial of {refused} logged:\n{log}");
    }
    assert!(!log.contains("panicked"), "{log}");
}

/// The annotations change what the container may do: `dev.trapbox.policy` names a TOML file
/// whose grants (the container's paths) replace the root's and the binds', so a writable root
/// takes writes only where the file grants them (the rest refused with EACCES and logged);
/// `dev.trapbox.net=none` leaves the container unix sockets only; a bad value is an error
/// naming the annotation.
#[test]
fn annotations_set_the_containers_policy() {
    let dir = scratch_dir("oci_annotations");
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, "allow_read = [\"/\"]\nallow_exec = [\"/bin\"]\nallow_write = [\"/tmp\"]\n").unwrap();
    let mut config = config(&["sh", "-c", "touch /etc/x; echo kept > /tmp/annotated && cat /tmp/annotated; rm /tmp/annotated; nc -w 1 127.0.0.1 9 </dev/null; echo nc=$?"], false);
    config["annotations"] = json!({"dev.trapbox.policy": policy, "dev.trapbox.net": "none"});
    let annotated = bundle(&dir, &config);
    let out = oci(&dir.join("state"), &["run", "--bundle", annotated.to_str().unwrap(), "annotated"]);
    assert_eq!(out.stdout, "kept\nnc=1\n", "{out:?}");
    assert!(out.stderr.contains("touch: /etc/x: Permission denied"), "{out:?}");
    let log = host_log(&annotated);
    assert!(log.lines().any(|l| l.contains("denied") && l.contains("/etc/x")), "{log}");
    assert!(log.lines().any(|l| l.contains("denied socket(2,") && l.contains("--net none")), "{log}");
    config["annotations"] = json!({"dev.trapbox.net": "everywhere"});
    let bad = bundle(&dir.join("bad"), &config);
    let out = oci(&dir.join("state"), &["run", "--bundle", bad.to_str().unwrap(), "bad-annotation"]);
    assert!(out.status != 0 && out.stderr.contains("annotations.dev.trapbox.net"), "{out:?}");
}

/// As an unprivileged user (nobody), with a state root of its own: the same bundle runs with
/// the same output and exit status.
#[test]
fn a_bundle_runs_rootless_as_nobody() {
    if !is_root() {
        // Already unprivileged: the other tests are the rootless run.
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir("oci_rootless");
    let (host_copy, _) = run_support::unprivileged_copies(&dir, &busybox(), &[]);
    let link = dir.join("trapbox-oci");
    std::os::unix::fs::symlink(&host_copy, &link).unwrap();
    let bundle = bundle(&dir, &config(&["sh", "-c", "echo as $(id -u) in $(hostname); exit 7"], true));
    for path in [&bundle, &dir] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    std::fs::set_permissions(bundle.join("config.json"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let root = dir.join("state");
    // (A copy just written may be busy for a moment: another test's fork holds its fd until exec.)
    let mut out = Outcome { status: -1, stdout: String::new(), stderr: String::new() };
    wait_for(|| {
        out = run(run_support::as_nobody_command(&link).arg("--root").arg(&root).args(["run", "--bundle", bundle.to_str().unwrap(), "rootless"]));
        !out.stderr.contains("Text file busy")
    });
    assert_eq!((out.status, out.stdout.as_str()), (7, "as 0 in oci-test\n"), "{out:?}");
}

// ---- podman ------------------------------------------------------------------------------------

/// One podman storage for this test binary (so nothing of the machine's own is touched),
/// with the busybox image imported once.
struct Podman {
    base: PathBuf,
}

const IMAGE: &str = "localhost/trapbox-busybox-static";

fn podman_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn podman() -> &'static Podman {
    static MADE: OnceLock<Podman> = OnceLock::new();
    MADE.get_or_init(|| {
        assert!(is_root(), "the podman tests run rootful (CI runs as root)");
        let base = PathBuf::from("/var/tmp").join(format!("trapbox-podman-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let podman = Podman { base };
        let tar = podman.base.join("rootfs.tar");
        let made = run(Command::new("tar").arg("-C").arg(rootfs()).arg("-cf").arg(&tar).arg("."));
        assert_eq!(made.status, 0, "{made:?}");
        let imported = run(podman.command().arg("import").arg(&tar).arg(IMAGE));
        assert_eq!(imported.status, 0, "podman import: {imported:?}");
        podman
    })
}

impl Podman {
    /// `podman` on this binary's storage.
    fn command(&self) -> Command {
        let mut cmd = Command::new("podman");
        cmd.arg("--root").arg(self.base.join("storage"));
        cmd.arg("--runroot").arg(self.base.join("run"));
        cmd.arg("--tmpdir").arg(self.base.join("tmp"));
        cmd.args(["--events-backend", "file", "--cgroup-manager", "cgroupfs"]);
        cmd
    }

    /// `podman --runtime RUNTIME run --rm …` (this machine's root lacks CAP_SYS_RESOURCE, so
    /// podman's default ulimits, above its own, are replaced by ones it can set).
    fn run(&self, runtime: &Path, flags: &[&str], args: &[&str]) -> Outcome {
        let mut cmd = self.command();
        cmd.arg("--runtime").arg(runtime).args(["run", "--rm", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]);
        run(cmd.args(flags).arg(IMAGE).args(args))
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// podman runs a container through trapbox-oci with the output and exit status runc gives it.
#[test]
fn podman_runs_a_container_as_with_runc() {
    let _one = podman_lock();
    let podman = podman();
    // (`id -G` differs between runc versions under podman: supplementary groups are runc's guess.)
    let script = ["sh", "-c", "echo hi; cat /etc/marker; id -u; id -g; exit 3"];
    let ours = podman.run(&trapbox_oci(), &[], &script);
    let theirs = podman.run(Path::new(RUNC), &[], &script);
    assert_eq!(ours.status, 3, "{ours:?}");
    assert_eq!(ours.stdout, "hi\ninside the image\n0\n0\n");
    assert_eq!((ours.status, &ours.stdout), (theirs.status, &theirs.stdout), "runc: {theirs:?}");
}

/// A detached container: `exec` into it (exit status back), `logs`, `stop` (TERM ignored as by
/// runc's PID 1, then KILL: 137), `rm`, and nothing of it left in trapbox-oci's state.
#[test]
fn podman_detaches_execs_logs_stops_and_removes() {
    let _one = podman_lock();
    let podman = podman();
    let runtime = trapbox_oci();
    let name = "trapbox-detached";
    let _ = run(podman.command().arg("--runtime").arg(&runtime).args(["rm", "-f", name]));
    let started = run(podman.command().arg("--runtime").arg(&runtime).args(["run", "-d", "--name", name, "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096", IMAGE, "sh", "-c", "echo started; exec sleep 600"]));
    assert_eq!(started.status, 0, "{started:?}");
    let id = started.stdout.trim().to_string();
    let exec = run(podman.command().arg("--runtime").arg(&runtime).args(["exec", name, "sh", "-c", "echo in-exec; cat /etc/marker; exit 5"]));
    assert_eq!((exec.status, exec.stdout.as_str()), (5, "in-exec\ninside the image\n"), "{exec:?}");
    assert!(wait_for(|| run(podman.command().args(["logs", name])).stdout == "started\n"), "podman logs");
    // As under runc: sleep stands where PID 1 does and catches no TERM, so it ignores stop's
    // TERM, and stop's KILL a second later ends it.
    let stop = run(podman.command().arg("--runtime").arg(&runtime).args(["stop", "-t", "1", name]));
    assert_eq!(stop.status, 0, "{stop:?}");
    let code = run(podman.command().args(["inspect", "--format", "{{.State.ExitCode}}", name]));
    assert_eq!(code.stdout.trim(), "137", "SIGKILL's status: {code:?}");
    assert_eq!(run(podman.command().arg("--runtime").arg(&runtime).args(["rm", name])).status, 0);
    assert!(!Path::new("/run/trapbox-oci").join(&id).exists(), "trapbox-oci's state of {id} is left behind");
}

/// A port published on 127.0.0.1 answers an HTTP request served by busybox httpd in the
/// container.
#[test]
fn podman_publishes_a_port_that_answers_http() {
    let _one = podman_lock();
    let podman = podman();
    let runtime = trapbox_oci();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let name = "trapbox-web";
    let _ = run(podman.command().arg("--runtime").arg(&runtime).args(["rm", "-f", name]));
    let publish = format!("127.0.0.1:{port}:8080");
    let started = run(podman.command().arg("--runtime").arg(&runtime).args(["run", "-d", "--name", name, "-p", &publish, "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096", IMAGE, "httpd", "-f", "-p", "8080", "-h", "/www"]));
    assert_eq!(started.status, 0, "{started:?}");
    let url = format!("http://127.0.0.1:{port}/index.html");
    let mut page = Outcome { status: -1, stdout: String::new(), stderr: String::new() };
    let served = wait_for(|| {
        page = run(Command::new("curl").args(["-sS", "-m", "5", &url]));
        page.status == 0
    });
    let _ = run(podman.command().arg("--runtime").arg(&runtime).args(["rm", "-f", name]));
    assert!(served, "{page:?}");
    assert_eq!(page.stdout, "<h1>served from a trapbox container</h1>\n");
}

/// `--read-only`, `--tmpfs`, `-e` and `-w` as under runc: writes to the root fail with EROFS,
/// the tmpfs takes them, the environment and working directory are the ones asked.
#[test]
fn podman_read_only_root_tmpfs_env_and_workdir_as_with_runc() {
    let _one = podman_lock();
    let podman = podman();
    let flags = ["--read-only", "--tmpfs", "/scratch:size=1m", "-e", "FOO=bar baz", "-w", "/scratch"];
    let script = ["sh", "-c", "echo \"$FOO\"; pwd; touch /etc/x; echo kept > f && cat f; grep ' /scratch ' /proc/mounts | cut -d' ' -f3"];
    let ours = podman.run(&trapbox_oci(), &flags, &script);
    let theirs = podman.run(Path::new(RUNC), &flags, &script);
    assert_eq!(ours.stdout, "bar baz\n/scratch\nkept\ntmpfs\n", "{ours:?}");
    assert!(ours.stderr.contains("touch: /etc/x: Read-only file system"), "{ours:?}");
    assert_eq!((ours.status, &ours.stdout, &ours.stderr), (theirs.status, &theirs.stdout, &theirs.stderr), "runc: {theirs:?}");
}

/// A pids limit holds: the container cannot fork past it, under trapbox as under runc.
#[test]
fn podman_pids_limit_holds() {
    let _one = podman_lock();
    let podman = podman();
    let flags = ["--pids-limit", "12"];
    let script = ["sh", "-c", "i=0; while [ $i -lt 40 ]; do sleep 5 & i=$((i+1)); done; echo forked all"];
    let ours = podman.run(&trapbox_oci(), &flags, &script);
    let theirs = podman.run(Path::new(RUNC), &flags, &script);
    for out in [&ours, &theirs] {
        assert!(out.stderr.contains("can't fork") && !out.stdout.contains("forked all"), "{out:?}");
    }
}

/// An escape attempt from inside a podman container fails, and the host logs it in the file
/// the `dev.trapbox.log` annotation names.
#[test]
fn podman_escape_attempt_fails_and_is_logged() {
    let _one = podman_lock();
    let podman = podman();
    let log = podman.base.join("escape.log");
    let annotation = format!("dev.trapbox.log={}", log.display());
    let out = podman.run(&trapbox_oci(), &["--annotation", &annotation], &["sh", "-c", "mount -t proc proc /tmp && echo mounted; mknod /tmp/d b 8 0 && echo made; echo tried"]);
    assert_eq!(out.stdout, "tried\n", "{out:?}");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.lines().any(|l| l.contains("denied") && l.contains("mount(")), "{text}");
    assert!(text.lines().any(|l| l.contains("denied") && l.contains("mknod")), "{text}");
}

/// `-t`: the container's process gets a terminal (sent to conmon through the console socket)
/// as its controlling one, as with runc; so does an exec with `-t`.
#[test]
fn podman_gives_a_terminal_as_with_runc() {
    let _one = podman_lock();
    let podman = podman();
    // (Field 7 of the shell's stat is its controlling terminal, 0 for none.)
    let script = ["sh", "-c", "test -t 0 && echo stdin; test -t 1 && echo stdout; [ \"$(cut -d' ' -f7 /proc/$$/stat)\" != 0 ] && echo controlling; exit 4"];
    let ours = podman.run(&trapbox_oci(), &["-t"], &script);
    let theirs = podman.run(Path::new(RUNC), &["-t"], &script);
    assert_eq!((ours.status, ours.stdout.as_str()), (4, "stdin\r\nstdout\r\ncontrolling\r\n"), "{ours:?}");
    assert_eq!((ours.status, &ours.stdout), (theirs.status, &theirs.stdout), "runc: {theirs:?}");
}

/// Rootless podman: as the unprivileged user `scripts/setup.sh` makes (a subordinate id range
/// of its own; when the tests run unprivileged, the invoker, who needs one), podman runs the
/// same container through trapbox-oci, which then runs as root of podman's user namespace with
/// its state under `$XDG_RUNTIME_DIR`: output and exit status as with runc, and `-d` + `exec`
/// + `stop` + `rm` leaving nothing.
#[test]
fn rootless_podman_runs_execs_and_removes_a_container_as_with_runc() {
    use std::os::unix::fs::PermissionsExt;
    let _one = podman_lock();
    let dir = scratch_dir("oci_rootless_podman");
    let (host_copy, _) = run_support::unprivileged_copies(&dir, &busybox(), &[]);
    let runtime = dir.join("trapbox-oci");
    std::os::unix::fs::symlink(&host_copy, &runtime).unwrap();
    let tar = dir.join("rootfs.tar");
    assert_eq!(run(Command::new("tar").arg("-C").arg(rootfs()).arg("-cf").arg(&tar).arg(".")).status, 0);
    std::fs::set_permissions(&tar, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (home, user) = if is_root() { (PathBuf::from("/home/trapbox-rootless"), Some("trapbox-rootless")) } else { (PathBuf::from(std::env::var("HOME").unwrap()), None) };
    // (podman wants a short run root: at most 50 characters.)
    let short = PathBuf::from(format!("/var/tmp/tbx-rootless-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&short);
    let runtime_dir = short.join("xdg");
    let store = short.join("store");
    std::fs::create_dir_all(&short).unwrap();
    for made in [&runtime_dir, &store] {
        std::fs::create_dir_all(made).unwrap();
        std::fs::set_permissions(made, std::fs::Permissions::from_mode(0o700)).unwrap();
        if let Some(user) = user {
            assert_eq!(run(Command::new("chown").arg(format!("{user}:{user}")).arg(made)).status, 0, "run scripts/setup.sh: it makes {user}");
        }
    }
    let podman = |args: &[&str]| -> Outcome {
        let mut cmd = match user {
            Some(user) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--", "podman"]);
                cmd
            }
            None => Command::new("podman"),
        };
        cmd.current_dir(&dir).env("HOME", &home).env("XDG_RUNTIME_DIR", &runtime_dir);
        cmd.arg("--root").arg(store.join("storage")).arg("--runroot").arg(store.join("run")).args(["--events-backend", "file", "--cgroup-manager", "cgroupfs"]);
        run(cmd.args(args))
    };
    let imported = podman(&["import", tar.to_str().unwrap(), IMAGE]);
    assert_eq!(imported.status, 0, "rootless podman import (the user needs a subordinate id range: scripts/setup.sh): {imported:?}");
    let script = ["sh", "-c", "echo hi; id -u; cat /etc/marker; exit 3"];
    let with = |runtime: &str| podman(&[&["--runtime", runtime, "run", "--rm", "--network", "none", IMAGE][..], &script[..]].concat());
    let ours = with(runtime.to_str().unwrap());
    let theirs = with(RUNC);
    assert_eq!((ours.status, ours.stdout.as_str()), (3, "hi\n0\ninside the image\n"), "{ours:?}");
    assert_eq!((ours.status, &ours.stdout), (theirs.status, &theirs.stdout), "runc: {theirs:?}");
    let rt = runtime.to_str().unwrap();
    let started = podman(&["--runtime", rt, "run", "-d", "--name", "rootless", "--network", "none", IMAGE, "sh", "-c", "echo started; exec sleep 600"]);
    assert_eq!(started.status, 0, "{started:?}");
    let exec = podman(&["--runtime", rt, "exec", "rootless", "sh", "-c", "echo in-exec; cat /proc/2/comm; exit 5"]);
    assert_eq!((exec.status, exec.stdout.as_str()), (5, "in-exec\nsleep\n"), "{exec:?}");
    assert_eq!(podman(&["--runtime", rt, "stop", "-t", "1", "rootless"]).status, 0);
    assert_eq!(podman(&["--runtime", rt, "rm", "rootless"]).status, 0);
    let left: Vec<_> = std::fs::read_dir(runtime_dir.join("trapbox-oci")).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "trapbox-oci's state left under $XDG_RUNTIME_DIR: {left:?}");
    let _ = podman(&["rmi", "-af"]);
    let _ = podman(&["unshare", "rm", "-rf", store.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&short);
}
