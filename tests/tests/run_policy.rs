//! The policy: grants from flags and files, the host's denials with their log line, the
//! kernel's Landlock layer underneath, limits, environment and working directory.

mod run_support;

use std::path::Path;
use std::process::Command;

use run_support::{busybox_trapped, denials, guest_pair, trapbox_run};
use trapbox_tests::{busybox, run, scratch_dir, Outcome};

const GPL: &str = "/usr/share/common-licenses/GPL-3";

#[test]
fn the_issue_example_copies_and_refuses_shadow_with_one_log_line() {
    let dir = scratch_dir("policy_issue_example");
    std::fs::create_dir(dir.join("out")).unwrap();
    let out = run(trapbox_run(
        &["--allow-read", "/usr/share", "--allow-write", "./out"],
        &busybox_trapped(),
        &["sh", "-c", &format!("cp {GPL} out/ && cat /etc/shadow")],
    )
    .current_dir(&dir));
    assert_eq!(std::fs::read(dir.join("out/GPL-3")).unwrap(), std::fs::read(GPL).unwrap(), "the copy works");
    assert_eq!(out.status, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("cat: can't open '/etc/shadow': No such file or directory"), "{}", out.stderr);
    assert_eq!(
        denials(&out),
        ["trapbox: denied openat(AT_FDCWD, \"/etc/shadow\", O_RDONLY): /etc/shadow is outside every allowed path (reported as absent)"],
        "{}",
        out.stderr
    );
}

#[test]
fn writes_beneath_a_read_grant_and_exec_outside_are_refused_and_explained() {
    let dir = scratch_dir("policy_write_exec");
    let out = run(trapbox_run(&["--allow-read", "/usr/share"], &busybox_trapped(), &["touch", "/usr/share/trapbox-denied"]).current_dir(&dir));
    assert_ne!(out.status, 0);
    assert!(!Path::new("/usr/share/trapbox-denied").exists());
    assert!(
        denials(&out).iter().any(|l| l.ends_with("/usr/share/trapbox-denied needs write access, but /usr/share is granted read only")),
        "{}",
        out.stderr
    );
    let out = run(trapbox_run(&["--allow-read", "/usr"], &busybox_trapped(), &["sh", "-c", "/usr/bin/id"]).current_dir(&dir));
    assert_eq!(out.status, 126, "{out:?}");
    assert!(denials(&out).iter().any(|l| l.contains("execve(\"/usr/bin/id\"") && l.contains("needs exec access")), "{}", out.stderr);
}

#[test]
fn symlinks_and_proc_magic_links_resolve_to_what_they_name() {
    let dir = scratch_dir("policy_symlinks");
    std::fs::create_dir(dir.join("out")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", dir.join("out/abs")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../../../etc/shadow", dir.join("out/rel")).unwrap();
    for path in ["out/abs", "out/rel", "/proc/self/root/etc/shadow", "out/../../../../../../../../../etc/shadow"] {
        let out = run(trapbox_run(&["--allow-write", "./out"], &busybox_trapped(), &["cat", path]).current_dir(&dir));
        assert_eq!(out.status, 1, "{path}: {out:?}");
        assert!(out.stderr.contains("No such file or directory"), "{path}: outside every grant, the file does not exist: {}", out.stderr);
        assert!(denials(&out).iter().any(|l| l.contains("/etc/shadow is outside every allowed path")), "{path}: {}", out.stderr);
    }
}

/// What `tests/guests/path_race.c` saw: whether its race happened (the allowed path was used
/// and the forbidden one checked and refused, each at least ten times: the guest goes on past
/// its rounds until then, or a bound) and how often each outcome came.
#[derive(Debug)]
struct Race {
    observed: bool,
    succeeded: u32,
    refused: u32,
    leaked: u32,
}

impl Race {
    /// The guest's verdict, checked against its counts.
    fn seen(&self) -> bool {
        assert_eq!(self.observed, self.succeeded >= 10 && self.refused >= 10, "{self:?}");
        self.observed
    }
}

