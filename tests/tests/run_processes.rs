//! Processes, signals and trapbox's own messages, each as natively: the program's exit is
//! trapbox's at once (the rest of the guest is ended, unless `--wait-all`), job control in an
//! interactive shell on a terminal, inherited fds kept with `--keep-fd`, denials counted in
//! one line unless asked for, and a clear refusal to run trapbox inside trapbox.

mod run_support;

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::Command;

use run_support::{busybox_trapped, denials, trapbox_run, trapbox_run_quiet};
use trapbox_tests::{run, scratch_dir, trapbox_bin};

/// The summary line trapbox prints at exit when denials were neither shown nor logged.
fn summary_of(count: usize) -> String {
    let calls = if count == 1 { "call was" } else { "calls were" };
    format!("trapbox: {count} {calls} denied by the policy; without --quiet each is printed, --log FILE writes them to FILE")
}

/// A program that probes for files a policy does not grant (here a shell testing for
/// `/etc/shadow` and reading it with its errors discarded, as programs look for optional
/// files): by default each refusal is printed as it happens; with `--quiet` its stderr stays
/// its own but for one line at exit that counts them; `--log` writes each to the file and
/// nothing to stderr.
#[test]
fn each_denial_has_its_line_and_quiet_counts_them_in_one_line_at_exit() {
    let dir = scratch_dir("processes_summary");
    let script = "test -e /etc/shadow || cat /etc/shadow 2>/dev/null; echo hi";
    let native = run(Command::new(trapbox_tests::busybox()).args(["sh", "-c", script]));
    assert_eq!((native.status, native.stdout.as_str(), native.stderr.as_str()), (0, "hi\n", ""), "{native:?}");
    let sh = busybox_trapped();
    let args = ["sh", "-c", script];
    // (--audit: the stat is the host's to refuse too, as well as the open.)
    let verbose = run(trapbox_run(&["--audit", "--allow-read", "/etc/hostname"], &sh, &args).current_dir(&dir));
    let count = denials(&verbose).len();
    assert!(count >= 2, "the stat and the open of /etc/shadow are refused: {verbose:?}");
    assert_eq!(verbose.stderr.lines().count(), count, "by default: each denial, no summary: {}", verbose.stderr);

    let quiet = run(trapbox_run_quiet(&["--audit", "--allow-read", "/etc/hostname"], &sh, &args).current_dir(&dir));
    assert_eq!((quiet.status, quiet.stdout.as_str()), (native.status, native.stdout.as_str()), "{quiet:?}");
    assert_eq!(quiet.stderr, format!("{}\n", summary_of(count)));

    let logged = run(trapbox_run_quiet(&["--audit", "--allow-read", "/etc/hostname", "--log", "host.log"], &sh, &args).current_dir(&dir));
    assert_eq!((logged.status, logged.stdout.as_str(), logged.stderr.as_str()), (native.status, native.stdout.as_str(), ""));
    let log = std::fs::read_to_string(dir.join("host.log")).unwrap();
    assert_eq!(log.lines().filter(|l| l.starts_with("trapbox: denied ")).count(), count, "{log}");
}

