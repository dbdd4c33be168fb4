//! The research tools: the JSON trace (parsed back and held against what the guest says it
//! did), `--stats` (its figures add up to the trace), the selectable trap mechanism, and
//! `trapbox bench --quick`. Nothing here depends on timing: latencies are read, never judged.

mod run_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use run_support::{busybox_trapped, guest_int3, guest_pair, trapbox_run};
use trapbox_tests::{run, scratch_dir, trapbox_bin, Outcome};

/// One `--trace-format json` line, as a script would read it.
#[derive(Debug, serde::Deserialize)]
struct Line {
    time_ns: u64,
    pid: i32,
    tid: i32,
    call: String,
    nr: u64,
    args: Vec<String>,
    result: Option<i64>,
    error: Option<String>,
    route: String,
    handling: String,
    latency_ns: u64,
}

/// `--stats=FILE`, as a script would read it.
#[derive(Debug, serde::Deserialize)]
struct Stats {
    mechanism: String,
    counters: BTreeMap<String, u64>,
    calls: Vec<Row>,
    total: Tally,
}

#[derive(Debug, serde::Deserialize)]
struct Row {
    call: String,
    route: String,
    count: u64,
    errors: u64,
    total_us: f64,
    mean_us: f64,
}

#[derive(Debug, serde::Deserialize)]
struct Tally {
    count: u64,
    errors: u64,
}

fn parse_trace(path: &Path) -> Vec<Line> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a trace line ({e}): {l}"))).collect()
}

fn parse_stats(path: &Path) -> Stats {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not stats JSON ({e}): {text}"))
}

/// The guest's account of its calls: `(pid, fd of the file)`.
fn guest_account(out: &Outcome, file: &Path) -> (i64, i64) {
    let value = |prefix: &str| -> String {
        out.stdout.lines().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("no {prefix:?} in {out:?}")).to_string()
    };
    let pid = value("pid ").parse().unwrap();
    let fd = value(&format!("open {} = ", file.display())).parse().unwrap();
    (pid, fd)
}

/// A directory with the guest's file, and the path of one that is not there.
fn files(test: &str) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let dir = scratch_dir(test);
    let file = dir.join("data.txt");
    std::fs::write(&file, "twelve bytes").unwrap();
    (dir.clone(), file, dir.join("missing.txt"))
}

#[test]
fn the_json_trace_parses_and_matches_what_the_guest_did() {
    let (plain, rewritten) = guest_pair("research_calls.c");
    let (dir, file, missing) = files("research_json");
    let native = run(Command::new(&plain).arg(&file).arg(&missing));
    assert_eq!(native.status, 0, "{native:?}");
    let read_grant = dir.display().to_string();
    for (program, flags) in [(&plain, vec![]), (&rewritten, vec!["--keep-traps"]), (&rewritten, vec![])] {
        let trace = dir.join("trace.jsonl");
        let trace_flag = format!("--trace={}", trace.display());
        let mut all = vec!["--allow-read", read_grant.as_str(), trace_flag.as_str(), "--trace-format", "json"];
        all.extend(&flags);
        let out = run(&mut trapbox_run(&all, program, &[file.to_str().unwrap(), missing.to_str().unwrap()]));
        assert_eq!(out.status, 0, "{out:?}");
        assert_eq!(out.stdout.lines().skip(1).collect::<Vec<_>>(), native.stdout.lines().skip(1).collect::<Vec<_>>(), "{out:?}");
        let (pid, fd) = guest_account(&out, &file);
        let lines = parse_trace(&trace);
        let what = format!("{} {flags:?}: {lines:#?}", program.display());
        for line in &lines {
            assert!(["trap", "backstop", "directfs", "unotify"].contains(&line.route.as_str()), "{what}");
            assert!(["executed", "host", "refused"].contains(&line.handling.as_str()), "{what}");
            assert!(line.time_ns > 0 && line.pid > 0 && line.tid > 0, "{what}");
            assert_eq!(line.error.is_some(), line.result.is_some_and(|r| r < 0), "{what}");
            let _ = (line.nr, line.latency_ns);
        }
        // The file's open: the fd the guest got, its path decoded as the text trace shows it.
        let quoted = |p: &Path| format!("\"{}\"", p.display());
        let opens = |path: &Path| lines.iter().filter(|l| l.call == "openat" && l.args.get(1) == Some(&quoted(path)) && l.route != "trap").collect::<Vec<_>>();
        let opened = opens(&file);
        assert_eq!(opened.len(), 1, "{what}");
        assert_eq!((opened[0].result, opened[0].error.as_deref(), opened[0].args[0].as_str(), opened[0].args[2].as_str()), (Some(fd), None, "AT_FDCWD", "O_RDONLY"), "{what}");
        let absent = opens(&missing);
        assert_eq!(absent.len(), 1, "{what}");
        assert_eq!((absent[0].result, absent[0].error.as_deref()), (Some(-2), Some("ENOENT")), "{what}");
        // Every getpid of a rewritten guest is a trap: glibc's syscall() sets the number at run
        // time, so its site has no known number and keeps its trap. The plain guest's run
        // natively (no line).
        let getpids: Vec<&Line> = lines.iter().filter(|l| l.call == "getpid").collect();
        if program == &rewritten {
            assert_eq!(getpids.len(), 5, "{what}");
            assert!(getpids.iter().all(|l| l.result == Some(pid) && l.route == "trap" && l.args.is_empty()), "{what}");
        } else {
            assert!(getpids.is_empty(), "{what}");
        }
        // read and close run natively unless their traps are kept.
        let read = lines.iter().find(|l| l.call == "read" && l.args[0] == fd.to_string());
        let close = lines.iter().find(|l| l.call == "close" && l.args == [fd.to_string()]);
        if flags.contains(&"--keep-traps") {
            assert_eq!(read.and_then(|l| l.result), Some(12), "{what}");
            assert_eq!(close.and_then(|l| l.result), Some(0), "{what}");
        } else {
            assert!(read.is_none() && close.is_none(), "{what}");
        }
    }
}

