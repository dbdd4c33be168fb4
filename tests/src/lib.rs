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

/// The flags of a C SDK guest with no libc (`examples/c`, `tests/guests/sdk_*.c`): static,
/// no start files, nothing the compiler would call into a libc for.
pub const SDK_C_FLAGS: [&str; 5] = ["-O2", "-static", "-nostdlib", "-fno-stack-protector", "-fno-builtin"];

/// The C SDK guest `src` built for trapbox, or (`on_linux`) the same source built for plain
/// Linux (`TRAPBOX_ON_LINUX`: each hostcall is its Linux call), for differential runs.
pub fn build_sdk_c(src: &Path, on_linux: bool) -> PathBuf {
    let mut flags = SDK_C_FLAGS.to_vec();
    if on_linux {
        flags.push("-DTRAPBOX_ON_LINUX");
    }
    build_c(src, &flags)
}

/// The flags every Rust SDK build uses (the abi crate and its guests).
const SDK_RUST_FLAGS: [&str; 4] = ["--edition=2021", "-O", "-C", "panic=abort"];

fn rustc(args: &[&std::ffi::OsStr]) {
    let status = Command::new("rustc").args(SDK_RUST_FLAGS).args(args).status().expect("run rustc");
    assert!(status.success(), "rustc {args:?} failed");
}

/// Builds the Rust file `src` against the abi crate's source, into the fixture directory
/// (once per change of either), under a temporary name renamed into place. A `no_std` guest
/// (`entry!`) is linked as the abi crate's docs say: static, no start files; otherwise `src`
/// is an ordinary std program that uses the SDK's stubs.
pub fn build_sdk_rust(src: &Path, no_std: bool) -> PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let fixtures = fixture_dir();
    let newest = |dir: &Path| -> std::time::SystemTime {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.metadata().and_then(|m| m.modified()).ok())
            .max()
            .unwrap_or(std::time::SystemTime::UNIX_EPOCH)
    };
    let abi_time = newest(&workspace_root().join("abi/src")).max(newest(&workspace_root().join("abi/src/sdk")));
    let stale = |out: &Path, time: std::time::SystemTime| std::fs::metadata(out).and_then(|m| m.modified()).map_or(true, |t| t < time);
    let rlib = fixtures.join("libtrapbox_abi.rlib");
    if stale(&rlib, abi_time) {
        let tmp = fixtures.join(format!("libtrapbox_abi.tmp{}.rlib", std::process::id()));
        rustc(&["--crate-type=rlib".as_ref(), "--crate-name=trapbox_abi".as_ref(), "-o".as_ref(), tmp.as_os_str(), workspace_root().join("abi/src/lib.rs").as_os_str()]);
        std::fs::rename(&tmp, &rlib).expect("rename the abi rlib");
    }
    let stem = src.file_stem().expect("a file name").to_string_lossy().into_owned();
    let dir = src.parent().and_then(|d| d.file_name()).map(|d| d.to_string_lossy().into_owned()).unwrap_or_default();
    let out = fixtures.join(format!("{dir}-{stem}.rust"));
    let src_time = std::fs::metadata(src).and_then(|m| m.modified()).expect("source exists");
    if stale(&out, src_time.max(abi_time)) {
        let tmp = out.with_extension(format!("tmp{}", std::process::id()));
        let extern_arg = format!("trapbox_abi={}", rlib.display());
        let mut args: Vec<&std::ffi::OsStr> = vec!["--extern".as_ref(), extern_arg.as_ref(), "-o".as_ref(), tmp.as_os_str(), src.as_os_str()];
        if no_std {
            args.extend(["-C", "relocation-model=static", "-C", "link-arg=-nostartfiles", "-C", "link-arg=-static"].map(std::ffi::OsStr::new));
        }
        rustc(&args);
        std::fs::rename(&tmp, &out).expect("rename the guest");
    }
    out
}
