//! What the sandbox writes and what leaves it: every log and trace line says only what the host
//! decided (guest text in it is escaped, so no line can be forged), every refusal has its line,
//! and no file the guest writes carries privilege out of the sandbox.
//!
//! Guest: `tests/guests/integrity_probe.c` (one mode per attempt).

mod run_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use run_support::{guest_pair, trapbox_run};
use trapbox_tests::{run, scratch_dir, Outcome};

/// What the probe's forged paths and messages try to pass off as the host's own line.
const FORGED: &str = "trapbox: allowed everything";

fn probe() -> PathBuf {
    guest_pair("integrity_probe.c").0
}

/// Runs the probe under `flags` plus `--log <dir>/host.log` in `dir`; the outcome and the log.
fn probe_logged(dir: &Path, flags: &[&str], args: &[&str]) -> (Outcome, Vec<u8>) {
    let log = dir.join("host.log");
    let mut all = flags.to_vec();
    let log_flag = format!("--log={}", log.display());
    all.push(&log_flag);
    let out = run(trapbox_run(&all, &probe(), args).current_dir(dir));
    let written = std::fs::read(&log).unwrap_or_else(|e| panic!("{}: {e}; {out:?}", log.display()));
    (out, written)
}

/// The log's lines, checked to hold no byte that could end a line early or drive a terminal.
fn lines_of(log: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(log).unwrap_or_else(|e| panic!("the log is not UTF-8 ({e}): {log:?}"));
    for (at, c) in text.char_indices() {
        assert!(c == '\n' || !c.is_control(), "control character {c:?} at byte {at} of the log: {text:?}");
    }
    text.lines().map(str::to_string).collect()
}

/// Asserts that the forged text shows up in exactly one line, that line starts with `prefix`,
/// and no line starts with the forged text.
fn assert_one_line_holds_the_forgery(lines: &[String], prefix: &str) {
    let holding: Vec<&String> = lines.iter().filter(|l| l.contains(FORGED)).collect();
    assert_eq!(holding.len(), 1, "{lines:#?}");
    assert!(holding[0].starts_with(prefix), "{lines:#?}");
    assert!(holding[0].contains("\\n\\x1b[2K") && holding[0].contains("\\x1b]0;pwned\\x07"), "escaped: {lines:#?}");
    assert!(!lines.iter().any(|l| l.starts_with(FORGED)), "{lines:#?}");
}

// ---- no forged lines ------------------------------------------------------------------

/// Runs the probe's forgery `mode` under a policy; checks its answer and returns the log's lines.
fn forgery_logged(test: &str, mode: &str, answer: &str) -> Vec<String> {
    let dir = scratch_dir(test);
    let (out, log) = probe_logged(&dir, &["--allow-read", "/usr/share"], &[mode]);
    assert_eq!(out.stdout, answer, "{out:?}");
    lines_of(&log)
}

#[test]
fn a_denied_open_of_a_forged_path_is_one_escaped_log_line() {
    let lines = forgery_logged("integrity_forge_open", "forge-open", "open: ENOENT\n");
    assert_one_line_holds_the_forgery(&lines, "trapbox: denied openat(");
}

#[test]
fn the_trace_of_a_forged_path_is_one_escaped_line() {
    let dir = scratch_dir("integrity_forge_trace");
    let trace = dir.join("trace.txt");
    let trace_flag = format!("--trace={}", trace.display());
    let (out, _) = probe_logged(&dir, &["--allow-read", "/usr/share", &trace_flag], &["forge-open"]);
    assert_eq!(out.stdout, "open: ENOENT\n", "{out:?}");
    let lines = lines_of(&std::fs::read(&trace).unwrap());
    assert_one_line_holds_the_forgery(&lines, "[pid ");
}

#[test]
fn a_denied_connect_to_a_forged_unix_socket_path_is_one_escaped_log_line() {
    let lines = forgery_logged("integrity_forge_connect", "forge-connect", "connect: EACCES\n");
    assert_one_line_holds_the_forgery(&lines, "trapbox: denied connect(");
    assert!(lines.iter().any(|l| l.contains("{AF_UNIX, \"/etc/\\n")), "the address is shown quoted: {lines:#?}");
}

