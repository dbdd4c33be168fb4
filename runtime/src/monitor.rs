//! The process that hosts a guest started by [`crate::Command::spawn`], and the embedding
//! program's side of it.
//!
//! The embedding program prepares the run ([`crate::session::prepare`]: the policy's files,
//! the environment, the program's path; an error returns from `spawn` at once), then forks the
//! monitor, which hosts the guest exactly as `trapbox run` does. Two sockets join them:
//!
//! - *control*: the monitor says `Started` (the guest's pid) and, at the end, `Finished` (its
//!   wait status and denial count) or `Failed` (why); in between it forwards each custom
//!   hostcall, and the embedding program's handler asks it for the guest's memory
//!   (`MemRead`, `MemWrite`) until it answers (`Result`). One thread of the [`Child`] serves
//!   it; the monitor's debugger waits for the answer, as for any call it performs.
//! - *lifeline*: a byte from the program kills the guest ([`crate::Child::kill`]); its end (the
//!   `Child` dropped, the program gone) kills it too, so no guest outlives its watcher.
//!
//! [`Child`]: crate::Child

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use crate::command::{Command, Errno, Error, GuestMemory, Handlers, Report, Stdio};
use crate::session::{EmbedderHostcalls, ThreadMemory};
use crate::sys::Pid;

/// The largest message either side accepts (a [`crate::Hostcall::read`] of the most it
/// copies, and its header).
const MESSAGE_MAX: usize = crate::command::HOSTCALL_READ_MAX + 64;

/// One message on the control socket.
#[derive(Debug, PartialEq, Eq)]
enum Message {
    Started { pid: i32 },
    Finished { wait_status: i32, denials: u64 },
    Failed { why: String },
    Hostcall { number: u64, args: [u64; 6], pid: u32 },
    MemReply { errno: i32, bytes: Vec<u8> },
    MemRead { addr: u64, len: u64 },
    MemWrite { addr: u64, bytes: Vec<u8> },
    Result { raw: u64, panicked: bool },
}

impl Message {
    fn encode(&self) -> Vec<u8> {
        let mut out = vec![0; 4];
        let u64s = |out: &mut Vec<u8>, values: &[u64]| values.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        match self {
            Message::Started { pid } => {
                out.push(1);
                u64s(&mut out, &[*pid as u64]);
            }
            Message::Finished { wait_status, denials } => {
                out.push(2);
                u64s(&mut out, &[*wait_status as u64, *denials]);
            }
            Message::Failed { why } => {
                out.push(3);
                out.extend_from_slice(why.as_bytes());
            }
            Message::Hostcall { number, args, pid } => {
                out.push(4);
                u64s(&mut out, &[*number, u64::from(*pid)]);
                u64s(&mut out, args);
            }
            Message::MemReply { errno, bytes } => {
                out.push(5);
                u64s(&mut out, &[*errno as u64]);
                out.extend_from_slice(bytes);
            }
            Message::MemRead { addr, len } => {
                out.push(6);
                u64s(&mut out, &[*addr, *len]);
            }
            Message::MemWrite { addr, bytes } => {
                out.push(7);
                u64s(&mut out, &[*addr]);
                out.extend_from_slice(bytes);
            }
            Message::Result { raw, panicked } => {
                out.push(8);
                u64s(&mut out, &[*raw, u64::from(*panicked)]);
            }
        }
        let len = (out.len() - 4) as u32;
        out[..4].copy_from_slice(&len.to_le_bytes());
        out
    }

