//! trapbox as a library: [`Command`] runs a program in a sandbox the way
//! [`std::process::Command`] runs one natively.
//!
//! ```
//! let out = trapbox::Command::new("/bin/busybox")
//!     .args(["cat", "/etc/hostname"])
//!     .policy(trapbox::Policy::new().allow_read("/etc/hostname"))
//!     .output()?;
//! assert!(out.status.success());
//! # Ok::<(), trapbox::Error>(())
//! ```
//!
//! Every call of the guest is decided by a host: the same one `trapbox run` is (the CLI is
//! built on this type), under a default-deny [`Policy`] unless [`Command::unconfined`].
//! [`Command::spawn`] (and [`Command::output`], [`Command::status`]) start that host in a
//! process of its own, the guest's *monitor*, forked from the calling process: so any
//! number of sandboxes can run at once, the host's process-wide state (its non-dumpable
//! flag, signal relays, the children it waits for) never touches the embedding program, and
//! a `waitpid` of the program's own children is never raced. The monitor is forked like any
//! child of a multi-threaded program, so it takes none of the locks another thread of the
//! program may have held at that instant: it reads no environment variable (the environment
//! is copied before the fork), writes its messages to stderr without std's lock, and calls
//! none of the program's code (its hostcall handlers run in the program, see below). It
//! ends its guest when its [`Child`] is dropped unwaited (see [`Child`]) or the program dies.
//!
//! ```
//! use trapbox::{Command, Policy, Stdio};
//! use std::io::Read;
//!
//! // A long-running guest, its output read as it comes, then killed.
//! let mut child = Command::new("/bin/busybox")
//!     .args(["sh", "-c", "echo started; sleep 600"])
//!     .policy(Policy::new())
//!     .stdout(Stdio::piped())
//!     .spawn()?;
//! let mut first = [0u8; 8];
//! child.stdout.as_mut().unwrap().read_exact(&mut first)?;
//! assert_eq!(&first, b"started\n");
//! child.kill()?;
//! let report = child.wait()?;
//! use std::os::unix::process::ExitStatusExt;
//! assert_eq!(report.status.signal(), Some(9));
//! # Ok::<(), trapbox::Error>(())
//! ```
//!
//! [`Command::run_as_host`] instead makes the calling process the host, as the `trapbox` CLI
//! does: for programs whose whole job is one guest.
//!
//! # Custom hostcalls
//!
//! An embedding program can offer its own services to the programs it sandboxes: it
//! registers a handler for a number in
//! [`EMBEDDER_BASE`](trapbox_abi::hostcall::EMBEDDER_BASE)`..`[`EMBEDDER_END`](trapbox_abi::hostcall::EMBEDDER_END)
//! with [`Command::hostcall`], and a guest reaching that number through the hostcall trap
//! (or a plain `syscall` instruction) gets the handler's answer. The handler runs in the
//! embedding program (on a thread of its [`Child`]), so what it touches is the program's own
//! state; it reads and writes the calling guest's memory through [`Hostcall`]. A number
//! nobody registered fails with `ENOSYS`, as every unknown hostcall does.
//!
//! ```no_run
//! use trapbox::{Command, Errno, Policy};
//! use trapbox_abi::hostcall::EMBEDDER_BASE;
//!
//! // hostcall EMBEDDER_BASE(ptr, len): the guest's bytes, upper-cased in place.
//! let status = Command::new("./guest")
//!     .policy(Policy::new())
//!     .hostcall(EMBEDDER_BASE, |call| {
//!         let [ptr, len, ..] = call.args();
//!         let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
//!         let mut bytes = call.read(ptr, len)?;
//!         bytes.make_ascii_uppercase();
//!         call.write(ptr, &bytes)?;
//!         Ok(bytes.len() as u64)
//!     })
//!     .status()?;
//! # Ok::<(), trapbox::Error>(())
//! ```

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use trapbox_abi::hostcall::{ACCESS_EXEC, ACCESS_READ, ACCESS_WRITE, EMBEDDER_BASE, EMBEDDER_END};

