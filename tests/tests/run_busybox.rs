//! Differential: busybox applets and shell pipelines run natively and under `trapbox run`,
//! unrewritten (every call mediated by the seccomp backstop) and rewritten (traps), with
//! identical stdout, stderr and exit status.

mod run_support;

use std::path::{Path, PathBuf};

use run_support::{busybox_int3, busybox_trapped, native, split_death_message, trapbox_run};
use trapbox_tests::run;
use trapbox_tests::{busybox, scratch_dir, Outcome};

/// Each case is the argument list after the busybox binary.
const CASES: &[&[&str]] = &[
    &["echo", "hello", "world"],
    &["sh", "-c", "seq 1 100000 | sort -rn | head -3; exit 7"],
    &["cat", "data.txt"],
    &["cat", "no-such-file"],
    &["ls", "-ln", "tree", "tree/sub"],
    &["sh", "-c", "find tree -type f | sort"],
    &["sort", "data.txt"],
    &["sort", "-n", "-r", "numbers.txt"],
    &["wc", "data.txt", "numbers.txt"],
    &["grep", "-n", "an", "data.txt"],
    &["grep", "-c", "zzz", "data.txt"],
    &["sed", "-e", "s/a/A/g", "-e", "3d", "data.txt"],
    &["awk", "{ s += $1 } END { print s, NR }", "numbers.txt"],
    &["sha256sum", "data.txt", "numbers.txt"],
    &["sh", "-c", "tar cf - tree | tar tvf - | awk '{print $1, $3, $6}' | sort"],
    &["sh", "-c", "gzip -c numbers.txt | gzip -dc | sha256sum; gzip -c data.txt | wc -c"],
    &["sh", "-c", "rm -rf out && mkdir -p out/a/b && cp data.txt tree/f1 out/a/b/ && ls out/a/b && rm -r out && echo removed && test ! -e out"],
    &["sh", "-c", "for i in 1 2 3; do echo $i | sed s/^/line/; done | tac"],
    &["sh", "-c", "echo to-stderr >&2; false || exit 3"],
    &["sh", "-c", "x=$(busybox echo sub; echo shell); echo \"$x\" | wc -l"],
    &["sh", "-c", "busybox seq 5 | busybox xargs -n 2 echo"],
    &["sh", "-c", "kill -SEGV $$"],
    &["sh", "-c", "trap 'echo got USR1' USR1; kill -USR1 $$; echo after"],
    &["sh", "-c", "sleep 0.01 & wait $!; echo waited $?"],
    &["sh", "-c", "yes | head -2"],
];

/// A SIGSTOP that must really hold the process until SIGCONT.
const STOP_SCRIPT: &str = "rm -f marker
busybox sh -c 'kill -STOP $$; echo resumed > marker' &
pid=$!
sleep 0.5
if [ -e marker ]; then echo 'not stopped'; else echo 'still stopped'; fi
kill -CONT $pid
wait $pid
echo \"inner exit $?\"
cat marker
";

fn populate(dir: &Path) {
    std::fs::write(dir.join("data.txt"), "banana\napple\ncherry\nmango\nbanana split\nkiwi\n").unwrap();
    let numbers: String = (1..=2000).map(|i| format!("{}\n", (i * 7919) % 1000)).collect();
    std::fs::write(dir.join("numbers.txt"), numbers).unwrap();
    std::fs::create_dir_all(dir.join("tree/sub/deeper")).unwrap();
    std::fs::write(dir.join("tree/f1"), "one\n").unwrap();
    std::fs::write(dir.join("tree/sub/f2"), "two\n").unwrap();
    std::fs::write(dir.join("tree/sub/deeper/f3"), "three\n").unwrap();
    std::fs::write(dir.join("stop.sh"), STOP_SCRIPT).unwrap();
}

