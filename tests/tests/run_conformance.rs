//! The syscall conformance suite: every program of `tests/conformance/` (one area each, success
//! and error paths, one line per case) is built three ways — static (every call meets the
//! backstop), static then `trapbox rewrite` (traps), dynamic — and run natively and under
//! trapbox, `--unconfined` and under a policy granting what it touches (`--allow-write` and
//! `--allow-exec` its scratch directory, `--allow-exec` the fixtures); the outputs must be the
//! same line by line.
//!
//! Where trapbox differs by design, the README's known differences say why; such a line is
//! listed in the program's table with the trapbox value expected and the README's reason. A
//! difference that is a bug not fixed yet is listed as `// KNOWN BUG (issue 9): …` and its line
//! excluded from the comparison, so the table is the exact list of what does not conform.

mod run_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use run_support::{fixture_lock, rewritten, trapbox_run};
use trapbox_tests::{build_c, fixture_dir, run, scratch_dir, workspace_root, Outcome};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Route {
    Static,
    Rewritten,
    Dynamic,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Unconfined,
    Policy,
}

/// Which runs a table entry applies to.
#[derive(Clone, Copy)]
enum When {
    /// Every trapbox run.
    Always,
    /// Runs under the granting policy (every route).
    Policy,
    /// `--unconfined` runs (every route).
    Unconfined,
}

impl When {
    fn applies(self, mode: Mode) -> bool {
        match self {
            When::Always => true,
            When::Policy => mode == Mode::Policy,
            When::Unconfined => mode == Mode::Unconfined,
        }
    }
}

/// One line of a program that does not conform.
struct Deviation {
    /// The case's name (the text before `: `).
    case: &'static str,
    when: When,
    /// `Some(result)`: the documented difference, trapbox prints this result (README reason in
    /// `why`); `None`: a known bug, the line is excluded.
    trapbox: Option<&'static str>,
    #[allow(dead_code)]
    why: &'static str,
}

/// A documented difference: under `when`, trapbox prints `result` for `case`.
const fn documented(case: &'static str, when: When, result: &'static str, why: &'static str) -> Deviation {
    Deviation { case, when, trapbox: Some(result), why }
}

/// A known bug: the line is excluded (listed in the report, to be fixed).
const fn known_bug(case: &'static str, when: When, why: &'static str) -> Deviation {
    Deviation { case, when, trapbox: None, why }
}

fn source(name: &str) -> PathBuf {
    workspace_root().join("tests/conformance").join(format!("{name}.c"))
}

/// The three builds of `name`: (route, binary, the native build it is compared with).
fn builds(name: &str) -> Vec<(Route, PathBuf, PathBuf)> {
    let src = source(name);
    let (plain, dynamic) = {
        let _serial = fixture_lock();
        (build_c(&src, &["-static", "-O2"]), build_c(&src, &["-O2", "-pthread"]))
    };
    let trapped = rewritten(&plain, &format!("{name}.conformance.trapped"), &[]);
    vec![(Route::Static, plain.clone(), plain.clone()), (Route::Rewritten, trapped, plain), (Route::Dynamic, dynamic.clone(), dynamic)]
}

fn fresh_scratch(name: &str, tag: &str) -> PathBuf {
    scratch_dir(&format!("conformance-{name}-{tag}"))
}

fn native_run(program: &Path, name: &str, tag: &str) -> Outcome {
    let dir = fresh_scratch(name, tag);
    run(Command::new(program).arg(&dir).current_dir(&dir).env_remove("LD_LIBRARY_PATH"))
}

