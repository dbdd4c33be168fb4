//! The pinned-argument page: where the host puts the paths it checked, so that a call the
//! kernel must run in the guest (exec, chdir, an `O_PATH` open…) reads the host's copy, not
//! memory the guest can still change.
//!
//! Under a policy, every guest process gets, right after each `execve`, a 128 KiB region at the
//! fixed address [`PIN_BASE`]: a shared mapping of a memfd sealed with
//! `F_SEAL_FUTURE_WRITE`, mapped read-only in the guest (the kernel then refuses any later
//! `mprotect` to writable) and read-write only in the host. When such a call stops in the host,
//! the host copies each path argument once into a free slot, points the argument register at
//! the slot, checks the policy on that copy and lets the kernel run the call; the original
//! registers come back at the call's exit. A second guest thread can rewrite its own buffer as
//! often as it likes: the kernel never reads it.
//!
//! What could still change the slot's bytes is replacing the mapping itself (`munmap`,
//! `mmap(MAP_FIXED)`, `mremap`, `madvise(MADV_DONTFORK)` followed by a fork, `remap_file_pages`).
//! The seccomp backstop sends those calls to the host whenever their range can reach the
//! region (a cheap test on the high 32 bits of the address and length, see
//! [`crate::seccomp`]), and the host refuses any that touches it ([`touches_region`]).

use std::cell::Cell;
use std::rc::Rc;

use trapbox_abi::linux::nr;

use crate::sys::{self, Pid, SharedMapping};

/// Where the region lives in every confined guest process: 4 GiB-aligned, far from where
/// Linux places programs, libraries, heaps and stacks (and outside the shadow ranges of
/// the common sanitizers).
pub const PIN_BASE: u64 = 0x3f00_0000_0000;
/// Bytes per slot: room for two paths of `PATH_MAX` (a call names at most two).
const SLOT_LEN: usize = 2 * 4096;
/// Slots: calls of one address space that may be in flight at once.
const SLOTS: usize = 16;
/// The region's length.
pub const PIN_LEN: u64 = (SLOT_LEN * SLOTS) as u64;

/// The memory-map calls whose range the backstop checks against the region.
pub const GUARDED_CALLS: [u64; 5] = [nr::MMAP, nr::MUNMAP, nr::MREMAP, nr::MADVISE, nr::REMAP_FILE_PAGES];

/// One process's region (shared with the children that inherit the mapping).
#[derive(Debug)]
pub struct PinPage {
    view: SharedMapping,
    /// Bit `i` set: slot `i` holds the arguments of a call still running.
    busy: Cell<u16>,
}

/// A slot in use by one call; freed when dropped (at the call's exit, or the thread's end).
#[derive(Debug)]
pub struct PinSlot {
    page: Rc<PinPage>,
    index: usize,
    /// The argument registers as the guest set them, restored at the call's exit.
    pub original_args: [u64; 6],
}

impl Drop for PinSlot {
    fn drop(&mut self) {
        self.page.busy.set(self.page.busy.get() & !(1 << self.index));
    }
}

/// Why a call that needs the region cannot have it.
#[derive(Debug, PartialEq, Eq)]
pub enum PinError {
    /// A path argument is unreadable (EFAULT) or longer than `PATH_MAX` (ENAMETOOLONG).
    Argument(i32),
    /// Every slot is taken by a call still running.
    Busy,
}

impl PinPage {
    /// Copies the NUL-terminated path each of `path_args` points to into a free slot and
    /// returns the slot and the arguments with those pointers moved there.
    pub fn pin(self: &Rc<Self>, pid: Pid, args: &[u64; 6], path_args: &[usize]) -> Result<(PinSlot, [u64; 6]), PinError> {
        let busy = self.busy.get();
        let index = (0..SLOTS).find(|i| busy & (1 << i) == 0).ok_or(PinError::Busy)?;
        let mut pinned = *args;
        for (n, &arg) in path_args.iter().take(2).enumerate() {
            let (mut bytes, truncated) =
                crate::trace::read_guest_string(pid, args[arg], 4096).ok_or(PinError::Argument(libc::EFAULT))?;
            if truncated {
                return Err(PinError::Argument(libc::ENAMETOOLONG));
            }
            bytes.push(0);
            let offset = index * SLOT_LEN + n * 4096;
            if !self.view.write(offset, &bytes) {
                return Err(PinError::Argument(libc::ENAMETOOLONG));
            }
            pinned[arg] = PIN_BASE + offset as u64;
        }
        self.busy.set(busy | (1 << index));
        Ok((PinSlot { page: Rc::clone(self), index, original_args: *args }, pinned))
    }
}

