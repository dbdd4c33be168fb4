//! The stub page and the injector: making a stopped guest thread run code the host chose.
//!
//! The stub page is host-owned code at the fixed address [`crate::trap::pinned::STUB_BASE`] of every
//! guest process, mapped read+execute from the same sealed memfd as the pinned-argument region
//! right after each exec (fork children inherit it), so the guest can neither write it nor
//! replace it (see [`crate::trap::pinned`]):
//!
//! | offset | bytes | code | use |
//! |---|---|---|---|
//! | 0 | `0F 05 C2 80 00` | `syscall; ret 128` | fast path: the host stores the resume address at `rsp-136`, sets `rsp -= 136`, `rip = stub` |
//! | 8 | `0F 05 CC` | `syscall; int3` | slow path: the `int3` stops the thread and the host moves `rip` to the resume address |
//!
//! Its `syscall` has no special rights: the seccomp backstop has no instruction-pointer rule,
//! so a guest jumping there gains nothing it could not do with its own `syscall` instruction.
//!
//! The injector makes a thread execute one system call with arbitrary arguments from a
//! `syscall` instruction the guest cannot change (the stub's, or the vDSO's right after exec,
//! before any guest code has run), stopping at the syscall-exit stop so nothing after the
//! instruction runs, then restores every general-purpose register. In a process that has run
//! none of its own code since exec ([`Follow::SingleStep`]) it single-steps that one
//! instruction instead: one stop after the call rather than one at its entry and one at its
//! exit, and still nothing but that instruction runs. It touches no memory (the
//! red zone stays intact) and no vector register. It approves only its own call: a seccomp stop
//! for any other number, arguments or address is skipped (`EPERM`) and fails the injection, and
//! a synchronous signal instead of the call (syscall user dispatch's `SIGSYS`, a fault, a trap)
//! fails it too, so no guest state can make it run something else or loop. Asynchronous signals
//! that arrive meanwhile are kept and delivered afterwards; other threads' events are queued
//! for the event loop.

use std::collections::VecDeque;

use crate::sys::{self, Errno, Pid, WaitStatus};

/// Offset of the fast-path entry (`syscall; ret 128`).
pub const FAST: u64 = 0;
/// Offset of the slow-path entry (`syscall; int3`).
pub const SLOW: u64 = 8;
/// `rip` after the slow path's `syscall` (where fork/clone children and event stops see it).
pub const SLOW_RETURN: u64 = SLOW + 2;
/// `rip` reported at the slow path's `int3` stop.
pub const SLOW_TRAP_IP: u64 = SLOW + 3;
/// `rip` after the fast path's `syscall`.
pub const FAST_RETURN: u64 = FAST + 2;
/// How far below `rsp` the fast path stores its return address: past the 128-byte red zone.
pub const FAST_STACK_DROP: u64 = 136;
/// The stub page's length.
pub const STUB_LEN: u64 = 4096;

/// The stub's code (the rest of the page is `int3`).
pub const STUB_CODE: [u8; 16] = [
    0x0F, 0x05, 0xC2, 0x80, 0x00, 0xCC, 0xCC, 0xCC, // syscall; ret 128
    0x0F, 0x05, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, // syscall; int3
];

/// The whole stub page: [`STUB_CODE`], then `int3` to the end.
pub fn stub_page() -> Vec<u8> {
    let mut page = vec![0xCCu8; STUB_LEN as usize];
    page[..STUB_CODE.len()].copy_from_slice(&STUB_CODE);
    page
}

/// Why an injection did not complete.
#[derive(Debug)]
pub enum InjectError {
    /// The thread exited or was killed meanwhile; its wait status when the injector collected it.
    Gone(Option<WaitStatus>),
    /// A ptrace call failed for another reason.
    Failed(Errno),
    /// The thread did not run the injected call as injected (another call reached its seccomp
    /// stop, or a synchronous signal came instead): the registers are restored, nothing ran.
    Diverted(&'static str),
    /// Another thread of the process exec'ed meanwhile: the kernel killed this one and gave its
    /// id to the exec'ing thread, whose exec event this stop is (the new program's registers,
    /// left alone).
    Replaced(WaitStatus),
}

impl std::fmt::Display for InjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InjectError::Gone(_) => write!(f, "the thread is gone"),
            InjectError::Failed(err) => write!(f, "{err}"),
            InjectError::Diverted(why) => write!(f, "refused: {why}"),
            InjectError::Replaced(_) => write!(f, "another thread exec'ed and took its id"),
        }
    }
}

/// How the injector follows the thread through the injected call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// Stops at the call's entry (checked before it runs) and at its exit: for any thread.
    EntryAndExit,
    /// The one instruction single-stepped, the call checked at the stop after it (its number
    /// still in `orig_rax`, the instruction pointer right after the `syscall`, the argument
    /// registers, which a call preserves, unchanged): one stop instead of two. Only for a
    /// process that has one thread and has run none of its own code since exec, so that the
    /// instruction at `syscall_at` is the kernel's or the host's and no other thread can have
    /// changed anything the call reads. (Stepping runs that instruction alone whatever it is,
    /// and a seccomp stop on the way is still checked, so the call cannot be another one.)
    SingleStep,
}

