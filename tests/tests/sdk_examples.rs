//! The SDK examples (examples/c and examples/rust) are real programs: each runs under
//! `trapbox run --personality native` and prints what coreutils (or, for the key-value
//! store, a native Linux build of the same C program) prints.

mod run_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use run_support::trapbox_run;
use trapbox_tests::{build_sdk_c, build_sdk_rust, run, scratch_dir, workspace_root, Outcome};

const LICENSES: &str = "/usr/share/common-licenses";

/// The example `name` in C and in Rust.
fn both(name: &str) -> [PathBuf; 2] {
    let root = workspace_root().join("examples");
    [build_sdk_c(&root.join(format!("c/{name}.c")), false), build_sdk_rust(&root.join(format!("rust/{name}.rs")), true)]
}

fn files() -> Vec<String> {
    ["GPL-3", "GPL-2", "Apache-2.0"].iter().map(|f| format!("{LICENSES}/{f}")).collect()
}

fn sdk(flags: &[&str], program: &Path, args: &[&str], dir: &Path) -> Outcome {
    run(trapbox_run(&[&["--personality", "native"], flags].concat(), program, args).current_dir(dir))
}

fn coreutils(program: &str, args: &[&str], dir: &Path) -> Outcome {
    run(Command::new(program).args(args).current_dir(dir))
}

#[test]
fn wc_and_sha256sum_print_what_coreutils_print() {
    let dir = scratch_dir("sdk_ex_wc");
    std::fs::write(dir.join("empty"), b"").unwrap();
    let files = files();
    let one: Vec<&str> = files.iter().take(1).map(String::as_str).collect();
    let all: Vec<&str> = files.iter().map(String::as_str).chain(["empty"]).collect();
    for tool in ["wc", "sha256sum"] {
        for program in both(tool) {
            for args in [&one, &all] {
                let out = sdk(&["--allow-read", LICENSES, "--allow-read", "."], &program, args, &dir);
                let expected = coreutils(tool, args, &dir);
                assert_eq!((out.status, &out.stdout), (0, &expected.stdout), "{program:?} {args:?}: {}", out.stderr);
            }
            // A file outside the grants: nothing printed for it, the status says so, the host logs it.
            let out = sdk(&["--allow-read", LICENSES], &program, &["/etc/shadow"], &dir);
            assert_eq!((out.status, out.stdout.as_str()), (1, ""), "{out:?}");
            assert!(out.stderr.contains("trapbox: denied hc_map_file(\"/etc/shadow\", read)"), "{}", out.stderr);
        }
    }
}

#[test]
fn cat_copies_files_and_stdin_as_coreutils_cat_does() {
    use std::io::Write as _;
    let dir = scratch_dir("sdk_ex_cat");
    let files = files();
    let mut expected = Vec::new();
    for f in &files[..2] {
        expected.extend(std::fs::read(f).unwrap());
    }
    expected.extend(b"from stdin\n");
    expected.extend(std::fs::read(&files[2]).unwrap());
    for program in both("cat") {
        let mut child = trapbox_run(&["--personality", "native", "--allow-read", LICENSES], &program, &[&files[0], &files[1], "-", &files[2]])
            .current_dir(&dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"from stdin\n").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{program:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stdout == expected, "{program:?}: the output differs from cat's");
        // With no argument it reads stdin: a large input, through a pipe, in pieces.
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("big"), &big).unwrap();
        let out = run(trapbox_run(&["--personality", "native"], &program, &[]).current_dir(&dir).stdin(std::fs::File::open(dir.join("big")).unwrap()));
        assert_eq!(out.status, 0, "{out:?}");
        assert_eq!(out.stdout.len(), String::from_utf8_lossy(&big).len());
        // A denied file: cat goes on with the next one, as coreutils does, and fails at the end.
        let out = sdk(&["--allow-read", LICENSES], &program, &["/etc/shadow", &files[0]], &dir);
        assert_eq!(out.status, 1, "{out:?}");
        assert_eq!(out.stdout.as_bytes(), std::fs::read(&files[0]).unwrap());
        assert!(out.stderr.contains("trapbox: denied openat(AT_FDCWD, \"/etc/shadow\""), "{}", out.stderr);
    }
}

