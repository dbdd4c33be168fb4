//! Shared helpers for the end-to-end suite: where things are, and how the test setup builds
//! its real guest programs (C sources in `tests/guests/`, compiled with the system's gcc).
//!
//! Fixtures are built once per source and flag set into `target/trapbox-fixtures/`, so tests
//! running in parallel share them; the build writes to a temporary name and renames, so a
//! reader never sees a half-written binary.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The directory where built fixtures and scratch outputs live.
pub fn fixture_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("trapbox-fixtures");
    std::fs::create_dir_all(&dir).expect("create fixture dir");
    dir
}

/// Where scratch directories live: beside the fixtures, unless those lie beneath a path of
/// which the base environment gives every guest a private mount (`/tmp`, `/dev`, as in a
/// checkout under `/tmp`): there the host files a test means to be outside the grants would
/// not exist for the guest at all, and no refusal would be logged for them.
fn scratch_root() -> PathBuf {
    let fixtures = fixture_dir();
    if fixtures.starts_with("/tmp") || fixtures.starts_with("/dev") {
        let tag: String = fixtures.to_string_lossy().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        PathBuf::from("/var/tmp").join(format!("trapbox-scratch{tag}"))
    } else {
        fixtures.join("scratch")
    }
}

/// A fresh scratch directory for one test.
pub fn scratch_dir(test_name: &str) -> PathBuf {
    let dir = scratch_root().join(test_name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// The `trapbox` binary built by cargo for this test run.
pub fn trapbox_bin() -> PathBuf {
    let profile_dir = std::env::current_exe()
        .expect("current exe")
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .to_path_buf();
    let bin = profile_dir.join("trapbox");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build -p trapbox`, which `cargo test --workspace` does)",
        bin.display()
    );
    bin
}

/// The static busybox the setup script installs (Debian's busybox-static).
pub fn busybox() -> PathBuf {
    let path = PathBuf::from("/bin/busybox");
    let out = Command::new("file").arg("-L").arg(&path).output();
    let is_static = out.map(|o| String::from_utf8_lossy(&o.stdout).contains("statically linked")).unwrap_or(false);
    assert!(is_static, "/bin/busybox must be Debian's busybox-static: run `bash scripts/setup.sh`");
    path
}

/// Compiles `tests/guests/<name>` (a `.c` or `.S` file) with `gcc <flags>` and returns the
/// binary. The output name encodes the flags, so one source can be built several ways.
pub fn build_guest(source: &str, flags: &[&str]) -> PathBuf {
    build_c(&workspace_root().join("tests/guests").join(source), flags)
}

/// Compiles the C or assembly file `src` with `gcc <flags>` into the fixture directory
/// (once per source change) and returns the binary.
pub fn build_c(src: &Path, flags: &[&str]) -> PathBuf {
    let mut stem = src.file_stem().expect("a file name").to_string_lossy().into_owned();
    // Sources of one name in two folders (tests/guests, tests/conformance) build apart.
    if let Some(dir) = src.parent().and_then(|d| d.file_name()).filter(|d| *d != "guests") {
        stem = format!("{}-{stem}", dir.to_string_lossy());
    }
    let tag: String = flags
        .iter()
        .map(|f| f.trim_start_matches('-').replace(|c: char| !c.is_ascii_alphanumeric(), "_"))
        .collect::<Vec<_>>()
        .join("-");
    let out = fixture_dir().join(if tag.is_empty() { stem } else { format!("{stem}.{tag}") });
    let mut src_time = std::fs::metadata(src).and_then(|m| m.modified()).expect("source exists");
    // A header beside the source (the conformance suite's `conf.h`) counts as the source.
    for entry in src.parent().and_then(|d| std::fs::read_dir(d).ok()).into_iter().flatten().flatten() {
        if entry.path().extension().is_some_and(|e| e == "h") {
            if let Ok(t) = entry.metadata().and_then(|m| m.modified()) {
                src_time = src_time.max(t);
            }
        }
    }
    if std::fs::metadata(&out).and_then(|m| m.modified()).is_ok_and(|t| t >= src_time) {
        return out;
    }
    // Unique per process and call: parallel tests may build the same fixture at once.
    static BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let build = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = out.with_extension(format!("tmp{}-{build}", std::process::id()));
    let status = Command::new("gcc")
        .args(flags)
        .arg("-o")
        .arg(&tmp)
        .arg(src)
        .arg("-lpthread")
        .status()
        .expect("run gcc (install it with `bash scripts/setup.sh`)");
    assert!(status.success(), "gcc {flags:?} {} failed", src.display());
    std::fs::rename(&tmp, &out).expect("rename fixture");
    out
}

/// The result of running a command: what a differential test compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Exit code, or 128+signal for a death by signal (the shell's convention).
    pub status: i32,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

/// Runs `cmd` to completion and captures its outcome.
pub fn run(cmd: &mut Command) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let status = out.status.code().unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0));
    Outcome {
        status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