pub use crate::decide::policy::NetMode;
pub use crate::perform::unotify::Backend;
use crate::decide::policy::Origin;
pub use crate::report::trace::TraceFormat;
pub use crate::trap::debugger::Mechanism;

/// An error of the host: the sandbox could not be set up, or the host lost its guest. The
/// guest's own failures are its exit status, never an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A custom hostcall number outside the embedders' range.
    #[error("hostcall {number:#x} is outside the range reserved for embedders ({EMBEDDER_BASE:#x}..{EMBEDDER_END:#x})")]
    HostcallNumber {
        /// The number given to [`Command::hostcall`].
        number: u64,
    },
    /// Reading or writing the guest's standard streams, or talking to the monitor.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The host refused to start or lost the guest; the message names what and why (the
    /// file, the flag, the call), as `trapbox run` prints it.
    #[error("{0}")]
    Host(String),
}

impl From<anyhow::Error> for Error {
    fn from(err: anyhow::Error) -> Error {
        Error::Host(format!("{err:#}"))
    }
}

/// An errno a custom hostcall answers with (`-errno` in the guest's `rax`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// `EFAULT`: an address the guest gave is not readable or writable.
    pub const EFAULT: Errno = Errno(libc::EFAULT);
    /// `EINVAL`: an argument is out of range.
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    /// `ENOENT`: no such thing.
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    /// `EACCES`: the embedder refuses.
    pub const EACCES: Errno = Errno(libc::EACCES);
    /// `ENOSYS`: no such service.
    pub const ENOSYS: Errno = Errno(libc::ENOSYS);
    /// `EIO`: the service failed.
    pub const EIO: Errno = Errno(libc::EIO);
}

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", crate::decode::names::errno_name(self.0), std::io::Error::from_raw_os_error(self.0))
    }
}

/// A guest's call of a custom hostcall, as its handler sees it.
pub struct Hostcall<'a> {
    pub(crate) number: u64,
    pub(crate) args: [u64; 6],
    pub(crate) pid: u32,
    pub(crate) memory: &'a mut dyn GuestMemory,
}

impl std::fmt::Debug for Hostcall<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hostcall").field("number", &self.number).field("args", &self.args).field("pid", &self.pid).finish_non_exhaustive()
    }
}

/// The most one [`Hostcall::read`] copies (larger buffers take several calls).
pub const HOSTCALL_READ_MAX: usize = 16 << 20;

/// [`Command::spin_wait`]'s default: long enough to catch the next stop of a guest that stops
/// often (a trap loop, an exec's run of single-stepped calls), short enough that a miss costs
/// little (BENCHMARKS.md, "Waiting for the next stop").
pub const DEFAULT_SPIN_WAIT: std::time::Duration = std::time::Duration::from_micros(100);

impl Hostcall<'_> {
    /// The hostcall's number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Its six arguments (`rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`), as the guest passed them.
    pub fn args(&self) -> [u64; 6] {
        self.args
    }

    /// The calling guest process, as the embedding program's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Copies `len` bytes of the guest's memory at `addr`: all of them, or `EFAULT`.
    pub fn read(&mut self, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
        if len > HOSTCALL_READ_MAX {
            return Err(Errno::EINVAL);
        }
        let mut bytes = vec![0; len];
        self.memory.read(addr, &mut bytes)?;
        Ok(bytes)
    }

    /// The NUL-terminated string at `addr`, without its NUL: `EINVAL` when none of the first
    /// `max` bytes is NUL, `EFAULT` when the memory ends first.
    pub fn read_c_string(&mut self, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        let mut text = Vec::new();
        let mut at = addr;
        while text.len() < max {
            // A page at a time: a string that ends just before unmapped memory is still read.
            let to_page_end = 4096 - (at % 4096) as usize;
            let mut chunk = vec![0; to_page_end.min(max - text.len())];
            self.memory.read(at, &mut chunk)?;
            if let Some(end) = chunk.iter().position(|&b| b == 0) {
                text.extend_from_slice(&chunk[..end]);
                return Ok(text);
            }
            text.extend_from_slice(&chunk);
            at = at.checked_add(chunk.len() as u64).ok_or(Errno::EFAULT)?;
        }
        Err(Errno::EINVAL)
    }

    /// Writes `bytes` into the guest's memory at `addr`: all of them, or `EFAULT`.
    pub fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
        self.memory.write(addr, bytes)
    }
}

