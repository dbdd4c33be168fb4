//! `trapbox oci`: an OCI runtime with runc's command line, so container engines (podman,
//! containerd's runc shim) run containers inside trapbox.
//!
//! An engine hands trapbox a bundle (a `config.json` and a root filesystem, [`spec`]) and
//! drives the container through `create`, `start`, `state`, `kill` and `delete` (and `exec`
//! for `podman exec`). `create` forks a **monitor**: a trapbox host like `trapbox run`'s, which
//! launches the container's process in namespaces of its own, with the bundle's root as its
//! `/` ([`setup`] maps the bundle onto trapbox's model) and every call mediated as in any run;
//! the process waits, fully set up, on a FIFO in the container's state directory ([`state`])
//! until `start` writes to it. The monitor's pid is what the engine gets in `--pid-file` and
//! waits for: it exits with the container's exit status (128 + the signal's number for a
//! process killed by one), as the engine's shim expects of the process it reaps.
//!
//! The host's own log (each refused call) goes to `BUNDLE/trapbox.log`, or to the file the
//! annotation `dev.trapbox.log` names, not into the container's output.

pub mod cgroups;
pub mod setup;
pub mod spec;
pub mod state;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

use crate::launch::launcher::Enter;
use crate::session::ContainerSetup;
use crate::sys::Pid;
use state::{Dir, Record, Status};

/// An OCI runtime with runc's command line: podman and containerd run containers in trapbox.
///
/// Engines call it by path, e.g. `podman --runtime /usr/local/bin/trapbox-oci run …`
/// (`trapbox-oci` is a link to `trapbox`, which then behaves as `trapbox oci`).
#[derive(Debug, Parser)]
#[command(name = "trapbox oci", version = concat!(env!("CARGO_PKG_VERSION"), "\nspec: 1.0.2"), after_help = OCI_EXAMPLES)]
pub struct OciArgs {
    /// Where the containers' state is kept [default: /run/trapbox-oci; rootless (not root of
    /// the initial user namespace) with XDG_RUNTIME_DIR set: $XDG_RUNTIME_DIR/trapbox-oci]
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    /// Also write the runtime's own errors to this file.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// The format of --log: text, or json (one object per line, as runc writes).
    #[arg(long, global = true, default_value = "text")]
    pub log_format: LogFormat,
    /// Accepted for runc's sake: the container's cgroup path is used as a cgroupfs path.
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for runc's sake.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Accepted for runc's sake (trapbox is rootless whenever its invoker is).
    #[arg(long, global = true)]
    pub rootless: Option<String>,
    #[command(subcommand)]
    pub command: OciCommand,
}

/// The format of the runtime's own log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

