//! The base environment (runtime/src/decide/base.rs): what every guest gets under a policy
//! without asking — its own /tmp, /dev and /proc, locale data, time zones, the /etc files of
//! name resolution and TLS, the working directory readable — checked differentially against
//! native runs of real programs (static busybox, Debian's dynamic coreutils, getent, python3,
//! git, a C probe) with no grant beyond the program, and `--bare` getting none of it.

mod run_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use run_support::{busybox_trapped, denials, is_root, trapbox_run};
use trapbox_tests::{build_guest, busybox, run, scratch_dir, Outcome};

/// The probe guest, static (every call through the backstop).
fn probe() -> PathBuf {
    let _serial = run_support::fixture_lock();
    build_guest("base_probe.c", &["-static", "-O2"])
}

/// `trapbox run` under the default policy (no grant but the program's) plus `flags`. (Without
/// cargo's LD_LIBRARY_PATH, which points dynamically linked programs into target/.)
fn based(flags: &[&str], program: &Path, args: &[&str], cwd: &Path) -> Outcome {
    let mut all = if flags.contains(&"--net") { vec![] } else { vec!["--net", "none"] };
    all.extend_from_slice(flags);
    run(trapbox_run(&all, program, args).current_dir(cwd).env_remove("LD_LIBRARY_PATH"))
}

