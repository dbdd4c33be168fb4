//! The pinned-argument page: where the host puts the paths and socket addresses it checks, so
//! that a call the kernel must run in the guest (exec, chdir, an `O_PATH` open, connect,
//! sendmsg…) reads the host's copy, not memory the guest can still change.
//!
//! Under a policy, every guest process gets, right after each `execve`, a 512 KiB region at the
//! fixed address [`PIN_BASE`]: a shared mapping of a memfd sealed with
//! `F_SEAL_FUTURE_WRITE`, mapped read-only in the guest (the kernel then refuses any later
//! `mprotect` to writable) and read-write only in the host. When such a call stops in the host,
//! the host copies each argument it decides on (a path, a socket address, a `msghdr` with its
//! address) once into a free slot, points the argument register at the slot, checks the policy
//! on that copy and lets the kernel run the call; the original registers come back at the
//! call's exit. A second guest thread can rewrite its own buffer as
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

/// Where the region lives in every confined guest process: 4 GiB-aligned, ~340 GiB below
/// where Linux loads position-independent programs (0x5555_5555_4000 plus up to 1 TiB of
/// randomisation, their heap above them), far from libraries, mappings and stacks (near the
/// top), and inside what the common sanitizers treat as application memory (ASan's high
/// memory, TSan's and MSan's program ranges), so their fixed layouts do not collide with it.
pub const PIN_BASE: u64 = 0x5500_0000_0000;
/// Bytes per slot: two halves, each room for a path of `PATH_MAX` or a `msghdr` and its
/// address (a call pins at most two things).
const SLOT_LEN: usize = 2 * 4096;
/// Slots: calls of one address space that may be in flight at once.
const SLOTS: usize = 64;
/// The region's length.
pub const PIN_LEN: u64 = (SLOT_LEN * SLOTS) as u64;
const _: () = assert!(SLOTS <= 64, "the busy set is a u64");

/// The memory-map calls whose range the backstop checks against the region.
pub const GUARDED_CALLS: [u64; 5] = [nr::MMAP, nr::MUNMAP, nr::MREMAP, nr::MADVISE, nr::REMAP_FILE_PAGES];

/// One process's region (shared with the children that inherit the mapping).
#[derive(Debug)]
pub struct PinPage {
    view: SharedMapping,
    /// Bit `i` set: slot `i` holds the arguments of a call still running.
    busy: Cell<u64>,
}

/// One argument the host copies into a slot before checking it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinItem {
    /// A NUL-terminated path at argument N (at most `PATH_MAX` bytes).
    Path(usize),
    /// A socket address at argument N whose length is argument M (at most 128 bytes, as the
    /// kernel allows); a null pointer stays null.
    Address(usize, usize),
    /// A `struct msghdr` at argument N, copied with the address its `msg_name` points to (the
    /// data and control buffers stay where they are: the policy does not decide on them).
    Msghdr(usize),
}

/// What to do at the exit of a pinned call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterExit {
    /// Nothing but giving the argument registers back.
    Restore,
    /// The call was the guest's `sendmmsg`, run as a `sendmsg` of its first message (the
    /// kernel would write each `msg_len` into the read-only slot): store the byte count in the
    /// guest's first `mmsghdr` and report one message sent.
    FirstOfSendmmsg {
        /// The guest's `mmsghdr` array.
        vector: u64,
    },
}

/// How a call runs with its arguments pinned.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    /// The call the kernel runs (the guest's, or `sendmsg` for a `sendmmsg`).
    pub number: u64,
    /// Its arguments before pinning.
    pub args: [u64; 6],
    /// The arguments as the guest passed them.
    pub guest_args: [u64; 6],
    /// What to copy.
    pub items: Vec<PinItem>,
    /// What to do at its exit.
    pub after: AfterExit,
}

/// The plan for call `number` under a policy, if any of its arguments the kernel would read
/// from guest memory is one the host decides on: paths of calls the kernel runs after the
/// path check, and the destination addresses of connect, bind and the send family.
pub fn plan(number: u64, args: &[u64; 6]) -> Option<Plan> {
    let simple = |items: Vec<PinItem>| Some(Plan { number, args: *args, guest_args: *args, items, after: AfterExit::Restore });
    match number {
        nr::CONNECT | nr::BIND => simple(vec![PinItem::Address(1, 2)]),
        nr::SENDTO => simple(vec![PinItem::Address(4, 5)]),
        nr::SENDMSG => simple(vec![PinItem::Msghdr(1)]),
        nr::SENDMMSG if args[2] > 0 => Some(Plan {
            number: nr::SENDMSG,
            args: [args[0], args[1], args[3], 0, 0, 0],
            guest_args: *args,
            items: vec![PinItem::Msghdr(1)],
            after: AfterExit::FirstOfSendmmsg { vector: args[1] },
        }),
        _ => {
            let paths = crate::confine::kernel_read_paths(number, args);
            if paths.is_empty() {
                return None;
            }
            simple(paths.into_iter().map(PinItem::Path).collect())
        }
    }
}