const OCI_EXAMPLES: &str = "\
Examples:
  trapbox oci create --bundle DIR --pid-file PIDFILE ID   set up the container; it waits for start
  trapbox oci start ID                                    run its program
  trapbox oci state ID                                    the OCI state (created, running, stopped)
  trapbox oci kill ID TERM                                signal its process (--all: every one)
  trapbox oci delete --force ID                           end it and remove what is left of it
  trapbox oci run --bundle DIR ID                         create, start and wait (exit status as the program's)
  podman --runtime \"$(command -v trapbox-oci)\" run --rm IMAGE CMD

The container may touch its root filesystem and its mounts, nothing else of the host; every
call is mediated as under `trapbox run`. Annotations: dev.trapbox.policy=FILE (TOML grants in
the container's paths: allow_read, allow_write, allow_exec, net, audit), dev.trapbox.net
(none|loopback|all), dev.trapbox.audit=true, dev.trapbox.log=FILE.";

/// The commands engines use.
#[derive(Debug, Subcommand)]
pub enum OciCommand {
    /// Set the container up from its bundle; its process waits for `start`.
    Create(CreateArgs),
    /// Let a created container's process run its program.
    Start(IdArgs),
    /// Print the container's OCI state as JSON.
    State(IdArgs),
    /// Send a signal to the container's process (default TERM).
    Kill(KillArgs),
    /// Remove a stopped (or created) container; --force ends a running one first.
    Delete(DeleteArgs),
    /// Create and start a container, then wait for it (unless --detach).
    Run(CreateArgs),
    /// Run another process in a running container.
    Exec(ExecArgs),
    /// List the host pids of the container's processes.
    Ps(PsArgs),
    /// Print what this runtime supports, as JSON (runc's `features`).
    Features,
    /// List the containers under --root.
    List,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The bundle's directory (default: the current one).
    #[arg(long, short)]
    pub bundle: Option<PathBuf>,
    /// Write the monitor's pid (the process to wait for) here.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// A unix socket to send the terminal's master end to (`process.terminal`).
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Accepted for runc's sake (trapbox always pivots into the root).
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted for runc's sake (the container always gets a session keyring of its own).
    #[arg(long)]
    pub no_new_keyring: bool,
    /// `run` only: return once the container has started.
    #[arg(long, short)]
    pub detach: bool,
    /// Accepted for runc's sake.
    #[arg(long)]
    pub preserve_fds: Option<u32>,
    pub id: String,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal every process of the container, not only its first.
    #[arg(long, short)]
    pub all: bool,
    pub id: String,
    /// A name (TERM, SIGTERM) or a number.
    #[arg(default_value = "TERM")]
    pub signal: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// End a running container first.
    #[arg(long, short)]
    pub force: bool,
    pub id: String,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// table or json
    #[arg(long, short, default_value = "table")]
    pub format: String,
    pub id: String,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The process to run, as the runtime spec's `process` object (JSON).
    #[arg(long, short)]
    pub process: Option<PathBuf>,
    /// Write the pid to wait for (with --detach, the exec's monitor) here.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Return once the process has started.
    #[arg(long, short)]
    pub detach: bool,
    /// Its working directory.
    #[arg(long)]
    pub cwd: Option<String>,
    /// KEY=VALUE, added to its environment.
    #[arg(long, short)]
    pub env: Vec<String>,
    /// UID[:GID] to run as.
    #[arg(long, short)]
    pub user: Option<String>,
    /// Give it a terminal (needs --console-socket).
    #[arg(long, short)]
    pub tty: bool,
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Accepted for runc's sake.
    #[arg(long)]
    pub preserve_fds: Option<u32>,
    pub id: String,
    /// The program and its arguments (without --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `trapbox oci …` (or `trapbox-oci …`): the exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> u8 {
    let argv: Vec<OsString> = args.into_iter().collect();
    let args = match OciArgs::try_parse_from(&argv) {
        Ok(args) => args,
        Err(err) => {
            // An engine reads the runtime's error from --log (containerd's shim: the last
            // "error" line), also for a command line trapbox does not take (`pause`, `update`).
            if err.use_stderr() {
                if let Some(log) = log_of(&argv) {
                    let text = err.to_string();
                    let first = text.lines().next().unwrap_or("").trim_start_matches("error: ");
                    write_log(&log, log_format_of(&argv), first);
                }
            }
            err.exit()
        }
    };
    match dispatch(&args) {
        Ok(code) => code,
        Err(err) => {
            let text = format!("{err:#}");
            eprintln!("trapbox-oci: error: {text}");
            if let Some(log) = &args.log {
                write_log(log, args.log_format, &text);
            }
            1
        }
    }
}

/// The value of a global `--log FILE` (or `--log=FILE`) in a command line clap refused.
fn log_of(argv: &[OsString]) -> Option<PathBuf> {
    let mut words = argv.iter().skip(1);
    while let Some(word) = words.next() {
        let word = word.to_str()?;
        if word == "--log" {
            return words.next().map(PathBuf::from);
        }
        if let Some(file) = word.strip_prefix("--log=") {
            return Some(PathBuf::from(file));
        }
    }
    None
}

/// The `--log-format` of a command line clap refused (text unless it says json).
fn log_format_of(argv: &[OsString]) -> LogFormat {
    let json = argv.windows(2).any(|w| w[0] == "--log-format" && w[1] == "json")
        || argv.iter().any(|w| w == "--log-format=json");
    if json {
        LogFormat::Json
    } else {
        LogFormat::Text
    }
}

/// Appends `text` to the runtime's log, as runc writes it.
fn write_log(log: &Path, format: LogFormat, text: &str) {
    let line = match format {
        LogFormat::Json => {
            serde_json::json!({"level": "error", "msg": text, "time": state::now_rfc3339()})
                .to_string()
        }
        LogFormat::Text => format!("{} error: {text}", state::now_rfc3339()),
    };
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        let _ = writeln!(file, "{line}");
    }
}

fn dispatch(args: &OciArgs) -> anyhow::Result<u8> {
    let root = &args.root.clone().unwrap_or_else(state::default_root);
    match &args.command {
        OciCommand::Create(create_args) => create(root, create_args).map(|_| 0),
        OciCommand::Run(run_args) => run(root, run_args),
        OciCommand::Start(id) => start(root, &id.id).map(|()| 0),
        OciCommand::State(id) => print_state(root, &id.id).map(|()| 0),
        OciCommand::Kill(kill_args) => kill(root, kill_args).map(|()| 0),
        OciCommand::Delete(delete_args) => delete(root, delete_args).map(|()| 0),
        OciCommand::Exec(exec_args) => exec(root, exec_args),
        OciCommand::Ps(ps_args) => ps(root, ps_args).map(|()| 0),
        OciCommand::Features => {
            println!("{}", serde_json::to_string_pretty(&features())?);
            Ok(0)
        }
        OciCommand::List => list(root).map(|()| 0),
    }
}

/// What a container's monitor tells the command that forked it.
const READY: &[u8] = b"ready\n";

/// One line from a monitor (its end of the socket may live on in the container's process,
/// which inherits it until it closes its fds, so the line's end is the message's, not EOF).
fn read_message(stream: &mut UnixStream) -> Vec<u8> {
    let mut said = Vec::new();
    let mut byte = [0u8];
    while let Ok(1) = stream.read(&mut byte) {
        said.push(byte[0]);
        if byte[0] == b'\n' {
            break;
        }
    }
    said
}

/// The trapbox run of a container's process.
fn container_command(
    record_bundle: &Path,
    spec: &spec::Spec,
    setup: ContainerSetup,
) -> crate::Command {
    let mut command = crate::Command::new(setup.program.as_os_str());
    command.argv = setup.args.iter().map(OsString::from).collect();
    command.log_file = Some(match spec.annotations.get(setup::LOG_ANNOTATION) {
        Some(file) => PathBuf::from(file),
        None => record_bundle.join("trapbox.log"),
    });
    command.container = Some(Arc::new(setup));
    command
}

/// Everything the container's first process needs, from its bundle.
fn creation_setup(
    bundle: &Path,
    spec: &spec::Spec,
    gate: OwnedFd,
) -> anyhow::Result<(ContainerSetup, PathBuf)> {
    let Some(process) = &spec.process else {
        bail!("config.json: process: missing (there is no program to run)")
    };
    let rootfs = setup::rootfs(bundle, spec)?;
    let policy = setup::policy(spec, &rootfs, process)?;
    let program = setup::program(&rootfs, process)?;
    let setup = ContainerSetup {
        policy,
        program,
        args: process.args.clone(),
        namespaces: Some(setup::namespaces(spec)?),
        enter: std::sync::Mutex::new(None),
        start_gate: Some(gate),
        user: Some(setup::user(process)),
        rlimits: setup::rlimits(process)?,
        drop_capabilities: setup::dropped_capabilities(process)?,
        terminal: false,
    };
    Ok((setup, rootfs))
}

/// `create`: the monitor's pid once the container waits for `start`.
fn create(root: &Path, args: &CreateArgs) -> anyhow::Result<Pid> {
    let dir = Dir::of(root, &args.id)?;
    std::fs::create_dir_all(root).with_context(|| format!("--root {}", root.display()))?;
    let bundle = match &args.bundle {
        Some(dir) => dir
            .canonicalize()
            .with_context(|| format!("--bundle {}", dir.display()))?,
        None => std::env::current_dir()?,
    };
    let spec = spec::load(&bundle)?;
    let terminal = spec.process.as_ref().is_some_and(|p| p.terminal);
    check_terminal(terminal, args.console_socket.as_deref())?;
    let cgroup = cgroups::Plan::new(&spec, &args.id)?;
    // The directory is the container's claim on its id: made once, by exactly one create.
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir.path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                anyhow::anyhow!("container {:?} already exists", args.id)
            }
            _ => anyhow::anyhow!("cannot make {}: {e}", dir.path.display()),
        })?;
    let made = (|| {
        crate::sys::make_fifo(&dir.gate())
            .with_context(|| format!("cannot make {}", dir.gate().display()))?;
        let gate = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(dir.gate())?;
        let (mut setup, rootfs) = creation_setup(&bundle, &spec, OwnedFd::from(gate))?;
        setup.terminal = terminal;
        let console = match &args.console_socket {
            Some(socket) => Some(send_terminal(socket)?),
            None => None,
        };
        let record = Record {
            id: args.id.clone(),
            bundle: bundle.clone(),
            rootfs,
            created: state::now_rfc3339(),
            monitor: 0,
            monitor_start: 0,
            guest: 0,
            annotations: spec.annotations.clone(),
            exit_code: None,
            cgroups: Vec::new(),
        };
        let command = container_command(&bundle, &spec, setup);
        start_monitor(dir.clone(), record, command, Some(cgroup), console)
    })();
    match made {
        Ok(monitor) => {
            if let Some(file) = &args.pid_file {
                write_pid_file(file, monitor)?;
            }
            Ok(monitor)
        }
        Err(err) => {
            let _ = std::fs::remove_dir_all(&dir.path);
            Err(err)
        }
    }
}

