//! The guest's own `SIGILL` disposition and mask, as they were before a `ud2` trap changed them.
//!
//! A trap is a `ud2` fault, for which the kernel raises `SIGILL` the way it raises every
//! fault (`force_sig`): if the faulting thread blocks `SIGILL` or its process ignores it, the
//! kernel first resets the handler to `SIG_DFL` and unblocks it in that thread, so that the
//! fault cannot be lost. The host then suppresses the signal (it was a trap), but the guest's
//! `SIGILL` state has changed under it: natively nothing would have. By the time the host sees
//! the stop the old state is gone, so the host keeps it: a shadow of what the guest set.
//!
//! What changes it, and how the shadow follows (each a call or stop the host sees):
//! - `rt_sigaction` with a new action (the backstop stops it; a query runs natively): the
//!   shadow takes `SIGILL`'s action, and for every signal whether delivering it to its handler
//!   blocks `SIGILL` (its `sa_mask`, or `SIGILL` itself without `SA_NODEFER`);
//! - `rt_sigprocmask` with a new set (same): the thread's bit, computed as the kernel will;
//! - a signal delivered to a handler (the host forwards it from its delivery stop): the
//!   thread's bit is the kernel's mask at that stop (which is also the temporary mask of a
//!   `sigsuspend`, `ppoll`, `pselect6` or `epoll_pwait` the signal interrupts), plus what the
//!   handler blocks; `SA_RESETHAND` on `SIGILL` makes its action the default;
//! - `rt_sigreturn` (the backstop stops it): the bit the frame's `uc_sigmask` restores;
//! - clone: the child thread has its parent's bit, a new process a copy of the actions
//!   (`CLONE_CLEAR_SIGHAND` resets handlers, not an ignore); exec: handlers become the default
//!   but an ignore stays, and the mask stays: read from the kernel at the exec.
//!
//! After a trap, [`Forced::undo`] says what to put back, and only when the kernel changed
//! something (`SIGILL` ignored or blocked): the ordinary trap costs one comparison.
//! Reading a set or action from guest memory at the call's entry, before the kernel reads it,
//! can be raced by another guest thread rewriting its own buffer: the shadow is then what the
//! guest wrote first, and only the guest's own `SIGILL` state can be put back wrong (no decision
//! of the host's depends on it).

use trapbox_abi::linux::nr;

use crate::sys::Pid;

/// The signal a `ud2` trap raises.
const SIGILL: u64 = libc::SIGILL as u64;
/// SIGILL's bit in a signal set.
const SIGILL_BIT: u64 = 1 << (SIGILL - 1);
/// `sizeof(struct kernel_sigaction)` on x86-64: handler, flags, restorer, mask.
pub const ACTION_LEN: usize = 32;
/// `SIG_DFL`, `SIG_IGN`.
const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;
const SA_NODEFER: u64 = 0x4000_0000;
const SA_RESETHAND: u64 = 0x8000_0000;
/// `SIG_BLOCK`, `SIG_UNBLOCK`, `SIG_SETMASK`.
const SIG_BLOCK: u64 = 0;
const SIG_UNBLOCK: u64 = 1;
const SIG_SETMASK: u64 = 2;
/// Where `uc_sigmask` lies above `rsp` at `rt_sigreturn`: the frame starts 8 bytes below
/// (its return address was popped), `uc` 8 bytes into it, and the mask after `uc_flags`,
/// `uc_link`, `uc_stack` (24) and `uc_mcontext` (256).
const SIGRETURN_MASK_AT: u64 = 8 + 8 + 24 + 256;

/// One process's signal actions, as far as `SIGILL` is concerned (shared by its threads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessSignals {
    /// `SIGILL`'s action as the kernel holds it (all zero: the default).
    ill_action: [u8; ACTION_LEN],
    /// Bit `n - 1`: signal `n` has a handler.
    handled: u64,
    /// Bit `n - 1`: delivering signal `n` to its handler blocks `SIGILL`.
    blocks_ill: u64,
}

impl Default for ProcessSignals {
    fn default() -> ProcessSignals {
        ProcessSignals { ill_action: [0; ACTION_LEN], handled: 0, blocks_ill: 0 }
    }
}

fn word(bytes: &[u8], at: usize) -> u64 {
    bytes.get(at..at + 8).map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}

/// Whether a valid signal number `signal` has bit `bit` in a set.
fn bit(signal: u64) -> u64 {
    1u64.checked_shl((signal as u32).wrapping_sub(1)).unwrap_or(0)
}

impl ProcessSignals {
    /// After exec: every handler is the default, an ignored `SIGILL` stays ignored (the
    /// kernel clears its flags and mask).
    pub fn after_exec(ignored: u64) -> ProcessSignals {
        let mut state = ProcessSignals::default();
        if ignored & SIGILL_BIT != 0 {
            state.ill_action[..8].copy_from_slice(&SIG_IGN.to_le_bytes());
        }
        state
    }