fn trapbox_run_in(program: &Path, name: &str, route: Route, mode: Mode, extra: &[&str]) -> Outcome {
    // (Runs with other flags get scratch directories and logs of their own.)
    let tag = format!("{route:?}-{mode:?}{}", extra.concat());
    let dir = fresh_scratch(name, &tag);
    let d = dir.to_str().expect("utf-8 path").to_string();
    let fixtures = fixture_dir();
    let exec = fixtures.to_str().expect("utf-8 path").to_string();
    let log = fixtures.join(format!("conformance-{name}-{tag}.log"));
    let log_s = log.to_str().expect("utf-8 path").to_string();
    let _ = std::fs::remove_file(&log);
    // trapbox_run adds --unconfined when no policy flag is given.
    let mut flags: Vec<&str> = vec!["--log", &log_s];
    flags.extend(extra);
    if mode == Mode::Policy {
        // The scratch directory is written and holds the programs some cases exec.
        flags.extend(["--allow-write", &d, "--allow-exec", &d, "--allow-exec", &exec]);
    }
    let mut out = run(trapbox_run(&flags, program, &[&d]).current_dir(&dir).env_remove("LD_LIBRARY_PATH"));
    if let Ok(logged) = std::fs::read_to_string(&log) {
        out.stderr.push_str(&logged);
    }
    out
}

