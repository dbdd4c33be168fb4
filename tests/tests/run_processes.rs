//! Processes, signals and trapbox's own messages, each as natively: the program's exit is
//! trapbox's at once (the rest of the guest is ended, unless `--wait-all`), job control in an
//! interactive shell on a terminal, inherited fds kept with `--keep-fd`, denials counted in
//! one line unless asked for, and a clear refusal to run trapbox inside trapbox.

mod run_support;

use std::path::Path;
use std::process::Command;

use run_support::{busybox_trapped, denials, trapbox_run, trapbox_run_quiet};
use trapbox_tests::{run, scratch_dir, trapbox_bin};

/// The summary line trapbox prints at exit when denials were neither shown nor logged.
fn summary_of(count: usize) -> String {
    let calls = if count == 1 { "call was" } else { "calls were" };
    format!("trapbox: {count} {calls} denied by the policy; --verbose prints each, --log FILE writes them to FILE")
}

/// A dynamic `/bin/echo` probes for files a policy does not grant (the preload list, locale
/// data): by default its stderr stays its own but for one line at exit that counts them;
/// `--verbose` prints each as it happens, `--log` writes each to the file and nothing to stderr.
#[test]
fn denials_are_counted_in_one_line_at_exit_unless_asked_for() {
    let dir = scratch_dir("processes_summary");
    let echo = Path::new("/bin/echo");
    let native = run(Command::new(echo).arg("hi"));
    let verbose = run(trapbox_run(&["--allow-read", "/etc/hostname"], echo, &["hi"]).current_dir(&dir));
    let count = denials(&verbose).len();
    assert!(count > 0, "the dynamic echo probes ungranted files: {verbose:?}");
    assert_eq!(verbose.stderr.lines().count(), count, "--verbose: each denial, no summary: {}", verbose.stderr);

    let quiet = run(trapbox_run_quiet(&["--allow-read", "/etc/hostname"], echo, &["hi"]).current_dir(&dir));
    assert_eq!((quiet.status, quiet.stdout.as_str()), (native.status, native.stdout.as_str()), "{quiet:?}");
    assert_eq!(quiet.stderr, format!("{}\n", summary_of(count)));

    let logged = run(trapbox_run_quiet(&["--allow-read", "/etc/hostname", "--log", "host.log"], echo, &["hi"]).current_dir(&dir));
    assert_eq!((logged.status, logged.stdout.as_str(), logged.stderr.as_str()), (native.status, native.stdout.as_str(), ""));
    let log = std::fs::read_to_string(dir.join("host.log")).unwrap();
    assert_eq!(log.lines().filter(|l| l.starts_with("trapbox: denied ")).count(), count, "{log}");
}

/// The summary comes after everything the guest wrote and never changes the exit status, nor
/// the death by a signal that trapbox reports as its own.
#[test]
fn the_summary_line_keeps_the_programs_status() {
    let dir = scratch_dir("processes_summary_status");
    let script = "cat /etc/shadow; echo last >&2; exit 7";
    let out = run(trapbox_run_quiet(&["--allow-read", "/usr/share"], &busybox_trapped(), &["sh", "-c", script]).current_dir(&dir));
    let verbose = run(trapbox_run(&["--allow-read", "/usr/share"], &busybox_trapped(), &["sh", "-c", script]).current_dir(&dir));
    let count = denials(&verbose).len();
    assert_eq!(out.status, 7, "{out:?}");
    assert_eq!(out.stderr, format!("cat: can't open '/etc/shadow': Permission denied\nlast\n{}\n", summary_of(count)));

    let out = run(trapbox_run_quiet(&["--allow-read", "/usr/share"], &busybox_trapped(), &["sh", "-c", "cat /etc/shadow; kill -KILL $$"]).current_dir(&dir));
    assert_eq!(out.status, 128 + 9, "trapbox dies by the guest's signal: {out:?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.first(), Some(&"cat: can't open '/etc/shadow': Permission denied"), "{}", out.stderr);
    assert!(lines.iter().any(|l| l.starts_with("trapbox: ") && l.ends_with("denied by the policy; --verbose prints each, --log FILE writes them to FILE")), "{}", out.stderr);
}

/// A guest may not trace (the table refuses ptrace), so an inner trapbox could never attach
/// to its own guest: it says so in one line and exits 125, confined or not, with or without
/// namespaces, instead of failing later on something that is not the reason.
#[test]
fn trapbox_inside_trapbox_says_why_it_cannot_run() {
    let dir = scratch_dir("processes_nested");
    let inner = trapbox_bin();
    let inner = inner.to_str().unwrap();
    let outer_flags: [&[&str]; 3] = [&["--allow-exec", inner, "--allow-read", "/"], &["--unconfined"], &["--unconfined", "--no-namespaces"]];
    for flags in outer_flags {
        let mut cmd = Command::new(trapbox_bin());
        cmd.arg("run").args(flags).args(["--", inner, "run", "--", "/bin/true"]).current_dir(&dir);
        let out = run(&mut cmd);
        assert_eq!(out.status, 125, "{flags:?}: {out:?}");
        assert_eq!(out.stdout, "");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{flags:?}: one line: {}", out.stderr);
        assert!(
            lines[0].starts_with("trapbox: error: cannot run under trapbox: ptrace is refused inside a sandbox (this process is a trapbox guest"),
            "{flags:?}: {}",
            out.stderr
        );
    }
    // Outside trapbox nothing of the kind is said.
    let out = run(Command::new(trapbox_bin()).args(["run", "--unconfined", "--", "/bin/true"]).current_dir(&dir));
    assert_eq!((out.status, out.stderr.as_str()), (0, ""), "{out:?}");
}
