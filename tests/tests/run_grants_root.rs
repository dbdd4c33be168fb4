//! The guest's grants-only root: under a policy with namespaces of its own (not `--bare`, not
//! `--audit`) only what the policy grants exists in the guest's `/`, and the kernel answers
//! its metadata calls there. Each probe of `tests/guests/root_probe.c` gives inside the grants
//! what it gives natively, and outside them (`..`, symlinks, `/proc/self/root`, `/proc/1/root`,
//! file handles, `fchdir`, a dirfd) what the host answered before, which `--audit` still does
//! (with a line for each denial): absent. As root and as nobody.

mod run_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use run_support::{denials, guest_pair, is_root, trapbox_run, unprivileged_copies};
use trapbox_tests::{run, scratch_dir, Outcome};

/// What a probe must give under trapbox.
enum Expect {
    /// What it gives natively.
    Native,
    /// This, with and without `--audit`.
    Is(&'static str),
    /// This in the grants-only root; under `--audit` what it gives natively.
    ThenNative(&'static str),
}

/// The scratch layout: `data/` (read grant) with a file and links out of it, `out/` (write
/// grant, the working directory).
struct Layout {
    dir: PathBuf,
    data: String,
    out: PathBuf,
}

fn layout(dir: &Path) -> Layout {
    let data = dir.join("data");
    std::fs::create_dir_all(data.join("links")).unwrap();
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::write(data.join("file"), "data\n").unwrap();
    std::os::unix::fs::symlink("/etc", data.join("links/esc")).unwrap();
    std::os::unix::fs::symlink("/usr", data.join("links/up")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../../../etc/shadow", data.join("links/rel")).unwrap();
    Layout { dir: dir.to_path_buf(), data: data.to_str().expect("utf-8 path").to_string(), out: dir.join("out") }
}

/// The probes, for an invoker that is root or not (`rootless`).
fn probes(l: &Layout, rootless: bool) -> Vec<(String, Expect)> {
    use Expect::*;
    let d = &l.data;
    let out = l.out.to_str().expect("utf-8 path");
    let mut probes: Vec<(String, Expect)> = vec![
        // Inside the grants: as natively (the same inode and device: the host's file itself).
        ("S:/usr/share/common-licenses/GPL-3".into(), Native),
        (format!("S:{d}/file"), Native),
        (format!("l:{d}/links/esc"), Native),
        (format!("r:{d}/links/esc"), Native),
        (format!("r:{d}/links/rel"), Native),
        (format!("a:{d}/file:0"), Native),
        (format!("a:{d}/file:4"), Native),
        ("c:/usr/share/common-licenses".into(), Native),
        (format!("L:{d}/links"), Native),
        ("t:/usr/share:common-licenses".into(), Native),
        ("s:/dev/null".into(), Native),
        // Outside every grant: absent, however it is reached.
        ("s:/etc/shadow".into(), Is("ENOENT")),
        ("l:/etc/shadow".into(), Is("ENOENT")),
        ("r:/etc/shadow".into(), Is("ENOENT")),
        ("a:/etc/shadow:0".into(), Is("ENOENT")),
        ("a:/etc/shadow:4".into(), Is("ENOENT")),
        ("c:/root".into(), Is("ENOENT")),
        ("s:/usr/share/../../etc/shadow".into(), Is("ENOENT")),
        (format!("s:{d}/links/esc/shadow"), Is("ENOENT")),
        (format!("s:{d}/links/rel"), Is("ENOENT")),
        (format!("s:{d}/links/up/bin/sh"), Is("ENOENT")),
        ("s:/proc/self/root/etc/shadow".into(), Is("ENOENT")),
        ("s:/proc/1/root/etc/shadow".into(), Is("ENOENT")),
        ("s:/proc/1/root".into(), Is("ENOENT")),
        ("f:/usr/share:../../etc/shadow".into(), Is("ENOENT")),
        ("t:/usr/share:../../etc/shadow".into(), Is("ENOENT")),
        ("h:/usr/share/common-licenses/GPL-3".into(), Is("name_to_handle_at EPERM")),
        // A file's open stays the host's to decide (and log), in the root and under --audit.
        ("o:/etc/shadow".into(), Is("ENOENT")),
        ("o:/usr".into(), Is("EACCES")),
        // A directory on the way to a grant may be looked at, not listed, also through a
        // link inside a grant that leads to one.
        ("s:/usr".into(), Is("dir")),
        ("L:/usr".into(), Is("EACCES")),
        (format!("s:{d}/links/up"), Is("dir")),
        (format!("L:{d}/links/up"), Is("EACCES")),
        // access for writing or running is still the host's to answer: in a write grant as
        // the file's mode says; in a read grant the kernel's answer for a read-only mount,
        // EROFS, once the mode allows it (under --audit, the mode's answer alone, as before).
        (format!("a:{out}:2"), Is("ok")),
        (format!("a:{d}/file:2"), if rootless { Is("EACCES") } else { ThenNative("EROFS") }),
        (format!("a:{d}/file:1"), Is("EACCES")),
    ];
    if let Some(parent) = l.dir.parent() {
        probes.push((format!("L:{}", parent.display()), Is("EACCES")));
    }
    probes
}

/// Runs the probe natively (`native_guest`, unrewritten) and under `trapbox` (as the invoker
/// runs it: `setpriv` for nobody), with and without `--audit`, and checks every line.
fn check(l: &Layout, rootless: bool, native_guest: &Path, trapbox: &dyn Fn(&[&str], &[String]) -> Outcome) {
    let probes = probes(l, rootless);
    let args: Vec<String> = probes.iter().map(|(p, _)| p.clone()).collect();
    let native = run(Command::new(native_guest).args(&args).current_dir(&l.out));
    assert_eq!(native.status, 0, "{native:?}");
    let out = l.out.to_str().unwrap();
    let grants = ["--allow-read", &l.data, "--allow-write", out, "--allow-read", "/usr/share"];
    let plain = trapbox(&grants, &args);
    let audited = trapbox(&[&["--audit"], &grants[..]].concat(), &args);
    for outcome in [&plain, &audited] {
        assert_eq!(outcome.status, 0, "{outcome:?}");
        assert_eq!(outcome.stdout.lines().count(), probes.len(), "{outcome:?}");
    }
    let lines = |o: &Outcome| o.stdout.lines().map(str::to_string).collect::<Vec<_>>();
    let (native_lines, plain_lines, audited_lines) = (lines(&native), lines(&plain), lines(&audited));
    for (i, (probe, expect)) in probes.iter().enumerate() {
        let result = |line: &str| line.strip_prefix(&format!("{probe}: ")).unwrap_or_else(|| panic!("{probe}: {line}")).to_string();
        let (expected, expected_audited) = match expect {
            Expect::Native => (result(&native_lines[i]), result(&native_lines[i])),
            Expect::Is(text) => (text.to_string(), text.to_string()),
            Expect::ThenNative(text) => (text.to_string(), result(&native_lines[i])),
        };
        assert_eq!(result(&plain_lines[i]), expected, "{probe} (grants-only root): {}", plain.stderr);
        assert_eq!(result(&audited_lines[i]), expected_audited, "{probe} (--audit): {}", audited.stderr);
    }
    // --audit logs each metadata denial; without it the kernel answers, with no line (the
    // opens and the handle are still the host's to refuse and log).
    let metadata = ["stat(", "newfstatat(", "statx(", "readlink(", "readlinkat(", "access(", "faccessat(", "faccessat2(", "chdir("];
    let metadata_lines = |o: &Outcome| denials(o).into_iter().filter(|l| metadata.iter().any(|m| l.starts_with(&format!("trapbox: denied {m}")))).count();
    assert_eq!(metadata_lines(&plain), 0, "{}", plain.stderr);
    assert!(metadata_lines(&audited) >= 12, "one line per metadata denial: {}", audited.stderr);
    // Opens stay the host's to decide and log, a directory's for listing too: these grants
    // leave directories on the way, whose listing the kernel would refuse with no line.
    let opened_usr = |o: &Outcome, flags: &str| denials(o).iter().any(|l| l.contains(&format!("openat(AT_FDCWD, \"/usr\", {flags}):")));
    for outcome in [&plain, &audited] {
        assert!(opened_usr(outcome, "O_RDONLY") && opened_usr(outcome, "O_RDONLY|O_DIRECTORY"), "opens stay the host's: {}", outcome.stderr);
    }
    // The mounts: a read grant read-only, neither honours setuid bits nor device nodes; a
    // write grant writable, likewise.
    let mounts = trapbox(&grants, &[format!("m:{}", l.data), format!("m:{out}")]);
    let options: Vec<&str> = mounts.stdout.lines().collect();
    assert_eq!(options.len(), 2, "{mounts:?}");
    let flags = |line: &str| line.split(": ").nth(1).unwrap_or("").split(',').map(str::to_string).collect::<Vec<_>>();
    let (read, write) = (flags(options[0]), flags(options[1]));
    for (what, got, first) in [("read", &read, "ro"), ("write", &write, "rw")] {
        assert!(got.iter().any(|f| f == first) && got.iter().any(|f| f == "nosuid") && got.iter().any(|f| f == "nodev"), "{what} grant: {got:?}");
    }
}

#[test]
fn only_the_grants_exist_in_the_guests_root() {
    let dir = scratch_dir("grants_root");
    let l = layout(&dir);
    let (plain, rewritten) = guest_pair("root_probe.c");
    for guest in [&plain, &rewritten] {
        check(&l, !is_root(), &plain, &|flags, args| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(trapbox_run(flags, guest, &args).current_dir(&l.out))
        });
    }
}

#[test]
fn only_the_grants_exist_in_a_rootless_guests_root() {
    if !is_root() {
        return; // already unprivileged: the test above is the rootless case
    }
    let dir = scratch_dir("grants_root_rootless");
    let l = layout(&dir);
    let (plain, _) = guest_pair("root_probe.c");
    let (host, guest) = unprivileged_copies(&dir, &plain, &[&l.out]);
    check(&l, true, &guest, &|flags, args| {
        run(run_support::as_nobody_command(&host)
            .arg("run")
            .args(flags)
            .arg("--")
            .arg(&guest)
            .args(args)
            .current_dir(&l.out))
    });
}

/// busybox's `ls` and `find` over a grant list what they list natively, and a grant's
/// siblings do not exist (`find` of the parent lists the way to the grant only: it cannot
/// open the directories on the way).
#[test]
fn ls_and_find_inside_a_grant_print_as_natively() {
    let dir = scratch_dir("grants_root_ls");
    let busybox = trapbox_tests::busybox();
    for args in [&["ls", "-ln", "/usr/share/common-licenses"][..], &["find", "/usr/share/zoneinfo/Etc"], &["find", "/usr/share/common-licenses", "-type", "f"]] {
        let native = run(Command::new(&busybox).args(args).current_dir(&dir));
        let out = run(trapbox_run(&["--allow-read", "/usr/share"], &busybox, args).current_dir(&dir));
        assert_eq!((out.status, &out.stdout), (native.status, &native.stdout), "{args:?}: {}", out.stderr);
        assert!(denials(&out).is_empty(), "{args:?}: {}", out.stderr);
    }
    // Where the policy reads the whole root no listing can be refused, and the listings are
    // the kernel's: no open of a directory reaches the host (--stats counts each call it
    // sees); a narrower policy has the host decide and log each.
    let find = ["find", "/usr/share/zoneinfo"];
    let native = run(Command::new(&busybox).args(find).current_dir(&dir));
    let stats_of = |grant: &str| run(trapbox_run(&["--stats", "--allow-read", grant], &busybox, &find).current_dir(&dir));
    let (whole, narrow) = (stats_of("/"), stats_of("/usr/share"));
    for out in [&whole, &narrow] {
        assert_eq!((out.status, &out.stdout), (native.status, &native.stdout), "{}", out.stderr);
        assert!(out.stderr.contains("trapbox: stats:"), "{}", out.stderr);
    }
    let opens = |out: &Outcome| out.stderr.lines().any(|l| l.starts_with("trapbox: stats:") && l.ends_with(" openat"));
    assert!(!opens(&whole), "{}", whole.stderr);
    assert!(opens(&narrow), "{}", narrow.stderr);
    let out = run(trapbox_run(&["--allow-read", "/usr/share/zoneinfo"], &busybox, &["sh", "-c", "ls /usr/share/misc; echo $?; find /usr/include -maxdepth 0; echo $?"]).current_dir(&dir));
    assert_eq!(out.stdout, "1\n1\n", "siblings of a grant are absent: {out:?}");
}

/// A directory the invoker hands in (here as stdin) lies in the host's tree: `fchdir` to it
/// and a relative `stat` would walk the host's files, so with one the metadata calls go to the
/// host, which decides and logs each, and the walk finds nothing outside the grants.
#[test]
fn an_inherited_directory_keeps_metadata_with_the_host() {
    let dir = scratch_dir("grants_root_inherited");
    let (plain, _) = guest_pair("root_probe.c");
    let probes = ["F:0:../../etc/shadow", "f:/proc/self/fd/0:../../etc/shadow"];
    let out = run(trapbox_run(&["--allow-read", "/usr/share"], &plain, &probes).current_dir(&dir).stdin(std::fs::File::open("/usr/share").unwrap()));
    assert_eq!(out.stdout, format!("{}: ENOENT\n{}: ENOENT\n", probes[0], probes[1]), "{out:?}");
    assert!(denials(&out).iter().any(|l| l.starts_with("trapbox: denied newfstatat(AT_FDCWD, \"../../etc/shadow\"")), "{}", out.stderr);
}

/// A grant of `/` shows the host's tree whole (init gives the mount namespace's own copy of it
/// the clone's attributes instead of cloning it again): the host's files as natively, read-only,
/// no setuid bits, no device nodes, a write grant inside it writable, and the base's own
/// `/tmp` and `/proc` over it (the host's `/tmp` and trapbox's init out of sight).
#[test]
fn a_grant_of_the_hosts_root_shows_it_whole_with_the_grants_attributes() {
    let dir = scratch_dir("grants_root_whole");
    let l = layout(&dir);
    let (plain, rewritten) = guest_pair("root_probe.c");
    let host_tmp = std::path::PathBuf::from(format!("/tmp/trapbox-whole-root-{}", std::process::id()));
    std::fs::write(&host_tmp, "host\n").unwrap();
    let d = &l.data;
    let out = l.out.to_str().unwrap();
    let probes = [
        "S:/usr/share/common-licenses/GPL-3".to_string(),
        format!("S:{d}/file"),
        format!("r:{d}/links/esc"),
        "s:/etc/passwd".to_string(),
        "c:/etc".to_string(),
        format!("s:{}", host_tmp.display()),
        "s:/proc/1/root".to_string(),
        format!("a:{out}:2"),
        format!("a:{d}/file:2"),
        "m:/".to_string(),
        format!("m:{out}"),
        "m:/tmp".to_string(),
    ];
    let args: Vec<&str> = probes.iter().map(String::as_str).collect();
    let native = run(Command::new(&plain).args(&args).current_dir(&l.out));
    let _ = std::fs::remove_file(&host_tmp);
    let native_lines: Vec<&str> = native.stdout.lines().collect();
    for guest in [&plain, &rewritten] {
        let outcome = run(trapbox_run(&["--allow-read", "/", "--allow-write", out], guest, &args).current_dir(&l.out));
        assert_eq!(outcome.status, 0, "{outcome:?}");
        let lines: Vec<&str> = outcome.stdout.lines().collect();
        assert_eq!(lines.len(), probes.len(), "{outcome:?}");
        for i in 0..5 {
            assert_eq!(lines[i], native_lines[i], "as natively: {}", outcome.stderr);
        }
        assert_eq!(lines[5], format!("{}: ENOENT", probes[5]), "the host's /tmp is out of sight");
        assert_eq!(lines[6], format!("{}: ENOENT", probes[6]), "trapbox's init is out of sight");
        assert_eq!(lines[7], format!("{}: ok", probes[7]), "the write grant is writable");
        let read_only = if is_root() { "EROFS" } else { "EACCES" };
        assert_eq!(lines[8], format!("{}: {read_only}", probes[8]), "the read grant is read-only");
        let flags = |line: &str| line.split(": ").nth(1).unwrap_or("").split(',').map(str::to_string).collect::<Vec<_>>();
        for (line, first) in [(lines[9], "ro"), (lines[10], "rw"), (lines[11], "rw")] {
            let got = flags(line);
            assert!(got.iter().any(|f| f == first) && got.iter().any(|f| f == "nosuid") && got.iter().any(|f| f == "nodev"), "{line}");
        }
        let metadata = denials(&outcome).into_iter().filter(|l| l.contains("stat") || l.contains("readlink")).count();
        assert_eq!(metadata, 0, "the kernel answers metadata calls: {}", outcome.stderr);
    }
}