/// How many stops an injection may see before it gives up (the call itself needs two or
/// three; the rest are asynchronous signals arriving meanwhile).
const MAX_INJECTION_STOPS: u32 = 64;

impl From<Errno> for InjectError {
    fn from(err: Errno) -> Self {
        if err == Errno::ESRCH {
            InjectError::Gone(None)
        } else {
            InjectError::Failed(err)
        }
    }
}

/// What a failed ptrace call means: ESRCH is a thread that died under us (its exit status
/// comes through the event loop's wait).
fn collect_exit(_tid: Pid, err: Errno) -> InjectError {
    InjectError::from(err)
}

/// One call for the injector: `number(args)` from the `syscall` instruction at `syscall_at`,
/// followed as `follow` says.
#[derive(Debug, Clone, Copy)]
pub struct InjectedCall {
    pub syscall_at: u64,
    pub number: u64,
    pub args: [u64; 6],
    pub follow: Follow,
}

/// Makes the stopped thread `tid` execute `call`, and restores its registers. Call it only at
/// a stop outside a system call (a signal-delivery stop) or at a syscall-exit stop. Returns
/// the raw result (`-errno` on error).
pub fn inject_syscall(
    tid: Pid,
    call: InjectedCall,
    pending_signals: &mut Vec<i32>,
    deferred: &mut VecDeque<(Pid, WaitStatus)>,
) -> Result<u64, InjectError> {
    let saved = sys::get_regs(tid)?;
    let result = inject_leaving_registers(tid, &saved, call, pending_signals, deferred)?;
    sys::set_regs(tid, &saved).map_err(|e| collect_exit(tid, e))?;
    Ok(result)
}

/// [`inject_syscall`] for one call of a sequence: `saved` are the thread's registers before
/// the sequence, and the caller puts them back after its last call (one read and one write
/// of the registers for the whole sequence, not one each per call). A call that fails puts
/// them back itself.
pub fn inject_leaving_registers(
    tid: Pid,
    saved: &sys::Regs,
    call: InjectedCall,
    pending_signals: &mut Vec<i32>,
    deferred: &mut VecDeque<(Pid, WaitStatus)>,
) -> Result<u64, InjectError> {
    let InjectedCall { syscall_at, number, args, follow } = call;
    let saved = *saved;
    let mut regs = saved;
    regs.rax = number;
    regs.orig_rax = u64::MAX; // not in a syscall: no restart logic may touch our registers
    regs.rdi = args[0];
    regs.rsi = args[1];
    regs.rdx = args[2];
    regs.r10 = args[3];
    regs.r8 = args[4];
    regs.r9 = args[5];
    regs.rip = syscall_at;
    sys::set_regs(tid, &regs)?;
    let mut syscall_stops = 0;
    let mut diverted: Option<&'static str> = None;
    let ours = |regs: &sys::Regs| {
        regs.orig_rax == number
            && regs.rip == syscall_at.wrapping_add(2)
            && [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9] == args
    };
    for _ in 0..MAX_INJECTION_STOPS {
        let resumed = match follow {
            Follow::EntryAndExit => sys::cont_syscall(tid, 0),
            Follow::SingleStep => sys::single_step(tid, 0),
        };
        if let Err(err) = resumed {
            return Err(collect_exit(tid, err));
        }
        // Wait for any thread, not just this one: a killed group leader is reported only after
        // its other threads have been reaped, so waiting for it alone could wait forever.
        let status = loop {
            match crate::trap::events::next_stop() {
                Ok((pid, status)) if pid == tid => break status,
                Ok(other) => deferred.push_back(other),
                Err(err) => return Err(InjectError::Failed(err)),
            }
        };
        match status {
            WaitStatus::Exited(_) | WaitStatus::Signaled { .. } => return Err(InjectError::Gone(Some(status))),
            WaitStatus::Stopped { signal, event: 0 } if signal == libc::SIGTRAP | 0x80 => {
                syscall_stops += 1;
                if syscall_stops == 1 {
                    // The entry: the call about to run must be the injected one.
                    let mut regs = sys::get_regs(tid).map_err(|e| collect_exit(tid, e))?;
                    if !ours(&regs) {
                        diverted = Some("the thread entered another call than the injected one");
                        regs.orig_rax = u64::MAX;
                        sys::set_regs(tid, &regs).map_err(|e| collect_exit(tid, e))?;
                    }
                }
                if syscall_stops == 2 {
                    let after = sys::get_regs(tid).map_err(|e| collect_exit(tid, e))?;
                    return match diverted {
                        Some(why) => {
                            sys::set_regs(tid, &saved).map_err(|e| collect_exit(tid, e))?;
                            Err(InjectError::Diverted(why))
                        }
                        None => Ok(after.rax),
                    };
                }
            }
            WaitStatus::Stopped { event: sys::EVENT_SECCOMP, .. } => {
                // Only the injected call is approved; anything else never runs.
                let mut regs = sys::get_regs(tid).map_err(|e| collect_exit(tid, e))?;
                if !ours(&regs) {
                    diverted = Some("another call than the injected one reached the backstop");
                    regs.orig_rax = u64::MAX;
                    regs.rax = trapbox_abi::errno::encode_error(libc::EPERM);
                    sys::set_regs(tid, &regs).map_err(|e| collect_exit(tid, e))?;
                }
            }
            // The step's trap: the instruction ran, and it was the injected call or nothing
            // of ours ran.
            WaitStatus::Stopped { signal: libc::SIGTRAP, event: 0 } if follow == Follow::SingleStep => {
                let after = sys::get_regs(tid).map_err(|e| collect_exit(tid, e))?;
                // A SIGTRAP another process sent is the guest's, delivered afterwards; one
                // that came before the instruction ran leaves it still to be stepped.
                if matches!(sys::signal_sender(tid), Ok(Some(_))) {
                    pending_signals.push(libc::SIGTRAP);
                    if after.rip == syscall_at && after.orig_rax == u64::MAX {
                        continue;
                    }
                }
                return match diverted {
                    None if ours(&after) => Ok(after.rax),
                    diverted => {
                        sys::set_regs(tid, &saved).map_err(|e| collect_exit(tid, e))?;
                        Err(InjectError::Diverted(diverted.unwrap_or("the stepped instruction was not the injected call")))
                    }
                };
            }
            WaitStatus::Stopped { event: sys::EVENT_EXEC, .. } => return Err(InjectError::Replaced(status)),
            // A group-stop or another event: go on.
            WaitStatus::Stopped { event, .. } if event != 0 => {}
            // The call did not run as a call: syscall user dispatch turned it into SIGSYS, or
            // the thread faulted or trapped. Put everything back and fail.
            WaitStatus::Stopped { signal: libc::SIGSYS | libc::SIGTRAP | libc::SIGILL | libc::SIGSEGV | libc::SIGBUS | libc::SIGFPE, .. } => {
                sys::set_regs(tid, &saved).map_err(|e| collect_exit(tid, e))?;
                return Err(InjectError::Diverted("the thread took a synchronous signal instead of the call"));
            }
            WaitStatus::Stopped { signal, .. } => pending_signals.push(signal),
            WaitStatus::Other => {}
        }
    }
    sys::set_regs(tid, &saved).map_err(|e| collect_exit(tid, e))?;
    Err(InjectError::Diverted("the call did not complete within the injector's bound of stops"))
}

