//! Hostcalls and the native personality: zero-copy `map_file`, `write`, `exit`, `unmap`, and a
//! guest that makes no Linux system call at all (examples/c/wc_map.c).

mod run_support;

use std::path::{Path, PathBuf};

use run_support::trapbox_run;
use trapbox_tests::{build_c, build_guest, run, scratch_dir, workspace_root, Outcome};

const GPL: &str = "/usr/share/common-licenses/GPL-3";

fn wc_map() -> PathBuf {
    build_c(&workspace_root().join("examples/c/wc_map.c"), &trapbox_tests::SDK_C_FLAGS)
}

/// (lines, words, bytes) the way wc counts them.
fn counts(bytes: &[u8]) -> (usize, usize, usize) {
    let lines = bytes.iter().filter(|&&b| b == b'\n').count();
    let words = bytes.split(|b| b" \t\n\r\x0b\x0c".contains(b)).filter(|w| !w.is_empty()).count();
    (lines, words, bytes.len())
}

fn reported(out: &Outcome) -> (usize, usize, usize) {
    let n: Vec<usize> = out.stdout.split_whitespace().take(3).map(|v| v.parse().unwrap_or(usize::MAX)).collect();
    (n[0], n[1], n[2])
}

#[test]
fn a_guest_with_no_linux_calls_counts_a_mapped_file() {
    let dir = scratch_dir("sdk_wc_map");
    let out = run(trapbox_run(&["--personality", "native", "--allow-read", "/usr/share", "--stats"], &wc_map(), &[GPL]).current_dir(&dir));
    assert_eq!(out.status, 0, "{out:?}");
    assert_eq!(reported(&out), counts(&std::fs::read(GPL).unwrap()), "{}", out.stdout);
    assert!(out.stdout.trim_end().ends_with(GPL), "{}", out.stdout);
    assert!(!out.stderr.contains("native personality"), "no Linux call was made: {}", out.stderr);
    // Besides the exec, the only stops are the hostcalls' traps: the file's bytes cost none.
    assert!(out.stderr.contains(", 0 refused; seccomp stops: 1;"), "{}", out.stderr);

    // An empty file maps as nothing.
    std::fs::write(dir.join("empty"), b"").unwrap();
    let out = run(trapbox_run(&["--personality", "native", "--allow-read", "."], &wc_map(), &["empty"]).current_dir(&dir));
    assert_eq!((out.status, reported(&out)), (0, (0, 0, 0)), "{out:?}");
}

#[test]
fn map_file_of_a_denied_file_maps_nothing_and_is_logged() {
    let dir = scratch_dir("sdk_denied");
    let out = run(trapbox_run(&["--personality", "native", "--allow-read", "/usr/share"], &wc_map(), &["/etc/shadow"]).current_dir(&dir));
    assert_eq!(out.status, 77, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("trapbox: denied hc_map_file(\"/etc/shadow\", read): /etc/shadow is not granted"), "{}", out.stderr);
    assert!(out.stderr.contains("wc_map: permission denied: /etc/shadow"), "{}", out.stderr);
}

#[test]
fn the_native_personality_refuses_every_linux_call() {
    let dir = scratch_dir("sdk_native_refuses");
    let out = run(trapbox_run(&["--personality", "native"], Path::new("/bin/busybox"), &["echo", "hi"]).current_dir(&dir));
    assert_ne!(out.status, 0, "{out:?}");
    assert_eq!(out.stdout, "", "echo must not have written anything");
    assert!(out.stderr.contains("in the native personality: only hostcalls are served"), "{}", out.stderr);
}

#[test]
fn a_file_truncated_while_mapped_raises_sigbus_and_the_host_survives() {
    let dir = scratch_dir("sdk_truncate");
    let guest = build_guest("map_truncate.c", &["-O2", "-static"]);
    let out = run(trapbox_run(&["--allow-write", "."], &guest, &["victim"]).current_dir(&dir));
    assert_eq!(out.status, 128 + 7, "{out:?}");
    assert_eq!(out.stdout, "mapped 8192 bytes, first byte x\n");
    assert!(out.stderr.contains("trapbox: guest killed by SIGBUS"), "{}", out.stderr);
}

