//! The pinned-argument page: where the host puts the paths and socket addresses it checks, so
//! that a call the kernel must run in the guest (exec, chdir, an `O_PATH` open, connect,
//! sendmsg…) reads the host's copy, not memory the guest can still change.
//!
//! Under a policy, every guest process gets, right after each `execve`, a 768 KiB region at the
//! fixed address [`PIN_BASE`]: a shared mapping of a memfd sealed with
//! `F_SEAL_FUTURE_WRITE`, mapped read-only in the guest (the kernel then refuses any later
//! `mprotect` to writable) and read-write only in the host. When such a call stops in the host,
//! the host copies each argument it decides on (a path, a socket address, a `msghdr` with its
//! address) once into a free slot, points the argument register at the slot, checks the policy
//! on that copy and lets the kernel run the call; the original registers come back at the
//! call's exit. Paths (but exec's, whose spelling a script sees as `$0`) are pinned as the
//! absolute path the host resolved, so the kernel's walk depends on no fd number or working
//! directory another thread could change in between. A second guest thread can rewrite its own buffer as
//! often as it likes: the kernel never reads it.
//!
//! What could still change the slot's bytes is replacing the mapping itself (`munmap`,
//! `mmap(MAP_FIXED)`, `mremap`, `madvise(MADV_DONTFORK)` followed by a fork, `remap_file_pages`),
//! and what could make the host's read of a slot differ from the kernel's is changing its
//! protection (`mprotect`, `pkey_mprotect`).
//! The seccomp backstop sends those calls to the host whenever their range can reach the
//! region (a cheap test on the high 32 bits of the address and length, see
//! [`crate::launch::seccomp`]), and the host refuses any that touches it ([`touches_region`]).

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
/// Path slots: two halves, each room for a path of `PATH_MAX` (a call pins at most two).
const PATH_SLOT_LEN: usize = 2 * 4096;
/// Path slots: path calls of one address space that may be in flight at once.
const PATH_SLOTS: usize = 64;
/// Small slots, after the path slots: a socket address, a `msghdr` and its address, a
/// `siginfo_t`, or clone3's `clone_args` and its `set_tid` array (a blocking send holds one
/// for as long as it blocks, so there are many).
const SMALL_SLOT_LEN: usize = 256;
/// See [`SMALL_SLOT_LEN`].
const SMALL_SLOTS: usize = 1024;
const _: () = assert!(
    crate::decode::clone_args::KNOWN_LEN + 4 * crate::decode::clone_args::SET_TID_MAX as usize <= SMALL_SLOT_LEN,
    "clone_args and a full set_tid array fit a small slot"
);
/// The region's length.
pub const PIN_LEN: u64 = (PATH_SLOT_LEN * PATH_SLOTS + SMALL_SLOT_LEN * SMALL_SLOTS) as u64;
/// Where the stub page ([`crate::trap::inject`]) lives: the page right after the region, from the
/// same sealed memfd, mapped read+execute. It is as unchangeable by the guest as the region
/// (no writable mapping of a `F_SEAL_FUTURE_WRITE` memfd can be made, and the calls that
/// could unmap or replace it are refused like those on the region), so the code the
/// injector sends a thread to is always the host's.
pub const STUB_BASE: u64 = PIN_BASE + PIN_LEN;
/// The end of the host's area: the region and the stub page, which the backstop's 4 GiB
/// block test still covers (it lies in the same block as the region).
pub const AREA_END: u64 = STUB_BASE + crate::trap::inject::STUB_LEN;
const _: () = assert!(AREA_END >> 32 == PIN_BASE >> 32, "the area must stay inside the block the backstop guards");
/// Busy-set words: one for the path slots, then the small ones.
const BUSY_WORDS: usize = 1 + SMALL_SLOTS / 64;
const _: () = assert!(PATH_SLOTS == 64 && SMALL_SLOTS.is_multiple_of(64), "busy sets are u64 words");

/// The memory-map and protection calls whose range the backstop checks against the region
/// (a `PROT_NONE` flip would make the host's read of a slot fail while the kernel's later
/// read succeeds).
pub const GUARDED_CALLS: [u64; 7] =
    [nr::MMAP, nr::MUNMAP, nr::MREMAP, nr::MADVISE, nr::REMAP_FILE_PAGES, nr::MPROTECT, nr::PKEY_MPROTECT];

