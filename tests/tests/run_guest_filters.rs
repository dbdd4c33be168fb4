//! A seccomp filter of the guest's own (seccomp(2) or prctl): installed from the host's
//! checked, pinned copy, it may only restrict the guest further — the same verdicts as
//! natively — while a filter that would hand calls to someone else (a listener, a tracer, a
//! computed verdict) is refused and logged, even when another thread rewrites it during the
//! install.

mod run_support;

use std::process::Command;

use run_support::{denials, routes, trapbox_run};
use trapbox_tests::{run, scratch_dir};

#[test]
fn a_filter_of_the_guests_own_restricts_it_as_natively() {
    let programs = routes("seccomp_probe.c");
    let dir = scratch_dir("guest_filters_native");
    for mode in ["errno", "prctl", "trap", "kill"] {
        let native = run(Command::new(&programs[0]).arg(mode));
        assert!(native.stdout.starts_with("install: ok\n"), "{mode}: {native:?}");
        for program in &programs {
            let out = run(trapbox_run(&["--allow-read", "/usr"], program, &[mode]).current_dir(&dir));
            assert_eq!((out.status, &out.stdout), (native.status, &native.stdout), "{mode} {}: {out:?}", program.display());
            assert!(!denials(&out).iter().any(|l| l.contains("seccomp(") || l.contains("prctl(")), "{mode}: {out:?}");
        }
    }
}

#[test]
fn filters_that_hand_calls_to_someone_else_are_refused_and_logged() {
    let dir = scratch_dir("guest_filters_escape");
    for program in routes("seccomp_probe.c") {
        let out = run(trapbox_run(&["--allow-read", "/usr"], &program, &["escape", "/etc/shadow"]).current_dir(&dir));
        assert_eq!(
            out.stdout,
            "user notif: EPERM\ntrace: EPERM\ncomputed verdict: EPERM\nlistener: EPERM\nopen after: ENOENT\n",
            "{}: {out:?}",
            program.display()
        );
        let denied = denials(&out);
        for why in ["hands calls to a listener", "hands calls to a tracer", "returns a computed verdict", "a listener of the guest's"] {
            assert!(denied.iter().any(|l| l.starts_with("trapbox: denied seccomp(") && l.contains(why)), "{why}: {out:?}");
        }
        // The host still decides: the open after the attempts is refused and logged.
        assert!(denied.iter().any(|l| l.contains("/etc/shadow is outside every allowed path")), "{out:?}");
    }
}

/// One thread keeps the filter's verdict at USER_NOTIF, flipping it to ERRNO now and then,
/// while another installs it: natively the kernel installs whatever it copies (the run prints
/// how often a USER_NOTIF filter got in); under trapbox only the copy the host judged is
/// installed, so a USER_NOTIF verdict never reaches the kernel.
#[test]
fn a_verdict_flipped_during_the_install_never_reaches_the_kernel_unjudged() {
    let programs = routes("seccomp_probe.c");
    let native = run(Command::new(&programs[0]).args(["race", "200"]));
    eprintln!("natively: {}", native.stdout.trim());
    let dir = scratch_dir("guest_filters_race");
    for program in &programs {
        let out = run(trapbox_run(&["--allow-read", "/usr", "--log", "race.log"], program, &["race", "200"]).current_dir(&dir));
        let line = out.stdout.lines().find(|l| l.starts_with("race: ")).unwrap_or_else(|| panic!("{out:?}"));
        assert!(line.starts_with("race: slipped 0 "), "{}: {line}", program.display());
        eprintln!("{}: {line}", program.display());
    }
}

/// Without a policy there is no pinned copy to judge a filter on: refused.
#[test]
fn unconfined_a_filter_of_the_guests_is_refused() {
    let programs = routes("seccomp_probe.c");
    let out = run(trapbox_run(&[], &programs[0], &["errno"]).current_dir(scratch_dir("guest_filters_unconfined")));
    assert!(out.stdout.starts_with("install: EPERM\nparent getppid: ok\n"), "{out:?}");
}
