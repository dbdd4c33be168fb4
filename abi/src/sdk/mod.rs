//! The guest-side SDK: hostcalls through the trap, with no Linux system call involved.
//!
//! Each stub is an inline `ud2` that registers its own address in the non-loaded section
//! [`SDK_SECTION_NAME`](crate::table::SDK_SECTION_NAME), so the host recognises it as a trap
//! site exactly like a rewritten `syscall`; an unlisted `ud2` stays a genuine crash. The
//! section is a bare array of version-1 table entries (see [`crate::table`]); the linker
//! resolves each entry to the stub's link-time address, which is what the table format wants.
//!
//! Guests in other languages do the same: put the call number in `rax`, the arguments in
//! `rdi rsi rdx r10 r8 r9`, execute `ud2` at an address listed in a `.trapbox.sdk` entry, and
//! read the result (or `-errno`) from `rax`. `examples/c/hostcall.h` does it in C.
//!
//! Run outside trapbox, a stub's `ud2` raises `SIGILL`; call [`version`] first if the guest
//! must know.
//!
//! What is here: the raw call ([`raw_hostcall`]) and one safe wrapper per hostcall (this
//! module), files, directories and the standard handles ([`fs`]), and the runtime of a
//! `no_std` guest ([`rt`]: the [`entry!`](crate::entry) macro, arguments and environment,
//! `print!`/`println!`/`eprintln!`, a global allocator over [`alloc_pages`], the panic
//! handler). How to build a guest is in the crate docs.
//!
//! `unsafe` in this crate lives in this module and its children only, each block with a
//! `// SAFETY:` line.

pub mod fs;
pub mod rt;

pub use crate::{eprint, eprintln, print, println};

use crate::hostcall;

/// Performs hostcall `nr` with up to six arguments and returns the raw `rax` result.
///
/// # Safety
/// The arguments are passed to the host as they are: pointers must be valid for what the
/// call does with them (see [`crate::hostcall`]).
#[inline(always)]
pub unsafe fn raw_hostcall(nr: u64, args: [u64; 6]) -> u64 {
    let result: u64;
    // SAFETY: the trap transfers control to the host, which follows the register convention
    // of the crate docs: it reads rax and the six argument registers, writes rax, may clobber
    // rcx and r11, and resumes after the two-byte trap. Memory effects are the hostcall's.
    unsafe {
        core::arch::asm!(
            "2:",
            "ud2",
            ".pushsection .trapbox.sdk,\"\",@progbits",
            ".balign 8",
            ".quad 2b",
            ".byte 1, 0",
            ".short 0",
            ".long 0",
            ".popsection",
            inlateout("rax") nr => result,
            in("rdi") args[0],
            in("rsi") args[1],
            in("rdx") args[2],
            in("r10") args[3],
            in("r8") args[4],
            in("r9") args[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    result
}

/// An error from a hostcall: the errno the host answered (what a native program would get).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostError(pub i32);

impl HostError {
    /// The errno.
    pub fn errno(self) -> i32 {
        self.0
    }
}

impl core::fmt::Display for HostError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match crate::errno::name(self.0) {
            Some(name) => write!(f, "{name} (errno {})", self.0),
            None => write!(f, "errno {}", self.0),
        }
    }
}

/// A hostcall's result.
pub type Result<T> = core::result::Result<T, HostError>;

fn check(raw: u64) -> Result<u64> {
    crate::errno::decode(raw).map_err(HostError)
}

/// [`raw_hostcall`] for calls whose arguments are plain integers or memory the caller owns
/// for the duration of the call, checked.
fn call(nr: u64, args: [u64; 6]) -> Result<u64> {
    // SAFETY: every caller passes pointers (if any) that describe memory it owns for the
    // call, as the hostcall's documentation in crate::hostcall requires.
    check(unsafe { raw_hostcall(nr, args) })
}

/// The host's trap-ABI version ([`crate::ABI_VERSION`] for a host built with this crate).
pub fn version() -> Result<u32> {
    call(hostcall::VERSION, [0; 6]).map(|v| v as u32)
}

/// Writes `bytes` to `handle` (1 is stdout, 2 stderr); returns the count written, which may
/// be short. [`fs::File`] writes all of it.
pub fn write(handle: u64, bytes: &[u8]) -> Result<usize> {
    // (The host only reads `bytes`.)
    call(hostcall::WRITE, [handle, bytes.as_ptr() as u64, bytes.len() as u64, 0, 0, 0]).map(|n| n as usize)
}

/// Reads into `buf` from `handle` (0 is stdin); 0 at the end of the input.
pub fn read(handle: u64, buf: &mut [u8]) -> Result<usize> {
    // (The host writes at most `buf.len()` bytes into `buf`, which is ours for the call.)
    call(hostcall::READ, [handle, buf.as_mut_ptr() as u64, buf.len() as u64, 0, 0, 0]).map(|n| n as usize)
}

/// Writes a structured log line at `level` (see [`hostcall::level`]).
pub fn log(level: u64, message: &str) -> Result<()> {
    call(hostcall::LOG, [level, message.as_ptr() as u64, message.len() as u64, 0, 0, 0]).map(drop)
}

/// Nanoseconds on the monotonic clock (never goes back; its start is arbitrary).
pub fn monotonic_ns() -> Result<u64> {
    call(hostcall::CLOCK, [hostcall::CLOCK_MONOTONIC, 0, 0, 0, 0, 0])
}

/// Nanoseconds since 1970-01-01 UTC.
pub fn realtime_ns() -> Result<u64> {
    call(hostcall::CLOCK, [hostcall::CLOCK_REALTIME, 0, 0, 0, 0, 0])
}

/// Fills `buf` with cryptographically secure random bytes.
pub fn random(buf: &mut [u8]) -> Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        done += call(hostcall::RANDOM, [rest.as_mut_ptr() as u64, rest.len() as u64, 0, 0, 0, 0])? as usize;
    }
    Ok(())
}

