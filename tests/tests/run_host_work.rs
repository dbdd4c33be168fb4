//! The work the host performs for the guest — directfs opens above all — is done as the guest
//! would have it done natively: no guest thread waits behind another's blocking open (a bounded
//! pool of host threads takes those), `openat2`'s struct and `RESOLVE_*` flags get exactly the
//! kernel's answers, a watch needs a read grant on what it watches, and a guest's own Landlock
//! ruleset binds the host's opens for it as it binds its own. Each test runs a C guest natively
//! and under trapbox, unrewritten (the backstop route) and rewritten (the trap route), and
//! compares.

mod run_support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use run_support::{denials, guest_pair, trapbox_run};
use trapbox_tests::{run, scratch_dir, Outcome};

/// What an old host did with a blocking open was to stop serving every other one: a run that
/// hangs fails at this limit instead of holding the suite.
const WALL_LIMIT: &str = "--limit-wall=60s";

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Host lines that would mean something went wrong (a refusal, a warning, a panic).
fn alarming(out: &Outcome) -> Vec<&str> {
    out.stderr.lines().filter(|l| l.contains("denied") || l.contains("warning") || l.contains("panicked") || l.contains("killed")).collect()
}

/// A scratch dir with two FIFOs (`fifo`, `fifo2`) and a regular file.
fn fifos_and_file(test: &str) -> PathBuf {
    let dir = scratch_dir(test);
    assert!(Command::new("mkfifo").arg(dir.join("fifo")).arg(dir.join("fifo2")).status().expect("mkfifo").success());
    std::fs::write(dir.join("regular"), "regular text\n").unwrap();
    dir
}

/// Runs `fifo_pool MODE FIFO FILE [N [FIFO2]]` natively and under trapbox, and checks each run
/// under trapbox prints what the native run printed, with nothing alarming in the host's log.
fn fifo_pool_as_native(test: &str, mode: &str, count: Option<&str>) {
    let (plain, rewritten) = guest_pair("fifo_pool.c");
    let dir = fifos_and_file(test);
    let (fifo, file, fifo2) = (dir.join("fifo"), dir.join("regular"), dir.join("fifo2"));
    let mut args = vec![mode, utf8(&fifo), utf8(&file)];
    args.extend(count);
    if mode == "abandon" {
        args.push(utf8(&fifo2));
    }
    let native = run(Command::new(&plain).args(&args));
    assert_eq!(native.status, 0, "{native:?}");
    // The guest reads its own threads' /proc files to see them wait in their open.
    let flags = ["--allow-write", utf8(&dir), "--allow-read", "/proc", WALL_LIMIT];
    for program in [&plain, &rewritten] {
        let out = run(&mut trapbox_run(&flags, program, &args));
        assert_eq!((out.status, &out.stdout), (0, &native.stdout), "{}: {}", program.display(), out.stderr);
        assert!(alarming(&out).is_empty(), "{}: {}", program.display(), out.stderr);
    }
}

/// Thread A waits in an open of a FIFO with no writer; thread B and a child process then read
/// a regular file, and only then does thread C open the FIFO for writing, releasing A. On a
/// host that served opens on one thread, B's open would wait behind A's for ever.
#[test]
fn a_blocking_fifo_open_holds_up_no_other_thread_or_process() {
    fifo_pool_as_native("host_work_fifo_pair", "pair", None);
}

/// 100 threads wait in FIFO opens at once — more than the host's pool has threads, so some
/// wait in its queue, as they wait natively — and a regular open is still served at once;
/// the one writer then releases them all (its open, finding readers, waits for no thread).
#[test]
fn a_hundred_blocked_fifo_opens_stop_no_regular_open() {
    fifo_pool_as_native("host_work_fifo_many", "many", Some("100"));
}