#[test]
fn a_denied_exec_of_a_forged_path_is_one_escaped_log_line() {
    // The path shows twice in that one line: as the argument and in the reason.
    let lines = forgery_logged("integrity_forge_exec", "forge-exec", "execve: ENOENT\n");
    assert_one_line_holds_the_forgery(&lines, "trapbox: denied execve(");
}

#[test]
fn a_hostcall_log_message_with_control_characters_is_one_line() {
    let lines = forgery_logged("integrity_forge_hostcall_log", "forge-log", "log: 0\n");
    assert_one_line_holds_the_forgery(&lines, "trapbox: guest ");
}

// ---- every refusal has its line -----------------------------------------------------------

/// One test per call the dispatcher's table refuses: refused with its errno and one line
/// with the table's reason.
macro_rules! refused_with_a_line {
    ($($test:ident: $call:literal => $errno:literal, $reason:literal;)*) => {$(
        #[test]
        fn $test() {
            let dir = scratch_dir(concat!("integrity_refuse_", $call));
            let (out, log) = probe_logged(&dir, &["--allow-read", "/usr/share"], &["refuse", $call]);
            assert_eq!(out.stdout, concat!($call, ": ", $errno, "\n"), "{out:?}");
            let lines = lines_of(&log);
            let denied: Vec<&String> = lines.iter().filter(|l| l.starts_with(concat!("trapbox: denied ", $call, "("))).collect();
            assert_eq!(denied.len(), 1, "{lines:#?}");
            assert!(denied[0].ends_with(concat!(": ", $reason)), "{lines:#?}");
        }
    )*};
}

refused_with_a_line! {
    mount_is_refused_with_a_line: "mount" => "EPERM", "only tmpfs is mounted for a guest, not \"proc\"";
    chroot_is_refused_with_a_line: "chroot" => "EPERM", "mount namespace changes";
    request_key_is_refused_with_a_line: "request_key" => "EPERM", "request_key with callout information would run the host's /sbin/request-key";
    bpf_is_refused_with_a_line: "bpf" => "EPERM", "kernel facilities with a large attack surface";
    perf_event_open_is_refused_with_a_line: "perf_event_open" => "EPERM", "kernel facilities with a large attack surface";
    ptrace_is_refused_with_a_line: "ptrace" => "EPERM", "the guest already has a debugger: the host";
    name_to_handle_at_is_refused_with_a_line: "name_to_handle_at" => "EPERM", "file handles bypass path checks";
    reboot_is_refused_with_a_line: "reboot" => "EPERM", "administers the host machine";
}

/// What is safe only in the guest's own namespaces (new namespaces nested in them, keys,
/// mounts) is refused with a line without them.
#[test]
fn without_namespaces_of_its_own_the_guest_makes_none_and_mounts_nothing() {
    for (call, why) in [
        ("unshare", "the guest has no namespaces of its own for new ones to nest in"),
        ("setns", "the guest has no namespaces of its own for new ones to nest in"),
        ("keyctl", "keys would be the invoker's"),
        ("mount", "a mount would change the host's mount namespace"),
    ] {
        let dir = scratch_dir(&format!("integrity_no_namespaces_{call}"));
        let (out, log) = probe_logged(&dir, &["--allow-read", "/usr/share", "--no-namespaces"], &["refuse", call]);
        assert_eq!(out.stdout, format!("{call}: EPERM\n"), "{out:?}");
        let lines = lines_of(&log);
        assert!(lines.len() == 1 && lines[0].contains(why), "{call}: {lines:?}");
    }
}

#[test]
fn without_a_policy_a_refusal_writes_no_line() {
    let dir = scratch_dir("integrity_refuse_unconfined");
    let (out, log) = probe_logged(&dir, &[], &["refuse", "bpf"]); // run_support adds --unconfined
    assert_eq!(out.stdout, "bpf: EPERM\n", "{out:?}");
    assert_eq!(lines_of(&log), Vec::<String>::new(), "the trap debugger alone logs no policy");
}

/// A write grant `out/` in a fresh scratch directory.
fn with_out_dir(test: &str) -> PathBuf {
    let dir = scratch_dir(test);
    std::fs::create_dir(dir.join("out")).unwrap();
    dir
}