    fn decode(body: &[u8]) -> Option<Message> {
        let (&tag, rest) = body.split_first()?;
        let word = |i: usize| rest.get(i * 8..i * 8 + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
        Some(match tag {
            1 => Message::Started { pid: word(0)? as i32 },
            2 => Message::Finished { wait_status: word(0)? as i32, denials: word(1)? },
            3 => Message::Failed { why: String::from_utf8_lossy(rest).into_owned() },
            4 => Message::Hostcall {
                number: word(0)?,
                pid: word(1)? as u32,
                args: [word(2)?, word(3)?, word(4)?, word(5)?, word(6)?, word(7)?],
            },
            5 => Message::MemReply { errno: word(0)? as i32, bytes: rest.get(8..)?.to_vec() },
            6 => Message::MemRead { addr: word(0)?, len: word(1)? },
            7 => Message::MemWrite { addr: word(0)?, bytes: rest.get(8..)?.to_vec() },
            8 => Message::Result { raw: word(0)?, panicked: word(1)? != 0 },
            _ => return None,
        })
    }
}

fn send(socket: &mut UnixStream, message: &Message) -> std::io::Result<()> {
    socket.write_all(&message.encode())
}

fn receive(socket: &mut UnixStream) -> std::io::Result<Message> {
    let mut len = [0u8; 4];
    socket.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MESSAGE_MAX {
        return Err(std::io::Error::other(format!("a monitor message of {len} bytes is over the limit")));
    }
    let mut body = vec![0; len];
    socket.read_exact(&mut body)?;
    Message::decode(&body).ok_or_else(|| std::io::Error::other("a malformed monitor message"))
}

/// The monitor's side of custom hostcalls: each is forwarded to the embedding program,
/// whose handler's requests for the guest's memory it serves until the answer comes.
#[derive(Debug)]
struct ForwardedHostcalls {
    numbers: BTreeSet<u64>,
    control: Arc<Mutex<UnixStream>>,
}

impl EmbedderHostcalls for ForwardedHostcalls {
    fn handles(&self, number: u64) -> bool {
        self.numbers.contains(&number)
    }

    fn serve(&self, tid: Pid, tgid: Pid, number: u64, args: [u64; 6]) -> u64 {
        let mut control = self.control.lock().unwrap_or_else(|e| e.into_inner());
        let failed = trapbox_abi::errno::encode_error(libc::EIO);
        if send(&mut control, &Message::Hostcall { number, args, pid: tgid as u32 }).is_err() {
            return failed;
        }
        let mut memory = ThreadMemory(tid);
        loop {
            let reply = match receive(&mut control) {
                Ok(Message::Result { raw, panicked }) => {
                    if panicked {
                        crate::command::log_panicked(number);
                    }
                    return raw;
                }
                Ok(Message::MemRead { addr, len }) => match usize::try_from(len).ok().filter(|&n| n <= crate::command::HOSTCALL_READ_MAX) {
                    None => Message::MemReply { errno: libc::EINVAL, bytes: Vec::new() },
                    Some(len) => {
                        let mut bytes = vec![0; len];
                        match memory.read(addr, &mut bytes) {
                            Ok(()) => Message::MemReply { errno: 0, bytes },
                            Err(Errno(errno)) => Message::MemReply { errno, bytes: Vec::new() },
                        }
                    }
                },
                Ok(Message::MemWrite { addr, bytes }) => {
                    let errno = memory.write(addr, &bytes).err().map_or(0, |Errno(e)| e);
                    Message::MemReply { errno, bytes: Vec::new() }
                }
                // The program is gone, or said something else: the call fails, the run goes on
                // (the lifeline ends it if the program is gone).
                _ => return failed,
            };
            if send(&mut control, &reply).is_err() {
                return failed;
            }
        }
    }
}

/// The embedding program's side of the guest's memory during a handler: requests to the
/// monitor, which reads and writes it as the guest's tracer.
struct RemoteMemory<'a>(&'a mut UnixStream);

impl RemoteMemory<'_> {
    fn ask(&mut self, request: &Message) -> Result<Vec<u8>, Errno> {
        send(self.0, request).map_err(|_| Errno::EIO)?;
        match receive(self.0) {
            Ok(Message::MemReply { errno: 0, bytes }) => Ok(bytes),
            Ok(Message::MemReply { errno, .. }) => Err(Errno(errno)),
            _ => Err(Errno::EIO),
        }
    }
}

impl GuestMemory for RemoteMemory<'_> {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        let bytes = self.ask(&Message::MemRead { addr, len: buf.len() as u64 })?;
        if bytes.len() != buf.len() {
            return Err(Errno::EIO);
        }
        buf.copy_from_slice(&bytes);
        Ok(())
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
        self.ask(&Message::MemWrite { addr, bytes: bytes.to_vec() }).map(drop)
    }
}

/// The embedding program's handle on a monitor.
#[derive(Debug)]
pub(crate) struct Monitor {
    pid: Pid,
    guest_pid: Pid,
    lifeline: Option<UnixStream>,
    /// Serves the control socket until the end; its result is the run's.
    control: Option<std::thread::JoinHandle<Result<Report, Error>>>,
}

impl Monitor {
    pub(crate) fn guest_pid(&self) -> u32 {
        self.guest_pid as u32
    }