/// Where a [`Hostcall`] reads and writes the guest's memory.
pub(crate) trait GuestMemory {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Errno>;
    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), Errno>;
}

/// A custom hostcall's handler.
pub type HostcallHandler = dyn Fn(&mut Hostcall<'_>) -> Result<u64, Errno> + Send + Sync;

/// The handlers of one command, by number.
pub(crate) type Handlers = BTreeMap<u64, Arc<HostcallHandler>>;

/// Serves a handled hostcall: its result for the guest (`-errno` on failure), and whether
/// the handler panicked (the call then fails with `EIO`; the host logs it).
pub(crate) fn dispatch(handlers: &Handlers, number: u64, args: [u64; 6], pid: u32, memory: &mut dyn GuestMemory) -> (u64, bool) {
    let Some(handler) = handlers.get(&number) else {
        return (trapbox_abi::errno::encode_error(libc::ENOSYS), false);
    };
    let mut call = Hostcall { number, args, pid, memory };
    // A panicking handler fails the call, never the host.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&mut call))) {
        Ok(Ok(value)) => (value, false),
        Ok(Err(Errno(errno))) => (trapbox_abi::errno::encode_error(errno), false),
        Err(_) => (trapbox_abi::errno::encode_error(libc::EIO), true),
    }
}

/// The host's line for a handler that panicked.
pub(crate) fn log_panicked(number: u64) {
    crate::host_log!("trapbox: warning: the embedder's handler of hostcall {number:#x} panicked; the call fails with EIO");
}

/// What the guest may touch: default deny, plus the base environment (a /tmp, /dev and
/// /proc of its own, locale data, time zones, name resolution; see `trapbox run --help`) and
/// what its program needs to start. Each grant is decided by the host on every call and
/// mirrored by a Landlock ruleset underneath.
///
/// ```
/// use std::time::Duration;
/// let policy = trapbox::Policy::new()
///     .allow_read("/usr/share")
///     .allow_write("/tmp")
///     .net(trapbox::NetMode::Loopback)
///     .limit_processes(64)
///     .limit_wall(Duration::from_secs(30));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Policy {
    file: Option<PathBuf>,
    grants: Vec<(PathBuf, u64)>,
    net: Option<NetMode>,
    bare: bool,
    tmp_size: Option<u64>,
    limits: crate::decide::policy::Limits,
    wait_all: bool,
    audit: bool,
}

impl Policy {
    /// Default deny, with the base environment.
    pub fn new() -> Policy {
        Policy::default()
    }

