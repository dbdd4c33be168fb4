//! Helpers shared by the `run_*` tests: running under `trapbox run`, rewriting fixtures.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use trapbox_tests::{fixture_dir, run, trapbox_bin, Outcome};

/// The flags that make up a policy: a test that passes one of them runs sandboxed.
const POLICY_FLAGS: [&str; 9] =
    ["--allow-read", "--allow-write", "--allow-exec", "--policy", "--net", "--print-policy", "--personality", "--bare", "--tmp-size"];
// Limits, --env, --clear-env and --cwd apply with or without a policy.

/// [`trapbox_run`] with `--quiet`: denials counted in one line at exit.
pub fn trapbox_run_quiet(flags: &[&str], program: &Path, args: &[&str]) -> Command {
    trapbox_run(&[&["--quiet"], flags].concat(), program, args)
}

/// `trapbox run [flags] -- program args...` as a Command, with trapbox's default messages
/// (each denial on stderr: [`denials`]). The trap debugger's own tests (no policy flag among
/// `flags`) run `--unconfined`, since they are about mediation, not confinement; a test that
/// passes a policy flag gets the sandbox, default deny included.
pub fn trapbox_run(flags: &[&str], program: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(trapbox_bin());
    cmd.arg("run");
    if !flags.iter().any(|f| POLICY_FLAGS.iter().any(|p| f.starts_with(p))) {
        cmd.arg("--unconfined");
    }
    cmd.args(flags).arg("--").arg(program).args(args);
    cmd
}

/// The host's denial lines in a run's stderr.
pub fn denials(out: &Outcome) -> Vec<&str> {
    out.stderr.lines().filter(|l| l.starts_with("trapbox: denied ")).collect()
}

/// Runs `program args` natively.
pub fn native(program: &Path, args: &[&str], cwd: &Path) -> Outcome {
    run(Command::new(program).args(args).current_dir(cwd))
}

/// Runs `program args` under `trapbox run`.
pub fn trapped(program: &Path, args: &[&str], cwd: &Path) -> Outcome {
    run(trapbox_run(&[], program, args).current_dir(cwd))
}

/// Fixture builds in one test process are serialised: `build_guest` and `rewritten` name their
/// temporary file after the process id, so two threads building the same fixture would race.
static FIXTURE_LOCK: Mutex<()> = Mutex::new(());

/// Holds the fixture lock (for building fixtures outside these helpers).
pub fn fixture_lock() -> std::sync::MutexGuard<'static, ()> {
    FIXTURE_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// `trapbox rewrite input -o <fixtures>/<name>` once per test process and input change;
/// written under a temporary name and renamed, so parallel tests never see half a file.
pub fn rewritten(input: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let _serial = FIXTURE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let out = fixture_dir().join(name);
    let input_time = std::fs::metadata(input).and_then(|m| m.modified()).expect("input exists");
    let bin_time = std::fs::metadata(trapbox_bin()).and_then(|m| m.modified()).expect("trapbox exists");
    if std::fs::metadata(&out).and_then(|m| m.modified()).is_ok_and(|t| t >= input_time && t >= bin_time) {
        return out;
    }
    let tmp = fixture_dir().join(format!("{name}.tmp{}", std::process::id()));
    let result = run(Command::new(trapbox_bin()).arg("rewrite").arg(input).arg("-o").arg(&tmp).args(extra));
    assert_eq!(result.status, 0, "trapbox rewrite {} failed: {}", input.display(), result.stderr);
    std::fs::rename(&tmp, &out).expect("rename rewritten fixture");
    out
}

/// The rewritten busybox (its name starts with `busybox`, so it still picks applets by argv[0]).
pub fn busybox_trapped() -> PathBuf {
    rewritten(&trapbox_tests::busybox(), "busybox.trapped", &[])
}

/// The busybox rewritten with the `int3; nop` trap encoding.
pub fn busybox_int3() -> PathBuf {
    rewritten(&trapbox_tests::busybox(), "busybox.int3", &["--trap", "int3"])
}

/// A C guest built static with glibc, rewritten with the `int3` encoding.
pub fn guest_int3(source: &str) -> PathBuf {
    let (plain, _) = guest_pair(source);
    let name = format!("{}.int3", plain.file_name().and_then(OsStr::to_str).expect("utf-8 name"));
    rewritten(&plain, &name, &["--trap", "int3"])
}

/// A C guest built static with glibc, and its rewritten copy.
pub fn guest_pair(source: &str) -> (PathBuf, PathBuf) {
    let plain = {
        let _serial = FIXTURE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        trapbox_tests::build_guest(source, &["-static", "-O2"])
    };
    let name = format!("{}.trapped", plain.file_name().and_then(OsStr::to_str).expect("utf-8 name"));
    let trapped = rewritten(&plain, &name, &[]);
    (plain, trapped)
}

/// The guest's stderr with trapbox's own death message removed, and that message.
pub fn split_death_message(stderr: &str) -> (String, Vec<String>) {
    let mut rest = String::new();
    let mut ours = Vec::new();
    for line in stderr.split_inclusive('\n') {
        if line.starts_with("trapbox: ") {
            ours.push(line.trim_end().to_string());
        } else {
            rest.push_str(line);
        }
    }
    (rest, ours)
}

/// Whether the tests run as root (then the rootless cases run trapbox as nobody).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

/// `program` as a Command run as nobody (uid and gid 65534, no supplementary groups).
pub fn as_nobody_command(program: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(program);
    cmd
}

/// Copies of trapbox and of `guest` in `dir`, where nobody can run them: the copies get mode
/// 0755, `dir` and `writable` (subdirectories the test's guest writes to as nobody) 0777, and
/// every ancestor of `dir` is made searchable. Returns (trapbox, guest).
pub fn unprivileged_copies(dir: &Path, guest: &Path, writable: &[&Path]) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let name = guest.file_name().expect("a file name");
    let (host_copy, guest_copy) = (dir.join("trapbox"), dir.join(name));
    std::fs::copy(trapbox_bin(), &host_copy).expect("copy trapbox");
    std::fs::copy(guest, &guest_copy).expect("copy the guest");
    for path in [&host_copy, &guest_copy] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    for path in std::iter::once(dir).chain(writable.iter().copied()) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    }
    let mut ancestor = dir.parent();
    while let Some(path) = ancestor {
        let mode = std::fs::metadata(path).map(|m| m.permissions().mode()).unwrap_or(0o755);
        if mode & 0o001 == 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | 0o011)).expect("chmod ancestor");
        }
        ancestor = path.parent();
    }
    (host_copy, guest_copy)
}

/// The three routes a guest can take: `source` built static (the backstop), the same build
/// rewritten (traps), and built dynamically linked against glibc.
pub fn routes(source: &str) -> Vec<PathBuf> {
    let (plain, rewritten) = guest_pair(source);
    let dynamic = {
        let _serial = fixture_lock();
        trapbox_tests::build_guest(source, &["-O2", "-pthread"])
    };
    vec![plain, rewritten, dynamic]
}
