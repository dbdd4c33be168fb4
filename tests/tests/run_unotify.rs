//! The unotify backend (`trapbox run --backend unotify`, the default under a policy on Linux
//! 6.6+) against the all-ptrace one: metadata calls served by the host's notification pool
//! give the native answers from several guest threads at once, hold on the host's copy of a
//! path another thread rewrites, and leave the same denial lines, traces and statistics, under
//! the route name `unotify`. They run with `--audit`: in a grants-only root the kernel answers
//! metadata calls itself, and none reaches the host.

mod run_support;

use std::path::Path;

use run_support::{denials, guest_pair, trapbox_run};
use trapbox_tests::{run, scratch_dir, Outcome};

const BACKENDS: [&str; 2] = ["unotify", "ptrace"];

/// A directory with `a0`, `a1` and the symlinks `l0 -> a0`, `l1 -> a1`.
fn two_files(test: &str) -> std::path::PathBuf {
    let dir = scratch_dir(test);
    for k in 0..2 {
        std::fs::write(dir.join(format!("a{k}")), "x".repeat(10 + k)).unwrap();
        std::os::unix::fs::symlink(format!("a{k}"), dir.join(format!("l{k}"))).unwrap();
    }
    dir
}

/// The JSON trace lines of `file`, parsed.
fn trace_lines(file: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(file).unwrap().lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// The `--stats=FILE` rows of `call` on `route`: (calls, errors).
fn stats_row(file: &Path, call: &str, route: &str) -> Option<(u64, u64)> {
    let stats: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    stats["calls"].as_array()?.iter().find(|c| c["call"] == call && c["route"] == route).map(|c| (c["count"].as_u64().unwrap(), c["errors"].as_u64().unwrap()))
}

/// Two guest threads making stat, lstat, readlink, access, statx and fstat calls at once get
/// the native answer every time, on both backends; under unotify every one of them is served
/// by the pool (none reaches the debugger), and the trace shows each call the statistics count.
#[test]
fn two_threads_make_metadata_calls_at_once_with_native_answers() {
    let dir = two_files("unotify_threads");
    let d = dir.to_str().unwrap();
    let (plain, rewritten) = guest_pair("meta_threads.c");
    let native = run(std::process::Command::new(&plain).args([d, "500"]));
    assert_eq!(native.status, 0, "{native:?}");
    assert!(native.stdout.contains("thread 1: 500 rounds, 0 wrong"), "{}", native.stdout);
    for program in [&plain, &rewritten] {
        for backend in BACKENDS {
            let trace = dir.join(format!("trace-{backend}.jsonl"));
            let stats = dir.join(format!("stats-{backend}.json"));
            let flags = [
                "--audit", // the host answers metadata (in a grants-only root the kernel does)
                "--backend",
                backend,
                "--allow-read",
                d,
                &format!("--trace={}", trace.display()),
                "--trace-format",
                "json",
                &format!("--stats={}", stats.display()),
            ];
            let out = run(&mut trapbox_run(&flags, program, &[d, "500"]));
            assert_eq!((out.status, &out.stdout), (native.status, &native.stdout), "{backend} {}: {out:?}", program.display());
            assert!(denials(&out).is_empty(), "{backend}: {}", out.stderr);
            // Each call the statistics count has its trace line, on the route they name.
            let lines = trace_lines(&trace);
            for call in ["newfstatat", "readlink", "access", "statx"] {
                let on = |route: &str| lines.iter().filter(|l| l["call"] == call && l["route"] == route).count() as u64;
                let (route, other) = if backend == "unotify" { ("unotify", "backstop") } else { ("backstop", "unotify") };
                let (count, _) = stats_row(&stats, call, route).unwrap_or_else(|| panic!("{backend}: no {call} row on {route}"));
                assert!(count >= 1000, "{backend} {call}: {count} calls counted");
                assert_eq!(on(route), count, "{backend} {call}: every counted call is traced");
                // (A rewritten binary's trapped calls are the debugger's on both backends.)
                if program == &plain {
                    assert_eq!(on(other), 0, "{backend} {call}: none on {other}");
                }
            }
        }
    }
}

/// A second thread rewriting the path while the host decides never gets the metadata of the
/// forbidden file: the answer is about the host's copy, whether the broker answers it beneath
/// the grant (a granted file) or the host answers it in the guest's view (`/usr`, a directory
/// leading to the grant, which the ptrace route lets the kernel answer on a pinned copy). Each
/// refusal is logged with the call and the reason, on both backends; under unotify the trace
/// shows them refused on that route.
#[test]
fn a_racing_thread_cannot_stat_outside_the_grants_on_either_backend() {
    let dir = scratch_dir("unotify_race");
    let (plain, _) = guest_pair("path_race.c");
    let granted = "/usr/share/common-licenses/GPL-3";
    for backend in BACKENDS {
        for (allowed, rounds) in [(granted, "3000"), ("/usr", "3000")] {
            let trace = dir.join(format!("trace-{backend}.jsonl"));
            let flags = ["--audit", "--backend", backend, "--allow-read", "/usr/share", &format!("--trace={}", trace.display()), "--trace-format", "json"];
            let out = run(trapbox_run(&flags, &plain, &["stat", allowed, "/etc/shadow", rounds]).current_dir(&dir));
            assert_eq!(out.status, 0, "{backend} {allowed}: {out:?}");
            let report = out.stdout.lines().find(|l| l.starts_with("race ")).unwrap_or_else(|| panic!("no report: {out:?}"));
            assert!(report.starts_with("race observed after "), "{backend} {allowed}: the race was not observed within the bound: {report}");
            assert!(report.ends_with(" leaked 0"), "{backend} {allowed}: {report}");
            // (The host may also read the buffer half rewritten: a path no grant covers either.)
            let denied: Vec<&str> = denials(&out);
            assert!(denied.iter().any(|l| l.contains("(AT_FDCWD, \"/etc/shadow\"") && l.contains("/etc/shadow is outside every allowed path")), "{backend}: {}", out.stderr);
            assert!(denied.iter().all(|l| l.starts_with("trapbox: denied newfstatat(AT_FDCWD, ") && l.contains(" is outside every allowed path")), "{backend}: {}", out.stderr);
            let refused_here = trace_lines(&trace)
                .iter()
                .filter(|l| l["call"] == "newfstatat" && l["handling"] == "refused")
                .map(|l| l["route"].as_str().unwrap_or("").to_string())
                .collect::<Vec<_>>();
            let route = if backend == "unotify" { "unotify" } else { "backstop" };
            // Every call the guest saw refused has its trace line.
            let words: Vec<&str> = report.split_whitespace().collect();
            let refused: usize = words.iter().position(|w| *w == "refused").and_then(|at| words[at + 1].parse().ok()).unwrap_or_else(|| panic!("{report}"));
            assert_eq!(refused_here.len(), refused, "{backend}: one trace line per refusal: {report}");
            assert!(refused_here.iter().all(|r| r == route), "{backend}: {refused_here:?}");
        }
    }
}

/// A denial under the unotify route reads as under ptrace: the same line on stderr, the call
/// refused with the same errno; the text trace tags it `<unotify refused>`.
#[test]
fn a_denied_metadata_call_is_logged_and_traced_under_the_unotify_route() {
    let dir = scratch_dir("unotify_denial");
    let busybox = trapbox_tests::busybox();
    let each: Vec<Outcome> = BACKENDS
        .iter()
        .map(|backend| run(trapbox_run(&["--audit", "--backend", backend, "--allow-read", "/usr", "--trace"], &busybox, &["stat", "-c", "%i", "/etc/shadow"]).current_dir(&dir)))
        .collect();
    for (backend, out) in BACKENDS.iter().zip(&each) {
        assert_eq!(out.status, 1, "{backend}: {out:?}");
        assert!(out.stderr.contains("can't stat '/etc/shadow': No such file or directory"), "{backend}: {}", out.stderr);
    }
    let denial = |out: &Outcome| denials(out).iter().map(|l| l.split(", 0x").next().unwrap_or("").to_string()).collect::<Vec<_>>();
    assert_eq!(denial(&each[0]), denial(&each[1]), "the same denial lines (buffer addresses aside)");
    assert!(denial(&each[0]).iter().any(|l| l.starts_with("trapbox: denied newfstatat(AT_FDCWD, \"/etc/shadow\"")), "{}", each[0].stderr);
    let traced = |out: &Outcome, tag: &str| out.stderr.lines().any(|l| l.contains("newfstatat(AT_FDCWD, \"/etc/shadow\"") && l.ends_with(&format!("= -1 ENOENT <{tag}>")));
    assert!(traced(&each[0], "unotify refused"), "{}", each[0].stderr);
    assert!(traced(&each[1], "backstop refused"), "{}", each[1].stderr);
}

/// Where unotify cannot serve, the run is ptrace, saying so once when unotify was asked for.
#[test]
fn unotify_without_a_policy_runs_on_ptrace_with_a_note() {
    let busybox = trapbox_tests::busybox();
    let out = run(&mut trapbox_run(&["--backend", "unotify"], &busybox, &["true"]));
    assert_eq!(out.status, 0, "{out:?}");
    let notes: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("trapbox: note: --backend unotify")).collect();
    assert_eq!(notes.len(), 1, "{}", out.stderr);
    let quiet = run(&mut trapbox_run(&[], &busybox, &["true"]));
    assert!(!quiet.stderr.contains("trapbox: note"), "the default says nothing: {}", quiet.stderr);
}
