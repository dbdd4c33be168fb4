//! Calls that take a request code (ioctl, fcntl, setsockopt, prctl) and the network calls the
//! host decides beyond addresses (listen, netlink sends): each attempt is decoded at the
//! kernel's width (an `int` is its low 32 bits), must fail under a policy, is logged as a
//! `trapbox: denied` line naming the request, and leaves the evidence unchanged; ordinary use
//! still works like native. The probe is `tests/guests/requests.c`; most attempts run both
//! unrewritten (every call meets the seccomp backstop) and rewritten (calls made through
//! `syscall(2)` stay traps the host decides).

mod run_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use run_support::{denials, guest_pair, trapbox_run};
use trapbox_tests::{run, scratch_dir, Outcome};

/// The probe, unrewritten and rewritten.
fn probes() -> [PathBuf; 2] {
    let (plain, rewritten) = guest_pair("requests.c");
    [plain, rewritten]
}

/// Runs the probe with `args` under `--allow-read /usr --allow-write <scratch>` plus `flags`,
/// in the scratch directory.
fn probe(program: &Path, test: &str, flags: &[&str], args: &[&str]) -> (Outcome, PathBuf) {
    let dir = scratch_dir(test);
    let mut all = vec!["--allow-read", "/usr", "--allow-write", dir.to_str().expect("utf-8 path")];
    all.extend_from_slice(flags);
    (run(trapbox_run(&all, program, args).current_dir(&dir)), dir)
}