/// Refuses a terminal asked without a console socket to send it to, and the reverse, as runc.
fn check_terminal(terminal: bool, console_socket: Option<&Path>) -> anyhow::Result<()> {
    match (terminal, console_socket) {
        (true, None) => bail!("process.terminal is true, but no --console-socket was given to send the terminal to"),
        (false, Some(socket)) => bail!("--console-socket {}: process.terminal is false, so there is no terminal to send", socket.display()),
        _ => Ok(()),
    }
}

/// Makes a pseudo-terminal, sends its master end to the engine's console socket (as runc
/// does, with the terminal's name as the message) and returns the end the container gets.
fn send_terminal(socket: &Path) -> anyhow::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let stream = UnixStream::connect(socket).with_context(|| format!("--console-socket {}", socket.display()))?;
    let (master, slave) = crate::sys::open_pty().context("cannot make the container's terminal")?;
    crate::sys::send_with_fds(stream.as_raw_fd(), b"/dev/ptmx", &[master.as_raw_fd()])
        .map_err(|e| anyhow::anyhow!("--console-socket {}: cannot send the terminal: {e}", socket.display()))?;
    Ok(slave)
}

/// In a monitor: makes `terminal` its (so the container's) stdin, stdout and stderr.
fn give_terminal(terminal: OwnedFd) {
    use std::os::fd::AsRawFd;
    for target in 0..3 {
        if let Err(err) = crate::sys::duplicate_onto(terminal.as_raw_fd(), target) {
            crate::host_log!("trapbox-oci: error: cannot give the container its terminal: {err}");
            crate::sys::exit_now(255);
        }
    }
}