#[test]
fn the_text_trace_stays_strace_shaped_with_the_same_calls() {
    let (_, rewritten) = guest_pair("research_calls.c");
    let (dir, file, missing) = files("research_text");
    let args = [file.to_str().unwrap(), missing.to_str().unwrap()];
    let (text, json) = (dir.join("trace.txt"), dir.join("trace.jsonl"));
    let text_flag = format!("--trace={}", text.display());
    let json_flag = format!("--trace={}", json.display());
    assert_eq!(run(&mut trapbox_run(&["--keep-traps", &text_flag], &rewritten, &args)).status, 0);
    assert_eq!(run(&mut trapbox_run(&["--keep-traps", &json_flag, "--trace-format", "json"], &rewritten, &args)).status, 0);
    let text = std::fs::read_to_string(&text).unwrap();
    let mut text_calls: Vec<&str> = text.lines().map(|l| l.split_once("] ").and_then(|(_, rest)| rest.split_once('(')).map_or("?", |(call, _)| call)).collect();
    assert!(text.lines().all(|l| l.starts_with("[pid ") && l.contains(") = ") && l.ends_with('>')), "{text}");
    assert!(text.contains(&format!("openat(AT_FDCWD, \"{}\", O_RDONLY) = -1 ENOENT <trap>", missing.display())), "{text}");
    let json = parse_trace(&json);
    let mut json_calls: Vec<&str> = json.iter().map(|l| l.call.as_str()).collect();
    text_calls.sort_unstable();
    json_calls.sort_unstable();
    assert_eq!(text_calls, json_calls);
}

#[test]
fn stats_add_up_to_the_trace() {
    let (plain, rewritten) = guest_pair("research_calls.c");
    let (dir, file, missing) = files("research_stats");
    let grant = dir.display().to_string();
    for (program, flags) in [(&plain, vec![]), (&rewritten, vec!["--keep-traps"]), (&busybox_trapped(), vec![])] {
        let (trace, stats) = (dir.join("trace.jsonl"), dir.join("stats.json"));
        let trace_flag = format!("--trace={}", trace.display());
        let stats_flag = format!("--stats={}", stats.display());
        let mut all = vec!["--allow-read", grant.as_str(), trace_flag.as_str(), "--trace-format", "json", stats_flag.as_str()];
        all.extend(&flags);
        let args: Vec<&str> = if program.ends_with("busybox.trapped") {
            vec!["sh", "-c", "cat data.txt missing.txt; echo $$"]
        } else {
            vec![file.to_str().unwrap(), missing.to_str().unwrap()]
        };
        let out = run(trapbox_run(&all, program, &args).current_dir(&dir));
        assert!(out.status == 0 || program.ends_with("busybox.trapped"), "{out:?}");
        let lines = parse_trace(&trace);
        let stats = parse_stats(&stats);
        let what = format!("{} {flags:?}: {stats:#?}\n{lines:#?}", program.display());
        // Per call and route, the table counts what the trace shows: calls and errors.
        let mut traced: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        for line in &lines {
            let entry = traced.entry((line.call.clone(), line.route.clone())).or_default();
            entry.0 += 1;
            entry.1 += u64::from(line.error.is_some());
        }
        let counted: BTreeMap<(String, String), (u64, u64)> = stats.calls.iter().map(|r| ((r.call.clone(), r.route.clone()), (r.count, r.errors))).collect();
        assert_eq!(counted, traced, "{what}");
        assert_eq!((stats.total.count, stats.total.errors), (lines.len() as u64, lines.iter().filter(|l| l.error.is_some()).count() as u64), "{what}");
        for row in &stats.calls {
            assert!(row.total_us >= 0.0 && (row.mean_us * row.count as f64 - row.total_us).abs() < 1e-3 * row.total_us.max(1.0), "{what}");
        }
        assert_eq!(stats.mechanism, "as-rewritten");
        assert!(stats.counters.contains_key("backstop") && stats.counters.contains_key("trap_ud2"), "{what}");
    }
}