    /// Starts from a policy file (TOML, the keys `trapbox run --policy` reads); grants given
    /// here add to it. The file is read when the command starts: an error names it.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Policy {
        self.file = Some(path.into());
        self
    }

    /// Lets the guest read files and list directories beneath `path`.
    pub fn allow_read(self, path: impl Into<PathBuf>) -> Policy {
        self.grant(path, ACCESS_READ)
    }

    /// Lets the guest also create, write, remove and rename beneath `path` (implies read).
    pub fn allow_write(self, path: impl Into<PathBuf>) -> Policy {
        self.grant(path, ACCESS_WRITE)
    }

    /// Lets the guest execute programs beneath `path` (implies read).
    pub fn allow_exec(self, path: impl Into<PathBuf>) -> Policy {
        self.grant(path, ACCESS_EXEC)
    }

    fn grant(mut self, path: impl Into<PathBuf>, access: u64) -> Policy {
        self.grants.push((path.into(), access));
        self
    }

    /// The guest's network reach (default [`NetMode::None`]: unix sockets only, in a network
    /// namespace of its own).
    pub fn net(mut self, reach: NetMode) -> Policy {
        self.net = Some(reach);
        self
    }

    /// Starts without the base environment: only the grants and what the program needs.
    pub fn bare(mut self) -> Policy {
        self.bare = true;
        self
    }

    /// The size of the guest's own /tmp and /dev/shm, each (default 1 GiB).
    pub fn tmp_size(mut self, bytes: u64) -> Policy {
        self.tmp_size = Some(bytes);
        self
    }

    /// At most `n` guest processes and threads at once; more forks fail with `EAGAIN`.
    pub fn limit_processes(mut self, n: u64) -> Policy {
        self.limits.processes = Some(n);
        self
    }

    /// Address space per process (`RLIMIT_AS`).
    pub fn limit_memory(mut self, bytes: u64) -> Policy {
        self.limits.address_space = Some(bytes);
        self
    }

    /// Open file descriptors per process (`RLIMIT_NOFILE`).
    pub fn limit_open_files(mut self, n: u64) -> Policy {
        self.limits.open_files = Some(n);
        self
    }

    /// CPU time per process (`RLIMIT_CPU`, whole seconds, at least one).
    pub fn limit_cpu(mut self, time: Duration) -> Policy {
        self.limits.cpu_time = Some(time);
        self
    }

    /// Wall-clock time for the whole run; the guest is killed when it runs out.
    pub fn limit_wall(mut self, time: Duration) -> Policy {
        self.limits.wall_time = Some(time);
        self
    }

    /// Serves the guest until its last process exits, not only its program (the others are
    /// killed when the program exits, by default).
    pub fn wait_all(mut self, wait: bool) -> Policy {
        self.wait_all = wait;
        self
    }

    /// Sends every path call to the host and logs every denial (`trapbox run --audit`). By
    /// default, with namespaces of its own and the base environment, the guest's root holds
    /// only what the policy grants, and the kernel answers metadata calls there natively
    /// (`ENOENT` outside the grants, with no log line).
    pub fn audit(mut self, audit: bool) -> Policy {
        self.audit = audit;
        self
    }
}

/// Where one of the guest's standard streams goes.
#[derive(Debug, Default)]
pub enum Stdio {
    /// The embedding program's own stream (the default of [`Command::spawn`] and
    /// [`Command::status`]).
    #[default]
    Inherit,
    /// `/dev/null`.
    Null,
    /// A pipe to the embedding program: [`Child::stdin`], [`Child::stdout`], [`Child::stderr`].
    Piped,
    /// This file or other descriptor.
    Fd(std::os::fd::OwnedFd),
}

impl Stdio {
    /// See [`Stdio::Inherit`].
    pub fn inherit() -> Stdio {
        Stdio::Inherit
    }

    /// See [`Stdio::Null`].
    pub fn null() -> Stdio {
        Stdio::Null
    }

    /// See [`Stdio::Piped`].
    pub fn piped() -> Stdio {
        Stdio::Piped
    }
}

impl From<std::fs::File> for Stdio {
    fn from(file: std::fs::File) -> Stdio {
        Stdio::Fd(file.into())
    }
}

impl From<std::os::fd::OwnedFd> for Stdio {
    fn from(fd: std::os::fd::OwnedFd) -> Stdio {
        Stdio::Fd(fd)
    }
}

/// Where trace lines go ([`Command::trace`]).
#[derive(Clone, Debug)]
pub enum Trace {
    /// Where the host's messages go (the embedding program's stderr, or [`Command::log_file`]).
    Stderr,
    /// Into this file.
    File(PathBuf),
}

/// Where statistics go at the end of the run ([`Command::stats`]).
#[derive(Clone, Debug)]
pub enum Stats {
    /// An `strace -c`-style table, where the host's messages go.
    Table,
    /// The same as one JSON object, where the host's messages go.
    Json,
    /// The JSON into this file.
    JsonFile(PathBuf),
}