/// 70 threads wait in FIFO opens nobody will answer — more than the pool has threads — and a
/// signal interrupts each (EINTR, natively too). The host's threads that waited for them are
/// interrupted in turn, so a later FIFO open and its writer are served; with those threads
/// still waiting, both would queue for ever.
#[test]
fn host_threads_waiting_for_abandoned_opens_are_released() {
    fifo_pool_as_native("host_work_fifo_abandon", "abandon", Some("70"));
}

/// dir/x ("outside"), dir/inner/x ("inside"), dir/inner/link -> x, dir/inner/sub/.
fn lay_out_resolve_tree(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("inner/sub")).unwrap();
    std::fs::write(dir.join("x"), "outside\n").unwrap();
    std::fs::write(dir.join("inner/x"), "inside\n").unwrap();
    std::os::unix::fs::symlink("x", dir.join("inner/link")).unwrap();
}

/// Every RESOLVE_* flag and every rule of the struct's size and fields gives the errno a
/// native run gets (EXDEV, ELOOP, EINVAL, E2BIG, EAGAIN, EBADF), and every open that is
/// allowed opens the file the native one opens (`inside`, never `outside`).
#[test]
fn openat2_resolve_flags_and_struct_rules_are_the_kernels() {
    let (plain, rewritten) = guest_pair("openat2_resolve.c");
    let dir = scratch_dir("host_work_openat2").join("tree");
    lay_out_resolve_tree(&dir);
    let native = run(Command::new(&plain).arg(&dir));
    assert_eq!(native.status, 0, "{native:?}");
    for expected in ["beneath ../x: EXDEV", "in-root ../../x: opened \"inside\"", "no-symlinks link: ELOOP", "no-magiclinks /proc/self/fd/N: ELOOP", "no-xdev /proc/version: EXDEV", "size 8: EINVAL", "size 4096, nonzero tail: E2BIG", "unknown resolve bit: EINVAL"] {
        assert!(native.stdout.lines().any(|l| l == expected), "the native run itself: {expected}\n{}", native.stdout);
    }
    for program in [&plain, &rewritten] {
        lay_out_resolve_tree(&dir);
        let out = run(&mut trapbox_run(&["--allow-write", utf8(&dir)], program, &[utf8(&dir)]));
        assert_eq!(out.status, 0, "{}: {}", program.display(), out.stderr);
        let pairs = native.stdout.lines().zip(out.stdout.lines());
        for (want, got) in pairs {
            assert_eq!(got, want, "{}: {}", program.display(), out.stderr);
        }
        assert_eq!(out.stdout.lines().count(), native.stdout.lines().count(), "{}", out.stdout);
        // The refusals are the kernel's, not the policy's.
        assert!(denials(&out).is_empty(), "{}: {}", program.display(), out.stderr);
    }
}