#[test]
fn a_script_whose_interpreter_is_not_granted_exec_is_refused_with_a_line() {
    let dir = with_out_dir("integrity_exec_script");
    std::fs::write(dir.join("out/script"), "#!/bin/busybox sh\necho script ran\n").unwrap();
    std::fs::set_permissions(dir.join("out/script"), PermissionsExt::from_mode(0o755)).unwrap();
    let (out, log) = probe_logged(&dir, &["--allow-exec", "./out"], &["exec", "out/script"]);
    assert_eq!(out.stdout, "execve: ENOENT\n", "outside every grant the interpreter does not exist, as natively a missing one: {out:?}");
    let lines = lines_of(&log);
    assert!(
        lines.iter().any(|l| l.starts_with("trapbox: denied execve(\"out/script\"")
            && l.contains("its interpreter /bin/busybox (#! line")
            && l.ends_with("is outside every --allow-exec path")),
        "{lines:#?}"
    );

    // Granted, the same script runs.
    let (out, log) = probe_logged(&dir, &["--allow-exec", "./out", "--allow-exec", "/bin/busybox"], &["exec", "out/script"]);
    assert_eq!(out.stdout, "script ran\n", "{out:?}");
    assert_eq!(lines_of(&log), Vec::<String>::new());
}

#[test]
fn a_program_whose_loader_is_not_granted_exec_is_refused_with_a_line() {
    let dir = with_out_dir("integrity_exec_loader");
    std::fs::copy("/usr/bin/id", dir.join("out/id")).unwrap();
    // With the base, the system loader runs an exec-granted program (and only as its loader).
    let (out, _) = probe_logged(&dir, &["--allow-exec", "./out"], &["exec", "out/id"]);
    assert!(out.stdout.starts_with("uid="), "{out:?}");
    // Bare, no grant covers the loader.
    let (out, log) = probe_logged(&dir, &["--bare", "--allow-exec", "./out"], &["exec", "out/id"]);
    assert_eq!(out.stdout, "execve: ENOENT\n", "outside every grant the interpreter does not exist, as natively a missing one: {out:?}");
    let lines = lines_of(&log);
    assert!(
        lines.iter().any(|l| l.starts_with("trapbox: denied execve(\"out/id\"")
            && l.contains("its dynamic loader /lib64/ld-linux-x86-64.so.2 (PT_INTERP")
            && l.ends_with("is outside every --allow-exec path")),
        "{lines:#?}"
    );
}

// ---- no privilege leaves through the files the guest writes -------------------------------

/// A scratch directory whose `out/` holds `out/id`, a root-owned copy of /usr/bin/id (mode 0755).
fn with_a_program(test: &str) -> PathBuf {
    let dir = with_out_dir(test);
    std::fs::copy("/usr/bin/id", dir.join("out/id")).unwrap();
    std::fs::set_permissions(dir.join("out/id"), PermissionsExt::from_mode(0o755)).unwrap();
    dir
}

fn mode_of(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o7777
}

/// The extended attribute names of `path`, as the probe lists them natively.
fn xattrs_of(path: &Path) -> Vec<String> {
    let out = run(Command::new(probe()).arg("listxattr").arg(path));
    assert_eq!(out.status, 0, "{out:?}");
    out.stdout.lines().map(str::to_string).collect()
}

/// Runs one attempt on `out/...` under `--allow-write ./out`; asserts it failed with EPERM and
/// that exactly one denial line names the file and `what`.
fn refused_and_logged(dir: &Path, args: &[&str], what: &str) {
    let (out, log) = probe_logged(dir, &["--allow-write", "./out"], args);
    assert_eq!(out.stdout, format!("{}: EPERM\n", args[0]), "{out:?}");
    let lines = lines_of(&log);
    let denied: Vec<&String> = lines.iter().filter(|l| l.starts_with("trapbox: denied ")).collect();
    assert_eq!(denied.len(), 1, "{lines:#?}");
    assert!(denied[0].contains(&format!("{}/", dir.join("out").display())) && denied[0].contains(what), "{lines:#?}");
}

/// The copy is exactly as the test made it: mode 0755, no security attribute.
fn assert_unchanged(dir: &Path) {
    assert_eq!(mode_of(&dir.join("out/id")), 0o755);
    assert!(!xattrs_of(&dir.join("out/id")).iter().any(|n| n.starts_with("security.") || n.starts_with("trusted.")));
}