fn race_report(out: &Outcome) -> Race {
    let line = out.stdout.lines().find(|l| l.starts_with("race ")).unwrap_or_else(|| panic!("no race report: {out:?}"));
    let count = |name: &str| -> u32 {
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words.iter().position(|w| *w == name).unwrap_or_else(|| panic!("no {name} in {line:?}"));
        words[at + 1].parse().unwrap_or_else(|_| panic!("{name} in {line:?}"))
    };
    Race { observed: line.starts_with("race observed after "), succeeded: count("succeeded"), refused: count("refused"), leaked: count("leaked") }
}

/// A second thread rewriting the path between the host's check and the kernel's use never
/// gets /etc/shadow opened: Landlock checks the file the kernel resolves. The guest goes on
/// until it has seen the race (both paths used, see [`Race`]), so the test never passes on a
/// run where the racing thread did not get in.
#[test]
fn a_racing_thread_cannot_swap_the_path_after_the_check() {
    let dir = scratch_dir("policy_race");
    // A directory outside every grant and off the way to one (the working directory is the
    // base's), to chdir into.
    let outside = scratch_dir("policy_race_outside");
    let outside = outside.to_str().expect("utf-8 path");
    let (plain, rewritten) = guest_pair("path_race.c");
    // open: directfs opens the host's copy. O_PATH opens run in the kernel, which Landlock
    // does not restrict: only the pinned copy of the path keeps the check honest. With
    // --audit, chdir and stat are decided by the host too (stat of /usr, a directory above
    // the grant, answered by the kernel on the pinned copy); without it the kernel answers
    // them in the guest's grants-only root, where the forbidden path does not exist: no
    // check to race, and no line.
    let cases = [
        ("open", GPL, "/etc/shadow", "3000", true),
        ("opath", GPL, "/etc/shadow", "8000", true),
        // (/etc leads to the base's files there, and the scratch directories' parents to the
        // working directory: each may be looked at, so chdir'ed into.)
        ("chdir", "/usr/share", outside, "8000", false),
        ("stat", "/usr", "/etc/shadow", "8000", false),
    ];
    for program in [plain, rewritten] {
        for (mode, allowed, forbidden, rounds, host_decides) in cases {
            for audit in [true, false] {
                let flags: &[&str] = if audit { &["--audit", "--allow-read", "/usr/share"] } else { &["--allow-read", "/usr/share"] };
                let out = run(trapbox_run(flags, &program, &[mode, allowed, forbidden, rounds]).current_dir(&dir));
                assert_eq!(out.status, 0, "{mode}: {out:?}");
                let race = race_report(&out);
                assert!(race.seen(), "{mode} {} (audit {audit}): the race was not observed within the bound: {}", program.display(), out.stdout);
                assert_eq!(race.leaked, 0, "{mode} {} (audit {audit}): {}", program.display(), out.stdout);
                let logged = out.stderr.contains(&format!("{forbidden} is outside every allowed path"));
                assert_eq!(logged, audit || host_decides, "{mode} (audit {audit}): the host's refusals are logged: {}", out.stderr);
            }
        }
    }
}