/// The call set a guest may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Personality {
    /// The x86-64 Linux system calls, each mediated by the host.
    #[default]
    Linux,
    /// Hostcalls only (the "VM-like mode"): no Linux call runs, natively or otherwise.
    Native,
}

/// A program to run in a sandbox, and how. The builder methods mirror
/// [`std::process::Command`]'s and `trapbox run`'s flags.
#[derive(Clone)]
pub struct Command {
    pub(crate) program: OsString,
    /// argv, from argv\[0\].
    pub(crate) argv: Vec<OsString>,
    pub(crate) policy: Policy,
    pub(crate) unconfined: bool,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) clear_env: bool,
    pub(crate) cwd: Option<PathBuf>,
    /// stdin, stdout, stderr; `None` inherits (each spawn uses a duplicate of a given fd).
    pub(crate) stdio: [Option<Arc<Stdio>>; 3],
    pub(crate) trace: Option<Trace>,
    pub(crate) trace_format: TraceFormat,
    pub(crate) stats: Option<Stats>,
    pub(crate) log_file: Option<PathBuf>,
    pub(crate) quiet: bool,
    pub(crate) mechanism: Mechanism,
    /// `Some(true)`: pin; `Some(false)` or `None` (the default): every CPU.
    pub(crate) pin: Option<bool>,
    /// How long the debugger polls for the next stop before it sleeps (unpinned runs only).
    pub(crate) spin_wait: std::time::Duration,
    pub(crate) backend: Option<crate::perform::unotify::Backend>,
    pub(crate) keep_traps: bool,
    pub(crate) namespaces: bool,
    pub(crate) keep_fds: Vec<u32>,
    pub(crate) personality: Personality,
    pub(crate) inject_probe: bool,
    pub(crate) handlers: Handlers,
    pub(crate) bad_hostcall: Option<u64>,
    /// A container's process (`trapbox oci`): its policy, program and namespaces are given
    /// whole, in the container's own terms.
    pub(crate) container: Option<Arc<crate::session::ContainerSetup>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Command")
            .field("argv", &self.argv)
            .field("policy", &self.policy)
            .field("unconfined", &self.unconfined)
            .field("hostcalls", &self.handlers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Command {
    /// Runs `program` (a path, or a name looked up in `PATH` as `trapbox run` does) with no
    /// arguments, under a default-deny [`Policy::new`].
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        let program = program.as_ref().to_os_string();
        Command {
            argv: vec![program.clone()],
            program,
            policy: Policy::new(),
            unconfined: false,
            env: Vec::new(),
            clear_env: false,
            cwd: None,
            stdio: [None, None, None],
            trace: None,
            trace_format: TraceFormat::Text,
            stats: None,
            log_file: None,
            quiet: false,
            mechanism: Mechanism::AsRewritten,
            pin: None,
            spin_wait: DEFAULT_SPIN_WAIT,
            backend: None,
            keep_traps: false,
            namespaces: true,
            keep_fds: Vec::new(),
            personality: Personality::Linux,
            inject_probe: false,
            handlers: Handlers::new(),
            bad_hostcall: None,
            container: None,
        }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.argv.push(arg.as_ref().to_os_string());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.argv.extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// The program's `argv[0]` (by default the program as given).
    pub fn arg0(&mut self, arg0: impl AsRef<OsStr>) -> &mut Command {
        self.argv[0] = arg0.as_ref().to_os_string();
        self
    }

    /// The policy (default [`Policy::new`]: deny everything but the base environment).
    pub fn policy(&mut self, policy: Policy) -> &mut Command {
        self.policy = policy;
        self
    }

    /// No policy: every call is still mediated (and traced, counted), none is confined. The
    /// trap-debugger mode, for tracing and measuring programs.
    pub fn unconfined(&mut self) -> &mut Command {
        self.unconfined = true;
        self
    }

    /// Sets a variable of the guest's environment (by default the embedding program's).
    pub fn env(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Command {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Starts the guest with an empty environment (then [`Command::env`]).
    pub fn env_clear(&mut self) -> &mut Command {
        self.clear_env = true;
        self
    }

    /// The guest's working directory (readable under the base environment).
    pub fn current_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Command {
        self.cwd = Some(dir.into());
        self
    }

    fn set_stdio(&mut self, index: usize, stdio: Stdio) -> &mut Command {
        self.stdio[index] = Some(Arc::new(stdio));
        self
    }

    /// The guest's standard input (default: inherited; [`Command::output`]: null).
    pub fn stdin(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.set_stdio(0, stdio.into())
    }

    /// The guest's standard output (default: inherited; [`Command::output`]: piped).
    pub fn stdout(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.set_stdio(1, stdio.into())
    }

    /// The guest's standard error (default: inherited; [`Command::output`]: piped).
    pub fn stderr(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.set_stdio(2, stdio.into())
    }

    /// One strace-style (or JSON: [`Command::trace_format`]) line per mediated call.
    pub fn trace(&mut self, to: Trace) -> &mut Command {
        self.trace = Some(to);
        self
    }

    /// How trace lines are written.
    pub fn trace_format(&mut self, format: TraceFormat) -> &mut Command {
        self.trace_format = format;
        self
    }

    /// Statistics at the end of the run: per call and route, calls, errors and time.
    pub fn stats(&mut self, to: Stats) -> &mut Command {
        self.stats = Some(to);
        self
    }

    /// Writes the host's messages (each denial, warnings, statistics) to this file instead
    /// of the embedding program's stderr.
    pub fn log_file(&mut self, path: impl Into<PathBuf>) -> &mut Command {
        self.log_file = Some(path.into());
        self
    }

    /// Counts denials instead of printing each: one line at the end says how many
    /// ([`Report::denials`] has the count either way).
    pub fn quiet(&mut self, quiet: bool) -> &mut Command {
        self.quiet = quiet;
        self
    }

    /// The trap mechanism (`trapbox run --trap`).
    pub fn mechanism(&mut self, mechanism: Mechanism) -> &mut Command {
        self.mechanism = mechanism;
        self
    }

    /// Pins the host and the guest to one CPU (`trapbox run --pin`: the debugger's stops are
    /// cheapest so), or (`false`, the default) lets them run on every CPU.
    pub fn pin(&mut self, pin: bool) -> &mut Command {
        self.pin = Some(pin);
        self
    }

    /// [`Command::pin`], or (`None`) the default: every CPU.
    pub fn pinning(&mut self, pin: Option<bool>) -> &mut Command {
        self.pin = pin;
        self
    }

    /// How long the debugger polls for the guest's next stop before it sleeps in `waitpid`
    /// (`trapbox run --spin-wait`; zero: it sleeps at once). It polls only while stops come
    /// that fast, and never in a pinned run or on one CPU.
    pub fn spin_wait(&mut self, budget: std::time::Duration) -> &mut Command {
        self.spin_wait = budget;
        self
    }

    /// What stops the guest's calls (`trapbox run --backend`); `None` is the default: unotify
    /// under a policy on Linux 6.6+, else ptrace.
    pub fn backend(&mut self, backend: Option<Backend>) -> &mut Command {
        self.backend = backend;
        self
    }

    /// Serves every trap site as a trap (`trapbox run --keep-traps`).
    pub fn keep_traps(&mut self, keep: bool) -> &mut Command {
        self.keep_traps = keep;
        self
    }

    /// Gives the guest namespaces of its own (the default). `false` is `trapbox run
    /// --no-namespaces`: a weaker sandbox, for kernels that forbid user namespaces.
    pub fn namespaces(&mut self, own: bool) -> &mut Command {
        self.namespaces = own;
        self
    }

    /// Keeps the embedding program's file descriptor `fd` open in the guest, with the same
    /// number (`trapbox run --keep-fd`).
    pub fn keep_fd(&mut self, fd: u32) -> &mut Command {
        self.keep_fds.push(fd);
        self
    }

    /// The call set the guest may use.
    pub fn personality(&mut self, personality: Personality) -> &mut Command {
        self.personality = personality;
        self
    }

    /// Test hook of `trapbox run --inject-probe`.
    #[doc(hidden)]
    pub fn inject_probe(&mut self, probe: bool) -> &mut Command {
        self.inject_probe = probe;
        self
    }

    /// Serves hostcall `number` (in
    /// [`EMBEDDER_BASE`](trapbox_abi::hostcall::EMBEDDER_BASE)`..`[`EMBEDDER_END`](trapbox_abi::hostcall::EMBEDDER_END))
    /// with `handler`: it gets the call's arguments and the guest's memory, and answers a
    /// value or an errno. A number outside the range makes the command fail to start
    /// ([`Error::HostcallNumber`]); registering a number again replaces its handler.
    pub fn hostcall<F>(&mut self, number: u64, handler: F) -> &mut Command
    where
        F: Fn(&mut Hostcall<'_>) -> Result<u64, Errno> + Send + Sync + 'static,
    {
        if (EMBEDDER_BASE..EMBEDDER_END).contains(&number) {
            self.handlers.insert(number, Arc::new(handler));
        } else {
            self.bad_hostcall.get_or_insert(number);
        }
        self
    }

    /// Starts the guest in its sandbox, served by a monitor process of its own.
    pub fn spawn(&mut self) -> Result<Child, Error> {
        self.check()?;
        crate::monitor::spawn(self)
    }

    /// Runs the guest to its end with its output captured (stdin null unless set).
    pub fn output(&mut self) -> Result<Output, Error> {
        let mut command = self.clone();
        for (index, default) in [(0, Stdio::Null), (1, Stdio::Piped), (2, Stdio::Piped)] {
            if command.stdio[index].is_none() {
                command.set_stdio(index, default);
            }
        }
        let child = command.spawn()?;
        child.wait_with_output()
    }

    /// Runs the guest to its end and returns its exit status.
    pub fn status(&mut self) -> Result<std::process::ExitStatus, Error> {
        Ok(self.spawn()?.wait()?.status)
    }

    /// Runs the guest with this process as its host, as `trapbox run` does, and returns when
    /// the run ends. The process is made non-dumpable, relays SIGTERM, SIGHUP, SIGINT,
    /// SIGQUIT, SIGUSR1 and SIGUSR2 to the guest from then on, and waits for every child it
    /// has (a guest's tasks are its tracees): only for programs whose whole job is this one
    /// guest. The guest's standard streams are this process's own (set ones are ignored).
    pub fn run_as_host(&self) -> Result<Report, Error> {
        self.check()?;
        Ok(crate::session::host(self, &mut |_| {})?)
    }

    /// The effective policy, as TOML (what `trapbox run --print-policy` prints): the grants
    /// given, what the program needs to start and the base environment, each with its reason.
    pub fn effective_policy(&self) -> Result<String, Error> {
        let program = crate::launch::launcher::resolve_program(&self.program)?;
        Ok(self.build_policy(&program)?.to_toml())
    }

    fn check(&self) -> Result<(), Error> {
        match self.bad_hostcall {
            Some(number) => Err(Error::HostcallNumber { number }),
            None => Ok(()),
        }
    }

    /// The effective policy: the file, then the grants, then what the program needs to
    /// start, then (under a policy) the base environment. Its environment, working directory
    /// and limits apply in every mode; its grants only when confined.
    pub(crate) fn build_policy(&self, program: &Path) -> anyhow::Result<crate::decide::policy::Policy> {
        let given = &self.policy;
        let mut policy = crate::decide::policy::Policy::default();
        if let Some(file) = &given.file {
            policy.load_file(file)?;
        }
        let here = std::env::current_dir()?;
        for (path, access) in &given.grants {
            policy.allow(path, &here, *access, Origin::CommandLine)?;
        }
        if let Some(net) = given.net {
            policy.net = net;
        }
        policy.env.extend(self.env.iter().cloned());
        policy.clear_env |= self.clear_env;
        policy.wait_all |= given.wait_all;
        policy.audit |= given.audit;
        if let Some(cwd) = &self.cwd {
            policy.cwd = Some(cwd.canonicalize().with_context(|| format!("working directory {}", cwd.display()))?);
        }
        let (l, set) = (&mut policy.limits, &given.limits);
        l.processes = set.processes.or(l.processes);
        l.address_space = set.address_space.or(l.address_space);
        l.open_files = set.open_files.or(l.open_files);
        l.cpu_time = set.cpu_time.or(l.cpu_time);
        l.wall_time = set.wall_time.or(l.wall_time);
        policy.bare |= given.bare;
        policy.tmp_size = given.tmp_size.or(policy.tmp_size);
        crate::decide::policy::add_startup_grants(&mut policy, program)?;
        if !self.unconfined {
            crate::decide::base::add(&mut policy, self.namespaces)?;
        }
        Ok(policy)
    }
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct Report {
    /// The program's exit status, as `std::process` reports one.
    pub status: std::process::ExitStatus,
    /// The calls the host refused with a log line (each denial is counted, printed or not).
    pub denials: u64,
}

/// The result of [`Command::output`].
#[derive(Clone, Debug)]
pub struct Output {
    /// The program's exit status.
    pub status: std::process::ExitStatus,
    /// What it wrote to stdout.
    pub stdout: Vec<u8>,
    /// What it wrote to stderr (the host's own messages go to the embedding program's stderr
    /// or [`Command::log_file`], never here).
    pub stderr: Vec<u8>,
    /// The calls the host refused.
    pub denials: u64,
}

/// A running sandboxed program ([`Command::spawn`]).
///
/// Unlike a [`std::process::Child`], dropping it before [`Child::wait`] kills the guest (a
/// sandbox nobody watches any more is not left running) and waits for its monitor.
#[derive(Debug)]
pub struct Child {
    /// The guest's standard input, when [`Stdio::Piped`].
    pub stdin: Option<std::io::PipeWriter>,
    /// Its standard output, when [`Stdio::Piped`].
    pub stdout: Option<std::io::PipeReader>,
    /// Its standard error, when [`Stdio::Piped`].
    pub stderr: Option<std::io::PipeReader>,
    pub(crate) monitor: crate::monitor::Monitor,
}

impl Child {
    /// The guest program's process id, in the embedding program's PID namespace.
    pub fn id(&self) -> u32 {
        self.monitor.guest_pid()
    }

    /// Kills the guest program (SIGKILL); with its own PID namespace, every process it left
    /// goes with it. Killing a guest that already ended is no error.
    pub fn kill(&mut self) -> Result<(), Error> {
        self.monitor.kill()
    }

    /// Waits for the run to end (closing the guest's stdin first, as std does).
    pub fn wait(mut self) -> Result<Report, Error> {
        drop(self.stdin.take());
        self.monitor.wait()
    }

    /// Waits for the run to end, collecting what the guest wrote to its piped streams.
    pub fn wait_with_output(mut self) -> Result<Output, Error> {
        use std::io::Read;
        drop(self.stdin.take());
        let read_all = |pipe: Option<std::io::PipeReader>| {
            std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
                let mut bytes = Vec::new();
                if let Some(mut pipe) = pipe {
                    pipe.read_to_end(&mut bytes)?;
                }
                Ok(bytes)
            })
        };
        let (stdout, stderr) = (read_all(self.stdout.take()), read_all(self.stderr.take()));
        let report = self.monitor.wait()?;
        let joined = |reader: std::thread::JoinHandle<std::io::Result<Vec<u8>>>| {
            reader.join().unwrap_or_else(|_| Err(std::io::Error::other("a reader of the guest's output panicked")))
        };
        Ok(Output { status: report.status, stdout: joined(stdout)?, stderr: joined(stderr)?, denials: report.denials })
    }
}