fn native(program: &Path, args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Outcome {
    run(Command::new(program).args(args).current_dir(cwd).env_remove("LD_LIBRARY_PATH").envs(env.iter().copied()))
}

/// A name for this test process's files in the host's /tmp (which no guest may see).
fn host_tmp_name(test: &str) -> PathBuf {
    Path::new("/tmp").join(format!("trapbox-base-{test}-{}", std::process::id()))
}

#[test]
fn print_policy_lists_the_base_with_its_reasons_and_bare_drops_it() {
    let dir = scratch_dir("base_print");
    let out = based(&["--print-policy"], &busybox(), &["true"], &dir);
    assert_eq!(out.status, 0, "{out:?}");
    for line in [
        "\"/tmp\",  # base: the guest's own /tmp",
        "\"/proc\",  # base: the guest's own /proc",
        "\"/dev/urandom\",  # base: a common device, as natively",
        "\"/usr/lib/locale\",  # base: locale data (setlocale)",
        "\"/etc/nsswitch.conf\",  # base: name service switch",
        "# base: mounted in the guest's own mount namespace: /tmp (an empty tmpfs of its own, at most 1 GiB)",
        "# base: mounted in the guest's own mount namespace: /dev/pts (a devpts instance of its own; /dev/ptmx links to pts/ptmx)",
        "bare = false",
    ] {
        assert!(out.stdout.contains(line), "{line}: {}", out.stdout);
    }
    let cwd = dir.canonicalize().unwrap();
    assert!(out.stdout.contains(&format!("\"{}\",  # base: the working directory", cwd.display())), "{}", out.stdout);
    let sized = based(&["--print-policy", "--tmp-size", "64M"], &busybox(), &["true"], &dir);
    assert!(sized.stdout.contains("/tmp (an empty tmpfs of its own, at most 64 MiB)") && sized.stdout.contains("tmp_size = 67108864"), "{}", sized.stdout);

    // Bare: only the program's own grants, from the flag or from a policy file.
    std::fs::write(dir.join("bare.toml"), "bare = true\n").unwrap();
    for flags in [&["--print-policy", "--bare"][..], &["--print-policy", "--policy", "bare.toml"]] {
        let out = based(flags, &busybox(), &["true"], &dir);
        assert_eq!(out.status, 0, "{out:?}");
        assert!(!out.stdout.contains("# base"), "{}", out.stdout);
        assert!(out.stdout.contains("bare = true") && out.stdout.contains("# startup: the program"), "{}", out.stdout);
    }
}

#[test]
fn tmp_is_the_guests_own_empty_writable_and_gone_after_the_run() {
    let dir = scratch_dir("base_tmp");
    let name = host_tmp_name("tmp");
    let _ = std::fs::remove_file(&name);
    let script = format!("ls -A /tmp; echo data > {0} && cat {0} && f=$(mktemp) && echo more > $f && cat $f && stat -c '%a %F' /tmp", name.display());
    for program in [busybox(), busybox_trapped()] {
        let out = based(&[], &program, &["sh", "-c", &script], &dir);
        // Empty but for the host's own files that are granted (the program itself, when the
        // checkout lies under /tmp), bound at their own paths.
        let bound = program.strip_prefix("/tmp").ok().and_then(|rest| rest.components().next()).map(|c| format!("{}\n", c.as_os_str().to_string_lossy()));
        let expected = format!("{}data\nmore\n1777 directory\n", bound.unwrap_or_default());
        assert_eq!((out.status, out.stdout.as_str()), (0, expected.as_str()), "{}: {out:?}", program.display());
        assert!(denials(&out).is_empty(), "{}", out.stderr);
        assert!(!name.exists(), "the host's /tmp holds what the guest wrote");
    }
    // coreutils' mktemp (dynamically linked) as the program: a file in the guest's /tmp.
    let out = based(&[], Path::new("/usr/bin/mktemp"), &[], &dir);
    assert_eq!(out.status, 0, "{out:?}");
    assert!(out.stdout.starts_with("/tmp/tmp."), "{out:?}");
    assert!(!Path::new(out.stdout.trim_end()).exists(), "{out:?}");
    assert!(denials(&out).is_empty(), "{}", out.stderr);
    // A smaller /tmp fills up as a tmpfs does.
    let out = based(&["--tmp-size", "1M"], &busybox(), &["sh", "-c", "head -c 2097152 /dev/zero > /tmp/big; echo $?; wc -c < /tmp/big"], &dir);
    assert_eq!(out.stdout, "1\n1048576\n", "{out:?}");
}

#[test]
fn a_host_directory_granted_under_tmp_is_shown_with_its_own_grant() {
    let host = host_tmp_name("shown");
    let _ = std::fs::remove_dir_all(&host);
    std::fs::create_dir_all(host.join("ro")).unwrap();
    std::fs::create_dir_all(host.join("rw")).unwrap();
    std::fs::write(host.join("ro/f"), "host data\n").unwrap();
    let dir = scratch_dir("base_shown");
    let (ro, rw) = (host.join("ro"), host.join("rw"));
    let flags = ["--allow-read", ro.to_str().unwrap(), "--allow-write", rw.to_str().unwrap()];
    let args: Vec<String> =
        [format!("r:{}/f", ro.display()), format!("w:{}/new", ro.display()), format!("w:{}/new", rw.display()), format!("w:{}/private", host.display()), "d:/tmp".into()]
            .into();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = based(&flags, &probe(), &args, &dir);
    let expected = format!(
        "r:{0}/ro/f: ok\nw:{0}/ro/new: EACCES\nw:{0}/rw/new: ok\nw:{0}/private: ok\nd:/tmp: ok\n",
        host.display()
    );
    assert_eq!((out.status, out.stdout.as_str()), (0, expected.as_str()), "{out:?}");
    // The read grant stays read-only inside the writable /tmp, and says why.
    assert!(denials(&out).iter().any(|l| l.contains("/ro/new needs write access, but") && l.contains("/ro is granted read only")), "{}", out.stderr);
    assert!(host.join("rw/new").exists(), "the write grant is the host's directory");
    assert!(!host.join("ro/new").exists() && !host.join("private").exists(), "only the grants reach the host's /tmp");
    let _ = std::fs::remove_dir_all(&host);
}

/// `ls`, `date` and `sort` (dynamically linked) in the C locale and in C.UTF-8 print exactly
/// what they print natively, with no denial: locale data, locale.alias, /etc/localtime and
/// zoneinfo, /etc/passwd and /etc/group are the base's.
#[test]
fn ls_date_and_sort_in_a_utf8_locale_print_as_natively() {
    let dir = scratch_dir("base_locale");
    for name in ["z", "a", "\u{e9}t\u{e9}", "\u{c4}rger", "B"] {
        std::fs::write(dir.join(name), format!("{name}\n")).unwrap();
    }
    std::fs::write(dir.join("words"), "z\n\u{e9}t\u{e9}\na\n\u{c4}rger\nB\n").unwrap();
    let commands: [(&str, &[&str]); 4] =
        [("/usr/bin/ls", &["-l", "--time-style=+%c"]), ("/usr/bin/date", &["-d", "@86400", "+%c %Z"]), ("/usr/bin/sort", &["words"]), ("/usr/bin/ls", &["/usr/share/zoneinfo/Etc"])];
    for lang in ["C", "C.UTF-8"] {
        for (program, args) in commands {
            let expected = native(Path::new(program), args, &dir, &[("LANG", lang), ("LC_ALL", lang)]);
            let flags = ["--env", &format!("LANG={lang}"), "--env", &format!("LC_ALL={lang}")];
            let out = based(&flags, Path::new(program), args, &dir);
            assert_eq!((out.status, &out.stdout), (expected.status, &expected.stdout), "{program} {args:?} in {lang}: {out:?}");
            assert!(denials(&out).is_empty(), "{program} {args:?} in {lang}: {}", out.stderr);
        }
    }
}

#[test]
fn the_common_devices_work_as_natively_and_nothing_else_is_there() {
    let dir = scratch_dir("base_devices");
    let args = ["r:/dev/urandom", "r:/dev/random", "r:/dev/zero", "w:/dev/null", "w:/dev/full", "x:/dev/ptmx", "d:/dev", "d:/dev/pts", "w:/dev/shm/f", "r:/dev/shm/f", "s:/dev/fd/0"];
    let out = based(&[], &probe(), &args, &dir);
    let expected = "r:/dev/urandom: ok\nr:/dev/random: ok\nr:/dev/zero: ok\nw:/dev/null: ok\nw:/dev/full: ENOSPC\nx:/dev/ptmx: ok\nd:/dev: ok\nd:/dev/pts: ok\n\
                    w:/dev/shm/f: ok\nr:/dev/shm/f: ok\ns:/dev/fd/0: ok\n";
    assert_eq!((out.status, out.stdout.as_str()), (0, expected), "{out:?}");
    assert!(denials(&out).is_empty(), "{}", out.stderr);
    // The same answers natively (but for /dev/shm, which is the host's there).
    let native_out = native(&probe(), &args[..8], &dir, &[]);
    assert_eq!(native_out.stdout, expected.lines().take(8).map(|l| format!("{l}\n")).collect::<String>(), "{native_out:?}");
    // Only the base's devices: the host's disks and the rest of its /dev are not there.
    let out = based(&[], &busybox(), &["ls", "/dev", "/dev/pts"], &dir);
    assert_eq!(out.stdout, "/dev:\nfd\nfull\nmqueue\nnull\nptmx\npts\nrandom\nshm\nstderr\nstdin\nstdout\ntty\nurandom\nzero\n\n/dev/pts:\nptmx\n", "{out:?}");
    // python3 (dynamically linked, its library granted) reads /dev/urandom and writes /dev/null.
    let script = "import os; f = open('/dev/urandom', 'rb'); print(len(f.read(16))); open('/dev/null', 'w').write('x'); print(len(os.urandom(8)))";
    let out = based(&["--allow-read", "/usr"], Path::new("/usr/bin/python3"), &["-S", "-c", script], &dir);
    assert_eq!((out.status, out.stdout.as_str()), (0, "16\n8\n"), "{out:?}");
}

/// busybox ps lists the guest's own processes only (its own /proc): the shell (pid 2), a
/// background sleep and ps itself; not trapbox's init, not a process of the host.
#[test]
fn ps_shows_the_guests_processes_only() {
    let dir = scratch_dir("base_ps");
    for program in [busybox(), busybox_trapped()] {
        let out = based(&[], &program, &["sh", "-c", "sleep 5 & ps -o pid,args; kill $!"], &dir);
        assert_eq!(out.status, 0, "{out:?}");
        let rows: Vec<(u32, &str)> = out
            .stdout
            .lines()
            .skip(1)
            .map(|l| {
                let l = l.trim_start();
                let (pid, args) = l.split_once(' ').unwrap_or((l, ""));
                (pid.parse().unwrap_or(0), args.trim())
            })
            .collect();
        // A fresh PID namespace numbers them in order: the shell, sleep, ps; init (1) unlisted.
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [2, 3, 4], "{out:?}");
        // (The background child may not have exec'ed sleep yet when ps looks: the guest is not
        // pinned to one CPU, so the shell runs on while the host checks the child's exec. It
        // may also be inside the exec, its new image's arguments not yet set up, which ps
        // shows as its name in brackets, natively too.)
        let comm: String = program.file_name().and_then(|n| n.to_str()).unwrap().chars().take(15).collect();
        let sleeping = rows[1].1.ends_with("sleep 5") || rows[1].1.starts_with(program.to_str().unwrap()) || rows[1].1 == format!("[{comm}]");
        assert!(rows[0].1.starts_with(program.to_str().unwrap()) && sleeping, "{out:?}");
        assert!(denials(&out).is_empty(), "{}", out.stderr);
    }
    // trapbox's init is not listed, and may not be read.
    let out = based(&[], &busybox(), &["sh", "-c", "ls /proc | grep -x 1; cat /proc/1/status"], &dir);
    assert_eq!((out.status, out.stdout.as_str()), (1, ""), "{out:?}");
    assert!(out.stderr.contains("can't open '/proc/1/status': No such file or directory"), "{out:?}");
}