/// A refusal repeated word for word (a program retrying in a loop) is printed 8 times, then
/// at each doubling with its count, and once more at exit with the final count: every one is
/// accounted for, in the log file too, but a loop cannot flood either. `--quiet` still counts
/// all of them in its one line.
#[test]
fn a_denial_repeated_in_a_loop_is_counted_not_flooded() {
    let dir = scratch_dir("processes_repeats");
    let script = "i=0; while [ $i -lt 100 ]; do i=$((i+1)); cat /etc/shadow 2>/dev/null; done; echo done";
    let sh = busybox_trapped();
    let args = ["sh", "-c", script];
    let logged = run(trapbox_run(&["--allow-read", "/etc/hostname", "--log", "host.log"], &sh, &args).current_dir(&dir));
    assert_eq!((logged.status, logged.stdout.as_str(), logged.stderr.as_str()), (0, "done\n", ""), "{logged:?}");
    let log = std::fs::read_to_string(dir.join("host.log")).unwrap();
    let shadow: Vec<&str> = log.lines().filter(|l| l.starts_with("trapbox: denied ") && l.contains("\"/etc/shadow\"")).collect();
    let plain = shadow.iter().filter(|l| !l.ends_with(']')).count();
    let marks: Vec<&str> = shadow.iter().filter_map(|l| l.rsplit_once(" [").map(|(_, mark)| mark)).collect();
    assert_eq!((plain, marks), (8, vec!["16 times so far]", "32 times so far]", "64 times so far]", "100 times in all]"]), "{log}");

    let quiet = run(trapbox_run_quiet(&["--allow-read", "/etc/hostname"], &sh, &args).current_dir(&dir));
    assert_eq!(quiet.stderr, format!("{}\n", summary_of(100)), "{quiet:?}");
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
    // The guest's own lines (what the shell said about /etc/shadow, then `last`), then ours.
    let guests: String = verbose.stderr.lines().filter(|l| !l.starts_with("trapbox: denied ")).map(|l| format!("{l}\n")).collect();
    assert!(guests.starts_with("cat: can't open '/etc/shadow': ") && guests.ends_with("last\n"), "{verbose:?}");
    assert_eq!(out.stderr, format!("{guests}{}\n", summary_of(count)));

    let out = run(trapbox_run_quiet(&["--allow-read", "/usr/share"], &busybox_trapped(), &["sh", "-c", "cat /etc/shadow; kill -KILL $$"]).current_dir(&dir));
    assert_eq!(out.status, 128 + 9, "trapbox dies by the guest's signal: {out:?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(lines.first().is_some_and(|l| l.starts_with("cat: can't open '/etc/shadow': ")), "{}", out.stderr);
    assert!(lines.iter().any(|l| l.starts_with("trapbox: ") && l.ends_with("denied by the policy; without --quiet each is printed, --log FILE writes them to FILE")), "{}", out.stderr);
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

/// `O_NONBLOCK` (asm-generic/fcntl.h): a write open of a FIFO with it fails with `ENXIO` when
/// no process has the FIFO open for reading.
const O_NONBLOCK: i32 = 0o4000;
const ENXIO: i32 = 6;

/// A fresh directory holding a FIFO named `fifo`.
fn dir_with_fifo(test: &str) -> std::path::PathBuf {
    let dir = scratch_dir(test);
    let made = run(Command::new("mkfifo").arg(dir.join("fifo")));
    assert_eq!(made.status, 0, "{made:?}");
    dir
}

/// Writes `late\n` into the FIFO `fifo`, waiting until a reader has it open.
fn release(fifo: &Path) {
    use std::io::Write;
    let mut writer = std::fs::OpenOptions::new().write(true).open(fifo).expect("open the fifo for writing");
    writer.write_all(b"late\n").expect("write the fifo");
}

/// Runs `cmd` with its output captured and returns it with whether the FIFO's reader had to be
/// released for the run to end. Released at once when `at_once`; otherwise only if the run
/// has not ended a minute later (the hang breaker of a trapbox that waits for the reader: its
/// status then arrives after the release, which the caller's assertion reports).
fn run_releasing(cmd: &mut Command, fifo: &Path, at_once: bool) -> (trapbox_tests::Outcome, bool) {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start trapbox");
    let released = Arc::new(AtomicBool::new(false));
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let releaser = {
        let (released, fifo) = (released.clone(), fifo.to_path_buf());
        std::thread::spawn(move || {
            if at_once || finished.recv_timeout(std::time::Duration::from_secs(60)).is_err() {
                released.store(true, Ordering::SeqCst);
                release(&fifo);
            }
        })
    };
    let out = child.wait_with_output().expect("wait for trapbox");
    let released_before_the_end = released.load(Ordering::SeqCst);
    let _ = done.send(());
    releaser.join().expect("the releaser");
    let status = out.status.code().unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0));
    let outcome = trapbox_tests::Outcome {
        status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (outcome, released_before_the_end)
}

/// The shells of these tests: static busybox as it is and rewritten, and Debian's dynamic dash
/// (whose `cat` is the dynamic /usr/bin/cat); each with the program to run natively for it and
/// the grants it needs in `dir`.
fn shells(dir: &Path) -> Vec<(std::path::PathBuf, std::path::PathBuf, Vec<String>)> {
    let read = ["--allow-read".to_string(), dir.display().to_string()];
    let exec = ["--allow-exec".to_string(), "/usr/bin".to_string()];
    let busybox = trapbox_tests::busybox();
    vec![
        (busybox.clone(), busybox.clone(), read.to_vec()),
        (busybox_trapped(), busybox, read.to_vec()),
        (Path::new("/bin/dash").to_path_buf(), Path::new("/bin/dash").to_path_buf(), [read, exec].concat()),
    ]
}

/// The words before a script that make `shell` run it (busybox picks its applet from the
/// first).
fn sh_words(shell: &Path) -> &'static [&'static str] {
    if shell.file_name().is_some_and(|n| n.to_string_lossy().starts_with("busybox")) {
        &["sh", "-c"]
    } else {
        &["-c"]
    }
}