/// Where the first `syscall` instruction and the first 0 byte lie in the x86-64 vDSO of the
/// length it has on this kernel: one image, the same in every x86-64 process, so it is read
/// once per host run and not at every exec.
static VDSO_OFFSETS: std::sync::Mutex<Option<VdsoOffsets>> = std::sync::Mutex::new(None);

#[derive(Clone, Copy)]
struct VdsoOffsets {
    len: u64,
    syscall: u64,
    nul: u64,
}

/// A `syscall` instruction and a 0 byte in the vDSO of `pid` (the 0 byte serves as an empty
/// string argument for an injected call). `known` is the vDSO's range as a scan of the
/// process's maps since its exec found it; without one, the maps are read here. For a
/// process of x86-64 files alone (`x86_64`), whose vDSO is the kernel's x86-64 image, the
/// offsets found in the first such process serve for every later one.
pub fn vdso_points(pid: Pid, known: Option<(u64, u64)>, x86_64: bool) -> Option<(u64, u64)> {
    let (start, end) = match known {
        Some(range) => range,
        None => {
            let maps = sys::read_proc(&format!("/proc/{pid}/maps")).ok()?;
            let line = maps.lines().find(|l| l.ends_with("[vdso]"))?;
            let (start, rest) = line.split_once('-')?;
            let end = rest.split(' ').next()?;
            (u64::from_str_radix(start, 16).ok()?, u64::from_str_radix(end, 16).ok()?)
        }
    };
    let len = end.checked_sub(start)?;
    let cached = *VDSO_OFFSETS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(offsets) = cached.filter(|o| x86_64 && o.len == len) {
        return Some((start + offsets.syscall, start + offsets.nul));
    }
    let mut bytes = vec![0u8; usize::try_from(len).ok()?.min(64 * 1024)];
    let got = sys::read_memory(pid, start, &mut bytes).ok()?;
    let syscall = bytes[..got].windows(2).position(|w| w == [0x0F, 0x05])? as u64;
    let nul = bytes[..got].iter().position(|&b| b == 0)? as u64;
    if x86_64 {
        *VDSO_OFFSETS.lock().unwrap_or_else(|e| e.into_inner()) = Some(VdsoOffsets { len, syscall, nul });
    }
    Some((start + syscall, start + nul))
}