/// The Rust SDK's safe wrappers, in a Rust guest built against the abi crate's source.
#[test]
fn the_rust_sdk_maps_checks_logs_and_writes() {
    let dir = scratch_dir("sdk_rust");
    let guest = trapbox_tests::build_sdk_rust(&workspace_root().join("tests/guests/sdk_map.rs"), false);
    let out = run(trapbox_run(&["--allow-read", "/usr/share"], &guest, &[GPL]).current_dir(&dir));
    assert_eq!(out.status, 0, "{out:?}");
    let (lines, _, bytes) = counts(&std::fs::read(GPL).unwrap());
    assert_eq!(
        out.stdout,
        format!(
            "abi version Ok(2)\nmay read {GPL}: Ok(true)\nmay read /etc/shadow: Ok(false)\nmapped {bytes} bytes, {lines} lines\n\
             denied: Err(HostError(13))\nwritten by a hostcall\n"
        )
    );
    assert!(out.stderr.contains("info: hello from the guest"), "{}", out.stderr);
}

/// The scratch layout the `sdk_calls` guests expect: `w/` (write grant), `r/data` (read grant).
fn calls_dir(name: &str) -> PathBuf {
    let dir = scratch_dir(name);
    std::fs::create_dir(dir.join("w")).unwrap();
    std::fs::create_dir(dir.join("r")).unwrap();
    std::fs::write(dir.join("r/data"), b"data1").unwrap();
    dir
}

fn with_stdin(cmd: &mut std::process::Command, input: &[u8]) -> Outcome {
    use std::io::Write as _;
    use std::os::unix::process::ExitStatusExt;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    Outcome {
        status: out.status.code().unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0)),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const GRANTS: [&str; 6] = ["--personality", "native", "--allow-write", "w", "--allow-read", "r"];

/// What tests/guests/sdk_calls.c prints: each errno is the kernel's own for the Linux call the
/// hostcall stands for (or the policy's, which answers as the kernel would for a file it
/// cannot reach).
const C_CALLS: &str = "version: 2\nargc: 2\nargv[1]: arg1\nenvp has entries: 1\nalloc zeroed: 1\nfree: 0\nalloc 0: 1\n\
alloc huge: 1\nfree stub page: -1\nx\nwrite stdout: 2\nwrite bad handle: -9\nread bad handle: -9\nclose bad handle: -9\n\
read stdin: 6\nwrite stdin (read-only): 1\nopen create: 1\nwrite file: 12\nread write-only: -9\nseek end: 12\n\
seek bad whence: -22\nseek negative: -22\nclose: 0\nclose again: -9\nopen exclusive existing: -17\nappend: 5\nseek set: 6\n\
read after seek: 11\nworld\nmore\nstat: 0\nstat size: 17\nstat kind: 1\nstat links: 1\nstat bad pointer: -14\n\
read bad pointer: -14\nopen no access mode: -22\nopen unknown flag: -22\nopen missing: -2\nopen empty path: -2\n\
open directory for writing: -21\nmkdir: 0\nmkdir existing: -17\nrename: 0\nrename missing: -2\nremove dir not empty: -39\n\
remove dir as file: -21\nopen directory: 1\nread directory: -21\nentry: moved kind 1\nreaddir end: 0\n\
readdir tiny buffer: -22\nreaddir of a file handle: -20\nremove file: 0\nremove file again: -2\nremove dir: 0\n\
remove bad flag: -22\nopen read grant: 0\nopen read grant for writing: -13\ncreate in read grant: -13\n\
mkdir in read grant: -13\nremove in read grant: -13\nrename out of read grant: -13\nopen outside grants: -2\n\
map outside grants: 1\nmap read grant: 1\nunmap: 0\nmap read grant writable: 1\nsleep: 0\nslept at least 20ms: 1\n\
realtime after 2020: 1\nclock bad id: -22\nrandom: 32\nrandom differs: 1\nrandom bad pointer: -14\nlog: 0\nexiting 3\n";