/// Waits at least `nanoseconds`.
pub fn sleep_ns(nanoseconds: u64) -> Result<()> {
    call(hostcall::SLEEP, [nanoseconds, 0, 0, 0, 0, 0]).map(drop)
}

/// Maps `len` bytes (rounded up to whole 4 KiB pages) of zeroed memory; the global allocator
/// of [`rt`] is built on it.
pub fn alloc_pages(len: usize) -> Result<core::ptr::NonNull<u8>> {
    let addr = call(hostcall::ALLOC, [len as u64, 0, 0, 0, 0, 0])?;
    core::ptr::NonNull::new(addr as *mut u8).ok_or(HostError(crate::errno::ENOMEM))
}

/// Returns pages [`alloc_pages`] gave.
///
/// # Safety
/// `addr..addr+len` must be pages from [`alloc_pages`] that nothing uses any more.
pub unsafe fn free_pages(addr: core::ptr::NonNull<u8>, len: usize) -> Result<()> {
    // SAFETY: the caller gives up the pages, which the host unmaps.
    check(unsafe { raw_hostcall(hostcall::FREE, [addr.as_ptr() as u64, len as u64, 0, 0, 0, 0]) }).map(drop)
}

/// Asks the policy whether `access` (a mask of `hostcall::ACCESS_*`) to `path` would be granted.
pub fn policy_check(path: &str, access: u64) -> Result<bool> {
    match call(hostcall::POLICY_CHECK, [path.as_ptr() as u64, path.len() as u64, access, 0, 0, 0]) {
        Ok(_) => Ok(true),
        Err(HostError(crate::errno::EACCES)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Ends the guest process with `code`, without a Linux system call.
pub fn exit(code: i32) -> ! {
    // SAFETY: EXIT takes one integer; the host ends the process and never resumes this thread.
    unsafe { raw_hostcall(hostcall::EXIT, [code as u64, 0, 0, 0, 0, 0]) };
    // The host does not resume a thread that asked to exit; if it does, trap for real.
    // SAFETY: a bare ud2 outside every trap table is a genuine SIGILL, which ends the process.
    unsafe { core::arch::asm!("ud2", options(noreturn, nostack)) }
}

/// A file mapped into the guest by the host: its bytes are plain memory, read with no trap
/// and no copy. Unmapped on drop.
#[derive(Debug)]
pub struct MappedFile {
    addr: *mut u8,
    len: usize,
    writable: bool,
}

impl MappedFile {
    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the host mapped `len` readable bytes at `addr` for as long as `self` lives
        // (only `Drop` unmaps them). A file truncated underneath raises SIGBUS on access, as a
        // native mmap would.
        unsafe { core::slice::from_raw_parts(self.addr, self.len) }
    }

    /// The file's bytes, writable, when it was mapped with [`map_file_writable`].
    pub fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        if !self.writable || self.len == 0 {
            return if self.writable { Some(&mut []) } else { None };
        }
        // SAFETY: as in `bytes`, and the host mapped the pages shared and writable; `&mut self`
        // makes this the only reference.
        Some(unsafe { core::slice::from_raw_parts_mut(self.addr, self.len) })
    }

    /// The mapping's length in bytes (the file's size when it was mapped).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the file was empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: unmaps exactly the range the host mapped for this value.
            let _ = unsafe { raw_hostcall(hostcall::UNMAP, [self.addr as u64, self.len as u64, 0, 0, 0, 0]) };
        }
    }
}

fn map(path: &str, flags: u64) -> Result<MappedFile> {
    let mut len: u64 = 0;
    // SAFETY: the path pointer and length describe `path` (read by the host); `len` is a
    // valid u64 the host writes the mapping's length into.
    let raw = unsafe {
        raw_hostcall(hostcall::MAP_FILE, [path.as_ptr() as u64, path.len() as u64, flags, &mut len as *mut u64 as u64, 0, 0])
    };
    let addr = check(raw)?;
    Ok(MappedFile { addr: addr as *mut u8, len: len as usize, writable: flags & hostcall::MAP_WRITE != 0 })
}

/// Maps `path` read-only into the guest, if the policy allows reading it.
pub fn map_file(path: &str) -> Result<MappedFile> {
    map(path, hostcall::MAP_READ)
}

/// Maps `path` shared and writable, if the policy allows writing it.
pub fn map_file_writable(path: &str) -> Result<MappedFile> {
    map(path, hostcall::MAP_READ | hostcall::MAP_WRITE)
}