/// The shell's arguments for `script`.
fn sh_c<'a>(shell: &Path, script: &'a str) -> Vec<&'a str> {
    [sh_words(shell), &[script]].concat()
}

/// `sh -c 'echo parent; { cat fifo; echo child-done; } & exit 4'`: natively the shell's
/// status 4 arrives while its background child still waits for a writer on the FIFO. Under
/// trapbox the status arrives as soon: before anything released that child (the evidence:
/// trapbox would otherwise still be waiting for it) — and the child is gone with the program
/// (the FIFO has no reader left, and the child's stdout, the test's pipe, was closed).
#[test]
fn the_programs_exit_is_reported_at_once_and_what_it_left_behind_ends_with_it() {
    let script = "echo parent; { cat fifo; echo child-done; } & exit 4";
    let (native_dir, dir) = (dir_with_fifo("processes_exit_native"), dir_with_fifo("processes_exit"));
    let mut runs = shells(&dir);
    // Without a PID namespace there is no init whose exit ends the rest: the host kills them.
    let (busybox, _, grants) = runs[0].clone();
    runs.push((busybox.clone(), busybox, [grants, vec!["--no-namespaces".to_string()]].concat()));
    for (shell, natively, grants) in runs {
        let log = std::fs::File::create(native_dir.join("native.out")).unwrap();
        let mut child = Command::new(&natively).args(sh_c(&natively, script)).current_dir(&native_dir).stdout(log).spawn().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(4), "{}", natively.display());
        release(&native_dir.join("fifo")); // the native background child is still there to read it

        let grants: Vec<&str> = grants.iter().map(String::as_str).collect();
        let (out, released) = run_releasing(trapbox_run(&grants, &shell, &sh_c(&shell, script)).current_dir(&dir), &dir.join("fifo"), false);
        assert!(!released, "{}: trapbox reported the status only after the background child was released: {out:?}", shell.display());
        assert_eq!((out.status, out.stdout.as_str()), (4, "parent\n"), "{}: {out:?}", shell.display());
        let reader = std::fs::OpenOptions::new().write(true).custom_flags(O_NONBLOCK).open(dir.join("fifo"));
        assert_eq!(reader.err().and_then(|e| e.raw_os_error()), Some(ENXIO), "{}: the background child is gone", shell.display());
    }
}

/// With `--wait-all` (or `wait_all = true` in a policy file) trapbox waits for the last guest
/// process, and still exits with the program's status: the background child's output is all
/// there when trapbox's status arrives.
#[test]
fn wait_all_waits_for_every_guest_process_and_keeps_the_programs_status() {
    let script = "echo parent; { cat fifo; echo child-done; } & exit 4";
    let dir = dir_with_fifo("processes_wait_all");
    for (shell, _, grants) in shells(&dir) {
        for how in ["flag", "file"] {
            std::fs::write(dir.join("p.toml"), "wait_all = true\n").unwrap();
            let mut flags: Vec<&str> = grants.iter().map(String::as_str).collect();
            flags.extend(if how == "flag" { ["--wait-all"].as_slice() } else { ["--policy", "p.toml"].as_slice() });
            let (out, released) = run_releasing(trapbox_run(&flags, &shell, &sh_c(&shell, script)).current_dir(&dir), &dir.join("fifo"), true);
            assert!(released);
            assert_eq!((out.status, out.stdout.as_str()), (4, "parent\nlate\nchild-done\n"), "{} {how}: {out:?}", shell.display());
        }
    }
}