/// The expected trapbox outcome: the native one, plus trapbox's one-line message for a death
/// by signal.
fn compare(case: &[&str], native: &Outcome, under: &Outcome) -> Option<String> {
    let (guest_stderr, ours) = split_death_message(&under.stderr);
    let mut problems = Vec::new();
    if native.status != under.status {
        problems.push(format!("status {} natively, {} under trapbox", native.status, under.status));
    }
    if native.stdout != under.stdout {
        problems.push(format!("stdout differs:\n--- native\n{}--- trapbox\n{}", native.stdout, under.stdout));
    }
    if native.stderr != guest_stderr {
        problems.push(format!("stderr differs:\n--- native\n{}--- trapbox\n{}", native.stderr, guest_stderr));
    }
    let expected_ours: Vec<String> = if native.status > 128 {
        vec![format!("trapbox: guest killed by {}", signal_name(native.status - 128))]
    } else {
        Vec::new()
    };
    if ours != expected_ours {
        problems.push(format!("trapbox's own messages: {ours:?}, expected {expected_ours:?}"));
    }
    (!problems.is_empty()).then(|| format!("case {case:?}:\n{}", problems.join("\n")))
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        _ => "an unexpected signal",
    }
}

fn differential(test: &str, under_trapbox: PathBuf, flags: &[&str]) {
    let dir = scratch_dir(test);
    populate(&dir);
    let mut failures = Vec::new();
    let stop_case: &[&str] = &["sh", "stop.sh"];
    for case in CASES.iter().copied().chain(std::iter::once(stop_case)) {
        let expected = native(&busybox(), case, &dir);
        let got = run(trapbox_run(flags, &under_trapbox, case).current_dir(&dir));
        if let Some(problem) = compare(case, &expected, &got) {
            failures.push(problem);
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n\n{}", failures.len(), CASES.len() + 1, failures.join("\n\n"));
}

#[test]
fn busybox_unrewritten_matches_native() {
    differential("busybox_unrewritten", busybox(), &[]);
}

#[test]
fn busybox_rewritten_with_every_trap_kept_matches_native() {
    differential("busybox_rewritten", busybox_trapped(), &["--keep-traps"]);
}

#[test]
fn busybox_rewritten_with_every_trap_kept_and_a_debugger_that_sleeps_for_each_stop_matches_native() {
    // By default the debugger polls for the next stop while stops come fast; --spin-wait 0
    // makes it sleep in waitpid for each, the other way the same events must be handled.
    differential("busybox_sleeping_waits", busybox_trapped(), &["--keep-traps", "--spin-wait", "0"]);
}

#[test]
fn busybox_rewritten_with_int3_traps_kept_matches_native() {
    differential("busybox_int3", busybox_int3(), &["--keep-traps"]);
}

#[test]
fn busybox_rewritten_as_run_by_default_matches_native() {
    differential("busybox_untrapped", busybox_trapped(), &[]);
    differential("busybox_int3_untrapped", busybox_int3(), &[]);
}

#[test]
fn busybox_rewritten_and_traced_matches_native() {
    // --trace sends every trapped call through the stub's slow path and every seccomp stop
    // through a syscall-exit stop: a different route that must give the same results.
    let trace = scratch_dir("busybox_traced_log").join("trace.txt");
    differential("busybox_traced", busybox_trapped(), &["--keep-traps", &format!("--trace={}", trace.display())]);
}

#[test]
fn the_issue_example_exits_7_with_the_same_output() {
    let dir = scratch_dir("busybox_issue_example");
    let script = ["sh", "-c", "seq 1 100000 | sort -rn | head -3; exit 7"];
    let got = run(trapbox_run(&[], &busybox_trapped(), &script).current_dir(&dir));
    assert_eq!(got.status, 7, "{got:?}");
    assert_eq!(got.stdout, "100000\n99999\n99998\n");
    assert_eq!(got.stderr, "");
}

#[test]
fn busybox_rewritten_confined_matches_native() {
    // Under a policy that grants what the cases use, nothing may differ: exec, chdir, stat and
    // the rest run on the host's pinned copies of their arguments, opens through directfs,
    // changes through the broker — and not one call may be refused (a denial line would show).
    let flags = ["--allow-read", "/", "--allow-write", ".", "--allow-exec", "/usr/bin", "--allow-exec", "/bin"];
    differential("busybox_confined", busybox_trapped(), &flags);
    differential("busybox_confined_unrewritten", busybox(), &flags);
}
