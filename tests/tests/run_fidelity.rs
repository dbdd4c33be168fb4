//! Error paths under a policy are the kernel's: a differential run of small guests, natively
//! and under trapbox with what they touch granted (static and rewritten).

mod run_support;

use std::path::Path;
use std::process::Command;

use run_support::{guest_pair, trapbox_run};
use trapbox_tests::{run, scratch_dir};

#[test]
fn errnos_of_readlink_mkdir_and_bad_dirfds_are_the_kernels() {
    let (plain, rewritten) = guest_pair("errno_probe.c");
    let dir = scratch_dir("fidelity_errno");
    std::fs::write(dir.join("f"), "f\n").unwrap();
    std::os::unix::fs::symlink("f", dir.join("l")).unwrap();
    let path = dir.to_str().expect("utf-8 path");
    let native = run(Command::new(&plain).arg(path));
    assert_eq!(native.status, 0, "{native:?}");
    assert!(native.stdout.contains("readlink of a file: EINVAL\n"), "{}", native.stdout);
    for program in [&plain, &rewritten] {
        // Read only: a create of an existing, visible name must still say EEXIST.
        let out = run(&mut trapbox_run(&["--allow-read", path], program, &[path]));
        assert_eq!(out.stdout, native.stdout, "{}: {}", program.display(), out.stderr);
    }
}

/// An exec after the first is decided once, on the host's pinned copy of its path: its error
/// paths still say what the kernel says, and a path the host cannot read is a logged refusal.
#[test]
fn errnos_of_exec_error_paths_are_the_kernels() {
    let (plain, rewritten) = guest_pair("exec_errors.c");
    let dir = scratch_dir("fidelity_exec_errors");
    std::fs::write(dir.join("f"), "f\n").unwrap();
    let path = dir.to_str().expect("utf-8 path");
    let native = run(Command::new(&plain).arg(path));
    assert_eq!(native.status, 0, "{native:?}");
    assert!(native.stdout.contains("a path at an unmapped address: EFAULT\n"), "{}", native.stdout);
    assert!(native.stdout.contains("a file without exec permission: EACCES\n"), "{}", native.stdout);
    for program in [&plain, &rewritten] {
        let out = run(&mut trapbox_run(&["--allow-read", "/", "--allow-exec", "/"], program, &[path]));
        assert_eq!(out.stdout, native.stdout, "{}: {}", program.display(), out.stderr);
        let refused: Vec<&str> = run_support::denials(&out);
        assert_eq!(refused.len(), 3, "NULL, unmapped and too long: {}", out.stderr);
        assert!(refused.iter().all(|line| line.starts_with("trapbox: denied execve(")), "{refused:?}");
    }
}

/// Outside every grant the guest sees one world: a file no grant covers does not exist, for an
/// open, an exec, a stat and an access alike, as a missing file natively (programs that
/// tolerate a missing optional file keep working); a directory on the way to a grant exists
/// and may be looked at, not opened.
#[test]
fn a_path_outside_every_grant_does_not_exist_for_every_call() {
    let script = |path: &str| {
        format!(
            "cat {path}; echo cat=$?; {path}; echo exec=$?; test -e {path} && echo exists || echo absent; \
             ls -d {path} 2>&1 | sed 's/.*: //'; touch {path}; echo touch=$?"
        )
    };
    let native = run(Command::new(trapbox_tests::busybox()).args(["sh", "-c", &script("/no-such-dir/passwd")]));
    let out = run(&mut trapbox_run(&["--allow-read", "/usr"], &trapbox_tests::busybox(), &["sh", "-c", &script("/etc/shadow")]));
    let guest_view = out.stdout.replace("/etc/shadow", "/no-such-dir/passwd");
    assert_eq!(guest_view, native.stdout, "{}", out.stderr);
    assert!(native.stdout.contains("cat=1") && native.stdout.contains("exec=127") && native.stdout.contains("absent"), "{native:?}");
    // Python's subprocess tells a missing program from a forbidden one by the errno.
    let probe = "import subprocess\ntry:\n    subprocess.run([PATH])\nexcept OSError as e:\n    print(type(e).__name__)";
    let native = run(Command::new("python3").args(["-c", &probe.replace("PATH", "'/no-such-dir/tool'")]));
    let out = run(&mut trapbox_run(&["--allow-read", "/usr", "--allow-exec", "/usr/bin/python3"], Path::new("/usr/bin/python3"), &["-c", &probe.replace("PATH", "'/etc/shadow'")]));
    assert_eq!((native.stdout.as_str(), out.stdout.as_str()), ("FileNotFoundError\n", "FileNotFoundError\n"), "{}", out.stderr);
    // On the way to a grant: there, but not to be opened.
    let out = run(&mut trapbox_run(&["--allow-read", "/usr/share"], &trapbox_tests::busybox(), &["sh", "-c", "test -d /usr && echo there; ls /usr >/dev/null 2>&1; echo ls=$?"]));
    assert_eq!(out.stdout, "there\nls=1\n", "{}", out.stderr);
    assert!(out.stderr.contains("/usr is outside every allowed path (a directory on the way to one"), "{}", out.stderr);
}