/// One test per attempt to give the root-owned copy `out/id` privilege: refused with EPERM,
/// one denial line naming the file and `what`, and the copy unchanged.
macro_rules! privilege_refused {
    ($($test:ident: [$($arg:literal),*] => $what:literal;)*) => {$(
        #[test]
        fn $test() {
            let dir = with_a_program(concat!("integrity_", stringify!($test)));
            refused_and_logged(&dir, &[$($arg),*], $what);
            assert_unchanged(&dir);
        }
    )*};
}

privilege_refused! {
    chmod_setuid_in_a_write_grant_is_refused: ["chmod", "out/id", "4755"] => "mode 4755 would make";
    chmod_setgid_on_a_file_in_a_write_grant_is_refused: ["chmod", "out/id", "2755"] => "setgid (S_ISGID)";
    fchmod_setuid_setgid_in_a_write_grant_is_refused: ["fchmod", "out/id", "6755"] => "setuid (S_ISUID)";
    fchmodat_setuid_in_a_write_grant_is_refused: ["fchmodat", "out/id", "4755"] => "setuid (S_ISUID)";
    setting_a_file_capability_in_a_write_grant_is_refused:
        ["setxattr", "out/id", "security.capability", "@cap"] => "may not get the attribute security.capability";
    fsetxattr_of_a_file_capability_in_a_write_grant_is_refused:
        ["fsetxattr", "out/id", "security.capability", "@cap"] => "may not get the attribute security.capability";
    a_trusted_attribute_in_a_write_grant_is_refused: ["lsetxattr", "out/id", "trusted.x", "y"] => "may not get the attribute trusted.x";
}

/// Runs the probe natively in a twin directory (same layout) and under trapbox; both stdouts.
fn native_and_sandboxed(test: &str, setup: fn(&str) -> PathBuf, args: &[&str]) -> (Outcome, Outcome, PathBuf, PathBuf) {
    let native_dir = setup(&format!("{test}_native"));
    let native = run(Command::new(probe()).args(args).current_dir(&native_dir));
    let dir = setup(test);
    let (sandboxed, log) = probe_logged(&dir, &["--allow-write", "./out"], args);
    assert_eq!(lines_of(&log), Vec::<String>::new(), "nothing to refuse or warn about");
    (native, sandboxed, native_dir, dir)
}

/// Modes without privilege change under the sandbox exactly as natively.
fn ordinary_modes_change_as_natively(call: &str) {
    for mode in ["0700", "0600", "0755", "1755"] {
        let (native, sandboxed, native_dir, dir) = native_and_sandboxed(&format!("integrity_plain_{call}"), with_a_program, &[call, "out/id", mode]);
        assert_eq!(native.stdout, format!("{call}: ok\n"));
        assert_eq!(sandboxed.stdout, native.stdout, "{call} {mode}: {sandboxed:?}");
        assert_eq!(mode_of(&dir.join("out/id")), mode_of(&native_dir.join("out/id")), "{call} {mode}");
    }
}

#[test]
fn chmod_of_ordinary_modes_works_as_natively() {
    ordinary_modes_change_as_natively("chmod");
}

#[test]
fn fchmod_of_ordinary_modes_works_as_natively() {
    ordinary_modes_change_as_natively("fchmod");
}

#[test]
fn fchmodat_of_ordinary_modes_works_as_natively() {
    ordinary_modes_change_as_natively("fchmodat");
}

#[test]
fn a_setgid_directory_is_allowed_as_natively() {
    let with_a_directory = |test: &str| {
        let dir = with_out_dir(test);
        std::fs::create_dir(dir.join("out/d")).unwrap();
        dir
    };
    let native_dir = with_a_directory("integrity_setgid_dir_native");
    let native = run(Command::new(probe()).args(["chmod", "out/d", "2755"]).current_dir(&native_dir));
    let dir = with_a_directory("integrity_setgid_dir");
    let (sandboxed, log) = probe_logged(&dir, &["--allow-write", "./out"], &["chmod", "out/d", "2755"]);
    assert_eq!((native.stdout.as_str(), sandboxed.stdout.as_str()), ("chmod: ok\n", "chmod: ok\n"), "{sandboxed:?}");
    assert_eq!(mode_of(&dir.join("out/d")), 0o2755);
    assert_eq!(lines_of(&log), Vec::<String>::new());
}