/// One process's region (shared with the children that inherit the mapping).
#[derive(Debug)]
pub struct PinPage {
    view: SharedMapping,
    /// Bit `i` of word 0: path slot `i` holds the arguments of a call still running; words
    /// 1.. the same for the small slots.
    busy: Cell<[u64; BUSY_WORDS]>,
}

/// One argument the host copies into a slot before checking it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinItem {
    /// A NUL-terminated path at argument N (at most `PATH_MAX` bytes), pinned as written
    /// (exec: a script's `$0` and `AT_EXECFN` stay what the guest passed).
    Path(usize),
    /// A path at argument `path`, pinned as the absolute path the host resolved against the
    /// `dirfd` argument or the working directory (symlinks followed but, unless `follow`,
    /// the last): what the kernel then walks no longer depends on an fd number or a working
    /// directory another thread can change. An empty path (an fd-only call) stays empty.
    ResolvedPath {
        /// The dirfd argument, if the call has one.
        dirfd: Option<usize>,
        /// The path argument.
        path: usize,
        /// Whether the call follows a symlink in the last component.
        follow: bool,
    },
    /// A socket address at argument N whose length is argument M (at most 128 bytes, as the
    /// kernel allows); a null pointer stays null.
    Address(usize, usize),
    /// A `struct msghdr` at argument N, copied with the address its `msg_name` points to (the
    /// data and control buffers stay where they are: the policy does not decide on them).
    Msghdr(usize),
    /// A `struct sock_fprog` at argument N, copied with its instructions (a seccomp filter of
    /// the guest's own): it takes the whole slot.
    Filter(usize),
    /// A `siginfo_t` at argument N ([`crate::decode::siginfo`]).
    Siginfo(usize),
    /// clone3's `struct clone_args` at argument N of the size at argument M
    /// ([`crate::decode::clone_args`]), with the `set_tid` array it points to: the size
    /// argument becomes the copy's.
    CloneArgs(usize, usize),
}

/// What to do at the exit of a pinned call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterExit {
    /// Nothing but giving the argument registers back.
    Restore,
    /// The call is message `index` of the guest's `sendmmsg`, run as a `sendmsg` of that
    /// message alone (the kernel would write each `msg_len` into the read-only slot): store
    /// the byte count in the guest's `mmsghdr` and go on with the next message.
    OfSendmmsg {
        /// The guest's `mmsghdr` array.
        vector: u64,
        /// Which of its messages this is.
        index: u32,
    },
}

/// `sizeof(struct mmsghdr)`: a `msghdr` and its `unsigned int msg_len`, padded.
pub const MMSGHDR_LEN: u64 = 64;
/// Where `msg_len` lies in a `struct mmsghdr`.
pub const MMSGHDR_MSG_LEN_AT: u64 = 56;