    pub(crate) fn kill(&mut self) -> Result<(), Error> {
        match &mut self.lifeline {
            // A monitor already gone has nothing left to kill.
            Some(lifeline) => match lifeline.write_all(b"K") {
                Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    pub(crate) fn wait(&mut self) -> Result<Report, Error> {
        let result = match self.control.take() {
            Some(control) => control.join().unwrap_or_else(|_| Err(Error::Host("the thread serving the monitor panicked".into()))),
            None => Err(Error::Host("the run was already waited for".into())),
        };
        self.lifeline = None;
        // The monitor exits right after its last message (its status says nothing more).
        let _ = crate::sys::wait_exit(self.pid);
        result
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if self.control.is_some() {
            let _ = self.kill();
            let _ = self.wait();
        }
    }
}

/// The guest's end of one standard stream (`None`: the monitor's own, the program's), and
/// the program's end when piped; the guest reads stdin (`guest_reads`) and writes the others.
fn stream(stdio: Option<&Stdio>, guest_reads: bool) -> Result<(Option<OwnedFd>, Option<OwnedFd>), Error> {
    Ok(match stdio {
        None | Some(Stdio::Inherit) => (None, None),
        Some(Stdio::Null) => (Some(std::fs::OpenOptions::new().read(true).write(true).open("/dev/null")?.into()), None),
        Some(Stdio::Fd(fd)) => (Some(fd.try_clone()?), None),
        Some(Stdio::Piped) => {
            let (reader, writer): (OwnedFd, OwnedFd) = std::io::pipe().map(|(r, w)| (r.into(), w.into()))?;
            if guest_reads { (Some(reader), Some(writer)) } else { (Some(writer), Some(reader)) }
        }
    })
}

/// Starts `command`'s guest under a monitor of its own.
pub(crate) fn spawn(command: &Command) -> Result<crate::Child, Error> {
    let prepared = crate::session::prepare(command)?;
    let (stdin_theirs, stdin_ours) = stream(command.stdio[0].as_deref(), true)?;
    let (stdout_theirs, stdout_ours) = stream(command.stdio[1].as_deref(), false)?;
    let (stderr_theirs, stderr_ours) = stream(command.stdio[2].as_deref(), false)?;
    let guest_ends = [stdin_theirs, stdout_theirs, stderr_theirs];
    let (mut control, monitor_control) = UnixStream::pair()?;
    let (lifeline, monitor_lifeline) = UnixStream::pair()?;
    let pid = crate::sys::fork().map_err(|e| Error::Host(format!("cannot fork the guest's monitor: {e}")))?;
    if pid == 0 {
        drop((control, lifeline, stdin_ours, stdout_ours, stderr_ours));
        run_monitor(command, prepared, guest_ends, monitor_control, monitor_lifeline);
    }
    drop((guest_ends, monitor_control, monitor_lifeline));
    let guest_pid = match receive(&mut control) {
        Ok(Message::Started { pid: guest }) => guest,
        Ok(Message::Failed { why }) => {
            let _ = crate::sys::wait_exit(pid);
            return Err(Error::Host(why));
        }
        other => {
            let _ = crate::sys::kill(pid, libc::SIGKILL);
            let _ = crate::sys::wait_exit(pid);
            return Err(Error::Host(format!("the guest's monitor failed to start it ({other:?})")));
        }
    };
    let handlers = command.handlers.clone();
    let served = std::thread::Builder::new().name("trapbox-monitor".into()).spawn(move || serve_control(control, &handlers))?;
    Ok(crate::Child {
        stdin: stdin_ours.map(std::io::PipeWriter::from),
        stdout: stdout_ours.map(std::io::PipeReader::from),
        stderr: stderr_ours.map(std::io::PipeReader::from),
        monitor: Monitor { pid, guest_pid, lifeline: Some(lifeline), control: Some(served) },
    })
}

/// The embedding program's thread of one monitor: serves its hostcalls until it ends.
fn serve_control(mut control: UnixStream, handlers: &Handlers) -> Result<Report, Error> {
    loop {
        match receive(&mut control) {
            Ok(Message::Hostcall { number, args, pid }) => {
                let (raw, panicked) = crate::command::dispatch(handlers, number, args, pid, &mut RemoteMemory(&mut control));
                send(&mut control, &Message::Result { raw, panicked })?;
            }
            Ok(Message::Finished { wait_status, denials }) => {
                return Ok(Report { status: std::os::unix::process::ExitStatusExt::from_raw(wait_status), denials });
            }
            Ok(Message::Failed { why }) => return Err(Error::Host(why)),
            Ok(other) => return Err(Error::Host(format!("the guest's monitor sent {other:?} out of turn"))),
            Err(err) => return Err(Error::Host(format!("the guest's monitor died before the run ended ({err})"))),
        }
    }
}

/// The monitor: hosts the run, tells the program, exits.
fn run_monitor(
    command: &Command,
    prepared: crate::session::Prepared,
    guest_ends: [Option<OwnedFd>; 3],
    control: UnixStream,
    lifeline: UnixStream,
) -> ! {
    let mut keep: Vec<i32> = prepared.keep_fds.clone();
    keep.extend(guest_ends.iter().flatten().map(|fd| fd.as_raw_fd()));
    keep.extend([control.as_raw_fd(), lifeline.as_raw_fd()]);
    crate::sys::close_fds_except(&keep);
    crate::sys::reset_signals();
    let control = Arc::new(Mutex::new(control));
    let guest = Arc::new(AtomicI32::new(0));
    watch_lifeline(lifeline, guest.clone());
    let hostcalls: Option<Arc<dyn EmbedderHostcalls>> = (!command.handlers.is_empty()).then(|| {
        Arc::new(ForwardedHostcalls { numbers: command.handlers.keys().copied().collect(), control: control.clone() }) as Arc<dyn EmbedderHostcalls>
    });
    let stdio = guest_ends.each_ref().map(|fd| fd.as_ref().map_or(-1, |fd| fd.as_raw_fd()));
    let mut started = |pid: Pid| {
        guest.store(pid, Ordering::SeqCst);
        let mut control = control.lock().unwrap_or_else(|e| e.into_inner());
        let _ = send(&mut control, &Message::Started { pid });
    };
    let result = crate::session::host_prepared(command, prepared, hostcalls, stdio, &mut started);
    let message = match result {
        Ok(report) => {
            Message::Finished { wait_status: std::os::unix::process::ExitStatusExt::into_raw(report.status), denials: report.denials }
        }
        Err(err) => Message::Failed { why: format!("{err:#}") },
    };
    let mut control = control.lock().unwrap_or_else(|e| e.into_inner());
    let _ = send(&mut control, &message);
    crate::sys::exit_now(0)
}

/// Kills the guest when the program asks, or when its end of the lifeline closes.
fn watch_lifeline(mut lifeline: UnixStream, guest: Arc<AtomicI32>) {
    let watcher = std::thread::Builder::new().name("trapbox-lifeline".into()).spawn(move || {
        let mut byte = [0u8; 1];
        loop {
            let ended = !matches!(lifeline.read(&mut byte), Ok(1));
            let pid = guest.load(Ordering::SeqCst);
            if pid > 0 {
                let _ = crate::sys::kill(pid, libc::SIGKILL);
            } else if ended {
                crate::sys::exit_now(1); // nobody waits for a guest that has not started
            }
            if ended {
                return;
            }
        }
    });
    if watcher.is_err() {
        crate::sys::exit_now(1);
    }
}

#[cfg(test)]
mod tests {
    use super::Message;

    #[test]
    fn every_message_survives_the_wire() {
        let messages = [
            Message::Started { pid: 42 },
            Message::Finished { wait_status: 3 << 8, denials: 7 },
            Message::Failed { why: "cannot execute /nope: No such file".into() },
            Message::Hostcall { number: 0x1000_0800, args: [1, 2, 3, 4, 5, u64::MAX], pid: 9 },
            Message::MemReply { errno: 0, bytes: b"guest bytes".to_vec() },
            Message::MemReply { errno: libc::EFAULT, bytes: Vec::new() },
            Message::MemRead { addr: 0x7fff_0000, len: 64 },
            Message::MemWrite { addr: 0x1000, bytes: vec![0, 255] },
            Message::Result { raw: (-38i64) as u64, panicked: true },
        ];
        for message in messages {
            let wire = message.encode();
            assert_eq!(u32::from_le_bytes(wire[..4].try_into().unwrap()) as usize, wire.len() - 4);
            assert_eq!(Message::decode(&wire[4..]), Some(message));
        }
        assert_eq!(Message::decode(&[]), None);
        assert_eq!(Message::decode(&[4, 1, 2]), None, "a short hostcall is malformed, not zeros");
        assert_eq!(Message::decode(&[99]), None);
    }
}