/// Writes `pid` to `file` as runc does (digits, no newline), through a new file renamed in place.
fn write_pid_file(file: &Path, pid: Pid) -> anyhow::Result<()> {
    let temporary = file.with_extension("trapbox-new");
    std::fs::write(&temporary, pid.to_string())
        .with_context(|| format!("--pid-file {}", file.display()))?;
    std::fs::rename(&temporary, file).with_context(|| format!("--pid-file {}", file.display()))
}

/// Forks the monitor that hosts `command`; returns its pid once the container's process is
/// traced and waiting (or the reason it is not).
fn start_monitor(
    dir: Dir,
    record: Record,
    command: crate::Command,
    cgroup: Option<cgroups::Plan>,
    console: Option<OwnedFd>,
) -> anyhow::Result<Pid> {
    let (mut ours, theirs) = UnixStream::pair()?;
    let monitor = crate::sys::fork()
        .map_err(|e| anyhow::anyhow!("cannot fork the container's monitor: {e}"))?;
    if monitor == 0 {
        drop(ours);
        if let Some(terminal) = console {
            give_terminal(terminal);
        }
        run_monitor(dir, record, command, cgroup, theirs);
    }
    drop(theirs);
    let said = read_message(&mut ours);
    if said == READY {
        return Ok(monitor);
    }
    let _ = crate::sys::wait_exit(monitor);
    let why = String::from_utf8_lossy(&said).trim_end().to_string();
    if why.is_empty() {
        bail!("the container's monitor died before the container was set up");
    }
    bail!("{why}")
}