#[test]
fn a_policy_file_loads_prints_and_reports_errors_with_line_and_column() {
    let dir = scratch_dir("policy_file");
    std::fs::create_dir(dir.join("out")).unwrap();
    std::fs::write(dir.join("p.toml"), "allow_read = [\"/usr/share\"]\nallow_write = [\"out\"]\n[limits]\nprocesses = 32\n").unwrap();
    let out = run(trapbox_run(&["--policy", "p.toml", "--print-policy"], &busybox_trapped(), &["true"]).current_dir(&dir));
    assert_eq!(out.status, 0, "{out:?}");
    let out_dir = dir.join("out").canonicalize().unwrap();
    assert!(out.stdout.contains(&format!("\"{}\",  # policy file p.toml", out_dir.display())), "{}", out.stdout);
    assert!(out.stdout.contains("\"/usr/share\",  # policy file p.toml"), "{}", out.stdout);
    assert!(out.stdout.contains("# startup: the program"), "{}", out.stdout);
    assert!(out.stdout.contains("processes = 32"), "{}", out.stdout);
    assert!(out.stdout.contains("# base: mounted in the guest's own mount namespace: /proc (proc of the guest's own PID namespace"), "{}", out.stdout);
    // Where the guest has no /proc of its own, the base lets each process read its own files.
    let hostns = run(trapbox_run(&["--policy", "p.toml", "--print-policy", "--no-namespaces"], &busybox_trapped(), &["true"]).current_dir(&dir));
    assert!(hostns.stdout.contains("# base: always readable by each guest process: its own /proc/self/{auxv,cmdline,"), "{}", hostns.stdout);
    assert!(!hostns.stdout.contains("# base: mounted"), "{}", hostns.stdout);

    let out = run(trapbox_run(&["--policy", "p.toml"], &busybox_trapped(), &["sh", "-c", &format!("cp {GPL} out/x && cat out/x | wc -l")]).current_dir(&dir));
    assert_eq!((out.status, out.stdout.trim()), (0, "674"), "{out:?}");

    std::fs::write(dir.join("bad.toml"), "allow_read = [\"/usr\"]\nallow_wirte = []\n").unwrap();
    let out = run(trapbox_run(&["--policy", "bad.toml"], &busybox_trapped(), &["true"]).current_dir(&dir));
    assert_eq!(out.status, 125, "{out:?}");
    assert!(out.stderr.contains("bad.toml") && out.stderr.contains("line 2, column 1") && out.stderr.contains("allow_wirte"), "{}", out.stderr);
}

#[test]
fn a_dynamically_linked_program_gets_its_loader_and_libraries_visibly() {
    let dir = scratch_dir("policy_dynamic");
    let out = run(trapbox_run(&["--allow-read", "/etc/hostname", "--print-policy"], Path::new("/usr/bin/cat"), &["/etc/hostname"]).current_dir(&dir));
    assert!(out.stdout.contains("startup: the dynamic loader of the dynamically linked /usr/bin/cat"), "{}", out.stdout);
    let out = run(trapbox_run(&["--allow-read", "/etc/hostname"], Path::new("/usr/bin/cat"), &["/etc/hostname"]).current_dir(&dir));
    assert_eq!((out.status, out.stdout.as_str()), (0, std::fs::read_to_string("/etc/hostname").unwrap().as_str()), "{out:?}");
}

#[test]
fn a_script_gets_its_interpreter_and_the_interpreters_loader_visibly() {
    let dir = scratch_dir("policy_script");
    let script = dir.join("hello.sh");
    std::fs::write(&script, "#!/bin/sh\necho \"hello from $0\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = run(trapbox_run(&["--print-policy"], &script, &[]).current_dir(&dir));
    assert!(out.stdout.contains(&format!("startup: the interpreter of {}", script.display())), "{}", out.stdout);
    assert!(out.stdout.contains("startup: the dynamic loader of the dynamically linked /bin/sh"), "{}", out.stdout);
    let out = run(trapbox_run(&["--allow-read", "/usr"], &script, &[]).current_dir(&dir));
    assert_eq!((out.status, out.stdout.clone()), (0, format!("hello from {}\n", script.display())), "{out:?}");
}

#[test]
fn limits_processes_memory_and_wall_time() {
    let dir = scratch_dir("policy_limits");
    let bomb = "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 1 & done; wait; echo done";
    let out = run(trapbox_run(&["--limit-processes", "4"], &busybox_trapped(), &["sh", "-c", bomb]).current_dir(&dir));
    assert!(denials(&out).iter().any(|l| l.contains("(limit 4)")), "{out:?}");
    assert!(out.stderr.contains("can't fork"), "{}", out.stderr);

    let out = run(trapbox_run(&["--limit-memory", "64M"], &busybox_trapped(), &["dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"]).current_dir(&dir));
    assert_ne!(out.status, 0, "{out:?}");
    assert!(out.stderr.contains("dd: out of memory"), "{}", out.stderr);

    let started = std::time::Instant::now();
    let out = run(trapbox_run(&["--limit-wall", "1s"], &busybox_trapped(), &["sh", "-c", "sleep 30 & sleep 30"]).current_dir(&dir));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "the wall-time limit did not stop the guest");
    assert_eq!(out.status, 137, "{out:?}");
    assert!(out.stderr.contains("wall time limit of 1.0s reached"), "{}", out.stderr);

    // The open-files limit binds the guest exactly as natively (the host's set-up fds and its
    // pinned region do not count against it).
    for limit in ["4", "5"] {
        let script = "echo hi; ls / | head -1";
        let native = run(Command::new("/bin/sh").args(["-c", &format!("ulimit -n {limit}; exec \"$0\" sh -c \"$1\""), busybox().to_str().unwrap(), script]).current_dir(&dir));
        let out = run(trapbox_run(&["--allow-read", "/", "--limit-open-files", limit], &busybox_trapped(), &["sh", "-c", script]).current_dir(&dir));
        assert_eq!((out.status, &out.stdout, &out.stderr), (native.status, &native.stdout, &native.stderr), "--limit-open-files {limit}");
    }
}