/// /proc/self is the calling process, as its PID namespace numbers it; with --bare, a grant of
/// /proc/self still means the guest's own process (in the host's /proc), never the host's.
#[test]
fn proc_self_is_the_calling_process() {
    let dir = scratch_dir("base_proc_self");
    let script = "read pid rest < /proc/self/stat; echo $$ $pid; cat /proc/self/comm";
    let out = based(&[], &busybox(), &["sh", "-c", script], &dir);
    assert_eq!((out.status, out.stdout.as_str()), (0, "2 2\ncat\n"), "{out:?}");
    let out = based(&["--bare", "--allow-read", "/proc/self"], &busybox(), &["sh", "-c", "cat /proc/self/comm; cat /proc/1/comm"], &dir);
    assert_eq!(out.stdout, "cat\n", "{out:?}");
    assert!(denials(&out).iter().any(|l| l.contains("/proc/1/comm")), "{}", out.stderr);
    let printed = based(&["--bare", "--allow-read", "/proc/self", "--print-policy"], &busybox(), &["true"], &dir);
    assert!(printed.stdout.contains("\"/proc/self\",  # command line"), "{}", printed.stdout);
}

#[test]
fn name_resolution_reads_the_hosts_files() {
    let dir = scratch_dir("base_names");
    // Lookups that the files answer (no DNS query leaves the machine, natively either).
    for args in [&["hosts", "127.0.0.1"][..], &["passwd", "root"], &["group", "root"], &["ahostsv4", "localhost"]] {
        let expected = native(Path::new("/usr/bin/getent"), args, &dir, &[]);
        // loopback: getaddrinfo's route-netlink query (AI_ADDRCONFIG) is a network call.
        let out = based(&["--net", "loopback"], Path::new("/usr/bin/getent"), args, &dir);
        assert_eq!((out.status, &out.stdout), (expected.status, &expected.stdout), "getent {args:?}: {out:?}");
        assert!(denials(&out).is_empty(), "getent {args:?}: {}", out.stderr);
    }
}

