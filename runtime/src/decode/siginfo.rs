//! A `siginfo_t` a guest passes to a signal call (`pidfd_send_signal`), copied once, as the
//! kernel copies it.
//!
//! The kernel reads the 48 bytes of its `kernel_siginfo` and reads the rest of the 128-byte
//! `siginfo_t` only for a layout it does not know (to refuse a nonzero tail with `E2BIG`). So
//! the host reads all 128 bytes, and where only the first 48 are readable, takes those with a
//! zero tail: a known layout then gets what the kernel would give it, and only an unknown one
//! at the very end of a mapping (`EFAULT` natively) is judged on zeros.

use crate::sys::Pid;

/// `sizeof(siginfo_t)`.
pub const SIGINFO_LEN: usize = 128;
/// `sizeof(struct kernel_siginfo)`: what the kernel always reads.
const KERNEL_SIGINFO_LEN: usize = 48;
/// `si_code` of a signal sent by `tkill`/`tgkill`.
const SI_TKILL: i32 = -6;

/// The host's copy of a guest's `siginfo_t`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Siginfo {
    bytes: [u8; SIGINFO_LEN],
}

impl Siginfo {
    /// Copies the `siginfo_t` at `addr` of guest `pid`; `Err(EFAULT)` as the kernel answers
    /// when it cannot read it.
    pub fn read(pid: Pid, addr: u64) -> Result<Siginfo, i32> {
        let mut bytes = [0u8; SIGINFO_LEN];
        let copied = crate::sys::read_guest_bytes(pid, addr, SIGINFO_LEN)
            .or_else(|| crate::sys::read_guest_bytes(pid, addr, KERNEL_SIGINFO_LEN))
            .ok_or(libc::EFAULT)?;
        bytes[..copied.len()].copy_from_slice(&copied);
        Ok(Siginfo { bytes })
    }

    /// The bytes, for the kernel to read.
    pub fn bytes(&self) -> &[u8; SIGINFO_LEN] {
        &self.bytes
    }

    fn int_at(&self, at: usize) -> i32 {
        i32::from_le_bytes([self.bytes[at], self.bytes[at + 1], self.bytes[at + 2], self.bytes[at + 3]])
    }

    /// `si_signo`, which must be the signal sent (`EINVAL` otherwise).
    pub fn signo(&self) -> i32 {
        self.int_at(0)
    }

    /// Whether `si_code` claims a sender a process may only claim towards itself: the kernel
    /// (`>= 0`: `SI_USER`, `SI_KERNEL`, fault codes…) or `tkill`. Towards any other target the
    /// kernel refuses such a siginfo with `EPERM`.
    pub fn claims_kernel_or_tkill(&self) -> bool {
        let code = self.int_at(8);
        code >= 0 || code == SI_TKILL
    }
}