#[test]
fn environment_and_working_directory() {
    let dir = scratch_dir("policy_env");
    let out = run(trapbox_run(&["--clear-env", "--env", "ONLY=this", "--cwd", "/usr/share"], &busybox_trapped(), &["sh", "-c", "env; pwd"]).current_dir(&dir));
    assert_eq!(out.status, 0, "{out:?}");
    let mut lines: Vec<&str> = out.stdout.lines().collect();
    lines.sort_unstable();
    assert!(lines.contains(&"ONLY=this") && lines.contains(&"/usr/share"), "{}", out.stdout);
    assert!(!lines.iter().any(|l| l.starts_with("HOME=")), "the host's environment leaked: {}", out.stdout);
}

#[test]
fn the_policy_is_default_deny_and_unconfined_turns_it_off() {
    // /etc/hostname is in no grant, the base's included.
    let head = ["head", "-c", "2", "/etc/hostname"];
    let out = run(Command::new(trapbox_tests::trapbox_bin()).args(["run", "--", "/bin/busybox"]).args(head));
    assert_eq!(out.status, 1, "{out:?}");
    assert!(out.stderr.contains("trapbox: denied openat(AT_FDCWD, \"/etc/hostname\""), "{}", out.stderr);
    let out = run(Command::new(trapbox_tests::trapbox_bin()).args(["run", "--unconfined", "--", "/bin/busybox"]).args(head));
    let native = run(Command::new("/bin/busybox").args(head));
    assert_eq!((out.status, out.stdout.as_str()), (0, native.stdout.as_str()), "{out:?}");
    let clash = run(Command::new(trapbox_tests::trapbox_bin()).args(["run", "--unconfined", "--allow-read", "/", "--", "/bin/true"]));
    assert_eq!(clash.status, 2, "--unconfined and grants contradict each other: {clash:?}");
}

#[test]
fn the_bundled_example_policy_confines_to_usr() {
    let policy = trapbox_tests::workspace_root().join("examples/policies/readonly-usr.toml");
    let dir = scratch_dir("policy_example_file");
    let out = run(trapbox_run(&["--policy", policy.to_str().unwrap()], Path::new("/usr/bin/head"), &["-c", "4", "/usr/share/common-licenses/GPL-3"]).current_dir(&dir));
    assert_eq!((out.status, out.stdout.as_str()), (0, "    "), "{out:?}");
    let out = run(trapbox_run(&["--policy", policy.to_str().unwrap()], Path::new("/usr/bin/head"), &["-c", "4", "/etc/hostname"]).current_dir(&dir));
    assert_eq!(out.status, 1, "{out:?}");
    assert!(out.stderr.contains("No such file or directory") && out.stderr.contains("trapbox: denied openat("), "{}", out.stderr);
}

fn probe(flags: &[&str], args: &[&str]) -> Outcome {
    let (plain, _) = guest_pair("policy_probe.c");
    run(trapbox_run(flags, &plain, args).current_dir(scratch_dir(&format!("policy_probe_{}", args[0]))))
}