#[test]
fn the_working_directory_is_readable_not_writable() {
    let dir = scratch_dir("base_cwd");
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/f"), "in the cwd\n").unwrap();
    for (program, args) in [("/usr/bin/readlink", &["-f", ".", "sub/f"][..]), ("/usr/bin/ls", &["-R"]), ("/usr/bin/cat", &["sub/f"])] {
        let expected = native(Path::new(program), args, &dir, &[]);
        let out = based(&[], Path::new(program), args, &dir);
        assert_eq!((out.status, &out.stdout), (expected.status, &expected.stdout), "{program}: {out:?}");
        assert!(denials(&out).is_empty(), "{program}: {}", out.stderr);
    }
    let out = based(&[], &probe(), &["w:new", "w:sub/f"], &dir);
    assert_eq!(out.stdout, "w:new: EACCES\nw:sub/f: EACCES\n", "{out:?}");
    assert!(denials(&out).iter().any(|l| l.contains("needs write access, but") && l.contains("base_cwd is granted read only")), "{}", out.stderr);
}

/// python3's tempfile (in the guest's /tmp) and subprocess (itself again) work as natively.
#[test]
fn python_tempfile_and_subprocess_work_as_natively() {
    let dir = scratch_dir("base_python");
    let script = "import tempfile, subprocess, sys, os\n\
                  with tempfile.NamedTemporaryFile('w+', delete=False) as f:\n    f.write('hello'); name = f.name\n\
                  print(os.path.dirname(name), open(name).read())\n\
                  with tempfile.TemporaryDirectory() as d:\n    open(os.path.join(d, 'x'), 'w').write('y'); print(sorted(os.listdir(d)))\n\
                  print(subprocess.run([sys.executable, '-S', '-c', 'print(6 * 7)'], capture_output=True, text=True).stdout.strip())\n\
                  os.unlink(name)";
    let python = Path::new("/usr/bin/python3");
    let expected = native(python, &["-S", "-c", script], &dir, &[]);
    assert_eq!(expected.status, 0, "{expected:?}");
    let out = based(&["--allow-read", "/usr"], python, &["-S", "-c", script], &dir);
    assert_eq!((out.status, &out.stdout), (0, &expected.stdout), "{out:?}");
    assert!(denials(&out).is_empty(), "{}", out.stderr);
}