/// Every denial the C guest meets, each logged by the host.
const C_DENIALS: [&str; 9] = [
    "trapbox: denied munmap(0x550000000000, 4096): it would unmap, replace or re-protect the host's stub page",
    "trapbox: denied openat(AT_FDCWD, \"r/data\", O_WRONLY|O_NOCTTY|O_CLOEXEC): ",
    "trapbox: denied openat(AT_FDCWD, \"r/new\", O_WRONLY|O_CREAT|O_NOCTTY|O_CLOEXEC, 0666): ",
    "trapbox: denied mkdirat(AT_FDCWD, \"r/dir\", 0777): ",
    "trapbox: denied unlinkat(AT_FDCWD, \"r/data\", 0x0): ",
    "trapbox: denied renameat(AT_FDCWD, \"r/data\", AT_FDCWD, \"w/stolen\"): ",
    "trapbox: denied openat(AT_FDCWD, \"/etc/shadow\", O_RDONLY|O_NOCTTY|O_CLOEXEC): /etc/shadow is outside every allowed path",
    "trapbox: denied hc_map_file(\"/etc/shadow\", read): /etc/shadow is not granted",
    "trapbox: denied hc_map_file(\"r/data\", write): ",
];

fn sdk_calls_c() -> PathBuf {
    trapbox_tests::build_sdk_c(&workspace_root().join("tests/guests/sdk_calls.c"), false)
}

#[test]
fn every_c_hostcall_succeeds_or_fails_with_the_native_errno_and_denials_are_logged() {
    let dir = calls_dir("sdk_calls_c");
    let out = with_stdin(trapbox_run(&GRANTS, &sdk_calls_c(), &["arg1"]).current_dir(&dir), b"input\n");
    assert_eq!((out.status, out.stdout.as_str()), (3, C_CALLS), "{}", out.stderr);
    for denial in C_DENIALS {
        assert!(out.stderr.lines().any(|l| l.starts_with(denial)), "no line {denial:?} in:\n{}", out.stderr);
    }
    assert!(out.stderr.contains("info: sdk_calls logs"), "{}", out.stderr);
    assert!(!out.stderr.contains("native personality"), "a hostcall made a Linux call of the guest's: {}", out.stderr);
    assert!(!dir.join("w/stolen").exists() && dir.join("r/data").exists());
}

/// The ABI's other entry: the same guest making every hostcall with a plain `syscall`
/// (`TRAPBOX_SYSCALL_ENTRY`) gets exactly the same answers, and the same denials are logged.
#[test]
fn every_c_hostcall_answers_alike_through_a_plain_syscall() {
    let dir = calls_dir("sdk_calls_syscall_entry");
    let mut flags = trapbox_tests::SDK_C_FLAGS.to_vec();
    flags.push("-DTRAPBOX_SYSCALL_ENTRY");
    let guest = trapbox_tests::build_c(&workspace_root().join("tests/guests/sdk_calls.c"), &flags);
    let sections = std::process::Command::new("objdump").arg("-h").arg(&guest).output().unwrap();
    assert!(!String::from_utf8_lossy(&sections.stdout).contains(".trapbox.sdk"), "the build still lists trap sites");
    let out = with_stdin(trapbox_run(&GRANTS, &guest, &["arg1"]).current_dir(&dir), b"input\n");
    assert_eq!((out.status, out.stdout.as_str()), (3, C_CALLS), "{}", out.stderr);
    for denial in C_DENIALS {
        assert!(out.stderr.lines().any(|l| l.starts_with(denial)), "no line {denial:?} in:\n{}", out.stderr);
    }
    assert!(out.stderr.contains("info: sdk_calls logs"), "{}", out.stderr);
}

/// The same guest built for plain Linux (each hostcall its Linux call) gets the same answers
/// wherever no grant is involved: the hostcalls add no errno of their own.
#[test]
fn the_c_hostcalls_answer_as_their_linux_calls_do_natively() {
    let dir = calls_dir("sdk_calls_linux");
    let native = with_stdin(std::process::Command::new(trapbox_tests::build_sdk_c(&workspace_root().join("tests/guests/sdk_calls.c"), true)).arg("arg1").current_dir(&dir), b"input\n");
    let dir = calls_dir("sdk_calls_trapbox");
    let trapped = with_stdin(trapbox_run(&GRANTS, &sdk_calls_c(), &["arg1"]).current_dir(&dir), b"input\n");
    // Lines about grants, the host's own area, readdir (a hostcall only), mapping and the
    // ABI's own argument checks (its flags and clock ids, which the Linux build passes on
    // unchecked) differ.
    let differs = |l: &&str| {
        ["grant", "outside", "stub page", "version", "readdir", "entry:", "map ", "unmap", "random bad", "log", "stat bad", "flag", "mode", "clock bad"]
            .iter()
            .any(|k| l.contains(k))
    };
    let keep = |o: &Outcome| o.stdout.lines().filter(|l| !differs(l)).map(String::from).collect::<Vec<_>>();
    assert_eq!(keep(&native), keep(&trapped), "native:\n{}\ntrapbox:\n{}", native.stdout, trapped.stdout);
    assert_eq!((native.status, trapped.status), (3, 3));
}