    /// A child made with `CLONE_CLEAR_SIGHAND`: handlers reset, an ignore stays.
    pub fn cleared_handlers(&self) -> ProcessSignals {
        let mut state = ProcessSignals::default();
        if self.ill_handler() == SIG_IGN {
            state.ill_action = self.ill_action;
        }
        state
    }

    fn ill_handler(&self) -> u64 {
        word(&self.ill_action, 0)
    }

    /// `rt_sigaction(signal, act, oldact, sigsetsize)` of guest `pid` about to run: the action
    /// it sets, when the kernel will accept it.
    pub fn on_sigaction(&mut self, pid: Pid, args: &[u64; 6]) {
        let signal = u64::from(args[0] as u32);
        let invalid = !(1..=64).contains(&signal) || signal == libc::SIGKILL as u64 || signal == libc::SIGSTOP as u64;
        if args[1] == 0 || args[3] != 8 || invalid {
            return; // a query, or the kernel's EINVAL
        }
        let Some(action) = crate::sys::read_guest_bytes(pid, args[1], ACTION_LEN) else { return }; // EFAULT
        let (handler, flags, mask) = (word(&action, 0), word(&action, 8), word(&action, 24));
        let handled = handler != SIG_DFL && handler != SIG_IGN;
        let blocks = handled && (mask & SIGILL_BIT != 0 || (signal == SIGILL && flags & SA_NODEFER == 0));
        self.handled = if handled { self.handled | bit(signal) } else { self.handled & !bit(signal) };
        self.blocks_ill = if blocks { self.blocks_ill | bit(signal) } else { self.blocks_ill & !bit(signal) };
        if signal == SIGILL {
            self.ill_action.copy_from_slice(&action);
        }
    }

    /// Whether signal `signal` goes to a handler (its delivery may change the mask).
    pub fn is_handled(&self, signal: i32) -> bool {
        self.handled & bit(signal as u64) != 0
    }

    /// Signal `signal` is delivered to its handler by a thread whose mask is `mask`: whether
    /// `SIGILL` is blocked while the handler runs (and `SA_RESETHAND` of `SIGILL`'s own).
    pub fn on_delivery(&mut self, signal: i32, mask: u64) -> bool {
        let signal = signal as u64;
        let blocked = mask & SIGILL_BIT != 0 || self.blocks_ill & bit(signal) != 0;
        if signal == SIGILL && word(&self.ill_action, 8) & SA_RESETHAND != 0 {
            self.ill_action[..8].copy_from_slice(&SIG_DFL.to_le_bytes());
            self.handled &= !SIGILL_BIT;
            self.blocks_ill &= !SIGILL_BIT;
        }
        blocked
    }
}

/// `rt_sigprocmask(how, set, oldset, sigsetsize)` of guest `pid` about to run: whether
/// `SIGILL` is blocked after it, `blocked` before.
pub fn after_sigprocmask(pid: Pid, args: &[u64; 6], blocked: bool) -> bool {
    if args[1] == 0 || args[3] != 8 {
        return blocked; // a query, or EINVAL
    }
    let Some(set) = crate::sys::read_guest_bytes(pid, args[1], 8) else { return blocked }; // EFAULT
    let has = word(&set, 0) & SIGILL_BIT != 0;
    // (how is an int.)
    match u64::from(args[0] as u32) {
        SIG_BLOCK => blocked || has,
        SIG_UNBLOCK => blocked && !has,
        SIG_SETMASK => has,
        _ => blocked, // EINVAL
    }
}

/// `rt_sigreturn` of guest `pid` with `rsp`: whether `SIGILL` is blocked after it (the mask
/// its frame restores), `blocked` before.
pub fn after_sigreturn(pid: Pid, rsp: u64, blocked: bool) -> bool {
    match crate::sys::read_guest_bytes(pid, rsp.wrapping_add(SIGRETURN_MASK_AT), 8) {
        Some(set) => word(&set, 0) & SIGILL_BIT != 0,
        None => blocked, // the kernel kills the thread with SIGSEGV
    }
}

/// Whether call `number` is one the shadow follows at its entry.
pub fn follows(number: u64) -> bool {
    matches!(number, nr::RT_SIGACTION | nr::RT_SIGPROCMASK | nr::RT_SIGRETURN)
}

/// What a trap's `SIGILL` changed, to be put back.
#[derive(Debug, PartialEq, Eq)]
pub struct Forced {
    /// The action to set again (the kernel made it the default).
    pub action: Option<[u8; ACTION_LEN]>,
    /// `SIGILL` to block again in the thread.
    pub block: bool,
}

impl Forced {
    /// The kernel's change at a trap of a thread whose shadow is `blocked`, in a process whose
    /// shadow is `process`: `None` when there was none (neither ignored nor blocked).
    pub fn undo(process: &ProcessSignals, blocked: bool) -> Option<Forced> {
        let handler = process.ill_handler();
        let ignored = handler == SIG_IGN;
        if !ignored && !blocked {
            return None;
        }
        // The kernel sets SIG_DFL whatever the handler was; only a default stays as it was.
        let action = (handler != SIG_DFL).then_some(process.ill_action);
        Some(Forced { action, block: blocked })
    }