/// The monitor: hosts the container's process until it ends, then exits with its status.
fn run_monitor(
    dir: Dir,
    mut record: Record,
    command: crate::Command,
    cgroup: Option<cgroups::Plan>,
    ready: UnixStream,
) -> ! {
    let mut ready = Some(ready);
    let me = crate::sys::own_pid();
    record.monitor = me;
    record.monitor_start = state::start_time(me).unwrap_or(0);
    let hosted = crate::session::host(&command, &mut |guest| {
        record.guest = guest;
        let joined = match &cgroup {
            Some(plan) => plan.make_and_join(me, guest),
            None => Ok(Vec::new()),
        };
        let saved = joined.and_then(|made| {
            record.cgroups = made;
            dir.save(&record)
        });
        if let Some(mut stream) = ready.take() {
            let said = match &saved {
                Ok(()) => READY.to_vec(),
                Err(err) => format!("{}\n", format!("{err:#}").replace('\n', " ")).into_bytes(),
            };
            let _ = stream.write_all(&said);
        }
        if saved.is_err() {
            let _ = crate::sys::kill(guest, libc::SIGKILL);
        }
    });
    let code = monitor_exit_code(hosted, &mut ready);
    if record.guest != 0 {
        record.exit_code = Some(code);
        let _ = dir.save(&record);
    }
    crate::sys::exit_now(code)
}

/// `start`.
fn start(root: &Path, id: &str) -> anyhow::Result<()> {
    let dir = Dir::of(root, id)?;
    let record = dir.load(id)?;
    match dir.status(&record) {
        Status::Created => {}
        status => bail!(
            "cannot start container {id:?}: it is {}, not created",
            status.name()
        ),
    }
    let mut gate = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(dir.gate())
        .with_context(|| format!("cannot start container {id:?}: {}", dir.gate().display()))?;
    gate.write_all(&[1])
        .with_context(|| format!("cannot start container {id:?}"))?;
    std::fs::remove_file(dir.gate())
        .with_context(|| format!("cannot remove {}", dir.gate().display()))?;
    Ok(())
}

/// `run`: create, start, and (unless detached) wait.
fn run(root: &Path, args: &CreateArgs) -> anyhow::Result<u8> {
    let monitor = create(root, args)?;
    start(root, &args.id)?;
    if args.detach {
        return Ok(0);
    }
    let status = crate::sys::wait_exit(monitor)
        .map_err(|e| anyhow::anyhow!("waiting for the container's monitor: {e}"))?;
    let code = shell_status(std::os::unix::process::ExitStatusExt::from_raw(status));
    let _ = delete(
        root,
        &DeleteArgs {
            force: true,
            id: args.id.clone(),
        },
    );
    Ok(code as u8)
}

/// `state`.
fn print_state(root: &Path, id: &str) -> anyhow::Result<()> {
    let dir = Dir::of(root, id)?;
    let record = dir.load(id)?;
    let status = dir.status(&record);
    let document = state::OciState {
        oci_version: spec::OCI_VERSION,
        id,
        status: status.name(),
        pid: if status == Status::Stopped {
            0
        } else {
            record.monitor
        },
        bundle: &record.bundle,
        rootfs: &record.rootfs,
        created: &record.created,
        annotations: &record.annotations,
        owner: "",
    };
    println!("{}", serde_json::to_string_pretty(&document)?);
    Ok(())
}