#[test]
fn stats_print_a_table_or_json_on_the_hosts_stream() {
    let (_, rewritten) = guest_pair("research_calls.c");
    let (dir, file, missing) = files("research_stats_table");
    let args = [file.to_str().unwrap(), missing.to_str().unwrap()];
    let out = run(trapbox_run(&["--keep-traps", "--stats"], &rewritten, &args).current_dir(&dir));
    assert_eq!(out.status, 0, "{out:?}");
    let table: Vec<&str> = out.stderr.lines().filter_map(|l| l.strip_prefix("trapbox: stats: ")).collect();
    assert!(table.iter().any(|l| l.starts_with("mechanism: as-rewritten; trap stops: ")), "{table:?}");
    let header = table.iter().position(|l| l.contains("% time") && l.contains("calls") && l.contains("errors") && l.contains("route")).expect("a header");
    let getpid = table[header..].iter().find(|l| l.ends_with(" getpid")).unwrap_or_else(|| panic!("{table:?}"));
    let columns: Vec<&str> = getpid.split_whitespace().collect();
    assert_eq!((columns[3], columns[4], columns[5]), ("5", "0", "trap"), "{getpid}");
    assert!(table.last().unwrap().ends_with("total"), "{table:?}");

    let out = run(trapbox_run(&["--stats=json"], &rewritten, &args).current_dir(&dir));
    let json = out.stderr.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("{out:?}"));
    let stats: Stats = serde_json::from_str(json).unwrap();
    assert_eq!(stats.total.count, stats.calls.iter().map(|r| r.count).sum::<u64>());

    let out = run(Command::new(trapbox_bin()).args(["run", "--unconfined", "--trace-format", "json", "--"]).arg(&rewritten));
    assert_eq!(out.status, 2, "--trace-format needs --trace: {out:?}");
}

/// The `trap_ud2`, `trap_int3`, `sites_reencoded` and `sites_untrapped` counters of a run.
fn mechanism_run(program: &Path, flags: &[&str], args: &[&str], dir: &Path) -> (Outcome, Stats) {
    let stats = dir.join("stats.json");
    let stats_flag = format!("--stats={}", stats.display());
    let out = run(trapbox_run(&[flags, &[stats_flag.as_str()]].concat(), program, args).current_dir(dir));
    (out, parse_stats(&stats))
}