/// Starts `inotify_watch PATH` under trapbox; once it says "watching", creates `cause` (from
/// outside the sandbox) and returns the outcome.
fn watch(program: &Path, flags: &[&str], path: &Path, cause: Option<&Path>) -> Outcome {
    let mut child = trapbox_run(flags, program, &[utf8(path)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start trapbox");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut text = String::new();
    stdout.read_line(&mut text).expect("first line");
    if text == "watching\n" {
        if let Some(cause) = cause {
            std::fs::write(cause, "").unwrap();
        }
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let out = child.wait_with_output().expect("wait");
    Outcome { status: out.status.code().unwrap_or(-1), stdout: text + &rest, stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

/// A watch is more than a look: on a directory above a grant (which may be stat'ed on the way
/// to the grant) it would report the names of files outside it, so it is refused, with a line
/// saying why; inside a grant it works and reports what happens there.
#[test]
fn a_watch_needs_a_read_grant_on_what_it_watches() {
    let (plain, rewritten) = guest_pair("inotify_watch.c");
    let scratch = scratch_dir("host_work_inotify");
    let granted = scratch.join("granted");
    std::fs::create_dir_all(&granted).unwrap();
    let flags = ["--allow-read", "/usr/share", "--allow-read", utf8(&granted)];
    for program in [&plain, &rewritten] {
        for above in [Path::new("/usr"), &scratch] {
            let out = watch(program, &flags, above, None);
            assert_eq!(out.stdout, format!("watch {}: EACCES\n", above.display()), "{}: {}", program.display(), out.stderr);
            let line = denials(&out).into_iter().find(|l| l.starts_with("trapbox: denied inotify_add_watch("));
            let reason = format!("a watch on {} would report the names and opens of files outside the allowed paths", above.display());
            assert!(line.is_some_and(|l| l.contains(&reason)), "{}", out.stderr);
        }
        let cause = granted.join(format!("created-{}", program.file_name().and_then(|n| n.to_str()).unwrap_or("guest")));
        let out = watch(program, &flags, &granted, Some(&cause));
        let name = cause.file_name().and_then(|n| n.to_str()).expect("a name");
        assert_eq!((out.status, out.stdout.as_str()), (0, format!("watching\ncreated: {name}\n").as_str()), "{}", out.stderr);
        assert!(denials(&out).is_empty(), "{}", out.stderr);
    }
}

/// A guest that restricts itself with Landlock (reads only beneath its scratch dir) gets
/// EACCES for /dev/null and a granted /usr file as natively — from the host's opens too, in
/// the thread that restricted itself, a thread and a child it starts afterwards — while its
/// scratch file opens, and a thread started before the restriction stays unrestricted.
#[test]
fn a_guests_own_landlock_ruleset_binds_the_hosts_opens() {
    let (plain, rewritten) = guest_pair("landlock_self.c");
    let scratch = scratch_dir("host_work_landlock");
    std::fs::write(scratch.join("inside"), "in scratch\n").unwrap();
    let other = Path::new("/usr/share/common-licenses/GPL-3");
    assert!(other.exists(), "Debian's base-files provide {}", other.display());
    let args = [utf8(&scratch), utf8(other)];
    let native = run(Command::new(&plain).args(args));
    assert_eq!(native.status, 0, "{native:?}");
    for expected in ["after: open /dev/null: EACCES", "child forked after: open /dev/null: EACCES", "thread started before: open /dev/null: ok \"\""] {
        assert!(native.stdout.lines().any(|l| l == expected), "the native run itself: {expected}\n{}", native.stdout);
    }
    let flags = ["--allow-read", utf8(&scratch), "--allow-read", "/usr/share"];
    for program in [&plain, &rewritten] {
        let out = run(&mut trapbox_run(&flags, program, &args));
        assert_eq!((out.status, &out.stdout), (0, &native.stdout), "{}: {}", program.display(), out.stderr);
        // Refused by the kernel under the guest's rules, not by the policy.
        assert!(denials(&out).is_empty(), "{}", out.stderr);
    }
}

/// The changes the broker performs for a guest (mkdir, mknod, symlink, unlink, rename, link,
/// truncate) meet the guest's own Landlock domain too: after restricting itself to reading,
/// the guest gets the kernel's EACCES for each, as natively, though its write grant allows them.
#[test]
fn a_guests_own_landlock_ruleset_binds_the_hosts_metadata_changes() {
    let (plain, rewritten) = guest_pair("landlock_changes.c");
    let lay_out = |dir: &Path| {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("f"), "data\n").unwrap();
    };
    let scratch = scratch_dir("host_work_landlock_changes").join("work");
    lay_out(&scratch);
    let native = run(Command::new(&plain).arg(&scratch));
    assert_eq!(native.status, 0, "{native:?}");
    assert!(native.stdout.contains("mkdir: EACCES\n") && native.stdout.contains("f size: 5\n"), "the native run itself: {}", native.stdout);
    for program in [&plain, &rewritten] {
        lay_out(&scratch);
        let out = run(&mut trapbox_run(&["--allow-write", utf8(&scratch)], program, &[utf8(&scratch)]));
        assert_eq!((out.status, &out.stdout), (0, &native.stdout), "{}: {}", program.display(), out.stderr);
    }
}