/// The plan for message `index` of the guest's `sendmmsg(fd, vector, vlen, flags)`: a
/// `sendmsg` of that message, its header (and the address in it) pinned and decided on the
/// pinned copy, as every other send is.
pub fn sendmmsg_message(args: &[u64; 6], index: u32) -> Plan {
    let vector = args[1];
    Plan {
        number: nr::SENDMSG,
        args: [args[0], vector.wrapping_add(u64::from(index) * MMSGHDR_LEN), args[3], 0, 0, 0],
        guest_args: *args,
        items: vec![PinItem::Msghdr(1)],
        after: AfterExit::OfSendmmsg { vector, index },
    }
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
/// path check, the destination addresses of connect, bind and the send family, and clone3's
/// struct (pinned unconfined too: its flags say whether the child is traced).
pub fn plan(number: u64, args: &[u64; 6]) -> Option<Plan> {
    let simple = |items: Vec<PinItem>| Some(Plan { number, args: *args, guest_args: *args, items, after: AfterExit::Restore });
    match number {
        // A NULL destination lives in a register: nothing another thread could change.
        nr::SENDTO if args[4] == 0 => None,
        nr::CONNECT | nr::BIND if args[1] == 0 => None,
        nr::CONNECT | nr::BIND => simple(vec![PinItem::Address(1, 2)]),
        nr::SENDTO => simple(vec![PinItem::Address(4, 5)]),
        nr::SENDMSG => simple(vec![PinItem::Msghdr(1)]),
        nr::SECCOMP | nr::PRCTL => crate::decide::requests::installs_filter(number, args).and_then(|at| simple(vec![PinItem::Filter(at)])),
        // Run in the guest only when it signals itself with a siginfo whose sender only it
        // may claim (see the debugger's signal_through_pidfd): the kernel reads the host's copy.
        nr::PIDFD_SEND_SIGNAL if args[2] != 0 => simple(vec![PinItem::Siginfo(2)]),
        // Its flags decide whether the child is traced: the kernel reads the host's copy.
        nr::CLONE3 => simple(vec![PinItem::CloneArgs(0, 1)]),
        // (vlen is an unsigned int: the kernel sees only the low 32 bits.)
        nr::SENDMMSG if args[2] as u32 > 0 => Some(sendmmsg_message(args, 0)),
        _ => {
            let paths = crate::decide::confine::kernel_read_paths(number, args);
            if paths.is_empty() {
                return None;
            }
            let exec = matches!(number, nr::EXECVE | nr::EXECVEAT);
            let item = |(dirfd, path): (Option<usize>, usize)| {
                if exec {
                    PinItem::Path(path)
                } else {
                    PinItem::ResolvedPath { dirfd, path, follow: crate::decode::syscalls::follows(number, args, path) }
                }
            };
            simple(paths.into_iter().map(item).collect())
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
        let mut busy = self.page.busy.get();
        busy[self.index / 64] &= !(1u64 << (self.index % 64));
        self.page.busy.set(busy);
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
        // Paths take a path slot; an address or a msghdr (always alone) a small one.
        let small = plan
            .items
            .iter()
            .all(|item| matches!(item, PinItem::Address(..) | PinItem::Msghdr(_) | PinItem::Siginfo(_) | PinItem::CloneArgs(..)));
        let (index, slot_start) = self.free_slot(small)?;
        let mut pinned = plan.args;
        for (n, item) in plan.items.iter().take(2).enumerate() {
            let offset = slot_start + n * 4096;
            let at = PIN_BASE + offset as u64;
            match *item {
                PinItem::Path(arg) => {
                    if plan.args[arg] == 0 {
                        continue; // NULL stays NULL (futimens: utimensat on the fd alone)
                    }
                    let (mut bytes, truncated) =
                        crate::report::trace::read_guest_string(pid, plan.args[arg], 4096).ok_or(PinError::Argument(libc::EFAULT))?;
                    if truncated {
                        return Err(PinError::Argument(libc::ENAMETOOLONG));
                    }
                    bytes.push(0);
                    self.put(offset, &bytes)?;
                    pinned[arg] = at;
                }
                PinItem::ResolvedPath { dirfd, path, follow } => {
                    if plan.args[path] == 0 {
                        continue; // NULL stays NULL (futimens: utimensat on the fd alone)
                    }
                    let (bytes, truncated) =
                        crate::report::trace::read_guest_string(pid, plan.args[path], 4096).ok_or(PinError::Argument(libc::EFAULT))?;
                    if truncated {
                        return Err(PinError::Argument(libc::ENAMETOOLONG));
                    }
                    let mut resolved = if bytes.is_empty() {
                        Vec::new()
                    } else {
                        // A base that cannot be known (no such fd) is refused as the kernel would.
                        let absolute = crate::decide::confine::resolve_path(pid, dirfd.map(|i| plan.args[i]), &bytes, follow)
                            .ok_or(PinError::Argument(libc::EBADF))?;
                        use std::os::unix::ffi::OsStrExt;
                        absolute.as_os_str().as_bytes().to_vec()
                    };
                    // A trailing slash asks for a directory (ENOTDIR otherwise): keep it.
                    if (bytes.ends_with(b"/") || bytes.ends_with(b"/.")) && !resolved.ends_with(b"/") {
                        resolved.push(b'/');
                    }
                    if resolved.len() >= 4096 {
                        return Err(PinError::Argument(libc::ENAMETOOLONG));
                    }
                    resolved.push(0);
                    self.put(offset, &resolved)?;
                    pinned[path] = at;
                }
                PinItem::Address(arg, len_arg) => {
                    if plan.args[arg] == 0 {
                        continue;
                    }
                    let bytes = read_address(pid, plan.args[arg], plan.args[len_arg])?;
                    self.put(offset, &bytes)?;
                    pinned[arg] = at;
                }
                PinItem::Filter(arg) => {
                    use crate::decide::requests::{FILTER_MAX_PINNED, FPROG_LEN};
                    let mut header = sys::read_guest_bytes(pid, plan.args[arg], FPROG_LEN).ok_or(PinError::Argument(libc::EFAULT))?;
                    let len = usize::from(u16::from_le_bytes([header[0], header[1]]));
                    if len == 0 || len > FILTER_MAX_PINNED {
                        return Err(PinError::Argument(libc::EINVAL));
                    }
                    let filter = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
                    let code = sys::read_guest_bytes(pid, filter, len * 8).ok_or(PinError::Argument(libc::EFAULT))?;
                    header[8..16].copy_from_slice(&(at + FPROG_LEN as u64).to_le_bytes());
                    self.put(offset, &header)?;
                    self.put(offset + FPROG_LEN, &code)?;
                    pinned[arg] = at;
                }
                PinItem::CloneArgs(arg, size_arg) => {
                    use crate::decode::clone_args::{CloneArgs, KNOWN_LEN, SET_TID_MAX};
                    let mut clone_args = CloneArgs::read(pid, plan.args[arg], plan.args[size_arg]).map_err(PinError::Argument)?;
                    // set_tid (pids the child gets in each PID namespace level) is no decision
                    // of the host's, but pinned with the rest so the kernel reads one snapshot.
                    // The kernel checks the struct before it reads the array: an array it
                    // could not read, or a size it refuses, stays the guest's, for the
                    // kernel's own EFAULT or EINVAL in its order.
                    let (set_tid, count) = clone_args.set_tid();
                    if set_tid != 0 && (1..=SET_TID_MAX).contains(&count) {
                        if let Some(tids) = sys::read_guest_bytes(pid, set_tid, count as usize * 4) {
                            self.put(offset + KNOWN_LEN, &tids)?;
                            clone_args.move_set_tid(at + KNOWN_LEN as u64);
                        }
                    }
                    self.put(offset, clone_args.bytes())?;
                    pinned[arg] = at;
                    pinned[size_arg] = clone_args.bytes().len() as u64;
                }
                PinItem::Siginfo(arg) => {
                    let info = crate::decode::siginfo::Siginfo::read(pid, plan.args[arg]).map_err(PinError::Argument)?;
                    self.put(offset, info.bytes())?;
                    pinned[arg] = at;
                }
                PinItem::Msghdr(arg) => {
                    let mut header = sys::read_guest_bytes(pid, plan.args[arg], MSGHDR_LEN).ok_or(PinError::Argument(libc::EFAULT))?;
                    let name = u64::from_le_bytes(header[0..8].try_into().expect("8 bytes"));
                    // As the kernel reads it: a negative msg_namelen is EINVAL, a longer one is
                    // clamped to the address maximum, and a zero one means no address at all.
                    let name_len = i32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
                    if name_len < 0 {
                        return Err(PinError::Argument(libc::EINVAL));
                    }
                    let name_len = u64::from(name_len.unsigned_abs()).min(ADDRESS_MAX);
                    header[8..12].copy_from_slice(&(name_len as u32).to_le_bytes());
                    if name_len == 0 {
                        header[0..8].copy_from_slice(&0u64.to_le_bytes());
                    } else if name != 0 {
                        let bytes = read_address(pid, name, name_len)?;
                        self.put(offset + MSGHDR_NAME_AT, &bytes)?;
                        header[0..8].copy_from_slice(&(at + MSGHDR_NAME_AT as u64).to_le_bytes());
                    }
                    self.put(offset, &header)?;
                    pinned[arg] = at;
                }
            }
        }
        let slot = self.claim(index, number, plan.guest_args, plan.after);
        Ok((slot, pinned))
    }

    /// Copies `path` and a NUL into a free path slot (for a call the host itself injects, such
    /// as `map_file`'s open); returns the slot and the path's address in the guest.
    pub fn pin_host_path(self: &Rc<Self>, path: &[u8]) -> Result<(PinSlot, u64), PinError> {
        if path.len() >= 4096 {
            return Err(PinError::Argument(libc::ENAMETOOLONG));
        }
        let mut bytes = path.to_vec();
        bytes.push(0);
        self.pin_host_bytes(&bytes, false)
    }

    /// Copies `bytes` into a free slot, small or a path slot (for a call the host itself
    /// injects); returns the slot and the bytes' address in the guest.
    pub fn pin_host_bytes(self: &Rc<Self>, bytes: &[u8], small: bool) -> Result<(PinSlot, u64), PinError> {
        let (index, offset) = self.free_slot(small)?;
        let limit = if small { SMALL_SLOT_LEN } else { PATH_SLOT_LEN };
        if bytes.len() > limit {
            return Err(PinError::Argument(libc::EINVAL));
        }
        self.put(offset, bytes)?;
        Ok((self.claim(index, 0, [0; 6], AfterExit::Restore), PIN_BASE + offset as u64))
    }

    /// The first free slot of the kind asked for: its index and its offset in the region.
    fn free_slot(&self, small: bool) -> Result<(usize, usize), PinError> {
        let busy = self.busy.get();
        let words = if small { 1..BUSY_WORDS } else { 0..1 };
        let index = words
            .flat_map(|word| (0..64).map(move |bit| word * 64 + bit))
            .find(|&i| busy[i / 64] & (1u64 << (i % 64)) == 0)
            .ok_or(PinError::Busy)?;
        let offset = if small { PATH_SLOT_LEN * PATH_SLOTS + (index - 64) * SMALL_SLOT_LEN } else { index * PATH_SLOT_LEN };
        Ok((index, offset))
    }

    /// Marks slot `index` busy until the returned guard drops.
    fn claim(self: &Rc<Self>, index: usize, number: u64, args: [u64; 6], after: AfterExit) -> PinSlot {
        let mut busy = self.busy.get();
        busy[index / 64] |= 1u64 << (index % 64);
        self.busy.set(busy);
        PinSlot { page: Rc::clone(self), index, original_number: number, original_args: args, after }
    }

    fn put(&self, offset: usize, bytes: &[u8]) -> Result<(), PinError> {
        // Slots never reach the stub page that follows them in the memfd.
        if offset.saturating_add(bytes.len()) <= PIN_LEN as usize && self.view.write(offset, bytes) {
            Ok(())
        } else {
            Err(PinError::Argument(libc::EINVAL))
        }
    }
}

/// A socket address of `len` bytes at `addr` in the guest, refused as the kernel refuses it.
/// (`len` is the kernel's `int addrlen`: only its low 32 bits count, and negative is EINVAL.)
fn read_address(pid: Pid, addr: u64, len: u64) -> Result<Vec<u8>, PinError> {
    let len = len as u32 as i32;
    if !(0..=ADDRESS_MAX as i32).contains(&len) {
        return Err(PinError::Argument(libc::EINVAL));
    }
    sys::read_guest_bytes(pid, addr, len as usize).ok_or(PinError::Argument(libc::EFAULT))
}

/// Creates the host's area in the process of the stopped thread `tid`, running its calls
/// through `inject` (a `syscall` the host controls). `nul_byte` is any guest address holding
/// a 0 byte (the memfd's empty name). Runs right after exec, while the process has one
/// thread and has run none of its own code, so nothing of the guest's can touch the memfd
/// before it is sealed and closed, nor the vDSO `syscall` the injection goes through.
///
/// One memfd holds the region and, after it, the stub page: the host writes the stub's code
/// and seals the memfd (`F_SEAL_FUTURE_WRITE`: no writable mapping of it can be made any
/// more, `mprotect` to writable included) before the guest maps the region read-only at
/// [`PIN_BASE`] and the stub read+execute at [`STUB_BASE`].
pub fn create(tid: Pid, nul_byte: u64, mut inject: impl FnMut(u64, [u64; 6]) -> Option<u64>) -> Result<PinPage, String> {
    // Never executable as a file either (MFD_NOEXEC_SEAL, Linux 6.3+; without it on older
    // kernels): mapping its pages executable is another matter, and is what the stub needs.
    let flags = (libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) as u64;
    let mut raw = inject(nr::MEMFD_CREATE, [nul_byte, flags | crate::decide::confine::MFD_NOEXEC_SEAL, 0, 0, 0, 0]).ok_or("the thread is gone")?;
    if trapbox_abi::errno::decode(raw) == Err(libc::EINVAL) {
        raw = inject(nr::MEMFD_CREATE, [nul_byte, flags, 0, 0, 0, 0]).ok_or("the thread is gone")?;
    }
    let guest_fd = trapbox_abi::errno::decode(raw).map_err(|e| format!("memfd_create failed: {}", sys::Errno(e)))?;
    let result = (|| {
        let host_fd = sys::take_fd(tid, guest_fd as i32).map_err(|e| format!("pidfd_getfd failed: {e}"))?;
        let area_len = (AREA_END - PIN_BASE) as usize;
        let view = SharedMapping::create(&host_fd, area_len).map_err(|e| format!("mapping it in the host failed: {e}"))?;
        if !view.write(PIN_LEN as usize, &crate::trap::inject::stub_page()) {
            return Err("the stub does not fit its page".to_string());
        }
        let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_FUTURE_WRITE | libc::F_SEAL_SEAL;
        sys::add_seals(&host_fd, seals).map_err(|e| format!("sealing failed: {e}"))?;
        let map_flags = (libc::MAP_SHARED | libc::MAP_FIXED_NOREPLACE) as u64;
        let mut map = |at: u64, len: u64, prot: i32, offset: u64, what: &str| -> Result<(), String> {
            let raw = inject(nr::MMAP, [at, len, prot as u64, map_flags, guest_fd, offset]).ok_or("the thread is gone")?;
            match trapbox_abi::errno::decode(raw) {
                Ok(placed) if placed == at => Ok(()),
                Ok(other) => Err(format!("the kernel placed the {what} at {other:#x}")),
                Err(e) => Err(format!("mapping the {what} at {at:#x} failed: {}", sys::Errno(e))),
            }
        };
        map(PIN_BASE, PIN_LEN, libc::PROT_READ, 0, "pinned-argument region")?;
        map(STUB_BASE, crate::trap::inject::STUB_LEN, libc::PROT_READ | libc::PROT_EXEC, PIN_LEN, "stub page")?;
        Ok(PinPage { view, busy: Cell::new([0; BUSY_WORDS]) })
    })();
    let _ = inject(nr::CLOSE, [guest_fd, 0, 0, 0, 0, 0]);
    result
}

/// Whether memory-map call `number` with `args` would unmap, replace, move or re-protect any
/// part of the host's area, region or stub page (exact arithmetic; the backstop's test is a
/// cheaper superset).
pub fn touches_region(number: u64, args: &[u64; 6]) -> bool {
    let overlaps = |start: u64, len: u64| start < AREA_END && start.saturating_add(len.max(1)) > PIN_BASE;
    match number {
        nr::MMAP => args[3] & libc::MAP_FIXED as u64 != 0 && overlaps(args[0], args[1]),
        nr::MUNMAP | nr::MADVISE | nr::REMAP_FILE_PAGES | nr::MPROTECT | nr::PKEY_MPROTECT => overlaps(args[0], args[1]),
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
        assert!(touches_region(nr::MPROTECT, &[STUB_BASE, 4096, 7, 0, 0, 0]), "the stub page is guarded too");
        assert!(!touches_region(nr::MUNMAP, &[AREA_END, 4096, 0, 0, 0, 0]));
        assert!(!touches_region(nr::MUNMAP, &[PIN_BASE - 4096, 4096, 0, 0, 0, 0]));
        assert!(touches_region(nr::MMAP, &[PIN_BASE - 4096, 8192, 3, fixed, 0, 0]));
        assert!(!touches_region(nr::MMAP, &[PIN_BASE, 8192, 3, 0, 0, 0]), "a hint never replaces a mapping");
        assert!(touches_region(nr::MREMAP, &[0x10000, 4096, 8192, 3, PIN_BASE, 0]));
        assert!(!touches_region(nr::MREMAP, &[0x10000, 4096, 8192, 1, PIN_BASE, 0]), "no MREMAP_FIXED: no new address");
        assert!(touches_region(nr::MADVISE, &[PIN_BASE + 8192, 4096, 10, 0, 0, 0]));
        assert!(!touches_region(nr::BRK, &[PIN_BASE, 0, 0, 0, 0, 0]));
    }
}