/// A signal by name (`TERM`, `SIGTERM`) or number.
fn parse_signal(text: &str) -> anyhow::Result<i32> {
    if let Ok(number) = text.parse::<i32>() {
        if (1..=64).contains(&number) {
            return Ok(number);
        }
        bail!("{text}: not a signal number (1 to 64)");
    }
    crate::decode::names::signal_number(text).ok_or_else(|| anyhow::anyhow!("{text}: not a signal name"))
}

/// The host pids of the processes in the PID namespace of `guest` (the container's).
fn processes_of(guest: Pid) -> Vec<Pid> {
    let Ok(namespace) = std::fs::read_link(format!("/proc/{guest}/ns/pid")) else {
        return Vec::new();
    };
    let mut pids: Vec<Pid> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<Pid>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/pid")).is_ok_and(|ns| ns == namespace)
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// `kill`.
fn kill(root: &Path, args: &KillArgs) -> anyhow::Result<()> {
    let dir = Dir::of(root, &args.id)?;
    let record = dir.load(&args.id)?;
    let signal = parse_signal(&args.signal)?;
    if dir.status(&record) == Status::Stopped {
        // runc's words: containerd's shim reads "container not running" as "already exited"
        // (NotFound) rather than an unknown error; `--all` on a stopped container is no error.
        if args.all {
            return Ok(());
        }
        bail!("cannot signal container {:?}: container not running", args.id);
    }
    // trapbox's init (PID 1 of the container) is not the program: it is never signalled; the
    // program stands where a runc container's PID 1 would, and gets what the kernel gives a
    // namespace's init from outside it: a signal it catches, and KILL and STOP, no other.
    let init = parent_of(record.guest);
    let targets = if args.all {
        processes_of(record.guest).into_iter().filter(|pid| Some(*pid) != init).collect()
    } else {
        vec![record.guest]
    };
    for pid in targets {
        if pid == record.guest && !takes_as_init(pid, signal) {
            continue;
        }
        match crate::sys::kill(pid, signal) {
            Ok(()) => {}
            Err(errno) if errno.0 == libc::ESRCH => {}
            Err(errno) => bail!(
                "cannot send signal {signal} to process {pid} of container {:?}: {errno}",
                args.id
            ),
        }
    }
    Ok(())
}

/// The parent of process `pid`, as the host numbers it.
fn parent_of(pid: Pid) -> Option<Pid> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("PPid:")).and_then(|p| p.trim().parse().ok())
}

/// Whether a namespace's init would take `signal` sent from outside its namespace: KILL and
/// STOP always, any other only if it has a handler for it (`SigCgt`).
fn takes_as_init(pid: Pid, signal: i32) -> bool {
    if signal == libc::SIGKILL || signal == libc::SIGSTOP {
        return true;
    }
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return true };
    let caught = status.lines().find_map(|l| l.strip_prefix("SigCgt:")).and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok()).unwrap_or(0);
    caught & (1u64 << (signal - 1)) != 0
}

/// `delete`.
fn delete(root: &Path, args: &DeleteArgs) -> anyhow::Result<()> {
    let dir = Dir::of(root, &args.id)?;
    let record = match dir.load(&args.id) {
        Ok(record) => record,
        // A directory left without its state by a create that died: nothing runs there.
        Err(_) if dir.exists() && !dir.state_file().exists() && args.force => {
            return std::fs::remove_dir_all(&dir.path)
                .with_context(|| format!("cannot remove {}", dir.path.display()));
        }
        // runc's `delete --force` of an unknown container succeeds: containerd's shim calls it
        // when it cleans up after its own `delete`.
        Err(_) if !dir.exists() && args.force => return Ok(()),
        Err(err) => return Err(err),
    };
    match dir.status(&record) {
        Status::Stopped => {}
        // runc deletes a created container: its process never ran the program.
        Status::Created => end_monitor(&record),
        Status::Running if args.force => end_monitor(&record),
        Status::Running => bail!(
            "cannot delete container {:?}: it is running (--force ends it first)",
            args.id
        ),
    }
    for cgroup in record.cgroups.iter().rev() {
        let _ = std::fs::remove_dir(cgroup);
    }
    std::fs::remove_dir_all(&dir.path)
        .with_context(|| format!("cannot remove {}", dir.path.display()))
}