#[test]
fn an_unprivileged_user_runs_the_c_sdk_guest_alike() {
    if !run_support::is_root() {
        return; // already unprivileged: the test above is the rootless case
    }
    let dir = calls_dir("sdk_calls_rootless");
    let (host, guest) = run_support::unprivileged_copies(&dir, &sdk_calls_c(), &[&dir.join("w")]);
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(&host).arg("run").args(GRANTS).arg("--").arg(&guest).arg("arg1");
    let out = with_stdin(cmd.current_dir(&dir), b"input\n");
    assert_eq!((out.status, out.stdout.as_str()), (3, C_CALLS), "{}", out.stderr);
}

fn sdk_calls_rust() -> PathBuf {
    trapbox_tests::build_sdk_rust(&workspace_root().join("tests/guests/sdk_calls.rs"), true)
}

#[test]
fn every_rust_sdk_wrapper_works_in_a_no_std_guest() {
    let dir = calls_dir("sdk_calls_rust");
    let out = with_stdin(trapbox_run(&[&GRANTS[..], &["--env", "SDK_TEST=yes"]].concat(), &sdk_calls_rust(), &["one", "two"]).current_dir(&dir), b"input\n");
    let expected = "version Ok(2)\nargs [\"one\", \"two\"]\nenv SDK_TEST=Some(\"yes\")\nallocator 200 item 37 true\n\
pages Some(HostError(22))\nstdin \"input\\n\"\nbad handle Err(HostError(9))\nseek Ok(2) Err(HostError(22))\n\
read write-only Err(HostError(9))\nstat Ok((10, true, 384))\nclose Ok(())\nread back Ok(\"0123456789ab\")\n\
create_new Some(HostError(17))\nno mode Some(HostError(22))\ncreate_dir Ok(()) Err(HostError(17))\n\
rename Ok(()) Err(HostError(2))\nread_dir [Ok((\"a\", 2)), Ok((\"b\", 1)), Ok((\"c\", 1))]\n\
read_dir of a file Ok(Some(Err(HostError(20))))\nremove_dir not empty Err(HostError(39))\nremove_file dir Err(HostError(21))\n\
removes Ok(()) Ok(()) Ok(()) Ok(())\nmissing Some(HostError(2))\nread grant Ok(5)\nwrite in read grant Some(HostError(13))\n\
mkdir in read grant Some(HostError(13))\noutside Some(\"ENOENT (errno 2)\")\nmap Ok(5)\n\
map writable in read grant Some(HostError(13))\nmap writable None Ok(\"Xbc\")\nslept true\nrealtime true\nrandom true\n";
    assert_eq!((out.status, out.stdout.as_str()), (7, expected), "{}", out.stderr);
    assert!(out.stderr.contains("info: sdk_calls.rs logs"), "{}", out.stderr);
    assert!(out.stderr.contains("trapbox: denied openat(AT_FDCWD, \"r/data\", O_WRONLY|O_CREAT|O_NOCTTY|O_TRUNC|O_CLOEXEC, 0666)"), "{}", out.stderr);
    assert!(out.stderr.contains("trapbox: denied mkdirat(AT_FDCWD, \"r/d\", 0777)"), "{}", out.stderr);
    assert!(!out.stderr.contains("native personality"), "{}", out.stderr);
}

#[test]
fn a_panic_in_a_rust_guest_is_logged_and_exits_101() {
    let dir = calls_dir("sdk_panic");
    let out = with_stdin(trapbox_run(&GRANTS, &sdk_calls_rust(), &["panic"]).current_dir(&dir), b"");
    assert_eq!(out.status, 101, "{out:?}");
    assert!(out.stderr.contains("error: panicked: panicked at") && out.stderr.contains("index out of bounds"), "{}", out.stderr);
}