/// A shell's process substitution hands a program `/dev/fd/63`, a link to a pipe that has no
/// path: the guest reopens its own pipe as natively.
#[test]
fn process_substitution_reopens_the_guests_own_pipes() {
    let script = "cat <(echo hi); diff <(printf 'a\\nb\\n') <(printf 'a\\nc\\n'); echo diff=$?; echo x > >(cat); sleep 0.1";
    let native = run(Command::new("bash").args(["-c", script]));
    assert!(native.stdout.starts_with("hi\n"), "{native:?}");
    let out = run(&mut trapbox_run(&["--allow-exec", "/usr"], Path::new("/bin/bash"), &["-c", script]));
    assert_eq!((out.status, &out.stdout), (native.status, &native.stdout), "{}", out.stderr);
}

/// Another thread puts a read-only file and a pipe on the fd in turn: reopening it for
/// writing through /proc/self/fd gives the pipe or is refused, never the file (which the
/// guest may only read).
#[test]
fn a_file_swapped_onto_a_reopened_fd_is_never_opened_for_writing() {
    let dir = scratch_dir("fidelity_fd_reopen");
    let file = dir.join("ro");
    std::fs::write(&file, "unchanged").unwrap();
    for program in run_support::routes("fd_reopen.c") {
        let out = run(&mut trapbox_run(&["--allow-read", dir.to_str().unwrap()], &program, &["race", file.to_str().unwrap(), "2000"]));
        assert!(out.stdout.contains(" files 0,"), "{}: {out:?}", program.display());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "unchanged");
        eprintln!("{}: {}", program.display(), out.stdout.trim());
    }
}

/// A symlink outside the grants that leads into one (`/bin` to `usr/bin`, `/lib64` on a
/// merged-/usr system) is seen as natively: every path through it reaches the grant anyway.
#[test]
fn a_symlink_into_a_grant_is_seen_as_natively() {
    let script = "for l in /bin /lib64 /sbin; do [ -L $l ] && echo \"$l -> $(readlink $l)\"; done; du -s /bin; ls -ld /bin | cut -c1";
    let native = run(Command::new(trapbox_tests::busybox()).args(["sh", "-c", script]));
    let out = run(&mut trapbox_run(&["--allow-exec", "/usr"], &trapbox_tests::busybox(), &["sh", "-c", script]));
    assert_eq!((out.status, &out.stdout), (native.status, &native.stdout), "{}", out.stderr);
}

/// O_CREAT of a file that exists only opens it: in a read grant it needs no write access,
/// as natively a program may open an existing file it can read with O_CREAT (and nothing is
/// created there when the file is missing).
#[test]
fn o_creat_of_an_existing_file_in_a_read_grant_opens_it() {
    let dir = scratch_dir("fidelity_creat_existing");
    std::fs::write(dir.join("present"), "data\n").unwrap();
    let _ = std::fs::remove_file(dir.join("absent"));
    let script = "import os\nfor name in ('present', 'absent'):\n    try:\n        os.close(os.open(name, os.O_RDONLY | os.O_CREAT, 0o644)); print(name, 'ok')\n    except OSError as e:\n        print(name, e.strerror)\n";
    let grant = dir.to_str().unwrap();
    let out = run(trapbox_run(&["--allow-read", grant, "--allow-exec", "/usr"], Path::new("/usr/bin/python3"), &["-c", script]).current_dir(&dir));
    assert_eq!(out.stdout, "present ok\nabsent Permission denied\n", "{out:?}");
    assert!(!dir.join("absent").exists(), "nothing is created under a read grant");
}