/// git makes a repository in the guest's /tmp; the host's /tmp never gets it.
#[test]
fn git_init_writes_to_the_guests_tmp() {
    let dir = scratch_dir("base_git");
    let repo = host_tmp_name("git");
    let _ = std::fs::remove_dir_all(&repo);
    let out = based(&["--allow-read", "/usr", "--env", "HOME=/tmp"], Path::new("/usr/bin/git"), &["init", repo.to_str().unwrap()], &dir);
    assert_eq!(out.status, 0, "{out:?}");
    assert!(out.stdout.starts_with(&format!("Initialized empty Git repository in {}/.git/", repo.display())), "{out:?}");
    assert!(!repo.exists(), "the repository is the guest's");
}

/// --bare: none of the base; each refusal with the errno the policy gives outside every grant
/// (the path does not exist: ENOENT), and logged.
#[test]
fn bare_gets_none_of_the_base() {
    let dir = scratch_dir("base_bare");
    let args = ["w:/tmp/trapbox-bare", "r:/dev/urandom", "w:/dev/null", "r:/proc/self/status", "d:.", "r:/etc/passwd", "s:/usr/lib/locale", "x:/dev/ptmx"];
    let out = based(&[], &probe(), &args, &dir);
    assert_eq!(out.stdout, args.iter().map(|a| format!("{a}: ok\n")).collect::<String>(), "the base gives all of them: {out:?}");
    let out = based(&["--bare"], &probe(), &args, &dir);
    let expected = "w:/tmp/trapbox-bare: ENOENT\nr:/dev/urandom: ENOENT\nw:/dev/null: ENOENT\nr:/proc/self/status: ENOENT\nd:.: ENOENT\n\
                    r:/etc/passwd: ENOENT\ns:/usr/lib/locale: ENOENT\nx:/dev/ptmx: ENOENT\n";
    assert_eq!((out.status, out.stdout.as_str()), (0, expected), "{out:?}");
    assert_eq!(denials(&out).len(), args.len(), "{}", out.stderr);
    assert!(!Path::new("/tmp/trapbox-bare").exists());
}