#[test]
fn cp_copies_into_a_write_grant_only() {
    let dir = scratch_dir("sdk_ex_cp");
    std::fs::create_dir(dir.join("out")).unwrap();
    let source = &files()[0];
    for (i, program) in both("cp").iter().enumerate() {
        let target = format!("out/copy{i}");
        let out = sdk(&["--allow-read", LICENSES, "--allow-write", "out"], program, &[source, &target], &dir);
        assert_eq!(out.status, 0, "{out:?}");
        assert!(coreutils("cmp", &[source, &target], &dir).status == 0, "{program:?}: the copy differs");
        // Copying over an existing, longer file truncates it.
        std::fs::write(dir.join(&target), vec![b'x'; 100_000]).unwrap();
        let out = sdk(&["--allow-read", LICENSES, "--allow-write", "out"], program, &[source, &target], &dir);
        assert!(out.status == 0 && coreutils("cmp", &[source, &target], &dir).status == 0, "{out:?}");
        // Outside the write grant: refused, logged, nothing written.
        let out = sdk(&["--allow-read", LICENSES, "--allow-write", "out"], program, &[source, "stolen"], &dir);
        assert_eq!(out.status, 1, "{out:?}");
        assert!(out.stderr.contains("trapbox: denied openat(AT_FDCWD, \"stolen\""), "{}", out.stderr);
        assert!(!dir.join("stolen").exists());
    }
}

#[test]
fn grep_of_a_fixed_string_prints_what_grep_f_prints() {
    let dir = scratch_dir("sdk_ex_grep");
    std::fs::write(dir.join("no-newline"), b"first GNU line\nlast GNU line").unwrap();
    let files = files();
    let cases: Vec<Vec<&str>> = vec![
        vec!["GNU", &files[0]],
        vec!["License", &files[0], &files[1], &files[2]],
        vec!["GNU", "no-newline"],
        vec!["no such words anywhere", &files[0]],
    ];
    for program in both("grep") {
        for args in &cases {
            let out = sdk(&["--allow-read", LICENSES, "--allow-read", "."], &program, args, &dir);
            let expected = coreutils("grep", &[&["-F"], &args[..]].concat(), &dir);
            assert_eq!((out.status, &out.stdout), (expected.status, &expected.stdout), "{program:?} {args:?}: {}", out.stderr);
        }
    }
}

#[test]
fn the_key_value_store_keeps_its_file_in_the_write_grant_as_its_native_build_does() {
    let script: [&[&str]; 9] = [
        &["set", "colour", "blue"],
        &["set", "size", "10"],
        &["set", "colour", "green"],
        &["get", "colour"],
        &["get", "missing"],
        &["del", "size"],
        &["set", "name", "a b c"],
        &["list"],
        &["del", "missing"],
    ];
    let play = |name: &str, run_one: &dyn Fn(&[&str], &Path) -> Outcome| -> (Vec<(i32, String)>, String) {
        let dir = scratch_dir(name);
        std::fs::create_dir(dir.join("store")).unwrap();
        let outs = script.iter().map(|step| run_one(&[&["store/db"], *step].concat(), &dir)).map(|o| (o.status, o.stdout)).collect();
        (outs, std::fs::read_to_string(dir.join("store/db")).unwrap())
    };
    let native_build = build_sdk_c(&workspace_root().join("examples/c/kv.c"), true);
    let native = play("sdk_ex_kv_native", &|args, dir| run(Command::new(&native_build).args(args).current_dir(dir)));
    assert_eq!(native.1, "colour\tgreen\nname\ta b c\n");
    for (i, program) in both("kv").iter().enumerate() {
        let trapped = play(&format!("sdk_ex_kv{i}"), &|args, dir| sdk(&["--allow-write", "store"], program, args, dir));
        assert_eq!(trapped, native, "{program:?}");
        // Without a write grant the store is refused (and logged); it is left as it was.
        let dir = scratch_dir(&format!("sdk_ex_kv_ro{i}"));
        std::fs::create_dir(dir.join("store")).unwrap();
        std::fs::write(dir.join("store/db"), "k\tv\n").unwrap();
        let out = sdk(&["--allow-read", "store"], program, &["store/db", "set", "k", "w"], &dir);
        assert_eq!(out.status, 1, "{out:?}");
        assert!(out.stderr.contains("trapbox: denied openat(AT_FDCWD, \"store/db.tmp\""), "{}", out.stderr);
        assert_eq!(std::fs::read_to_string(dir.join("store/db")).unwrap(), "k\tv\n");
        let out = sdk(&["--allow-read", "store"], program, &["store/db", "get", "k"], &dir);
        assert_eq!((out.status, out.stdout.as_str()), (0, "v\n"), "{out:?}");
    }
}