#[test]
fn network_none_allows_only_unix_sockets_and_never_abstract_ones() {
    let out = probe(&["--allow-read", "/usr/share"], &["net"]);
    assert_eq!(out.stdout, "inet socket: EACCES\npacket socket: EPERM\nunix socket: ok\nabstract bind: EACCES\n", "{}", out.stderr);
    assert!(denials(&out).iter().any(|l| l.contains("socket(") && l.contains("not granted under --net none")), "{}", out.stderr);
}

#[test]
fn network_loopback_decides_each_address_on_the_pinned_copy() {
    let out = probe(&["--net", "loopback"], &["net"]);
    assert_eq!(
        out.stdout,
        "inet socket: ok\nbind loopback: ok\nlisten: ok\nconnect loopback: ok\naccept: ok\nsend: ok\nreceive ping: ok\n\
         sendto non-loopback: EACCES\npacket socket: EPERM\nunix socket: ok\nabstract bind: EACCES\n",
        "{}",
        out.stderr
    );
    assert!(denials(&out).iter().any(|l| l.contains("sendto(") && l.contains("not a loopback address")), "{}", out.stderr);
}

#[test]
fn unix_socket_paths_are_files_decided_in_every_network_mode() {
    let (plain, rewritten) = guest_pair("net_probe.c");
    for (program, net) in [(&plain, "none"), (&rewritten, "loopback"), (&plain, "all")] {
        let dir = scratch_dir(&format!("policy_unix_{net}"));
        std::fs::create_dir_all(dir.join("out")).unwrap();
        let forbidden = dir.join("forbidden.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&forbidden).unwrap();
        let out = run(trapbox_run(&["--allow-write", "./out", "--net", net], program, &["unix", forbidden.to_str().unwrap()]).current_dir(&dir));
        let abstract_result = if net == "all" { "ECONNREFUSED" } else { "EACCES" };
        assert_eq!(
            out.stdout,
            format!(
                "bind in out: ok\nmode 755\nconnect outside: EACCES\nsendmsg to a path: ok\nreceive sendmsg: ok\nsendmsg outside: EACCES\n\
                 sendto in out: ok\nreceive: ok\n\
                 abstract connect: {abstract_result}\n"
            ),
            "--net {net}: {}",
            out.stderr
        );
        let denied = denials(&out);
        assert!(denied.iter().filter(|l| l.contains("forbidden.sock is not granted write")).count() == 2, "connect and sendmsg: {}", out.stderr);
    }
}

#[test]
fn loopback_datagrams_with_a_destination_run_natively_on_the_pinned_address() {
    let (plain, rewritten) = guest_pair("net_probe.c");
    for program in [plain, rewritten] {
        let out = run(trapbox_run(&["--net", "loopback"], &program, &["udp"]).current_dir(scratch_dir("policy_udp")));
        assert_eq!(
            out.stdout,
            "bind loopback: ok\nsendmsg loopback: ok\nsendmmsg loopback: 2, msg_len 3 4\n\
             sendmmsg to loopback and beyond: 2, msg_len 3 4 99\nreceived 5\nsendmsg non-loopback: EACCES\n",
            "{}",
            out.stderr
        );
        assert!(denials(&out).iter().any(|l| l.contains("sendmsg(") && l.contains("not a loopback address")), "{}", out.stderr);
        // Every message of a sendmmsg is decided on its own pinned copy: the third is refused.
        assert_eq!(denials(&out).iter().filter(|l| l.contains("10.255.255.1")).count(), 2, "{}", out.stderr);
    }
}

#[test]
fn a_racing_thread_cannot_swap_a_socket_address_after_the_check() {
    // Under --net all an abstract name is allowed and a path outside the grants is not; one
    // thread flips the destination between them while the other sends. A host that let the
    // kernel re-read the address would deliver datagrams to the forbidden socket.
    let dir = scratch_dir("policy_address_race");
    let forbidden = dir.join("forbidden.dgram");
    let sink = std::os::unix::net::UnixDatagram::bind(&forbidden).unwrap();
    sink.set_nonblocking(true).unwrap();
    let (plain, _) = guest_pair("net_probe.c");
    let out = run(trapbox_run(&["--net", "all"], &plain, &["race", "trapbox-race-sink", forbidden.to_str().unwrap(), "5000"]).current_dir(&dir));
    assert_eq!((out.status, out.stdout.as_str()), (0, "sent 0\n"), "{}", out.stderr);
    let mut buf = [0u8; 8];
    assert!(sink.recv(&mut buf).is_err(), "a datagram reached the forbidden socket");
    assert!(denials(&out).iter().any(|l| l.contains("forbidden.dgram is not granted write")), "{}", out.stderr);
}

#[test]
fn exec_through_an_fd_needs_the_exec_grant_of_the_file_behind_it() {
    let out = probe(&["--allow-read", "/usr/bin"], &["fexecve", "/usr/bin/true"]);
    assert_eq!(out.stdout, "open: ok\nfexecve: EACCES\n", "{}", out.stderr);
    assert!(
        denials(&out).iter().any(|l| l.contains("execveat(") && l.contains("/usr/bin/true needs exec access, but /usr/bin is granted read only")),
        "{}",
        out.stderr
    );
}

#[test]
fn coreutils_touch_updates_times_through_its_fd_inside_a_write_grant_only() {
    // GNU touch opens the file and calls futimens (utimensat with a NULL path) on the fd.
    let dir = scratch_dir("policy_touch");
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::write(dir.join("out/old"), "x").unwrap();
    let past = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options().write(true).open(dir.join("out/old")).unwrap().set_modified(past).unwrap();
    let out = run(trapbox_run(&["--allow-write", "./out"], Path::new("/usr/bin/touch"), &["out/new", "out/old"]).current_dir(&dir));
    assert_eq!(out.status, 0, "{out:?}");
    assert!(dir.join("out/new").exists());
    assert!(std::fs::metadata(dir.join("out/old")).unwrap().modified().unwrap() > past, "the old file's time moved");
    let out = run(trapbox_run(&["--allow-read", "/usr/share"], Path::new("/usr/bin/touch"), &[GPL]).current_dir(&dir));
    assert_eq!(out.status, 1, "{out:?}");
    assert!(denials(&out).iter().any(|l| l.contains("GPL-3 needs write access, but /usr/share is granted read only")), "{}", out.stderr);
}

#[test]
fn metadata_changes_the_kernel_would_make_by_path_are_not_served() {
    let dir = scratch_dir("policy_probe_atchanges");
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::write(dir.join("out/f"), "x").unwrap();
    let (plain, _) = guest_pair("policy_probe.c");
    let out = run(trapbox_run(&["--allow-write", "./out"], &plain, &["atchanges", "out/f"]).current_dir(&dir));
    assert_eq!(out.stdout, "fchownat AT_EMPTY_PATH with a path: EPERM\nsetxattrat: ENOSYS\n", "{}", out.stderr);
    assert_eq!(denials(&out).iter().filter(|l| l.contains("not served")).count(), 2, "{}", out.stderr);
}

#[test]
fn calls_the_policy_does_not_name_are_refused_and_logged() {
    let out = probe(&["--no-namespaces", "--allow-read", "/usr/share"], &["shm"]);
    assert_eq!(out.stdout, "shmget: EPERM\n");
    assert!(denials(&out).iter().any(|l| l.contains("shared with the host's IPC namespace")), "{}", out.stderr);

    // A process of the host's (here the test itself) does not exist for the guest, in its
    // own PID namespace: the kernel says so. Without the namespace the host refuses it.
    let host_pid = std::process::id().to_string();
    let out = probe(&["--allow-read", "/usr/share"], &["kill", &host_pid]);
    assert_eq!(out.stdout, "kill: No such process\n");
    let out = probe(&["--no-namespaces", "--allow-read", "/usr/share"], &["kill", &host_pid]);
    assert_eq!(out.stdout, "kill: EPERM\n");
    assert!(denials(&out).iter().any(|l| l.contains("is not part of the guest")), "{}", out.stderr);

    // A file opened for reading cannot have its mode changed through the fd.
    let out = probe(&["--allow-read", "/usr/share"], &["fchmod", GPL]);
    assert_eq!(out.stdout, "open: ok\nfchmod: EPERM\n", "{}", out.stderr);

    // Metadata of paths outside every grant: reported as absent, by the host with a line under
    // --audit, by the kernel (the path is not in the guest's root) without.
    for audit in [true, false] {
        let flags: &[&str] = if audit { &["--audit", "--allow-read", "/usr/share"] } else { &["--allow-read", "/usr/share"] };
        let out = run(trapbox_run(flags, &busybox_trapped(), &["stat", "-c", "%s", "/etc/shadow"]).current_dir(scratch_dir("policy_stat")));
        assert_ne!(out.status, 0);
        assert!(out.stderr.contains("No such file or directory"), "{}", out.stderr);
        let logged = denials(&out).iter().any(|l| l.contains("/etc/shadow is outside every allowed path (reported as absent)"));
        assert_eq!(logged, audit, "{}", out.stderr);
    }
}

/// chmod is not covered by Landlock: the broker performs it on the host's copy of the path,
/// so a second thread swapping the path never changes a file outside the write grant.
#[test]
fn a_racing_thread_cannot_chmod_outside_the_write_grant() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir("policy_chmod_race");
    std::fs::create_dir(dir.join("out")).unwrap();
    std::fs::write(dir.join("out/mine"), "x").unwrap();
    std::fs::write(dir.join("outside"), "y").unwrap();
    std::fs::set_permissions(dir.join("outside"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let (plain, rewritten) = guest_pair("path_race.c");
    let mine = dir.join("out/mine");
    let outside = dir.join("outside");
    for program in [plain, rewritten] {
        let args = ["chmod", mine.to_str().unwrap(), outside.to_str().unwrap(), "3000"];
        let out = run(trapbox_run(&["--allow-write", "./out"], &program, &args).current_dir(&dir));
        assert_eq!(out.status, 0, "{out:?}");
        let mode = std::fs::metadata(&outside).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{}: the file outside the grant changed mode: {}", program.display(), out.stdout);
        assert_eq!(std::fs::metadata(&mine).unwrap().permissions().mode() & 0o777, 0o600, "{}", out.stdout);
        let race = race_report(&out);
        assert!(race.seen(), "{}: the race was not observed within the bound: {}", program.display(), out.stdout);
    }
}

#[test]
fn the_broker_changes_names_and_metadata_inside_the_write_grant_like_the_kernel_would() {
    let dir = scratch_dir("policy_broker_meta");
    std::fs::create_dir(dir.join("out")).unwrap();
    let script = "cd out && echo hi > f && chmod 640 f && touch -d '2001-02-03 04:05:06' f && ln -s f link \
                  && chmod 600 link && stat -c '%a %Y' f && chown 0:0 f && mkdir -p a/b/c && mv f a/b/g && ln a/b/g h \
                  && mkfifo p && rm -r a/b/c && mv a z && rmdir z/b 2>&1; rm z/b/g && rmdir z/b z && find . | sort \
                  && stat -c '%h %F' h p && truncate -s 2 h && stat -c %s h && echo ok";
    let native_dir = scratch_dir("policy_broker_meta_native");
    std::fs::create_dir(native_dir.join("out")).unwrap();
    let expected = run(std::process::Command::new("/bin/busybox").args(["sh", "-c", script]).current_dir(&native_dir));
    let grants = ["--allow-write", "./out", "--allow-read", "/etc", "--allow-read", "/usr/share/zoneinfo"];
    let out = run(trapbox_run(&grants, &busybox_trapped(), &["sh", "-c", script]).current_dir(&dir));
    assert_eq!((out.status, &out.stdout), (expected.status, &expected.stdout), "{out:?}");
    assert!(denials(&out).is_empty(), "{}", out.stderr);
}

/// stat is answered by the host from the file it opened beneath the grant: a thread swapping
/// the path never gets the metadata of a file outside the grants.
#[test]
fn a_racing_thread_cannot_stat_outside_the_grants() {
    let dir = scratch_dir("policy_stat_race");
    std::fs::create_dir(dir.join("out")).unwrap();
    std::fs::write(dir.join("out/mine"), "x").unwrap();
    std::fs::write(dir.join("secret"), vec![b's'; 7777]).unwrap();
    let (plain, rewritten) = guest_pair("path_race.c");
    let (mine, secret) = (dir.join("out/mine"), dir.join("secret"));
    for program in [plain, rewritten] {
        let args = ["stat", mine.to_str().unwrap(), secret.to_str().unwrap(), "3000"];
        // In out/: the base makes the working directory readable, and the secret lies outside.
        let out = run(trapbox_run(&["--allow-read", "."], &program, &args).current_dir(dir.join("out")));
        assert_eq!(out.status, 0, "{}: {}", program.display(), out.stderr);
        let race = race_report(&out);
        assert!(race.seen() && race.leaked == 0, "{}: {race:?}: {}", program.display(), out.stdout);
    }
}

/// Metadata answered by the host matches what the kernel gives natively.
#[test]
fn metadata_queries_inside_the_grants_match_native() {
    let script = "cd out && ls -ln . | sed 1d | awk '{print $1, $5, $9, $10, $11}' && stat -c '%s %a %F %h' f l sub \
                  && stat -L -c '%s %F' l && readlink l && [ -r f ] && [ -d sub ] && [ ! -e nothere ] && find . | sort && echo done";
    let mut outcomes = Vec::new();
    for (name, sandboxed) in [("policy_meta_native", false), ("policy_meta_sandboxed", true)] {
        let dir = scratch_dir(name);
        std::fs::create_dir_all(dir.join("out/sub")).unwrap();
        std::fs::write(dir.join("out/f"), "hello\n").unwrap();
        std::os::unix::fs::symlink("f", dir.join("out/l")).unwrap();
        let out = if sandboxed {
            run(trapbox_run(&["--allow-read", "./out"], &busybox_trapped(), &["sh", "-c", script]).current_dir(&dir))
        } else {
            run(std::process::Command::new("/bin/busybox").args(["sh", "-c", script]).current_dir(&dir))
        };
        outcomes.push(out);
    }
    assert_eq!((outcomes[1].status, &outcomes[1].stdout), (outcomes[0].status, &outcomes[0].stdout), "{:?}", outcomes[1]);
    assert!(outcomes[0].stdout.ends_with("done\n"), "{:?}", outcomes[0]);
}

#[test]
fn extended_attributes_are_set_and_read_by_the_host_inside_the_grant() {
    let dir = scratch_dir("policy_probe_xattr_dir");
    std::fs::create_dir(dir.join("out")).unwrap();
    std::fs::write(dir.join("out/f"), "x").unwrap();
    let (plain, _) = guest_pair("policy_probe.c");
    let file = dir.join("out/f");
    let out = run(trapbox_run(&["--allow-write", "./out"], &plain, &["xattr", file.to_str().unwrap()]).current_dir(&dir));
    assert_eq!(out.stdout, "setxattr: ok\ngetxattr: 2 v1\nlistxattr: listed\ngetxattr outside: ENOENT\n", "{}", out.stderr);
}

#[test]
fn opens_served_by_directfs_appear_in_the_trace() {
    let dir = scratch_dir("policy_directfs_trace");
    let trace = dir.join("trace.txt");
    let flag = format!("--trace={}", trace.display());
    let out = run(trapbox_run(&["--allow-read", "/etc/hostname", &flag], std::path::Path::new("/bin/busybox"), &["cat", "/etc/hostname", "/etc/shadow"]).current_dir(&dir));
    assert_eq!(out.status, 1, "{out:?}");
    let lines = std::fs::read_to_string(&trace).unwrap();
    assert!(lines.lines().any(|l| l.ends_with("openat(AT_FDCWD, \"/etc/hostname\", O_RDONLY) = 3 <directfs>")), "{lines}");
    assert!(lines.lines().any(|l| l.ends_with("openat(AT_FDCWD, \"/etc/shadow\", O_RDONLY) = -1 ENOENT <directfs refused>")), "{lines}");
}