/// An fd the caller opened on purpose reaches the guest with `--keep-fd`, as it would reach
/// the program natively (a file outside every grant: the fd is the caller's grant); fds it
/// does not name are closed, as before.
#[test]
fn keep_fd_hands_the_named_inherited_fds_to_the_guest_and_no_other() {
    let dir = scratch_dir("processes_keep_fd");
    std::fs::write(dir.join("input.txt"), "handed over\n").unwrap();
    let outer = |inner: &str| format!("exec 5<input.txt 6>>output.txt 7>/dev/null; {inner}");
    for (shell, natively, grants) in shells(&dir) {
        let script = "cat <&5 >&6; echo $? >&6";
        let _ = std::fs::remove_file(dir.join("output.txt"));
        let native_inner = format!("{} {} '{script}'", natively.display(), sh_words(&natively).join(" "));
        let native = run(Command::new("/bin/sh").arg("-c").arg(outer(&native_inner)).current_dir(&dir));
        let native_output = std::fs::read_to_string(dir.join("output.txt")).unwrap();
        assert_eq!((native.status, native_output.as_str()), (0, "handed over\n0\n"), "{native:?}");

        let _ = std::fs::remove_file(dir.join("output.txt"));
        let mut flags: Vec<String> = grants.clone();
        flags.extend(["--keep-fd", "5", "--keep-fd", "6"].map(String::from));
        let mut words: Vec<String> = vec![trapbox_bin().display().to_string(), "run".into()];
        words.extend(flags);
        words.push("--".into());
        words.push(shell.display().to_string());
        words.extend(sh_words(&shell).iter().map(|a| a.to_string()));
        let quoted = |script: &str| format!("{} '{script}'", words.join(" "));
        let out = run(Command::new("/bin/sh").arg("-c").arg(outer(&quoted(script))).current_dir(&dir));
        let output = std::fs::read_to_string(dir.join("output.txt")).unwrap_or_default();
        assert_eq!((out.status, output.as_str()), (native.status, native_output.as_str()), "{}: {out:?}", shell.display());
        // fd 7 was open in trapbox too, but not named: the guest starts without it.
        let out = run(Command::new("/bin/sh").arg("-c").arg(outer(&quoted("echo x >&7 || echo closed >&6"))).current_dir(&dir));
        let output = std::fs::read_to_string(dir.join("output.txt")).unwrap_or_default();
        assert!(output.ends_with("closed\n"), "{}: {out:?} {output:?}", shell.display());
    }
}

#[test]
fn keep_fd_of_an_fd_that_is_not_open_is_an_error_that_names_it() {
    let out = run(Command::new("/bin/sh").arg("-c").arg(format!("exec 9>&-; {} run --keep-fd 9 -- /bin/true", trapbox_bin().display())));
    assert_eq!(out.status, 125, "{out:?}");
    assert_eq!(out.stderr, "trapbox: error: --keep-fd 9: file descriptor 9 is not open, so there is nothing to keep\n");
}

/// A make under trapbox takes part in the outer make's jobserver when its fds are kept (make
/// 4.3 passes them as `--jobserver-auth=R,W` in `MAKEFLAGS`): its two jobs run at once, as
/// natively — they meet at a FIFO, which one job at a time could never pass (the writer gives
/// up after a minute, the hang breaker) — and make says nothing about the jobserver. Without
/// the fds it warns that it falls back to one job.
#[test]
fn a_make_under_trapbox_shares_the_outer_makes_jobserver_with_keep_fd() {
    let dir = dir_with_fifo("processes_jobserver");
    let trapbox = trapbox_bin();
    let under = format!("{} run --allow-exec /usr/bin --allow-write {} ", trapbox.display(), dir.display());
    let makefile = format!(
        "KEEP = $(shell echo '$(MAKEFLAGS)' | sed -n 's/.*--jobserver-auth=\\([0-9]*\\),\\([0-9]*\\).*/--keep-fd \\1 --keep-fd \\2/p')\n\
         native:\n\t+@$(MAKE) -s -f sub.mk\n\
         kept:\n\t+@{under} $(KEEP) -- /usr/bin/make -s -f sub.mk\n\
         closed:\n\t+@{under} -- /usr/bin/make -s -f sub.mk one\n"
    );
    std::fs::write(dir.join("Makefile"), makefile).unwrap();
    std::fs::write(
        dir.join("sub.mk"),
        "all: writer reader\nwriter:\n\t@timeout 60 sh -c 'echo met > fifo'\nreader:\n\t@cat fifo\none:\n\t@echo one job\n",
    )
    .unwrap();
    let make = |target: &str| run(Command::new("make").args(["-j2", "--no-print-directory", target]).current_dir(&dir));
    let native = make("native");
    assert_eq!((native.status, native.stdout.as_str(), native.stderr.as_str()), (0, "met\n", ""), "{native:?}");
    let kept = make("kept");
    assert_eq!((kept.status, kept.stdout.as_str()), (0, "met\n"), "{kept:?}");
    assert!(!kept.stderr.contains("jobserver"), "{}", kept.stderr);
    let closed = make("closed");
    assert_eq!((closed.status, closed.stdout.as_str()), (0, "one job\n"), "{closed:?}");
    assert!(closed.stderr.contains("warning: jobserver unavailable: using -j1"), "{}", closed.stderr);
}