/// --no-namespaces has no mount namespace of its own: no private /tmp, /dev or /proc, but the
/// host's common devices and each process's own /proc/self files.
#[test]
fn without_namespaces_the_base_is_the_hosts_devices_and_own_proc_files() {
    let dir = scratch_dir("base_no_namespaces");
    let args = ["r:/dev/urandom", "w:/dev/null", "r:/proc/self/status", "r:/proc/self/mem", "w:/tmp/trapbox-hostns", "r:/etc/passwd", "d:."];
    let out = based(&["--no-namespaces"], &probe(), &args, &dir);
    let expected = "r:/dev/urandom: ok\nw:/dev/null: ok\nr:/proc/self/status: ok\nr:/proc/self/mem: ENOENT\nw:/tmp/trapbox-hostns: ENOENT\n\
                    r:/etc/passwd: ok\nd:.: ok\n";
    assert_eq!((out.status, out.stdout.as_str()), (0, expected), "{out:?}");
    assert!(!Path::new("/tmp/trapbox-hostns").exists());
}

/// An unprivileged invoker gets the same base (every mount is made in its own user
/// namespace): a private /tmp, the devices, its own /proc.
#[test]
fn an_unprivileged_user_gets_the_same_base() {
    if !is_root() {
        return; // already unprivileged: every test above is the rootless case
    }
    let dir = scratch_dir("base_rootless");
    let (host, guest) = run_support::unprivileged_copies(&dir, &probe(), &[]);
    let name = host_tmp_name("rootless");
    let _ = std::fs::remove_file(&name);
    let w = format!("w:{}", name.display());
    let args = [w.as_str(), "r:/dev/urandom", "w:/dev/null", "x:/dev/ptmx", "r:/proc/self/status", "d:/proc", "r:/proc/1/status", "d:."];
    let out = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&host)
        .args(["run", "--"])
        .arg(&guest)
        .args(args)
        .current_dir(&dir));
    let expected = format!("{w}: ok\nr:/dev/urandom: ok\nw:/dev/null: ok\nx:/dev/ptmx: ok\nr:/proc/self/status: ok\nd:/proc: ok\nr:/proc/1/status: ENOENT\nd:.: ok\n");
    assert_eq!((out.status, out.stdout.as_str()), (0, expected.as_str()), "{out:?}");
    assert!(!name.exists());
    let out = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&host)
        .args(["run", "--", "/bin/busybox", "ps", "-o", "pid,user,args"])
        .current_dir(&dir));
    assert_eq!(out.stdout, "PID   USER     COMMAND\n    2 nobody   /bin/busybox ps -o pid,user,args\n", "{out:?}");
}

/// A dynamically linked program an exec grant covers runs whoever execs it (here a static
/// shell, whose own start needed no loader): the base gives its libraries and lets the kernel
/// run the system loader for it — but never the loader by itself, which would run any file it
/// is given, exec grant or not.
#[test]
fn a_dynamic_program_started_by_a_static_one_runs_and_the_loader_never_runs_alone() {
    let dir = scratch_dir("base_loader");
    let native = run(Command::new("/usr/bin/id").arg("-u"));
    let script = "/usr/bin/id -u; echo id=$?; /lib64/ld-linux-x86-64.so.2 /usr/bin/id -u; echo loader=$?";
    let out = run(trapbox_run(&["--allow-exec", "/usr/bin/id"], &trapbox_tests::busybox(), &["sh", "-c", script]).current_dir(&dir));
    assert_eq!(out.stdout, format!("{}id=0\nloader=126\n", native.stdout), "{out:?}");
    assert!(denials(&out).iter().any(|l| l.starts_with("trapbox: denied execve(\"/lib64/ld-linux-x86-64.so.2\"")), "{out:?}");
    let out = run(trapbox_run(&["--bare", "--allow-exec", "/usr/bin/id"], &trapbox_tests::busybox(), &["sh", "-c", "/usr/bin/id -u; echo id=$?"]).current_dir(&dir));
    assert!(out.stdout.ends_with("id=127\n"), "bare: no loader: {out:?}");
}