#[test]
fn mkdir_with_the_setgid_bit_makes_the_directory_natively_does() {
    let (native, sandboxed, native_dir, dir) = native_and_sandboxed("integrity_mkdir_2755", with_out_dir, &["mkdir", "out/d", "2755"]);
    assert!(native.stdout.starts_with("mkdir: ok\n"), "{native:?}");
    assert_eq!(sandboxed.stdout, native.stdout);
    assert_eq!(mode_of(&dir.join("out/d")), mode_of(&native_dir.join("out/d")));
}

#[test]
fn user_attributes_are_set_as_natively() {
    let (native, sandboxed, native_dir, dir) =
        native_and_sandboxed("integrity_user_xattr", with_a_program, &["setxattr", "out/id", "user.origin", "copied"]);
    assert_eq!((native.stdout.as_str(), sandboxed.stdout.as_str()), ("setxattr: ok\n", "setxattr: ok\n"), "{sandboxed:?}");
    assert_eq!(xattrs_of(&dir.join("out/id")), xattrs_of(&native_dir.join("out/id")));
    assert!(xattrs_of(&dir.join("out/id")).contains(&"user.origin".to_string()));
}

/// A file the guest creates with a setuid mode exists, without the bit, and the line says so.
fn created_without_privilege(test: &str, call: &str, mode: &str, dropped: &str) {
    let dir = with_out_dir(test);
    let (out, log) = probe_logged(&dir, &["--allow-write", "./out"], &[call, "out/new", mode]);
    assert_eq!(out.stdout, format!("{call}: ok\nmode 0755\n"), "{out:?}");
    assert_eq!(mode_of(&dir.join("out/new")), 0o755);
    let lines = lines_of(&log);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].starts_with("trapbox: warning: ") && lines[0].contains("/out/new is created without ") && lines[0].contains(dropped), "{lines:#?}");
}

#[test]
fn open_with_o_creat_and_a_setuid_mode_creates_the_file_without_the_bit() {
    created_without_privilege("integrity_create_4755", "create", "4755", "without S_ISUID (asked for mode 4755)");
}

#[test]
fn mknod_of_a_setuid_setgid_file_creates_it_without_the_bits() {
    created_without_privilege("integrity_mknod_6755", "mknod", "6755", "without S_ISUID and S_ISGID (asked for mode 6755)");
}

/// Whether this test runs as root (only root can run a program as another user).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Uid:").map(|v| v.split_whitespace().nth(1) == Some("0"))))
        .unwrap_or(false)
}

/// `id -u` and `id -g` of the copy at `program`, run as nobody (65534) by the host's setpriv.
fn ids_as_nobody(program: &Path) -> String {
    let out = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", "\"$0\" -u && \"$0\" -g"])
        .arg(program));
    assert_eq!(out.status, 0, "{out:?}");
    out.stdout
}

#[test]
fn an_unprivileged_user_gains_nothing_from_what_the_guest_left() {
    assert!(running_as_root(), "this test needs root: tests run as root");
    // Natively, the attack works: root's setuid-root copy runs as root for anyone.
    let native_dir = with_a_program("integrity_nobody_native");
    std::fs::set_permissions(native_dir.join("out/id"), PermissionsExt::from_mode(0o6755)).unwrap();
    assert_eq!(ids_as_nobody(&native_dir.join("out/id")), "0\n0\n", "the check must be able to see privilege");

    let dir = with_a_program("integrity_nobody");
    for attempt in [&["chmod", "out/id", "6755"][..], &["fchmod", "out/id", "4755"], &["setxattr", "out/id", "security.capability", "@cap"]] {
        let (out, _) = probe_logged(&dir, &["--allow-write", "./out"], attempt);
        assert_eq!(out.stdout, format!("{}: EPERM\n", attempt[0]), "{out:?}");
    }
    let (out, _) = probe_logged(&dir, &["--allow-write", "./out"], &["create", "out/made", "6755"]);
    assert_eq!(out.stdout, "create: ok\nmode 0755\n", "{out:?}");
    std::fs::copy("/usr/bin/id", dir.join("out/made")).unwrap(); // content only: the mode stays
    assert_eq!(ids_as_nobody(&dir.join("out/id")), "65534\n65534\n");
    assert_eq!(ids_as_nobody(&dir.join("out/made")), "65534\n65534\n");
    assert_unchanged(&dir);
}