    /// The set to block: `SIGILL` alone.
    pub fn block_set() -> [u8; 8] {
        SIGILL_BIT.to_le_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(handler: u64, flags: u64, mask: u64) -> [u8; ACTION_LEN] {
        let mut a = [0u8; ACTION_LEN];
        a[..8].copy_from_slice(&handler.to_le_bytes());
        a[8..16].copy_from_slice(&flags.to_le_bytes());
        a[24..].copy_from_slice(&mask.to_le_bytes());
        a
    }

    #[test]
    fn nothing_to_undo_for_the_ordinary_trap() {
        assert_eq!(Forced::undo(&ProcessSignals::default(), false), None);
        let handled = ProcessSignals { ill_action: action(0x1234, 0, 0), handled: SIGILL_BIT, blocks_ill: SIGILL_BIT };
        assert_eq!(Forced::undo(&handled, false), None, "a handler, unblocked: the kernel changes nothing");
    }

    #[test]
    fn an_ignore_and_a_block_are_put_back() {
        let ignored = ProcessSignals::after_exec(SIGILL_BIT);
        assert_eq!(Forced::undo(&ignored, false), Some(Forced { action: Some(action(SIG_IGN, 0, 0)), block: false }));
        assert_eq!(Forced::undo(&ProcessSignals::default(), true), Some(Forced { action: None, block: true }));
        let handled = ProcessSignals { ill_action: action(0x1234, 0, 0), handled: SIGILL_BIT, blocks_ill: SIGILL_BIT };
        assert_eq!(Forced::undo(&handled, true), Some(Forced { action: Some(action(0x1234, 0, 0)), block: true }));
        assert_eq!(ignored.cleared_handlers(), ignored, "CLONE_CLEAR_SIGHAND keeps an ignore");
        assert_eq!(handled.cleared_handlers(), ProcessSignals::default());
    }

    #[test]
    fn masks_and_actions_follow_the_calls_as_the_kernel_runs_them() {
        let me = crate::sys::own_pid();
        let ill = SIGILL_BIT.to_le_bytes();
        let other = 1u64.to_le_bytes();
        let at = |b: &[u8; 8]| b.as_ptr() as u64;
        assert!(after_sigprocmask(me, &[SIG_BLOCK, at(&ill), 0, 8, 0, 0], false));
        assert!(!after_sigprocmask(me, &[SIG_UNBLOCK, at(&ill), 0, 8, 0, 0], true));
        assert!(!after_sigprocmask(me, &[SIG_SETMASK, at(&other), 0, 8, 0, 0], true));
        assert!(after_sigprocmask(me, &[SIG_BLOCK, at(&other), 0, 8, 0, 0], true));
        assert!(after_sigprocmask(me, &[SIG_SETMASK, 0, 0, 8, 0, 0], true), "a query");
        assert!(after_sigprocmask(me, &[SIG_SETMASK, at(&other), 0, 16, 0, 0], true), "EINVAL: a wrong set size");
        assert!(after_sigprocmask(me, &[7, at(&other), 0, 8, 0, 0], true), "EINVAL: how");
        assert!(after_sigprocmask(me, &[SIG_SETMASK, 8, 0, 8, 0, 0], true), "EFAULT");
        let mut state = ProcessSignals::default();
        let ignore = action(SIG_IGN, 0, 0);
        state.on_sigaction(me, &[SIGILL, ignore.as_ptr() as u64, 0, 8, 0, 0]);
        assert_eq!(state.ill_handler(), SIG_IGN);
        let handler = action(0x1234, 0, SIGILL_BIT);
        state.on_sigaction(me, &[libc::SIGUSR1 as u64, handler.as_ptr() as u64, 0, 8, 0, 0]);
        assert!(state.is_handled(libc::SIGUSR1) && state.on_delivery(libc::SIGUSR1, 0));
        state.on_sigaction(me, &[libc::SIGKILL as u64, handler.as_ptr() as u64, 0, 8, 0, 0]);
        assert!(!state.is_handled(libc::SIGKILL), "EINVAL");
    }

    #[test]
    fn delivery_blocks_as_the_handler_asks() {
        let mut state = ProcessSignals { ill_action: action(0x1234, SA_RESETHAND, 0), handled: SIGILL_BIT | bit(10), blocks_ill: bit(10) };
        assert!(state.on_delivery(10, 0), "SIGUSR1's sa_mask holds SIGILL");
        assert!(!state.on_delivery(12, 0));
        assert!(state.on_delivery(12, SIGILL_BIT), "the mask at the delivery stop stays");
        state.on_delivery(libc::SIGILL, 0);
        assert_eq!(state.ill_handler(), SIG_DFL, "SA_RESETHAND");
        assert!(!state.is_handled(libc::SIGILL));
        assert_eq!(bit(0), 0);
        assert_eq!(bit(65), 0);
    }
}