#[test]
fn the_trap_mechanism_is_selectable_and_shown_in_stats() {
    let (plain, ud2) = guest_pair("research_calls.c");
    let int3 = guest_int3("research_calls.c");
    let (dir, file, missing) = files("research_mechanism");
    let args = [file.to_str().unwrap(), missing.to_str().unwrap()];
    let native = run(Command::new(&plain).args(args));
    // The guest's account less its pid (pid 2 in its own PID namespace).
    let after_pid = |out: &Outcome| out.stdout.lines().skip(1).collect::<Vec<_>>().join("\n");
    let counters = |s: &Stats| ["trap_ud2", "trap_int3", "sites_reencoded"].map(|k| s.counters[k]);
    // The file's own trap.
    let (out, stats) = mechanism_run(&ud2, &["--keep-traps"], &args, &dir);
    assert_eq!((out.status, after_pid(&out)), (0, after_pid(&native)), "{out:?}");
    let [ud2_stops, int3_stops, reencoded] = counters(&stats);
    assert!(ud2_stops >= 5 && int3_stops == 0 && reencoded == 0, "{stats:#?}");
    // int3 over a ud2 file, and ud2 over an int3 file: the same stops, of the other kind.
    for (program, mechanism, other) in [(&ud2, "int3", "trap_ud2"), (&int3, "ud2", "trap_int3")] {
        let (out, stats) = mechanism_run(program, &["--keep-traps", "--trap", mechanism], &args, &dir);
        assert_eq!((out.status, after_pid(&out)), (0, after_pid(&native)), "{mechanism}: {out:?}");
        assert_eq!(stats.mechanism, mechanism);
        assert_eq!(stats.counters[&format!("trap_{mechanism}")], ud2_stops, "{stats:#?}");
        assert_eq!(stats.counters[other], 0, "{stats:#?}");
        assert!(stats.counters["sites_reencoded"] > 0, "{stats:#?}");
    }
    // No trap at all: every call through the backstop, every site its syscall back.
    for program in [&ud2, &int3] {
        let (out, stats) = mechanism_run(program, &["--trap", "backstop"], &args, &dir);
        assert_eq!((out.status, after_pid(&out)), (0, after_pid(&native)), "{out:?}");
        assert_eq!((stats.mechanism.as_str(), stats.counters["trap_ud2"], stats.counters["trap_int3"]), ("backstop", 0, 0), "{stats:#?}");
        let sites = trapbox_rewriter::trap_table(&std::fs::read(program).unwrap()).unwrap().unwrap().iter().filter(|s| s.kind == trapbox_abi::trap::SiteKind::Syscall).count();
        assert_eq!(stats.counters["sites_untrapped"], sites as u64, "{stats:#?}");
        assert!(stats.calls.iter().all(|r| r.route == "backstop" || r.route == "directfs"), "{stats:#?}");
    }
    // A real program re-encoded as it runs, its children too.
    let (out, stats) = mechanism_run(&busybox_trapped(), &["--keep-traps", "--trap", "int3"], &["sh", "-c", "echo a | cat; ls data.txt"], &dir);
    assert_eq!((out.status, out.stdout.as_str()), (0, "a\ndata.txt\n"), "{out:?}");
    assert!(stats.counters["trap_int3"] > 0 && stats.counters["trap_ud2"] == 0, "{stats:#?}");
    let out = run(&mut trapbox_run(&["--keep-traps", "--trap", "backstop"], &ud2, &args));
    assert_eq!(out.status, 125, "{out:?}");
}

#[derive(Debug, serde::Deserialize)]
struct Bench {
    kernel: String,
    rounds: u32,
    quick: bool,
    mechanisms: Vec<Mechanism>,
}

#[derive(Debug, serde::Deserialize)]
struct Mechanism {
    id: String,
    available: bool,
    calls: u64,
    median_us: Option<f64>,
    min_us: Option<f64>,
    max_us: Option<f64>,
    note: Option<String>,
}

#[test]
fn bench_quick_measures_every_mechanism() {
    let out = run(Command::new(trapbox_bin()).args(["bench", "--quick", "--json", "--rounds", "1"]));
    assert_eq!(out.status, 0, "{out:?}");
    let bench: Bench = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    assert!(bench.quick && bench.rounds == 1 && !bench.kernel.is_empty());
    let ids: Vec<&str> = bench.mechanisms.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "native",
            "ud2",
            "int3",
            "seccomp-stop",
            "user-notif",
            "user-notif-sync",
            "user-notif-unpinned",
            "user-notif-sync-unpinned",
            "trapbox-ud2",
            "trapbox-int3",
            "trapbox-backstop",
            "trapbox-hostcall-ud2",
            "trapbox-hostcall-syscall",
            "trapbox-unotify",
            "trapbox-ptrace-policy"
        ]
    );
    for m in &bench.mechanisms {
        match (m.available, m.median_us, m.min_us, m.max_us) {
            (true, Some(median), Some(min), Some(max)) => assert!(min <= median && median <= max && m.calls > 0, "{m:?}"),
            (false, None, None, None) => assert!(m.note.as_ref().is_some_and(|n| !n.is_empty()), "{m:?}"),
            _ => panic!("inconsistent: {m:?}"),
        }
    }
    // What every machine this suite runs on has: the call, ptrace traps and seccomp stops.
    for id in ["native", "ud2", "int3", "seccomp-stop", "trapbox-ud2", "trapbox-int3", "trapbox-backstop", "trapbox-hostcall-ud2", "trapbox-hostcall-syscall"] {
        assert!(bench.mechanisms.iter().any(|m| m.id == id && m.available), "{id}: {bench:#?}");
    }
    let out = run(Command::new(trapbox_bin()).args(["bench", "--quick", "--rounds", "1"]));
    assert_eq!(out.status, 0, "{out:?}");
    for id in ids {
        assert!(out.stdout.lines().any(|l| l.starts_with(&format!("{id} "))), "{id}: {}", out.stdout);
    }
}