/// Lines as (case, result), `: ` splitting them.
fn cases(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .map(|l| match l.split_once(": ") {
            Some((c, r)) => (c.to_string(), r.to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

/// What a trapbox run must print: the native lines, with the table applied.
fn expected(native: &str, table: &[Deviation], mode: Mode) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (case, result) in cases(native) {
        match table.iter().find(|d| d.case == case && d.when.applies(mode)) {
            None => out.push((case, result)),
            Some(Deviation { trapbox: Some(r), .. }) => out.push((case, (*r).to_string())),
            Some(Deviation { trapbox: None, .. }) => {}
        }
    }
    out
}

fn conform(name: &str, table: &[Deviation]) {
    conform_with(name, table, &[]);
}

/// [`conform`], with `extra` flags for every trapbox run.
fn conform_with(name: &str, table: &[Deviation], extra: &[&str]) {
    let mut failures = Vec::new();
    let mut natives: Vec<(PathBuf, Outcome)> = Vec::new();
    for (route, program, native_build) in builds(name) {
        let native = match natives.iter().find(|(p, _)| *p == native_build) {
            Some((_, o)) => o.clone(),
            None => {
                // (A second test of the same program, with other flags, runs at the same time:
                // its native runs get scratch directories of their own too.)
                let o = native_run(&native_build, name, &format!("native-{route:?}{}", extra.concat()));
                assert_eq!(o.status, 0, "{name} natively ({route:?} build): {o:?}");
                assert!(!o.stdout.is_empty(), "{name} printed nothing natively");
                natives.push((native_build.clone(), o.clone()));
                o
            }
        };
        for mode in [Mode::Unconfined, Mode::Policy] {
            let out = trapbox_run_in(&program, name, route, mode, extra);
            let want = expected(&native.stdout, table, mode);
            let excluded: Vec<&str> =
                table.iter().filter(|d| d.trapbox.is_none() && d.when.applies(mode)).map(|d| d.case).collect();
            let got: Vec<(String, String)> =
                cases(&out.stdout).into_iter().filter(|(c, _)| !excluded.contains(&c.as_str())).collect();
            let mut diffs = Vec::new();
            for i in 0..want.len().max(got.len()) {
                let (w, g) = (want.get(i), got.get(i));
                if w != g {
                    diffs.push(format!("  | native {:?}  trapbox {:?}", w, g));
                }
            }
            if out.status != native.status {
                diffs.push(format!("  | exit status native {} trapbox {}", native.status, out.status));
            }
            if !diffs.is_empty() {
                failures.push(format!(
                    "{name} {route:?} {mode:?}:\n{}\n  | stderr: {}",
                    diffs.join("\n"),
                    out.stderr.lines().take(12).collect::<Vec<_>>().join("\n  |         ")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} run(s) differ from native:\n{}", failures.len(), failures.join("\n"));
}

macro_rules! conformance {
    ($($name:ident => [$($dev:expr),* $(,)?];)*) => {
        $(
            #[test]
            fn $name() {
                conform(stringify!($name), &[$($dev),*]);
            }
        )*

        /// Every program again on the all-ptrace route (`--backend ptrace`, pinned): both
        /// backends give the native output, exit status and errnos, so the same as each other.
        mod ptrace_backend {
            use super::*;
            $(
                #[test]
                fn $name() {
                    conform_with(stringify!($name), &[$($dev),*], &["--backend", "ptrace"]);
                }
            )*
        }
    };
}

conformance! {
    access_modes => [];
    calls_misc => [
        // documented: readlink /proc/self is the pid
        documented("readlink /proc/self is the pid", When::Unconfined, "no",
            "README namespaces differences: without the base (--bare, --unconfined) /proc is the host's mount, whose /proc/self names the host's pid of the guest"),
        // documented: readlink /proc/thread-self
        documented("readlink /proc/thread-self", When::Unconfined, "no",
            "same: the host's /proc numbers the thread as the host does"),
    ];
    clone3 => [
        // documented: untraced fork
        documented("untraced fork", When::Always, "EPERM",
            "README known differences: CLONE_UNTRACED is refused (the child would escape the debugger), for clone and clone3 alike"),
    ];
    dirs => [];
    dup_fcntl => [];
    epoll_cases => [];
    event_fds => [];
    fd_io => [];
    getdents_cwd => [];
    ids_umask => [];
    info_time => [];
    inotify_ipc => [];
    links => [];
    memfd_mmap => [];
    mqueue => [];
    namespaces => [];
    modes_owners => [
        // documented: chmod setuid
        documented("chmod setuid", When::Policy, "EPERM",
            "README known differences: a mode with setuid is refused"),
        // documented: setuid mode
        documented("setuid mode", When::Policy, "600",
            "README known differences: the refused chmod leaves the mode as it was"),
        // documented: fchmod setgid file
        documented("fchmod setgid file", When::Policy, "EPERM",
            "README known differences: setgid on a non-directory is refused"),
        // documented: setgid mode
        documented("setgid mode", When::Policy, "600",
            "README known differences: the refused fchmod leaves the mode as it was"),
    ];
    open_flags => [];
    openat2_resolve => [];
    pipes => [];
    prctl_rlimits => [];
    processes => [];
    readlink_cases => [];
    signals => [];
    sigill_state => [];
    sockets_unix => [
        // KNOWN BUG (issue 9): getsockname path: a unix socket the host bound through its fd shows "/proc/self/fd/N/srv.sock", natively "srv.sock"
        known_bug("getsockname path", When::Policy,
            "a unix socket the host bound through its fd shows \"/proc/self/fd/N/srv.sock\", natively \"srv.sock\""),
        // KNOWN BUG (issue 9): getpeername path: same: the peer's name is the host's /proc/self/fd path
        known_bug("getpeername path", When::Policy,
            "same: the peer's name is the host's /proc/self/fd path"),
        // documented: accepted peercred pid self
        documented("accepted peercred pid self", When::Policy, "no",
            "README known differences: the kernel records the connecting process, and a connect to a unix socket path is the host's (Landlock does not cover it): SO_PEERCRED names the host's pid, with the guest's uid and gid"),
        // documented: socket bad family
        documented("socket bad family", When::Policy, "EACCES",
            "README layer table: a socket other than unix is refused under --net none (the default); natively EAFNOSUPPORT for a family that does not exist"),
    ];
    proc_self => [];
    stat_family => [];
    trailing => [];
    truncate_utimes => [];
    unlink_rename => [];
    xattrs => [];
}

/// The trap route at every site, not only at those whose number the rewriter could not infer:
/// each call of the rewritten build is a trap, whose fault must leave SIGILL as the guest set it.
#[test]
fn sigill_state_with_keep_traps() {
    conform_with("sigill_state", &[], &["--keep-traps"]);
}
