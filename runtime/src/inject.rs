//! The stub page and the injector: making a stopped guest thread run code the host chose.
//!
//! The stub page is a host-owned, read+execute anonymous page mapped into every guest process
//! that has trap sites (lazily, at its first trap; fork children inherit it):
//!
//! | offset | bytes | code | use |
//! |---|---|---|---|
//! | 0 | `0F 05 C2 80 00` | `syscall; ret 128` | fast path: the host stores the resume address at `rsp-136`, sets `rsp -= 136`, `rip = stub` |
//! | 8 | `0F 05 CC` | `syscall; int3` | slow path: the `int3` stops the thread and the host moves `rip` to the resume address |
//!
//! Its `syscall` has no special rights: the seccomp backstop has no instruction-pointer rule,
//! so a guest jumping there gains nothing it could not do with its own `syscall` instruction.
//!
//! The injector makes a thread execute one system call with arbitrary arguments from any
//! `syscall` instruction (the stub's, or one in the vDSO before the stub exists), stopping at
//! the syscall-exit stop so nothing after the instruction runs, then restores every
//! general-purpose register. It touches no memory (the red zone stays intact) and no vector
//! register. Signals that arrive meanwhile are kept and delivered afterwards; other threads'
//! events are queued for the event loop.

use std::collections::VecDeque;

use trapbox_abi::linux::nr;

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

/// Why an injection did not complete.
#[derive(Debug)]
pub enum InjectError {
    /// The thread exited or was killed meanwhile; its wait status when the injector collected it.
    Gone(Option<WaitStatus>),
    /// A ptrace call failed for another reason.
    Failed(Errno),
}

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

/// Makes the stopped thread `tid` execute `nr(args)` from the `syscall` instruction at
/// `syscall_at`, and restores its registers. Call it only at a stop outside a system call
/// (a signal-delivery stop) or at a syscall-exit stop. Returns the raw result (`-errno` on error).
pub fn inject_syscall(
    tid: Pid,
    syscall_at: u64,
    number: u64,
    args: [u64; 6],
    pending_signals: &mut Vec<i32>,
    deferred: &mut VecDeque<(Pid, WaitStatus)>,
) -> Result<u64, InjectError> {
    let saved = sys::get_regs(tid)?;
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
    loop {
        if let Err(err) = sys::cont_syscall(tid, 0) {
            return Err(collect_exit(tid, err));
        }
        // Wait for any thread, not just this one: a killed group leader is reported only after
        // its other threads have been reaped, so waiting for it alone could wait forever.
        let status = loop {
            match sys::wait(None) {
                Ok((pid, status)) if pid == tid => break status,
                Ok(other) => deferred.push_back(other),
                Err(err) => return Err(InjectError::Failed(err)),
            }
        };
        match status {
            WaitStatus::Exited(_) | WaitStatus::Signaled { .. } => return Err(InjectError::Gone(Some(status))),
            WaitStatus::Stopped { signal, event: 0 } if signal == libc::SIGTRAP | 0x80 => {
                syscall_stops += 1;
                if syscall_stops == 2 {
                    let after = sys::get_regs(tid).map_err(|e| collect_exit(tid, e))?;
                    sys::set_regs(tid, &saved).map_err(|e| collect_exit(tid, e))?;
                    return Ok(after.rax);
                }
            }
            // Our own call's seccomp stop (approved), a group-stop, or another event: go on.
            WaitStatus::Stopped { event, .. } if event != 0 => {}
            WaitStatus::Stopped { signal, .. } => pending_signals.push(signal),
            WaitStatus::Other => {}
        }
    }
}

/// Maps a fresh stub page into the process of `tid` (through the `syscall` at `syscall_at`)
/// and fills it. Returns its address.
pub fn map_stub(
    tid: Pid,
    syscall_at: u64,
    pending_signals: &mut Vec<i32>,
    deferred: &mut VecDeque<(Pid, WaitStatus)>,
) -> Result<u64, InjectError> {
    let prot = (libc::PROT_READ | libc::PROT_EXEC) as u64;
    let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
    let addr = inject_syscall(tid, syscall_at, nr::MMAP, [0, STUB_LEN, prot, flags, u64::MAX, 0], pending_signals, deferred)?;
    if let Err(errno) = trapbox_abi::errno::decode(addr) {
        return Err(InjectError::Failed(Errno(errno)));
    }
    // ptrace writes ignore page protections (a private page gets its own copy), so the
    // guest's view stays read+execute.
    let mut page = vec![0xCCu8; 64];
    page[..STUB_CODE.len()].copy_from_slice(&STUB_CODE);
    sys::poke_bytes(tid, addr, &page).map_err(|e| collect_exit(tid, e))?;
    Ok(addr)
}

/// The address of a `syscall` instruction (`0F 05`) in the vDSO of `pid`, used to inject
/// the stub's `mmap` before the stub exists. Any `0F 05` pair works: execution jumps straight
/// to it and the injector stops at the syscall exit, so what surrounds it never runs.
pub fn vdso_syscall(pid: Pid) -> Option<u64> {
    vdso_points(pid).map(|(syscall, _)| syscall)
}

/// A `syscall` instruction and a 0 byte in the vDSO of `pid` (the 0 byte serves as an empty
/// string argument for an injected call).
pub fn vdso_points(pid: Pid) -> Option<(u64, u64)> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    let line = maps.lines().find(|l| l.ends_with("[vdso]"))?;
    let (start, rest) = line.split_once('-')?;
    let end = rest.split(' ').next()?;
    let start = u64::from_str_radix(start, 16).ok()?;
    let end = u64::from_str_radix(end, 16).ok()?;
    let mut bytes = vec![0u8; usize::try_from(end.checked_sub(start)?).ok()?.min(64 * 1024)];
    let got = sys::read_memory(pid, start, &mut bytes).ok()?;
    let syscall = bytes[..got].windows(2).position(|w| w == [0x0F, 0x05])?;
    let nul = bytes[..got].iter().position(|&b| b == 0)?;
    Some((start + syscall as u64, start + nul as u64))
}