/// A slot in use by one call; freed when dropped (at the call's exit, or the thread's end).
#[derive(Debug)]
pub struct PinSlot {
    page: Rc<PinPage>,
    index: usize,
    /// The call number and argument registers as the guest set them, restored at the call's
    /// exit (the number matters when the kernel restarts an interrupted call).
    pub original_number: u64,
    /// See `original_number`.
    pub original_args: [u64; 6],
    /// What else the call's exit needs.
    pub after: AfterExit,
}

impl Drop for PinSlot {
    fn drop(&mut self) {
        self.page.busy.set(self.page.busy.get() & !(1u64 << self.index));
    }
}

/// Why a call that needs the region cannot have it.
#[derive(Debug, PartialEq, Eq)]
pub enum PinError {
    /// An argument is unreadable (EFAULT), too long (ENAMETOOLONG) or oversized (EINVAL):
    /// what the kernel itself would answer.
    Argument(i32),
    /// Every slot is taken by a call still running.
    Busy,
}

/// The most bytes of a socket address the kernel reads (`sizeof(struct sockaddr_storage)`).
const ADDRESS_MAX: u64 = 128;
/// `sizeof(struct msghdr)`, and where its copy puts the address in the slot half.
const MSGHDR_LEN: usize = 56;
const MSGHDR_NAME_AT: usize = 64;

impl PinPage {
    /// Copies what `plan` names into a free slot and returns the slot and the arguments with
    /// those pointers moved there.
    pub fn pin(self: &Rc<Self>, pid: Pid, number: u64, plan: &Plan) -> Result<(PinSlot, [u64; 6]), PinError> {
        let busy = self.busy.get();
        let index = (0..SLOTS).find(|i| busy & (1u64 << i) == 0).ok_or(PinError::Busy)?;
        let mut pinned = plan.args;
        for (n, item) in plan.items.iter().take(2).enumerate() {
            let offset = index * SLOT_LEN + n * 4096;
            let at = PIN_BASE + offset as u64;
            match *item {
                PinItem::Path(arg) => {
                    if plan.args[arg] == 0 {
                        continue; // NULL stays NULL (futimens: utimensat on the fd alone)
                    }
                    let (mut bytes, truncated) =
                        crate::trace::read_guest_string(pid, plan.args[arg], 4096).ok_or(PinError::Argument(libc::EFAULT))?;
                    if truncated {
                        return Err(PinError::Argument(libc::ENAMETOOLONG));
                    }
                    bytes.push(0);
                    self.put(offset, &bytes)?;
                    pinned[arg] = at;
                }
                PinItem::Address(arg, len_arg) => {
                    if plan.args[arg] == 0 {
                        continue;
                    }
                    let bytes = read_address(pid, plan.args[arg], plan.args[len_arg])?;
                    self.put(offset, &bytes)?;
                    pinned[arg] = at;
                }
                PinItem::Msghdr(arg) => {
                    let mut header = sys::read_guest_bytes(pid, plan.args[arg], MSGHDR_LEN).ok_or(PinError::Argument(libc::EFAULT))?;
                    let name = u64::from_le_bytes(header[0..8].try_into().expect("8 bytes"));
                    // The kernel clamps a longer msg_namelen to the address maximum.
                    let name_len = u64::from(u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"))).min(ADDRESS_MAX);
                    header[8..12].copy_from_slice(&(name_len as u32).to_le_bytes());
                    if name != 0 {
                        let bytes = read_address(pid, name, name_len)?;
                        self.put(offset + MSGHDR_NAME_AT, &bytes)?;
                        header[0..8].copy_from_slice(&(at + MSGHDR_NAME_AT as u64).to_le_bytes());
                    }
                    self.put(offset, &header)?;
                    pinned[arg] = at;
                }
            }
        }
        self.busy.set(busy | (1u64 << index));
        let slot = PinSlot { page: Rc::clone(self), index, original_number: number, original_args: plan.guest_args, after: plan.after };
        Ok((slot, pinned))
    }

    fn put(&self, offset: usize, bytes: &[u8]) -> Result<(), PinError> {
        if self.view.write(offset, bytes) {
            Ok(())
        } else {
            Err(PinError::Argument(libc::EINVAL))
        }
    }
}

/// A socket address of `len` bytes at `addr` in the guest, refused as the kernel refuses it.
fn read_address(pid: Pid, addr: u64, len: u64) -> Result<Vec<u8>, PinError> {
    if len > ADDRESS_MAX {
        return Err(PinError::Argument(libc::EINVAL));
    }
    sys::read_guest_bytes(pid, addr, len as usize).ok_or(PinError::Argument(libc::EFAULT))
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
