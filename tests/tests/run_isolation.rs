//! Kernel isolation underneath the host's rules: every guest runs in its own user, mount, PID,
//! IPC, UTS and cgroup namespaces (and network namespace under `--net none`). Each test makes
//! an attempt a root guest would make to reach the host's namespaces and checks the evidence
//! on the host's side, not only the errno the guest saw.

mod run_support;

use std::path::PathBuf;
use std::process::Command;

use run_support::{denials, guest_pair, is_root, trapbox_run};
use trapbox_tests::{run, scratch_dir, Outcome};

/// Runs the probe guest (static and rewritten) in `mode` under a policy with `net`.
fn probe(net: &str, args: &[&str]) -> Vec<Outcome> {
    let (plain, rewritten) = guest_pair("ns_probe.c");
    let dir = scratch_dir(&format!("isolation_{}", args[0]));
    [plain, rewritten]
        .iter()
        .map(|program| run(trapbox_run(&["--allow-read", "/usr", "--net", net], program, args).current_dir(&dir)))
        .collect()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_guest_is_pid_2_under_trapboxs_init() {
    for out in probe("none", &["ids"]) {
        assert_eq!((out.status, out.stdout.as_str()), (0, "pid 2 ppid 1\n"), "{out:?}");
    }
}

#[test]
fn without_namespaces_the_guest_sees_the_hosts_pids() {
    let (plain, _) = guest_pair("ns_probe.c");
    let out = run(trapbox_run(&["--no-namespaces", "--allow-read", "/usr"], &plain, &["ids"]).current_dir(scratch_dir("isolation_off")));
    assert_eq!(out.status, 0, "{out:?}");
    assert!(!out.stdout.starts_with("pid 2 "), "{out:?}");
}

/// (nice, scheduling policy) of `pid`, from /proc/PID/stat.
fn scheduling_of(pid: u32) -> (String, String) {
    let stat = read(&format!("/proc/{pid}/stat"));
    let fields: Vec<&str> = stat.rsplit_once(')').expect("stat has a comm").1.split_whitespace().collect();
    // After the comm: state is field 3, nice 19, policy 41 (1-based in proc(5)).
    (fields[19 - 3].to_string(), fields[41 - 3].to_string())
}

#[test]
fn processes_outside_the_guest_cannot_be_reached() {
    let mut victim = Command::new("sleep").arg("100").spawn().expect("sleep");
    let before = scheduling_of(victim.id());
    for target in [victim.id(), std::process::id()] {
        for out in probe("none", &["reach", &target.to_string()]) {
            assert_eq!(
                out.stdout,
                "setpriority: ESRCH\nsched_setscheduler: ESRCH\nsched_setaffinity: ESRCH\nioprio_set: ESRCH\nkill: ESRCH\n",
                "{out:?}"
            );
        }
    }
    assert_eq!(scheduling_of(victim.id()), before, "the victim's priority and scheduling class are unchanged");
    assert!(victim.try_wait().expect("wait").is_none(), "the victim still runs");
    let _ = victim.kill();
    let _ = victim.wait();
}

#[test]
fn the_hosts_interfaces_cannot_be_changed_through_a_unix_socket() {
    let before = (read("/sys/class/net/lo/mtu"), read("/sys/class/net/lo/tx_queue_len"));
    for out in probe("loopback", &["iface"]) {
        assert!(out.stdout.contains("SIOCSIFMTU: EPERM\n"), "{out:?}");
        assert!(out.stdout.contains("SIOCSIFTXQLEN: EPERM\n"), "{out:?}");
    }
    // Under --net none the guest has a network namespace of its own: whatever it does to its
    // `lo` stays there.
    for out in probe("none", &["iface"]) {
        assert_eq!(out.status, 0, "{out:?}");
    }
    assert_eq!((read("/sys/class/net/lo/mtu"), read("/sys/class/net/lo/tx_queue_len")), before);
}

fn host_addresses() -> String {
    let out = run(Command::new("ip").args(["-o", "addr", "show", "dev", "lo"]));
    assert_eq!(out.status, 0, "{out:?}");
    out.stdout
}

#[test]
fn route_netlink_cannot_add_an_address_to_the_hosts_loopback() {
    let before = host_addresses();
    for out in probe("loopback", &["netlink"]) {
        assert!(out.stdout.starts_with("RTM_NEWADDR: ") || out.stdout.starts_with("netlink socket: "), "{out:?}");
        assert!(!out.stdout.contains(": ok"), "{out:?}");
    }
    let after = host_addresses();
    assert!(!after.contains("10.213.7.9"), "{after}");
    assert_eq!(after, before);
}

/// The guest names its own UTS namespace (as natively a program in one may); the host's name
/// stays. Without the namespace the call is refused and logged.
#[test]
fn the_guest_names_its_own_uts_namespace_and_the_hosts_name_stays() {
    let before = read("/proc/sys/kernel/hostname");
    for out in probe("loopback", &["hostname", "escaped-guest"]) {
        assert!(out.stdout.starts_with("sethostname: ok
"), "{out:?}");
    }
    let out = run(&mut trapbox_run(&["--allow-read", "/usr"], &trapbox_tests::busybox(), &["sh", "-c", "hostname guest-name && hostname"]));
    assert_eq!((out.status, out.stdout.as_str()), (0, "guest-name\n"), "{out:?}");
    let out = run(&mut trapbox_run(&["--no-namespaces", "--allow-read", "/usr"], &trapbox_tests::busybox(), &["hostname", "escaped-guest"]));
    assert_ne!(out.status, 0, "{out:?}");
    assert!(out.stderr.contains("Operation not permitted"), "{out:?}");
    assert!(run_support::denials(&out).iter().any(|l| l.contains("sethostname(\"escaped-guest\"") && l.contains("rename the host")), "{out:?}");
    assert_eq!(read("/proc/sys/kernel/hostname"), before);
}

/// System V shared memory, semaphores and message queues work in the guest's own IPC
/// namespace exactly as natively (the same output), and none of the objects it leaves behind
/// (POSIX queues included) exists in the host's namespace. Without the namespace they are refused.
#[test]
fn ipc_objects_live_in_the_guests_own_namespace() {
    let programs = run_support::routes("ipc_probe.c");
    let plain = &programs[0];
    let key = format!("{:#x}", 0x7470_0000 + std::process::id() % 0xffff);
    let name = format!("/trapbox-ipc-{}", std::process::id());
    let native = run(Command::new(plain).args(["create", &key, &name]));
    run(Command::new(plain).args(["remove", &key, &name]));
    assert_eq!(native.status, 0, "{native:?}");
    assert!(native.stdout.contains("segment: shared, 4096 bytes, 1 attached\nshmdt: ok"), "{native:?}");
    let dir = scratch_dir("isolation_ipc");
    for program in &programs {
        let out = run(trapbox_run(&["--allow-read", "/usr"], program, &["create", &key, &name]).current_dir(&dir));
        // POSIX message queues too: the base's /dev/mqueue (the same file system as the IPC
        // namespace's internal mount) carries the Landlock rule that covers them.
        assert_eq!((out.status, out.stdout.as_str()), (0, native.stdout.as_str()), "{}: {out:?}", program.display());
        let host = run(Command::new(plain).args(["absent", &key, &name]));
        assert_eq!(
            host.stdout,
            "shm here: No such file or directory\nsem here: No such file or directory\nmsq here: No such file or directory\nmq here: No such file or directory\n",
            "an object of the guest's is in the host's IPC namespace"
        );
    }
    let out = run(trapbox_run(&["--no-namespaces", "--allow-read", "/usr"], plain, &["create", &key, &name]).current_dir(&dir));
    run(Command::new(plain).args(["remove", &key, &name]));
    assert!(out.stdout.starts_with("shmget: Operation not permitted\n"), "{out:?}");
    assert!(run_support::denials(&out).iter().any(|l| l.contains("shmget(") && l.contains("host's IPC namespace")), "{out:?}");
}

#[test]
fn a_namespace_the_guest_creates_grants_nothing_on_the_host() {
    let before = read("/proc/self/mountinfo");
    for out in probe("loopback", &["newns"]) {
        assert_eq!(out.status, 0, "{out:?}");
        assert!(!out.stdout.contains("clone(CLONE_NEWNET|CLONE_NEWNS): ok"), "{out:?}");
    }
    assert_eq!(read("/proc/self/mountinfo"), before, "no mount reached the host's mount namespace");
}

/// Namespaces nested in the guest's own are the guest's to make (unshare, setns): the kernel
/// gives them no more than their parent, and every process in them stays traced, filtered
/// and decided — a file outside the grants does not exist, mounts, chroot and ptrace stay
/// refused, each with its log line.
#[test]
fn namespaces_nested_in_the_guests_own_stay_under_the_host() {
    let before = read("/proc/self/mountinfo");
    for out in probe("none", &["nested"]) {
        assert_eq!(out.status, 0, "{out:?}");
        let expected = "unshare every namespace: ok\npid in the new namespace: 1\nopen /etc/shadow: ENOENT\nmount tmpfs: EPERM\nchroot: EPERM\nptrace the parent: EPERM\n";
        assert_eq!(out.stdout, expected, "{out:?}");
        for call in ["openat(AT_FDCWD, \"/etc/shadow\"", "mount(", "chroot(", "ptrace("] {
            assert!(denials(&out).iter().any(|l| l.contains(call)), "{call} is logged: {}", out.stderr);
        }
    }
    assert_eq!(read("/proc/self/mountinfo"), before, "no mount reached the host's mount namespace");
}

/// The files of the guest's own namespaces are its own, opened inside them: the id maps of a
/// user namespace it made, the network settings of its own network namespace, the IPC and
/// UTS settings under /proc/sys (which show the guest's values, not the host's). The host's
/// kernel settings stay refused and logged, and so are the network ones when the network is
/// the host's (`--net all`).
#[test]
fn the_settings_of_the_guests_own_namespaces_are_its_own() {
    for out in probe("none", &["idmap"]) {
        let expected = "unshare user and net: ok\nwrite /proc/self/setgroups: ok\nwrite /proc/self/uid_map: ok\n\
                        write /proc/self/gid_map: ok\nwrite /proc/sys/net/ipv4/ping_group_range: ok\nuid in the new namespace: 0\n";
        assert_eq!((out.status, out.stdout.as_str()), (0, expected), "{out:?}");
        assert!(denials(&out).is_empty(), "{}", out.stderr);
    }
    let host_next_id = read("/proc/sys/kernel/msg_next_id");
    let script = "echo 77 > /proc/sys/kernel/msg_next_id; cat /proc/sys/kernel/msg_next_id; \
                  hostname guest-name; cat /proc/sys/kernel/hostname; echo other > /proc/sys/kernel/domainname; cat /proc/sys/kernel/domainname; \
                  echo 1 > /proc/sys/vm/drop_caches; echo 0 0 > /proc/sys/net/ipv4/ping_group_range";
    let dir = scratch_dir("isolation_settings");
    let busybox = run_support::busybox_trapped();
    let out = run(trapbox_run(&["--allow-read", "/usr", "--net", "all"], &busybox, &["sh", "-c", script]).current_dir(&dir));
    assert_eq!(out.stdout, "77\nguest-name\nother\n", "{out:?}");
    for refused in ["/proc/sys/vm/drop_caches", "/proc/sys/net/ipv4/ping_group_range"] {
        assert!(denials(&out).iter().any(|l| l.contains(refused)), "{refused}: {}", out.stderr);
    }
    assert_eq!(read("/proc/sys/kernel/msg_next_id"), host_next_id, "the host's IPC settings are untouched");
    assert_ne!(read("/proc/sys/kernel/hostname"), "guest-name\n");
}

/// A tmpfs is the guest's to mount on a directory of a write grant, in its own mount
/// namespace, and then to remount and unmount (while mounted, its mount point is busy, as
/// natively), and so is the propagation of any mount it sees; each is bounded as its /tmp is
/// (`--tmp-size`), and it holds at most 16; nothing else is: not outside the write
/// grants, not on /proc or a grant's own directory, not a bind mount, not the base
/// environment's mounts. Each refusal is logged; the host's mounts never change.
#[test]
fn a_tmpfs_is_the_guests_to_mount_in_a_write_grant_and_nothing_else() {
    let before = read("/proc/self/mountinfo");
    let dir = scratch_dir("isolation_mounts");
    std::fs::create_dir_all(dir.join("m")).unwrap();
    let script = "mount -t tmpfs -o size=1m scratch m && echo mounted; touch m/new; ls m; rmdir m 2>/dev/null || echo busy; grep -c ' m tmpfs\\| /m ' /proc/mounts >/dev/null; \
                  mount -o remount,ro m; touch m/later 2>/dev/null || echo read-only; umount m && echo unmounted; ls m; \
                  mount -t tmpfs none /etc 2>/dev/null || echo etc-refused; mount -t tmpfs none /proc/sys 2>/dev/null || echo proc-refused; \
                  mount -t tmpfs none . 2>/dev/null || echo grant-refused; mount --bind /usr m 2>/dev/null || echo bind-refused; \
                  umount /tmp 2>/dev/null || echo base-refused; umount m 2>/dev/null || echo not-mounted; \
                  mount --make-rprivate / && mount --make-shared /tmp && echo propagation; \
                  mount -t tmpfs -o size=100g,mode=755 big m && grep -o 'size=[0-9]*k' /proc/mounts | tail -1; umount m; \
                  i=0; while [ $i -lt 17 ]; do mkdir -p n$i; mount -t tmpfs none n$i 2>/dev/null || echo refused at $i; i=$((i+1)); done";
    let busybox = run_support::busybox_trapped();
    let grant = dir.to_str().unwrap();
    let out = run(trapbox_run(&["--allow-read", "/usr", "--allow-write", grant, "--tmp-size", "2M"], &busybox, &["sh", "-c", script]).current_dir(&dir));
    assert_eq!(
        out.stdout,
        "mounted\nnew\nbusy\nread-only\nunmounted\netc-refused\nproc-refused\ngrant-refused\nbind-refused\nbase-refused\nnot-mounted\npropagation\nsize=2048k\nrefused at 16\n",
        "{out:?}"
    );
    for why in ["/etc is not in a write grant", "is the kernel's or the base environment's", "which the host holds open", "bind mounts and moves are refused", "/tmp is a mount the guest did not make"] {
        assert!(denials(&out).iter().any(|l| l.contains(why)), "{why}: {}", out.stderr);
    }
    assert!(!dir.join("m/new").exists(), "the tmpfs held the file, not the grant");
    assert_eq!(read("/proc/self/mountinfo"), before, "no mount reached the host's mount namespace");
}

/// Keys are the guest's own: a session keyring of its own (the invoker's, inherited natively,
/// holds the invoker's keys) and the user keyring of its own user namespace. A request_key
/// that would run the host's /sbin/request-key as root is refused and logged.
#[test]
fn the_guest_has_keyrings_of_its_own() {
    let (plain, rewritten) = guest_pair("keys_probe.c");
    let description = format!("trapbox-test-{}", std::process::id());
    // A login-like session keyring holding the key, natively and around trapbox.
    let in_session = |argv: &[&str]| {
        let mut cmd = Command::new(&plain);
        cmd.args(["session", &description]).args(argv);
        cmd
    };
    let all_ok = "add_key session: ok\nkeyctl read session: ok payload\nadd_key user: ok\nkeyctl read user: ok payload\n";
    let native = run(&mut in_session(&[plain.to_str().unwrap(), "probe", &description]));
    assert_eq!(native.stdout, format!("{all_ok}the invoker's session key: ok\nrequest_key with callout: ENOENT\n"), "{native:?}");
    let trapbox = trapbox_tests::trapbox_bin();
    for program in [&plain, &rewritten] {
        let out = run(&mut in_session(&[trapbox.to_str().unwrap(), "run", "--allow-read", "/usr", "--", program.to_str().unwrap(), "probe", &description]));
        let expected = format!("{all_ok}the invoker's session key: ENOKEY\nrequest_key with callout: EPERM\n");
        assert_eq!((out.status, out.stdout.as_str()), (0, expected.as_str()), "{out:?}");
        assert!(denials(&out).iter().any(|l| l.contains("request_key(") && l.contains("/sbin/request-key")), "{}", out.stderr);
    }
}

/// The guest and trapbox itself copied where an unprivileged user can run them.
fn unprivileged_copies() -> (PathBuf, PathBuf) {
    let (plain, _) = guest_pair("ns_probe.c");
    run_support::unprivileged_copies(&scratch_dir("isolation_rootless"), &plain, &[])
}

/// Rootless: an unprivileged user gets the same namespaces (its own uid mapped to itself).
#[test]
fn an_unprivileged_user_gets_the_same_isolation() {
    if is_root() {
        let (host, guest) = unprivileged_copies();
        let mut victim = Command::new("sleep").arg("100").spawn().expect("sleep");
        let as_nobody = |args: &[&str]| {
            run(Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(&host)
                .args(["run", "--allow-read", "/usr", "--"])
                .arg(&guest)
                .args(args)
                .current_dir("/"))
        };
        let ids = as_nobody(&["ids"]);
        assert_eq!((ids.status, ids.stdout.as_str()), (0, "pid 2 ppid 1\n"), "{ids:?}");
        let reach = as_nobody(&["reach", &victim.id().to_string()]);
        assert!(reach.stdout.ends_with("kill: ESRCH\n"), "{reach:?}");
        assert!(victim.try_wait().expect("wait").is_none(), "the victim still runs");
        let _ = victim.kill();
        let _ = victim.wait();
        // The guest's own namespaces' files are its own here too, opened by init with the
        // unprivileged guest's credentials: the maps of a user namespace it made.
        let idmap = as_nobody(&["idmap"]);
        let expected = "unshare user and net: ok\nwrite /proc/self/setgroups: ok\nwrite /proc/self/uid_map: ok\n\
                        write /proc/self/gid_map: ok\nwrite /proc/sys/net/ipv4/ping_group_range: ok\nuid in the new namespace: 0\n";
        assert_eq!((idmap.status, idmap.stdout.as_str()), (0, expected), "{idmap:?}");
    } else {
        // Already unprivileged: the probe itself is the rootless case.
        for out in probe("none", &["ids"]) {
            assert_eq!(out.stdout, "pid 2 ppid 1\n", "{out:?}");
        }
    }
}

/// `program` as Command, run as nobody when the tests run as root (as the invoker otherwise).
fn as_unprivileged(program: &std::path::Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

/// The host is non-dumpable: while it runs a guest, another process of the same user (the
/// user its guests run as, seen from outside their namespaces) can neither read the host's
/// memory, maps or environment through /proc nor attach to it with ptrace, though the same
/// probe reaches an ordinary process of that user; and the host still traces its guest.
#[test]
fn another_process_of_the_same_user_cannot_read_or_trace_the_host() {
    use std::io::{BufRead, Write};
    let probe = {
        let _serial = run_support::fixture_lock();
        trapbox_tests::build_guest("reach_host.c", &["-O2"])
    };
    let (host, probe) = run_support::unprivileged_copies(&scratch_dir("isolation_undumpable"), &probe, &[]);
    let reach = |pid: u32| run(as_unprivileged(&probe).arg(pid.to_string()).current_dir("/"));

    // The control: an ordinary process of the user, once it runs `sleep` itself (setpriv is
    // non-dumpable between its uid change and the exec).
    let mut ordinary = as_unprivileged(std::path::Path::new("/bin/sleep")).arg("30").spawn().expect("sleep");
    let exe = format!("/proc/{}/exe", ordinary.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !std::fs::read_link(&exe).is_ok_and(|target| target.ends_with("sleep")) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let control = reach(ordinary.id());
    let _ = ordinary.kill();
    let _ = ordinary.wait();
    assert_eq!(control.stdout, "mem: open ok, read EIO\nmaps: open ok, read ok\nenviron: open ok, read ok\nptrace: ok\n", "{control:?}");

    let mut trapbox = as_unprivileged(&host)
        .args(["run", "--", "/bin/busybox", "sh", "-c", "echo started; read line; echo done $line"])
        .current_dir("/")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("trapbox");
    let mut stdout = std::io::BufReader::new(trapbox.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("the guest's first line");
    assert_eq!(first, "started\n");
    let attempt = reach(trapbox.id());
    trapbox.stdin.take().expect("stdin").write_all(b"x\n").expect("the guest's input");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("the guest's output");
    let status = trapbox.wait().expect("wait");
    assert_eq!(attempt.stdout, "mem: EACCES\nmaps: EACCES\nenviron: EACCES\nptrace: EPERM\n", "{attempt:?}");
    assert_eq!((status.code(), rest.as_str()), (Some(0), "done x\n"), "the guest ran to its end under the host");
}


/// `kill(0, …)` signals the caller's process group, which the guest shares with trapbox (the
/// terminal's job): the kernel would deliver it to the host too, across the PID namespace. The
/// host signals the group's guest processes itself and survives to report the guest's death;
/// the guest's background child gets the signal as it would natively.
#[test]
fn a_signal_to_the_own_process_group_reaches_the_guests_not_the_host() {
    let dir = scratch_dir("isolation_kill0");
    let started = std::time::Instant::now();
    let out = run(&mut trapbox_run(&["--allow-read", "/usr", "--wait-all"], &trapbox_tests::busybox(), &["sh", "-c", "sleep 30 & kill -USR1 0; echo alive"])
        .current_dir(&dir));
    // With --wait-all trapbox waits for every guest process (by default the background sleep
    // would be killed with the program): had the sleep missed the signal, this would take
    // its 30 s.
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "the background child outlived the signal");
    assert_eq!(out.status, 128 + libc_sigusr1(), "{out:?}");
    assert!(out.stderr.contains("trapbox: guest killed by SIGUSR1"), "the host reported the death: {}", out.stderr);
    assert!(!out.stdout.contains("alive"), "{out:?}");
}

fn libc_sigusr1() -> i32 {
    10
}

/// A pidfd can come from opening a /proc/PID directory too: such a directory of a process
/// outside the guest does not exist for it (in the guest's own /proc the kernel says so; bare,
/// in the host's, the host never opens one and logs it), and a signal through any pidfd is
/// performed by the host on its own duplicate of the fd, for guest processes only.
#[test]
fn a_pidfd_of_a_process_outside_the_guest_cannot_signal_it() {
    let mut victim = Command::new("sleep").arg("100").spawn().expect("sleep");
    let proc_dir = format!("/proc/{}", victim.id());
    let (plain, rewritten) = guest_pair("ns_probe.c");
    for program in [&plain, &rewritten] {
        for bare in [false, true] {
            let mut flags = vec!["--allow-read", "/usr", "--allow-read", "/proc"];
            if bare {
                flags.push("--bare");
            }
            let out = run(trapbox_run(&flags, program, &["pidfd", &proc_dir]).current_dir(scratch_dir("isolation_pidfd")));
            assert_eq!(out.stdout, format!("open {proc_dir}: ENOENT\n"), "{out:?}");
            if bare {
                assert!(out.stderr.contains("does not exist in the guest's PID namespace"), "logged: {}", out.stderr);
            }
        }
        let own = run(trapbox_run(&["--allow-read", "/usr"], program, &["pidfd-child"]).current_dir(scratch_dir("isolation_pidfd_child")));
        assert_eq!(own.stdout, "pidfd_open: ok\npidfd_send_signal: ok\nchild: terminated\n", "{own:?}");
        // The guest's own /proc names its child by the number fork returned; a signal through
        // that directory reaches the child (the host finds it by its PID-namespace number).
        let own = run(trapbox_run(&["--allow-read", "/usr"], program, &["procfd-child"]).current_dir(scratch_dir("isolation_procfd_child")));
        assert_eq!(own.stdout, "open /proc/CHILD: ok\npidfd_send_signal: ok\nchild: terminated\n", "{own:?}");
    }
    assert!(victim.try_wait().expect("wait").is_none(), "the victim still runs");
    let _ = victim.kill();
    let _ = victim.wait();
}
