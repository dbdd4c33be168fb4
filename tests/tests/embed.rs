//! trapbox as a library (`trapbox::Command`): a Rust program sandboxes real programs, reads
//! their output and statuses as natively, kills them, runs several at once, and serves its
//! own hostcalls to a C guest through both entries. This test process is multi-threaded (the
//! test harness), as most embedding programs are.

mod run_support;

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use run_support::is_root;
use trapbox::{Command, Errno, Personality, Policy, Stats, Stdio, Trace, TraceFormat, EMBEDDER_BASE};
use trapbox_tests::{build_guest, build_sdk_c, busybox, run, scratch_dir, trapbox_bin, workspace_root};

fn native_busybox(args: &[&str]) -> std::process::Output {
    std::process::Command::new(busybox()).args(args).output().expect("run busybox natively")
}

#[test]
fn output_matches_a_native_run_and_denials_are_counted() {
    let dir = scratch_dir("embed_output");
    let log = dir.join("host.log");
    let out = Command::new(busybox())
        .args(["cat", "/etc/hostname"])
        .policy(Policy::new().allow_read("/etc/hostname"))
        .log_file(&log)
        .output()
        .expect("run busybox cat");
    let native = native_busybox(&["cat", "/etc/hostname"]);
    assert_eq!((out.status.code(), &out.stdout, out.denials), (Some(0), &native.stdout, 0), "{out:?}");

    // A file outside the grants: absent for the guest (as for `trapbox run`), busybox's own
    // message and status, the host's line in the log.
    let secret = dir.join("secret");
    std::fs::write(&secret, "not for the guest\n").unwrap();
    let secret = secret.to_str().unwrap();
    let out = Command::new(busybox()).args(["cat", secret]).log_file(&log).output().expect("run busybox cat");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), format!("cat: can't open '{secret}': No such file or directory\n"));
    assert!(out.stdout.is_empty());
    assert_eq!(out.denials, 1);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains(&format!("trapbox: denied openat(AT_FDCWD, \"{secret}\"")), "{logged}");
}

#[test]
fn exit_statuses_and_deaths_by_signal_are_the_programs_own() {
    for (script, code, signal) in [("exit 7", Some(7), None), ("true", Some(0), None), ("kill -TERM $$", None, Some(15))] {
        let status = Command::new(busybox()).args(["sh", "-c", script]).status().expect("run sh");
        let native = std::process::Command::new(busybox()).args(["sh", "-c", script]).status().unwrap();
        assert_eq!((status.code(), status.signal()), (code, signal), "{script}");
        assert_eq!(status, native, "{script}");
    }
}

#[test]
fn piped_stdin_and_stdout_flow_both_ways() {
    let mut child = Command::new(busybox())
        .args(["tr", "a-z", "A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn tr");
    assert!(child.id() > 1);
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(b"sandboxed\n"));
    let mut text = String::new();
    child.stdout.take().unwrap().read_to_string(&mut text).unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(text, "SANDBOXED\n");
    assert!(child.wait().unwrap().status.success());

    // A file as stdout, null as stdin (`cat` then reads nothing).
    let dir = scratch_dir("embed_stdio");
    let file = std::fs::File::create(dir.join("out")).unwrap();
    let status = Command::new(busybox()).args(["sh", "-c", "cat; echo done"]).stdin(Stdio::null()).stdout(file).status().unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(dir.join("out")).unwrap(), "done\n");
}

#[test]
fn kill_ends_the_guest_and_everything_it_started() {
    let mut child = Command::new(busybox()).args(["sh", "-c", "sleep 600 & sleep 600"]).spawn().expect("spawn sleep");
    child.kill().unwrap();
    let report = child.wait().unwrap();
    assert_eq!(report.status.signal(), Some(9), "{report:?}");
    // A dropped child is killed too (a sandbox nobody watches is not left running).
    let child = Command::new(busybox()).args(["sleep", "600"]).spawn().expect("spawn sleep");
    let pid = child.id();
    drop(child);
    // Gone, or a zombie its reaper has not collected yet: not running.
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = state.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()).unwrap_or("gone").to_string();
    assert!(matches!(state.as_str(), "gone" | "Z" | "X"), "guest {pid} outlived its Child: state {state}");
}