#[test]
fn json_lines_name_each_thread_and_its_process_under_either_trap() {
    let (plain, rewritten) = guest_pair("threads.c");
    let dir = scratch_dir("research_threads");
    let native = run(Command::new(&plain).current_dir(&dir));
    assert_eq!(native.status, 0, "{native:?}");
    for mechanism in ["ud2", "int3"] {
        let trace = dir.join("trace.jsonl");
        let trace_flag = format!("--trace={}", trace.display());
        let out = run(trapbox_run(&["--keep-traps", "--trap", mechanism, &trace_flag, "--trace-format", "json"], &rewritten, &[]).current_dir(&dir));
        assert_eq!((out.status, &out.stdout), (0, &native.stdout), "{mechanism}: {out:?}");
        let lines = parse_trace(&trace);
        // One process: every line names it; its nine threads each have lines of their own.
        let leader = lines[0].pid;
        assert!(lines.iter().all(|l| l.pid == leader), "{mechanism}");
        let tids: std::collections::BTreeSet<i32> = lines.iter().map(|l| l.tid).collect();
        assert!(tids.len() >= 9 && tids.contains(&leader), "{mechanism}: {tids:?}");
        // Each worker's 300 pipes, as the guest made them.
        assert_eq!(lines.iter().filter(|l| l.call == "pipe2" && l.result == Some(0)).count(), 8 * 300, "{mechanism}");
    }
}

#[test]
fn a_library_loaded_after_exec_is_re_encoded_too() {
    // A dynamically linked guest whose libc.so.6 is a rewritten (ud2) copy, run with int3: the
    // host meets the library at its first trap after exec (so that one trap is the file's own
    // ud2) and re-encodes it there, while other threads might run.
    let libc = Path::new("/lib/x86_64-linux-gnu/libc.so.6");
    let lib_dir = trapbox_tests::fixture_dir().join("rewritten-libc");
    std::fs::create_dir_all(&lib_dir).unwrap();
    run_support::rewritten(libc, "rewritten-libc/libc.so.6", &[]);
    let dynamic = {
        let _serial = run_support::fixture_lock();
        trapbox_tests::build_guest("fork_exec.c", &["-O2"])
    };
    let dir = scratch_dir("research_shared_libc");
    let native = run(Command::new(&dynamic).current_dir(&dir));
    let env_arg = format!("LD_LIBRARY_PATH={}", lib_dir.display());
    let args = ["env", env_arg.as_str(), dynamic.to_str().unwrap()];
    let (out, stats) = mechanism_run(&trapbox_tests::busybox(), &["--keep-traps", "--trap", "int3"], &args, &dir);
    assert_eq!((out.status, &out.stdout), (native.status, &native.stdout), "{out:?}");
    assert!(stats.counters["trap_int3"] > 0 && stats.counters["trap_ud2"] <= 1 && stats.counters["sites_reencoded"] > 100, "{stats:#?}");
}

/// A thread made by clone3 (glibc's pthread_create) under `--trace` and `--stats`: the call
/// is recorded with its result, the child's thread id, and the program's own calls after it
/// keep their registers (the parent stops at the call's exit, where the host puts back the
/// arguments it pinned, not at some later call's: glibc's pthread_create aborted on that).
#[test]
fn a_thread_made_by_clone3_is_traced_with_its_result_and_the_program_runs_on() {
    let (plain, rewritten) = guest_pair("spin.c");
    for program in [&plain, &rewritten] {
        let dir = scratch_dir("research_clone3");
        let trace = dir.join("trace.txt");
        let trace_flag = format!("--trace={}", trace.display());
        let out = run(trapbox_run(&["--stats", &trace_flag], program, &["5"]).current_dir(&dir));
        assert_eq!(out.status, 5, "{}: {out:?}", program.display());
        let text = std::fs::read_to_string(&trace).unwrap();
        let clone3 = text.lines().find(|l| l.contains("clone3(")).unwrap_or_else(|| panic!("no clone3 in {text}"));
        // (`?` when the new thread's exit_group ended the process before the call's exit.)
        let result = clone3.rsplit(" = ").next().and_then(|r| r.split_whitespace().next()).unwrap_or("");
        assert!(result == "?" || result.parse::<i64>().is_ok_and(|tid| tid > 0), "clone3 returned a thread id: {clone3}");
    }
}