/// A program that manages its own jobs signals their process groups (`kill(-pgid)`) and its
/// own (`kill(0)`) as natively, with and without the guest's own PID namespace; a group that is
/// not the guest's does not exist for it (ESRCH, as the kernel answers in a PID namespace) and
/// its processes are untouched.
#[test]
fn a_guest_signals_its_own_process_groups_and_no_other() {
    use std::os::unix::process::CommandExt;
    let mut victim = Command::new("sleep").arg("100").process_group(0).spawn().expect("sleep");
    let other = victim.id().to_string();
    let dir = scratch_dir("processes_group_kill");
    let (plain, rewritten) = run_support::guest_pair("group_kill.c");
    let ours = "kill(-own child's group, SIGTERM): ok\nthe child: killed by 15\nkill(0, 0): ok\nkill(-own child's group, 0) after it ended: ESRCH\n";
    // Natively the other group is one that does not exist (the largest pid number).
    let expected = format!("{ours}kill(-other group, 0): ESRCH\nkill(-other group, SIGTERM): ESRCH\n");
    let native = run(Command::new(&plain).arg(i32::MAX.to_string()).current_dir(&dir));
    assert_eq!((native.status, native.stdout.as_str()), (0, expected.as_str()), "natively: {native:?}");
    for program in [&plain, &rewritten] {
        for namespaces in [&[][..], &["--no-namespaces"][..]] {
            let flags = [namespaces, &["--allow-read", "/usr"]].concat();
            let out = run(trapbox_run(&flags, program, &[&other]).current_dir(&dir));
            assert_eq!((out.status, out.stdout.as_str()), (0, expected.as_str()), "{} {namespaces:?}: {out:?}", program.display());
        }
    }
    assert!(victim.try_wait().unwrap().is_none(), "the process outside the guest was not signalled");
    victim.kill().unwrap();
    victim.wait().unwrap();
}

/// Types `steps` (text, then a regular expression to wait for in the output) into `argv` run on
/// a pseudo-terminal by `tests/guests/pty_session.py`, in `dir`; the transcript (with the exit
/// status last) and whether every expectation was met. The steps go through `file`.
fn pty_session(steps: &[(&str, &str)], argv: &[&str], dir: &Path, file: &Path) -> (String, bool) {
    let json_string = |text: &str| {
        let mut out = String::from("\"");
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    };
    let steps: Vec<String> = steps.iter().map(|(text, wait)| format!("[{}, {}]", json_string(text), json_string(wait))).collect();
    std::fs::write(file, format!("[{}]\n", steps.join(",\n"))).unwrap();
    let driver = trapbox_tests::workspace_root().join("tests/guests/pty_session.py");
    let out = run(Command::new("/usr/bin/python3").arg(driver).arg(file).args(argv).env("TERM", "dumb").current_dir(dir));
    (format!("{}{}", out.stdout, out.stderr), out.status == 0)
}

/// What must be the same as natively in a job-control transcript, line by line: each job's own
/// words (`b running`, `b continued`), each job the shell reports stopped, each status the
/// shell prints (`B=130`), the exit status. Prompts and the terminal's echo of Ctrl-Z, which
/// may land before or after the shell's own line, are left out.
fn job_events(transcript: &str) -> Vec<String> {
    let mut events = Vec::new();
    for line in transcript.lines() {
        // The terminal echoes a Ctrl-C or Ctrl-Z (`^C`) right after whatever the program last
        // printed, on the same line or the next, as the timing falls: only what precedes it counts.
        let line = &without_escapes(line);
        let line = line.split("^C").next().unwrap_or("").split("^Z").next().unwrap_or("");
        let words: Vec<&str> = line.split_whitespace().collect();
        let last_two = || words[words.len().saturating_sub(2)..].join(" ");
        let status = |w: &str| w.len() > 2 && w.as_bytes()[1] == b'=' && w[2..].chars().all(|c| c.is_ascii_digit());
        if line.starts_with("exit status ") {
            events.push(line.to_string());
        } else if line.contains("Stopped") {
            events.push("Stopped".to_string());
        } else if line.ends_with(" running") || line.ends_with(" continued") {
            events.push(last_two());
        } else if words.last().is_some_and(|w| status(w)) && !line.contains("echo") {
            events.push(words[words.len() - 1].to_string());
        }
    }
    events
}