#[test]
fn several_sandboxes_run_at_once_each_with_its_policy() {
    let dir = scratch_dir("embed_parallel");
    let mut children = Vec::new();
    for i in 0..3 {
        let own = dir.join(format!("box{i}"));
        std::fs::create_dir(&own).unwrap();
        let script = format!("echo {i} > {0}/mine && cat {0}/mine && ! ls {1}/box{2} 2>/dev/null", own.display(), dir.display(), (i + 1) % 3);
        let child = Command::new(busybox())
            .args(["sh", "-c", &script])
            .policy(Policy::new().allow_write(&own))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .quiet(true)
            .spawn()
            .expect("spawn a sandbox");
        children.push(child);
    }
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        // (Status 0: its `ls` of the next box failed; in a grants-only root that box is absent.)
        assert_eq!((out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned()), (Some(0), format!("{i}\n")), "box {i}: {out:?}");
    }
}

#[test]
fn setup_errors_name_what_is_wrong() {
    let err = Command::new("/nonexistent/program").status().unwrap_err();
    assert!(err.to_string().contains("/nonexistent/program"), "{err}");
    let err = Command::new(busybox()).policy(Policy::new().file("/nonexistent/policy.toml")).status().unwrap_err();
    assert!(err.to_string().contains("/nonexistent/policy.toml"), "{err}");
    let err = Command::new(busybox()).hostcall(EMBEDDER_BASE - 1, |_| Ok(0)).status().unwrap_err();
    assert!(matches!(err, trapbox::Error::HostcallNumber { number } if number == EMBEDDER_BASE - 1), "{err}");
    let err = Command::new(busybox()).keep_fd(999).status().unwrap_err();
    assert!(err.to_string().contains("--keep-fd 999"), "{err}");
}

/// The C guest's hostcalls: upper-casing in place (reads and writes its memory), a refusal,
/// a panicking handler, an unserved number and a bad pointer.
fn with_services(command: &mut Command, calls: Arc<AtomicU64>) -> &mut Command {
    command
        .hostcall(EMBEDDER_BASE, move |call| {
            calls.fetch_add(1, Ordering::SeqCst);
            let [ptr, len, ..] = call.args();
            let mut text = call.read(ptr, usize::try_from(len).map_err(|_| Errno::EINVAL)?)?;
            text.make_ascii_uppercase();
            call.write(ptr, &text)?;
            Ok(len)
        })
        .hostcall(EMBEDDER_BASE + 1, |_| Err(Errno::EACCES))
        .hostcall(EMBEDDER_BASE + 2, |_| panic!("an embedder's bug"))
}

#[test]
fn custom_hostcalls_are_served_on_both_entries_with_their_errors() {
    let guest = build_guest("embed_entries.c", &["-O2", "-static"]);
    let calls = Arc::new(AtomicU64::new(0));
    let out = with_services(Command::new(&guest).args(["upper", "hello, embedder"]), calls.clone()).output().unwrap();
    assert_eq!(
        (out.status.code(), String::from_utf8_lossy(&out.stdout).as_ref()),
        (Some(0), "trap: 15 HELLO, EMBEDDER\nsyscall: 15 HELLO, EMBEDDER\n"),
        "{out:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2, "each call ran the handler in this process once");

    let dir = scratch_dir("embed_errors");
    let out = with_services(Command::new(&guest).arg("errors"), calls.clone()).log_file(dir.join("log")).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "refused: -13\npanicked: -5\nunserved: -38\nunserved by syscall: -38\nbad pointer: -14\n",
        "{out:?}"
    );
    let log = std::fs::read_to_string(dir.join("log")).unwrap();
    assert!(log.contains("handler of hostcall 0x10000802 panicked"), "{log}");

    // Run as the host in this process (`run_as_host` is what the CLI uses) the handlers are
    // called directly: the same answers. A child process, since it makes its caller the host.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "--nocapture", "hosted_in_this_process_when_asked"])
        .env("TRAPBOX_EMBED_HOSTED", &guest)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("trap: 15 HELLO, EMBEDDER\nsyscall: 15 HELLO, EMBEDDER\n"), "{out:?}");
}