/// Creates the region in the process of the stopped thread `tid`, running its calls through
/// `inject` (a `syscall` the host controls). `nul_byte` is any guest address holding a 0
/// byte (the memfd's empty name). Runs right after exec, while the process has one thread,
/// so no other guest code can touch the memfd before it is sealed and closed.
pub fn create(tid: Pid, nul_byte: u64, mut inject: impl FnMut(u64, [u64; 6]) -> Option<u64>) -> Result<PinPage, String> {
    let flags = (libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) as u64;
    let raw = inject(nr::MEMFD_CREATE, [nul_byte, flags, 0, 0, 0, 0]).ok_or("the thread is gone")?;
    let guest_fd = trapbox_abi::errno::decode(raw).map_err(|e| format!("memfd_create failed: {}", sys::Errno(e)))?;
    let result = (|| {
        let host_fd = sys::take_fd(tid, guest_fd as i32).map_err(|e| format!("pidfd_getfd failed: {e}"))?;
        let view = SharedMapping::create(&host_fd, PIN_LEN as usize).map_err(|e| format!("mapping it in the host failed: {e}"))?;
        let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_FUTURE_WRITE | libc::F_SEAL_SEAL;
        sys::add_seals(&host_fd, seals).map_err(|e| format!("sealing failed: {e}"))?;
        let map_flags = (libc::MAP_SHARED | libc::MAP_FIXED_NOREPLACE) as u64;
        let raw = inject(nr::MMAP, [PIN_BASE, PIN_LEN, libc::PROT_READ as u64, map_flags, guest_fd, 0]).ok_or("the thread is gone")?;
        match trapbox_abi::errno::decode(raw) {
            Ok(PIN_BASE) => Ok(PinPage { view, busy: Cell::new(0) }),
            Ok(other) => Err(format!("the kernel placed it at {other:#x}")),
            Err(e) => Err(format!("mapping it at {PIN_BASE:#x} failed: {}", sys::Errno(e))),
        }
    })();
    let _ = inject(nr::CLOSE, [guest_fd, 0, 0, 0, 0, 0]);
    result
}

/// Whether memory-map call `number` with `args` would unmap, replace or move any part of
/// the region (exact arithmetic; the backstop's test is a cheaper superset).
pub fn touches_region(number: u64, args: &[u64; 6]) -> bool {
    let overlaps = |start: u64, len: u64| start < PIN_BASE + PIN_LEN && start.saturating_add(len.max(1)) > PIN_BASE;
    match number {
        nr::MMAP => args[3] & libc::MAP_FIXED as u64 != 0 && overlaps(args[0], args[1]),
        nr::MUNMAP | nr::MADVISE | nr::REMAP_FILE_PAGES => overlaps(args[0], args[1]),
        nr::MREMAP => {
            let moved = args[3] & libc::MREMAP_FIXED as u64 != 0 && overlaps(args[4], args[2]);
            overlaps(args[0], args[1].max(args[2])) || moved
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_touches() {
        let fixed = libc::MAP_FIXED as u64;
        assert!(touches_region(nr::MUNMAP, &[PIN_BASE, 4096, 0, 0, 0, 0]));
        assert!(touches_region(nr::MUNMAP, &[0x1000, u64::MAX / 2, 0, 0, 0, 0]), "a huge munmap from low memory");
        assert!(!touches_region(nr::MUNMAP, &[PIN_BASE + PIN_LEN, 4096, 0, 0, 0, 0]));
        assert!(!touches_region(nr::MUNMAP, &[PIN_BASE - 4096, 4096, 0, 0, 0, 0]));
        assert!(touches_region(nr::MMAP, &[PIN_BASE - 4096, 8192, 3, fixed, 0, 0]));
        assert!(!touches_region(nr::MMAP, &[PIN_BASE, 8192, 3, 0, 0, 0]), "a hint never replaces a mapping");
        assert!(touches_region(nr::MREMAP, &[0x10000, 4096, 8192, 3, PIN_BASE, 0]));
        assert!(!touches_region(nr::MREMAP, &[0x10000, 4096, 8192, 1, PIN_BASE, 0]), "no MREMAP_FIXED: no new address");
        assert!(touches_region(nr::MADVISE, &[PIN_BASE + 8192, 4096, 10, 0, 0, 0]));
        assert!(!touches_region(nr::BRK, &[PIN_BASE, 0, 0, 0, 0, 0]));
    }
}