/// `line` without terminal control sequences (`ESC [ … letter`: busybox's cursor query, bash's
/// bracketed-paste switches).
fn without_escapes(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            while chars.next().is_some_and(|c| !c.is_ascii_alphabetic()) {}
        } else {
            out.push(c);
        }
    }
    out
}

/// Start `command NAME` in the foreground, Ctrl-Z it, list the jobs, `fg` it (it says it is
/// continued) and Ctrl-C it; the shell then prints the status it saw.
fn stop_and_fg(command: &str, name: &str) -> Vec<(String, String)> {
    let step = |text: &str, wait: &str| (text.to_string(), wait.to_string());
    vec![
        step(&format!("{command} {name}\n"), &format!("{name} running")),
        step("\u{1a}", "Stopped"),
        step("jobs; echo \"J=$?\"\n", "J=\\d+"),
        step("fg\n", &format!("{name} continued")),
        step("\u{3}", ""),
        step("echo \"B=$?\"\n", "B=\\d+"),
    ]
}

/// What a person does with jobs in an interactive shell: `kill %1` and `wait`, Ctrl-Z then
/// `jobs` and `fg` and Ctrl-C, Ctrl-Z then `bg` and `kill -TERM -PGID`, then `exit 3`.
fn job_control_steps(probe: &str) -> Vec<(String, String)> {
    let step = |text: &str, wait: &str| (text.to_string(), wait.to_string());
    let mut steps = vec![step(&format!("{probe} a &\n"), "a running"), step("kill %1; wait %1; echo \"A=$?\"\n", "A=\\d+")];
    steps.extend(stop_and_fg(probe, "b"));
    steps.extend([
        step(&format!("{probe} c\n"), "c running"),
        step("\u{1a}", "Stopped"),
        step("bg\n", "c continued"),
        step("kill -TERM -$(jobs -p %1); wait %1; echo \"C=$?\"\n", "C=\\d+"),
        step("exit 3\n", ""),
    ]);
    steps
}

/// The job probe as built and rewritten, the directory both are in (the sessions' working
/// directory), and a steps file of `test`'s own.
fn job_probes(test: &str) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let (plain, rewritten) = run_support::guest_pair("job_probe.c");
    let dir = plain.parent().unwrap().to_path_buf();
    (plain, rewritten, dir, scratch_dir(test).join("steps.json"))
}

/// `./NAME` of a program in the sessions' working directory.
fn name(program: &Path) -> String {
    format!("./{}", program.file_name().unwrap().to_string_lossy())
}

fn as_steps(steps: &[(String, String)]) -> Vec<(&str, &str)> {
    steps.iter().map(|(t, w)| (t.as_str(), w.as_str())).collect()
}