/// Half of the test above, in its own process: `run_as_host` with the guest's output on this
/// process's stdout (nothing without the variable).
#[test]
fn hosted_in_this_process_when_asked() {
    let Some(guest) = std::env::var_os("TRAPBOX_EMBED_HOSTED") else { return };
    let calls = Arc::new(AtomicU64::new(0));
    let report = with_services(Command::new(guest).args(["upper", "hello, embedder"]), calls.clone()).run_as_host().unwrap();
    assert!(report.status.success());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// `examples/embed.rs` serving `examples/c/embed_guest.c`, as root and as nobody.
#[test]
fn the_embedding_example_serves_its_c_guest() {
    let example = trapbox_bin().with_file_name("examples").join("embed");
    assert!(example.exists(), "{} is missing: `cargo test --workspace` builds the examples", example.display());
    let guest = build_sdk_c(&workspace_root().join("examples/c/embed_guest.c"), false);
    let expected = "greeting = hello from the embedder\nanswer = 42\ntotal recorded: 25\n";
    let out = run(std::process::Command::new(&example).arg(&guest).args(["greeting", "answer", "nope"]));
    assert_eq!((out.status, out.stdout.as_str()), (1, expected), "{out:?}");
    assert!(out.stderr.contains("embed_guest: nope: errno 2") && out.stderr.contains("it recorded 25 bytes in all"), "{out:?}");
    if is_root() {
        let dir = scratch_dir("embed_rootless");
        let (_, guest) = run_support::unprivileged_copies(&dir, &guest, &[]);
        let example_copy: PathBuf = dir.join("embed");
        std::fs::copy(&example, &example_copy).unwrap();
        let out = run(std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&example_copy)
            .arg(&guest)
            .args(["greeting", "answer"])
            .current_dir(&dir));
        assert_eq!((out.status, out.stdout.as_str()), (0, "greeting = hello from the embedder\nanswer = 42\ntotal recorded: 25\n"), "{out:?}");
    }
}

#[test]
fn a_native_guest_gets_its_grants_through_the_library() {
    let dir = scratch_dir("embed_native");
    std::fs::write(dir.join("data"), "one two three\nfour\n").unwrap();
    let wc = build_sdk_c(&workspace_root().join("examples/c/wc.c"), false);
    let out = Command::new(&wc)
        .arg("data")
        .current_dir(&dir)
        .personality(Personality::Native)
        .policy(Policy::new().allow_read(&dir))
        .output()
        .unwrap();
    let native = run(std::process::Command::new("wc").arg("data").current_dir(&dir));
    assert_eq!((out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned()), (Some(0), native.stdout), "{out:?}");
}

/// `--trace-format json` and `--stats=FILE` through the library: one JSON object per call,
/// and statistics whose total is the trace's.
#[test]
fn traces_and_statistics_are_reachable_from_the_library() {
    let dir = scratch_dir("embed_trace");
    let (trace, stats) = (dir.join("trace.jsonl"), dir.join("stats.json"));
    let out = Command::new(busybox())
        .args(["cat", "/etc/hostname"])
        .policy(Policy::new().allow_read("/etc/hostname"))
        .trace(Trace::File(trace.clone()))
        .trace_format(TraceFormat::Json)
        .stats(Stats::JsonFile(stats.clone()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&trace).unwrap().lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(
        lines.iter().any(|l| l["call"] == "openat" && l["args"][1] == "\"/etc/hostname\"" && l["result"].as_i64().is_some_and(|fd| fd >= 0)),
        "{lines:#?}"
    );
    let stats: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    assert_eq!(stats["total"]["count"].as_u64(), Some(lines.len() as u64), "{stats:#}");
}