/// Asserts that `out` printed each of `lines` (whole lines).
fn assert_lines(out: &Outcome, lines: &[&str]) {
    for line in lines {
        assert!(out.stdout.lines().any(|l| l == *line), "missing {line:?} in:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    }
}

/// Asserts that some denial line contains every one of `parts`.
fn assert_denied(out: &Outcome, parts: &[&str]) {
    assert!(
        denials(out).iter().any(|l| parts.iter().all(|p| l.contains(p))),
        "no denial with {parts:?} in:\n{}",
        out.stderr
    );
}

const PTY: [&str; 4] = ["--allow-write", "/dev/ptmx", "--allow-write", "/dev/pts"];

#[test]
fn tiocsti_with_high_bits_cannot_type_into_a_terminal() {
    for program in probes() {
        let (out, _) = probe(&program, "requests_tiocsti", &PTY, &["pty"]);
        assert_lines(&out, &["tcsetattr raw: ok", "tiocsti (high bits): EPERM", "tiocsti: EPERM", "typed into the terminal: 0"]);
        assert_denied(&out, &["ioctl(", "0x100005412", "TIOCSTI (0x5412) is never allowed"]);
    }
}

#[test]
fn line_discipline_changes_and_hangups_are_refused_while_pty_allocation_works() {
    let [plain, _] = probes();
    let (out, _) = probe(&plain, "requests_ldisc", &PTY, &["pty"]);
    // posix_openpt, grantpt (TIOCGPTN), unlockpt (TIOCSPTLCK), termios and window size work.
    assert_lines(&out, &["openpt: ok", "grantpt: ok", "unlockpt: ok", "open slave: ok", "tcgetattr: ok", "isatty: ok"]);
    assert_lines(&out, &["set winsize (high bits in fd and request): ok", "winsize: 33x99"]);
    assert_lines(&out, &["tiocsetd: EPERM", "tiocvhangup: EPERM"]);
    assert_denied(&out, &["TIOCSETD (0x5423) is never allowed"]);
    assert_denied(&out, &["TIOCVHANGUP (0x5437) is never allowed"]);
}

/// A filter handing getppid to a listener, with and without high bits in the option: judged
/// the same (at the kernel's width), refused both ways.
#[test]
fn prctl_seccomp_with_high_bits_is_judged_as_the_kernel_reads_it() {
    for program in probes() {
        let (out, _) = probe(&program, "requests_prctl_seccomp", &[], &["prctl"]);
        // Natively the filter would make getppid fail (ENOSYS, no listener): "later call" proves none.
        assert_lines(&out, &["seccomp (high bits): EPERM", "seccomp: EPERM", "later call: ok"]);
        assert_denied(&out, &["prctl(22 (register 0x100000016)", "hands calls to a listener (SECCOMP_RET_USER_NOTIF)"]);
    }
    // Unconfined too (the trap debugger's own invariant), without a policy to log it.
    let [plain, _] = probes();
    let out = run(trapbox_run(&[], &plain, &["prctl"]).current_dir(scratch_dir("requests_prctl_unconfined")));
    assert_lines(&out, &["seccomp (high bits): EPERM", "seccomp: EPERM", "syscall user dispatch (high bits): EPERM", "later call: ok"]);
}

#[test]
fn syscall_user_dispatch_is_refused() {
    for program in probes() {
        let (out, _) = probe(&program, "requests_sud", &[], &["prctl"]);
        // Natively the guest would die of SIGSYS at its next call.
        assert_eq!(out.status, 0, "{out:?}");
        assert_lines(&out, &["syscall user dispatch: EPERM", "syscall user dispatch (high bits): EPERM", "later call: ok"]);
        assert_denied(&out, &["PR_SET_SYSCALL_USER_DISPATCH (59) is never allowed"]);
    }
}

#[test]
fn prctl_is_an_allow_list_at_the_width_of_an_int() {
    let [plain, _] = probes();
    let (out, _) = probe(&plain, "requests_prctl_list", &[], &["prctl"]);
    assert_lines(&out, &["set mm: EPERM", "ambient raise: EPERM", "ambient clear: ok", "unknown option: EINVAL"]);
    assert_lines(&out, &["set name (high bits): ok", "name: renamed", "no new privs: ok", "dumpable: 1"]);
    assert_denied(&out, &["PR_SET_MM (35) is never allowed"]);
    assert_denied(&out, &["PR_CAP_AMBIENT (47) with operation 2"]);
    assert_denied(&out, &["prctl option 30583 is not on the allow-list"]);
}

/// The kernel's own answer, which the host knows from the kind of fd: no denial, no line
/// (bash asks whatever stderr is for its terminal's process group).
#[test]
fn a_terminal_request_on_a_socket_gets_the_kernels_enotty_without_a_denial() {
    let [plain, _] = probes();
    let (out, _) = probe(&plain, "requests_tty_on_socket", &[], &["ioctl", "f"]);
    assert_lines(&out, &["set winsize on a socket: ENOTTY"]);
    assert!(!denials(&out).iter().any(|l| l.contains("for a socket")), "{}", out.stderr);
}

#[test]
fn a_negative_fd_is_decoded_as_an_int() {
    for program in probes() {
        let (out, _) = probe(&program, "requests_negative_fd", &[], &["ioctl", "f"]);
        assert_lines(&out, &["set winsize on fd -1: EBADF", "set winsize on fd -1 (high bits): EBADF"]);
        assert_denied(&out, &["ioctl(-1,", "on fd -1, which is not open"]);
    }
}

#[test]
fn file_flags_cannot_be_made_append_only_or_immutable_in_a_write_grant() {
    for program in probes() {
        let (out, dir) = probe(&program, "requests_setflags", &[], &["ioctl", "f"]);
        assert_lines(&out, &["open file: ok", "FS_IOC_GETFLAGS: ok"]);
        assert_lines(&out, &["FS_IOC_SETFLAGS append-only: EPERM", "FS_IOC_SETFLAGS append-only (high bits): EPERM", "FS_IOC_SETFLAGS immutable: EPERM"]);
        assert_lines(&out, &["append-only or immutable: no", "FIOCLEX: ok", "FIONCLEX (high bits): ok"]);
        assert_denied(&out, &["ioctl request FS_IOC_SETFLAGS (0x40086602) is never allowed"]);
        // Evidence outside the sandbox: the file can still be rewritten from the start.
        std::fs::write(dir.join("f"), "rewritten\n").expect("the file is neither append-only nor immutable");
    }
}

#[test]
fn file_systems_cannot_be_frozen_or_shut_down() {
    // On a tmpfs only: natively FIFREEZE there fails with EOPNOTSUPP, so a broken check could
    // never freeze a file system the machine needs (the probe checks the magic too).
    let shm = Path::new("/dev/shm");
    let is_tmpfs = std::fs::read_to_string("/proc/mounts").is_ok_and(|m| m.lines().any(|l| l.starts_with("tmpfs /dev/shm ")));
    if !is_tmpfs {
        eprintln!("skipped: /dev/shm is not a tmpfs here");
        return;
    }
    let dir = shm.join(format!("trapbox-freeze-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let [plain, rewritten] = probes();
    for program in [plain, rewritten] {
        let d = dir.to_str().unwrap();
        let out = run(trapbox_run(&["--allow-read", "/usr", "--allow-write", d], &program, &["freeze", d]).current_dir(&dir));
        assert_lines(&out, &["open dir: ok", "FIFREEZE: EPERM", "FIFREEZE (high bits): EPERM", "FITHAW: EPERM", "FS_IOC_SHUTDOWN: EPERM"]);
        assert_denied(&out, &["FIFREEZE (0xc0045877) is never allowed"]);
        assert_denied(&out, &["FS_IOC_SHUTDOWN (0x8004587d) is never allowed"]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn network_configuration_ioctls_are_refused_and_queries_answered() {
    let [plain, _] = probes();
    let (out, _) = probe(&plain, "requests_siocs", &[], &["ioctl", "f"]);
    assert_lines(&out, &["SIOCGIFINDEX lo: ok", "lo index: 1", "SIOCGIFMTU lo: ok", "SIOCSIFMTU lo: EPERM"]);
    assert_denied(&out, &["SIOCSIFMTU (0x8922) is never allowed"]);
}

#[test]
fn unknown_ioctls_are_refused_and_logged() {
    let [plain, _] = probes();
    let (out, _) = probe(&plain, "requests_unknown_ioctl", &[], &["ioctl", "f"]);
    assert_lines(&out, &["unknown request: ENOTTY", "TCGETS on a file: ENOTTY", "tiocsti on a file (high bits): EPERM"]);
    assert_denied(&out, &["ioctl request 0x12345678 is not on the allow-list for a regular file"]);
}

/// Whether /proc/locks lists a lease on inode `inode`.
fn lease_on(inode: u64) -> bool {
    let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    locks.lines().any(|l| l.contains("LEASE") && l.split_whitespace().any(|f| f.rsplit(':').next() == Some(&inode.to_string())))
}

#[test]
fn a_lease_on_a_file_the_guest_may_only_read_cannot_block_writers_outside_the_sandbox() {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let [plain, _] = probes();
    let dir = scratch_dir("requests_lease");
    let file = dir.join("leased");
    std::fs::write(&file, "data\n").unwrap();
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let (f, o) = (file.to_str().unwrap(), out_dir.to_str().unwrap());
    let child = trapbox_run(&["--allow-read", f, "--allow-write", o], &plain, &["lease", f, o])
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let ready = out_dir.join("ready");
    for _ in 0..1000 {
        if ready.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(ready.exists(), "the probe never got ready");
    // While the guest holds the file open: no lease in the kernel, and a native writer opens
    // it at once (with a read lease, a non-blocking open for writing fails with EWOULDBLOCK).
    let inode = std::fs::metadata(&file).unwrap().ino();
    let leased = lease_on(inode);
    const O_NONBLOCK: i32 = 0o4000;
    let writer = std::fs::OpenOptions::new().write(true).custom_flags(O_NONBLOCK).open(&file);
    std::fs::write(out_dir.join("done"), "").unwrap();
    let output = child.wait_with_output().unwrap();
    let out = Outcome {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(!leased, "a lease was taken: {out:?}");
    assert!(writer.is_ok(), "a native writer was blocked: {writer:?}");
    assert_lines(&out, &["open read-only: ok", "F_SETLEASE read: EACCES", "F_SETLEASE read (high bits): EACCES", "lease held: no"]);
    assert_denied(&out, &["fcntl(", "(behind fd 3) is not granted write"]);
    assert_denied(&out, &["fcntl(", "0x100000400", "(behind fd 3) is not granted write"]);
}

/// On a file in a write grant (which the guest could change anyway) a lease is the kernel's,
/// as natively: the host takes it on its duplicate of the guest's fd, with the guest's
/// credentials. Directory notifications (a signal, no names) run natively; an owner given
/// through memory (`F_SETOWN_EX`) is allowed in the guest's own PID namespace, where it can
/// name only guest processes, and refused without one.
#[test]
fn leases_notifications_and_owners_of_the_guests_own() {
    let [plain, _] = probes();
    let dir = scratch_dir("requests_notify");
    std::fs::write(dir.join("leased"), "data\n").unwrap();
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::write(dir.join("out/done"), "").unwrap(); // no waiting
    let native = run(Command::new(&plain).args(["lease", "leased", "out"]).current_dir(&dir));
    let expected = ["F_SETLEASE read: ok", "lease held: yes", "F_NOTIFY: ok", "F_SETOWN_EX: ok", "unknown command: EINVAL"];
    assert_lines(&native, &expected);
    let out = run(trapbox_run(&["--allow-write", "."], &plain, &["lease", "leased", "out"]).current_dir(&dir));
    assert_lines(&out, &expected);
    assert_lines(&out, &["F_SETOWN init: EPERM"]);
    assert_denied(&out, &["fcntl(", "process 1 is trapbox's init, not part of the guest"]);
    assert_denied(&out, &["fcntl command 30583 is not on the allow-list"]);
    let out = run(trapbox_run(&["--allow-write", ".", "--no-namespaces"], &plain, &["lease", "leased", "out"]).current_dir(&dir));
    assert_lines(&out, &["F_SETLEASE read: ok", "F_NOTIFY: ok", "F_SETOWN_EX: EINVAL"]);
    assert_denied(&out, &["F_SETOWN_EX (15) is refused"]);
    assert!(!out.stderr.contains("prlimit64("), "pid 0 is the caller itself: {}", out.stderr);
}

#[test]
fn binding_to_a_device_is_refused_below_net_all() {
    for program in probes() {
        let (out, _) = probe(&program, "requests_bindtodevice", &["--net", "loopback"], &["sockopt"]);
        assert_lines(&out, &["SO_BINDTODEVICE lo: EPERM", "SO_BINDTODEVICE lo (high bits): EPERM", "bound to device: ''"]);
        assert_denied(&out, &["setsockopt(", "0x100000019", "SO_BINDTODEVICE (SOL_SOCKET, 25)", "needs --net all"]);
    }
}

#[test]
fn ip_options_cannot_source_route_a_loopback_datagram() {
    for program in probes() {
        let (out, _) = probe(&program, "requests_ip_options", &["--net", "loopback"], &["sockopt"]);
        assert_lines(&out, &["IP_OPTIONS source route: EPERM", "IP_OPTIONS source route (high bits): EPERM", "ip options set: 0 bytes"]);
        assert_denied(&out, &["IP_OPTIONS (IPPROTO_IP, 4) steers packets beyond the socket"]);
    }
    // --net all grants the network: the host lets the option through, and the kernel decides.
    // A source route needs CAP_NET_RAW over the network namespace, which a guest (root in its
    // own user namespace only) does not hold over the host's; with --no-namespaces it does.
    let [plain, _] = probes();
    let (out, _) = probe(&plain, "requests_ip_options_all", &["--net", "all"], &["sockopt"]);
    assert_lines(&out, &["IP_OPTIONS source route: EPERM", "ip options set: 0 bytes"]);
    assert!(!out.stderr.contains("IP_OPTIONS (IPPROTO_IP, 4)"), "the host did not refuse it: {}", out.stderr);
    let (out, _) = probe(&plain, "requests_ip_options_all_host", &["--no-namespaces", "--net", "all"], &["sockopt"]);
    assert_lines(&out, &["IP_OPTIONS source route: ok", "ip options set: 8 bytes"]);
}

#[test]
fn socket_filters_marks_and_transparent_proxying_are_never_allowed() {
    let [plain, _] = probes();
    for net in ["loopback", "all"] {
        let (out, _) = probe(&plain, &format!("requests_filters_{net}"), &["--net", net], &["sockopt"]);
        assert_lines(&out, &["SO_MARK: EPERM", "IP_TRANSPARENT: EPERM", "SO_ATTACH_FILTER: EPERM", "unknown option: ENOPROTOOPT"]);
        assert_denied(&out, &["SO_ATTACH_FILTER (SOL_SOCKET, 26) is never allowed"]);
        assert_denied(&out, &["socket option SOL_SOCKET 9999 is not on the allow-list"]);
    }
}

#[test]
fn listen_on_an_unbound_socket_is_refused_under_loopback() {
    for program in probes() {
        let (out, _) = probe(&program, "requests_listen", &["--net", "loopback"], &["listen"]);
        // Natively the kernel binds it to 0.0.0.0 and a random port, reachable from any host.
        assert_lines(&out, &["listen unbound: EACCES", "name: 0.0.0.0:0"]);
        assert_lines(&out, &["bind loopback: ok", "listen bound: ok", "name: 127.0.0.1", "connect: ok"]);
        assert_denied(&out, &["listen(", "bound to 0.0.0.0:0 would accept connections from other hosts"]);
    }
}

/// The addresses of `lo`, as `ip` shows them.
fn loopback_addresses() -> String {
    let out = std::process::Command::new("ip").args(["-o", "addr", "show", "lo"]).output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
}

#[test]
fn route_netlink_answers_queries_and_refuses_changes() {
    let before = loopback_addresses();
    for program in probes() {
        let (out, _) = probe(&program, "requests_netlink", &["--net", "loopback"], &["netlink"]);
        let after = loopback_addresses();
        if after.contains("127.0.0.213") {
            let _ = std::process::Command::new("ip").args(["addr", "del", "127.0.0.213/32", "dev", "lo"]).status();
        }
        assert!(!after.contains("127.0.0.213"), "the guest added an address to lo:\n{after}\n{out:?}");
        assert_lines(&out, &["route netlink socket: ok", "RTM_NEWADDR by sendto: EPERM", "RTM_NEWADDR by sendmsg: EPERM"]);
        assert_lines(&out, &["RTM_GETLINK then RTM_NEWADDR in one send: EPERM", "RTM_GETLINK to another process: EACCES", "sendmmsg: EINVAL"]);
        assert_lines(&out, &["RTM_GETLINK dump: ok", "dump reply: links", "getifaddrs sees lo: yes", "xfrm netlink socket: EACCES"]);
        assert_denied(&out, &["sendto(", "netlink message RTM_NEWADDR (20) is not a read-only route query"]);
        assert_denied(&out, &["sendmsg(", "netlink message RTM_NEWADDR (20) is not a read-only route query"]);
        assert_denied(&out, &["socket(", "only NETLINK_ROUTE netlink sockets are granted"]);
    }
    assert_eq!(before.contains("127.0.0.213"), loopback_addresses().contains("127.0.0.213"));
}

#[test]
fn ordinary_fcntl_matches_native() {
    let [plain, _] = probes();
    let dir = scratch_dir("requests_fcntl");
    let native = run(std::process::Command::new(&plain).args(["fcntl", "native"]).current_dir(&dir));
    assert_eq!(native.status, 0, "{native:?}");
    for program in probes() {
        let (out, _) = probe(&program, "requests_fcntl_trapped", &[], &["fcntl", "trapped"]);
        assert_eq!(out.stdout, native.stdout, "{}", out.stderr);
        assert!(denials(&out).is_empty(), "{}", out.stderr);
        assert_lines(&out, &["F_SETLK: ok", "F_OFD_SETLK: ok", "nonblocking: yes", "pipe size: 65536", "owner is self: yes"]);
    }
}

#[test]
fn ordinary_socket_options_work_natively_and_through_the_host() {
    for program in probes() {
        let (out, _) = probe(&program, "requests_ordinary_sockopt", &["--net", "loopback"], &["sockopt"]);
        assert_lines(&out, &["SO_REUSEADDR: ok", "SO_BROADCAST: ok", "IP_TOS: ok", "SO_RCVTIMEO: ok", "TCP_NODELAY: ok", "TCP_KEEPIDLE: ok"]);
    }
}

#[test]
fn a_busybox_shell_on_a_terminal_matches_native() {
    let [plain, _] = probes();
    let busybox = trapbox_tests::busybox();
    let bb = busybox.to_str().unwrap();
    let script = "stty -a | head -3; stty size; tty >/dev/null && echo on-a-tty; ls /usr | head -3";
    let args = ["onpty", bb, "sh", "-c", script];
    let dir = scratch_dir("requests_busybox_pty");
    let native = run(std::process::Command::new(&plain).args(args).current_dir(&dir));
    let mut flags = vec!["--allow-exec", bb, "--allow-read", "/usr", "--allow-write", dir.to_str().unwrap()];
    flags.extend(PTY);
    let out = run(trapbox_run(&flags, &plain, &args).current_dir(&dir));
    assert!(native.stdout.contains("rows 33; columns 99"), "{native:?}");
    assert_eq!(out.stdout, native.stdout, "{}", out.stderr);
}

#[test]
fn python_sets_reuseaddr_and_nodelay_on_loopback() {
    let python = Path::new("/usr/bin/python3");
    if !python.exists() {
        eprintln!("skipped: no /usr/bin/python3");
        return;
    }
    let script = "import socket\n\
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
        s.bind(('127.0.0.1', 0)); s.listen(1)\n\
        c = socket.create_connection(s.getsockname())\n\
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n\
        c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)\n\
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 5)\n\
        a, _ = s.accept(); c.sendall(b'ping')\n\
        print(a.recv(4).decode(), c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0, s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0)\n";
    let dir = scratch_dir("requests_python");
    let native = run(std::process::Command::new(python).args(["-S", "-c", script]).current_dir(&dir));
    let out = run(trapbox_run(&["--allow-read", "/usr", "--net", "loopback"], python, &["-S", "-c", script]).current_dir(&dir));
    assert_eq!((out.status, out.stdout.as_str()), (0, "ping True True\n"), "{}", out.stderr);
    assert_eq!(out.stdout, native.stdout);
    assert!(!denials(&out).iter().any(|l| l.contains("setsockopt") || l.contains("listen")), "{}", out.stderr);
}