/// Kills the container's monitor (its guest dies with it) and waits until it is gone.
fn end_monitor(record: &Record) {
    let _ = crate::sys::kill(record.guest, libc::SIGKILL);
    let _ = crate::sys::kill(record.monitor, libc::SIGKILL);
    for _ in 0..1000 {
        if !state::process_is(record.monitor, record.monitor_start) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// `ps`.
fn ps(root: &Path, args: &PsArgs) -> anyhow::Result<()> {
    let dir = Dir::of(root, &args.id)?;
    let record = dir.load(&args.id)?;
    let pids = if dir.status(&record) == Status::Stopped {
        Vec::new()
    } else {
        processes_of(record.guest)
    };
    match args.format.as_str() {
        "json" => println!("{}", serde_json::to_string(&pids)?),
        "table" => {
            println!("PID\tCMD");
            for pid in pids {
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let cmd: Vec<String> = cmd
                    .split(|b| *b == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                println!("{pid}\t{}", cmd.join(" "));
            }
        }
        other => bail!("--format {other}: table or json"),
    }
    Ok(())
}

/// `list`.
fn list(root: &Path) -> anyhow::Result<()> {
    println!("ID\tPID\tSTATUS\tBUNDLE");
    let mut ids: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    for id in ids {
        let Ok(dir) = Dir::of(root, &id) else {
            continue;
        };
        let Ok(record) = dir.load(&id) else { continue };
        let status = dir.status(&record);
        println!(
            "{id}\t{}\t{}\t{}",
            if status == Status::Stopped {
                0
            } else {
                record.monitor
            },
            status.name(),
            record.bundle.display()
        );
    }
    Ok(())
}

/// The namespaces of a running container's process, to enter (those this process is not in
/// already: entering one's own user namespace is an error).
fn namespaces_of(guest: Pid) -> anyhow::Result<Enter> {
    let open = |name: &str| -> anyhow::Result<Option<OwnedFd>> {
        let theirs = format!("/proc/{guest}/ns/{name}");
        let same = std::fs::read_link(&theirs)
            .ok()
            .zip(std::fs::read_link(format!("/proc/self/ns/{name}")).ok())
            .is_some_and(|(a, b)| a == b);
        if same {
            return Ok(None);
        }
        let file = std::fs::File::open(&theirs)
            .with_context(|| format!("cannot open the container's {name} namespace ({theirs})"))?;
        Ok(Some(OwnedFd::from(file)))
    };
    let mut enter = Enter {
        pid: open("pid")?,
        ..Enter::default()
    };
    for (kind, name) in [
        (libc::CLONE_NEWUSER, "user"),
        (libc::CLONE_NEWNS, "mnt"),
        (libc::CLONE_NEWIPC, "ipc"),
        (libc::CLONE_NEWUTS, "uts"),
        (libc::CLONE_NEWNET, "net"),
        (libc::CLONE_NEWCGROUP, "cgroup"),
    ] {
        if let Some(fd) = open(name)? {
            enter.others.push((kind, fd));
        }
    }
    Ok(enter)
}

/// `exec`: runs another process in the container, under the same policy; its exit status
/// (without --detach), or 0 once a detached one runs.
fn exec(root: &Path, args: &ExecArgs) -> anyhow::Result<u8> {
    let dir = Dir::of(root, &args.id)?;
    let record = dir.load(&args.id)?;
    if dir.status(&record) != Status::Running {
        bail!("cannot exec in container {:?}: it is not running", args.id);
    }
    let spec = spec::load(&record.bundle)?;
    let mut process = match &args.process {
        Some(file) => spec::load_process(file)?,
        None => {
            let Some(process) = spec.process.clone() else {
                bail!("config.json: process: missing")
            };
            if args.command.is_empty() {
                bail!("exec: no command given (and no --process)");
            }
            spec::Process {
                args: args.command.clone(),
                ..process
            }
        }
    };
    process.terminal |= args.tty;
    check_terminal(process.terminal, args.console_socket.as_deref())?;
    if let Some(cwd) = &args.cwd {
        process.cwd = cwd.clone();
    }
    process.env.extend(args.env.iter().cloned());
    if let Some(user) = &args.user {
        let (uid, gid) = user.split_once(':').unwrap_or((user, "0"));
        process.user.uid = uid
            .parse()
            .map_err(|_| anyhow::anyhow!("--user {user}: not UID[:GID]"))?;
        process.user.gid = gid
            .parse()
            .map_err(|_| anyhow::anyhow!("--user {user}: not UID[:GID]"))?;
    }
    let setup = ContainerSetup {
        policy: setup::policy(&spec, &record.rootfs, &process)?,
        program: setup::program(&record.rootfs, &process)?,
        args: process.args.clone(),
        namespaces: None,
        enter: std::sync::Mutex::new(Some(namespaces_of(record.guest)?)),
        start_gate: None,
        user: Some(setup::user(&process)),
        rlimits: setup::rlimits(&process)?,
        drop_capabilities: setup::dropped_capabilities(&process)?,
        terminal: process.terminal,
    };
    let command = container_command(&record.bundle, &spec, setup);
    let console = match &args.console_socket {
        Some(socket) => Some(send_terminal(socket)?),
        None => None,
    };
    if args.detach {
        let (mut ours, theirs) = UnixStream::pair()?;
        let monitor = crate::sys::fork()
            .map_err(|e| anyhow::anyhow!("cannot fork the process's monitor: {e}"))?;
        if monitor == 0 {
            drop(ours);
            if let Some(terminal) = console {
                give_terminal(terminal);
            }
            run_exec_monitor(command, theirs);
        }
        drop(theirs);
        let said = read_message(&mut ours);
        if said != READY {
            let _ = crate::sys::wait_exit(monitor);
            bail!("{}", String::from_utf8_lossy(&said).trim_end());
        }
        if let Some(file) = &args.pid_file {
            write_pid_file(file, monitor)?;
        }
        return Ok(0);
    }
    if let Some(terminal) = console {
        give_terminal(terminal);
    }
    let pid_file = args.pid_file.clone();
    let report = crate::session::host(&command, &mut |_guest| {
        if let Some(file) = &pid_file {
            let _ = write_pid_file(file, crate::sys::own_pid());
        }
    })?;
    Ok(shell_status(report.status) as u8)
}

/// A detached exec's monitor: hosts the process, exits with its status.
fn run_exec_monitor(command: crate::Command, ready: UnixStream) -> ! {
    let mut ready = Some(ready);
    let hosted = crate::session::host(&command, &mut |_guest| {
        if let Some(mut stream) = ready.take() {
            let _ = stream.write_all(READY);
        }
    });
    let code = monitor_exit_code(hosted, &mut ready);
    crate::sys::exit_now(code)
}

/// A program's exit status as a shell (and an engine's shim) reports it: its code, or 128 +
/// the signal that killed it.
fn shell_status(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    }
}

/// What a monitor exits with once its run is over: the program's status; or, when the run
/// failed, 255, the reason told to whoever waits for the monitor to be ready (on one line), or
/// else logged.
fn monitor_exit_code(hosted: anyhow::Result<crate::Report>, ready: &mut Option<UnixStream>) -> i32 {
    match hosted {
        Ok(report) => shell_status(report.status),
        Err(err) => {
            let text = format!("{err:#}").replace('\n', " ");
            match ready.take() {
                Some(mut stream) => {
                    let _ = stream.write_all(format!("{text}\n").as_bytes());
                }
                None => crate::host_log!("trapbox-oci: error: {text}"),
            }
            255
        }
    }
}

/// `features` (runc's format).
fn features() -> serde_json::Value {
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": spec::OCI_VERSION,
        "hooks": [],
        "mountOptions": ["bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "private", "rprivate", "size", "mode"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": spec::CAPABILITIES.to_vec(),
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {"enabled": false},
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false}
        },
        "annotations": {
            "dev.trapbox.version": env!("CARGO_PKG_VERSION"),
            "dev.trapbox.mediation": "every system call of the container is decided by a trapbox host",
        }
    })
}
