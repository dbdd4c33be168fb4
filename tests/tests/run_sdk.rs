//! Hostcalls and the native personality: zero-copy `map_file`, `write`, `exit`, `unmap`, and a
//! guest that makes no Linux system call at all (examples/c/wc_map.c).

mod run_support;

use std::path::{Path, PathBuf};

use run_support::trapbox_run;
use trapbox_tests::{build_c, build_guest, run, scratch_dir, workspace_root, Outcome};

const GPL: &str = "/usr/share/common-licenses/GPL-3";

fn wc_map() -> PathBuf {
    build_c(&workspace_root().join("examples/c/wc_map.c"), &["-O2", "-static", "-nostdlib", "-fno-stack-protector", "-fno-builtin"])
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
    let fixtures = trapbox_tests::fixture_dir();
    let rlib = fixtures.join("libtrapbox_abi.rlib");
    let guest = fixtures.join("sdk_map");
    let rustc = |args: &[&std::ffi::OsStr]| {
        let status = std::process::Command::new("rustc").args(args).status().expect("run rustc");
        assert!(status.success(), "rustc {args:?}");
    };
    rustc(&[
        "--edition=2021".as_ref(),
        "--crate-type=rlib".as_ref(),
        "--crate-name=trapbox_abi".as_ref(),
        "-O".as_ref(),
        "-o".as_ref(),
        rlib.as_os_str(),
        workspace_root().join("abi/src/lib.rs").as_os_str(),
    ]);
    let extern_arg = format!("trapbox_abi={}", rlib.display());
    rustc(&[
        "--edition=2021".as_ref(),
        "-O".as_ref(),
        "--extern".as_ref(),
        extern_arg.as_ref(),
        "-o".as_ref(),
        guest.as_os_str(),
        workspace_root().join("tests/guests/sdk_map.rs").as_os_str(),
    ]);
    let out = run(trapbox_run(&["--allow-read", "/usr/share"], &guest, &[GPL]).current_dir(&dir));
    assert_eq!(out.status, 0, "{out:?}");
    let (lines, _, bytes) = counts(&std::fs::read(GPL).unwrap());
    assert_eq!(
        out.stdout,
        format!(
            "abi version Ok(1)\nmay read {GPL}: Ok(true)\nmay read /etc/shadow: Ok(false)\nmapped {bytes} bytes, {lines} lines\n\
             denied: Err(HostError(13))\nwritten by a hostcall\n"
        )
    );
    assert!(out.stderr.contains("info: hello from the guest"), "{}", out.stderr);
}