/// Job control in `busybox sh -i` and `bash -i` on a terminal, under trapbox as natively: the
/// shells put each job in a process group of its own and give it the terminal (setpgid,
/// TIOCSPGRP), Ctrl-Z stops it, `fg` and `bg` continue it and `kill %1` or `kill -TERM -PGID`
/// end it (kill(-pgid) of the guest's own groups), and the shell's exit status is trapbox's.
#[test]
fn job_control_in_interactive_shells_on_a_terminal_works_as_natively() {
    let (plain, rewritten, dir, file) = job_probes("processes_job_control");
    let busybox = trapbox_tests::busybox();
    let busybox_trapped = busybox_trapped();
    let trapbox = trapbox_bin();
    let exec = dir.display().to_string();
    let under_with = |flags: &[&str], shell: &[String]| -> Vec<String> {
        let start = [trapbox.display().to_string(), "run".into(), "--allow-exec".into(), exec.clone(), "--allow-read".into(), "/usr".into()];
        [start.to_vec(), flags.iter().map(|f| f.to_string()).collect(), vec!["--".into()], shell.to_vec()].concat()
    };
    let under = |shell: &[String]| under_with(&[], shell);
    let owned = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<String>>();
    let bash = owned(&["/bin/bash", "--norc", "--noprofile", "-i"]);
    let sessions = [
        ("busybox sh", owned(&[busybox.to_str().unwrap(), "sh", "-i"]), under(&owned(&[busybox.to_str().unwrap(), "sh", "-i"])), name(&rewritten)),
        ("busybox.trapped sh", owned(&[busybox.to_str().unwrap(), "sh", "-i"]), under(&owned(&[busybox_trapped.to_str().unwrap(), "sh", "-i"])), name(&rewritten)),
        ("bash", bash.clone(), under(&bash), name(&plain)),
        // In the host's PID namespace the host performs the shells' group kills (fg, bg, kill %1).
        ("busybox sh --no-namespaces", owned(&[busybox.to_str().unwrap(), "sh", "-i"]), under_with(&["--no-namespaces"], &owned(&[busybox.to_str().unwrap(), "sh", "-i"])), name(&rewritten)),
        ("bash --no-namespaces", bash.clone(), under_with(&["--no-namespaces"], &bash), name(&plain)),
    ];
    for (what, native_argv, trapped_argv, probe_under_trapbox) in sessions {
        let native_steps = job_control_steps(&name(&plain));
        let native_argv: Vec<&str> = native_argv.iter().map(String::as_str).collect();
        let (native, met) = pty_session(&as_steps(&native_steps), &native_argv, &dir, &file);
        assert!(met, "{what} natively: {native}");
        let steps = job_control_steps(&probe_under_trapbox);
        let trapped_argv: Vec<&str> = trapped_argv.iter().map(String::as_str).collect();
        let (trapped, met) = pty_session(&as_steps(&steps), &trapped_argv, &dir, &file);
        assert!(met, "{what} under trapbox: {trapped}");
        let events = job_events(&native);
        assert!(events.contains(&"A=143".to_string()) && events.contains(&"B=130".to_string()) && events.contains(&"C=143".to_string()), "{what}: {native}");
        assert_eq!(job_events(&trapped), events, "{what}:\n{trapped}\n---- natively:\n{native}");
    }
}

/// Ctrl-Z on trapbox itself, run by an interactive shell: the program stops, trapbox stops
/// with it, so the shell shows the job stopped and gives the terminal back; `fg` continues the
/// program (it says so), Ctrl-C ends it, and the shell sees the status it would natively.
#[test]
fn ctrl_z_stops_trapbox_with_its_program_and_fg_continues_both() {
    let (plain, rewritten, dir, file) = job_probes("processes_ctrl_z");
    let steps = |command: String| [stop_and_fg(&command, "z"), vec![("exit 3\n".to_string(), String::new())]].concat();
    let bash = ["/bin/bash", "--norc", "--noprofile", "-i"];
    let (native, met) = pty_session(&as_steps(&steps(name(&plain))), &bash, &dir, &file);
    assert!(met, "natively: {native}");
    let events = job_events(&native);
    assert_eq!(events, ["z running", "Stopped", "Stopped", "J=0", "z continued", "B=130", "exit status 3"], "{native}");
    for (program, flags) in [(&plain, ""), (&rewritten, ""), (&rewritten, "--no-namespaces ")] {
        let command = format!("{} run {flags}--allow-exec {} -- {}", trapbox_bin().display(), dir.display(), name(program));
        let (trapped, met) = pty_session(&as_steps(&steps(command)), &bash, &dir, &file);
        assert!(met, "{} {flags}: {trapped}", program.display());
        assert_eq!(job_events(&trapped), events, "{} {flags}:\n{trapped}\n---- natively:\n{native}", program.display());
    }
}

#[test]
fn help_teaches_the_run_ending_with_the_program_keep_fd_and_the_quiet_default() {
    let out = run(Command::new(trapbox_bin()).args(["run", "--help"]));
    assert_eq!(out.status, 0, "{out:?}");
    for needle in ["--wait-all", "container convention", "--keep-fd <N>", "jobserver", "--quiet", "denied by the policy"] {
        assert!(out.stdout.contains(needle), "help lacks {needle:?}:\n{}", out.stdout);
    }
}
