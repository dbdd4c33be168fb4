//! The runtime of a `no_std` guest: its entry, arguments and environment, printing, a global
//! allocator over the page hostcalls, the panic handler and the memory functions the
//! compiler calls. [`entry!`](crate::entry) puts them all in a guest binary; nothing here
//! runs in a program that does not use it.
//!
//! **Arguments and environment** come from the initial stack, as on any ELF: at the entry
//! `rsp` points at `argc`, followed by `argv[0..argc]`, a null pointer, the environment's
//! `KEY=value` pointers and another null pointer (the auxiliary vector follows; trapbox adds
//! nothing of its own). [`args`] and [`env`] read them.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

use crate::hostcall;

static ARGC: AtomicUsize = AtomicUsize::new(0);
static ARGV: AtomicPtr<*const u8> = AtomicPtr::new(core::ptr::null_mut());

/// What a guest's `main` may return: its exit status.
pub trait Termination {
    /// The exit status (0 for success).
    fn code(self) -> i32;
}

impl Termination for () {
    fn code(self) -> i32 {
        0
    }
}

impl Termination for i32 {
    fn code(self) -> i32 {
        self
    }
}

impl<E: core::fmt::Display> Termination for Result<(), E> {
    fn code(self) -> i32 {
        match self {
            Ok(()) => 0,
            Err(e) => {
                crate::eprintln!("error: {e}");
                1
            }
        }
    }
}

/// Called by the `_start` of [`entry!`](crate::entry) with the initial stack pointer: keeps
/// argc and argv, runs `main`, exits with its status.
///
/// # Safety
/// `sp` must be the process's initial stack pointer (what the kernel passed to `_start`).
pub unsafe fn start<T: Termination>(sp: *const usize, main: fn() -> T) -> ! {
    // SAFETY: the kernel laid out argc then the argv pointers at `sp` (the ELF convention);
    // they live, unchanged, for the whole process.
    unsafe {
        ARGC.store(*sp, Ordering::Relaxed);
        ARGV.store(sp.add(1) as *mut *const u8, Ordering::Relaxed);
    }
    let code = main().code();
    super::exit(code)
}

/// The length of the NUL-terminated string at `p`.
///
/// # Safety
/// `p` must point at a NUL-terminated string that lives for the process.
unsafe fn c_str(p: *const u8) -> &'static [u8] {
    let mut n = 0;
    // SAFETY: the caller promises a NUL within the string's allocation. (A volatile read:
    // a plain loop would become a call to `strlen`, which a `no_std` guest does not have.)
    unsafe {
        while core::ptr::read_volatile(p.add(n)) != 0 {
            n += 1;
        }
        core::slice::from_raw_parts(p, n)
    }
}

/// The `index`th pointer of the vector at `ARGV` (argv, then after argc+1 the environment).
fn vector(index: usize) -> Option<&'static [u8]> {
    let argv = ARGV.load(Ordering::Relaxed);
    if argv.is_null() {
        return None;
    }
    // SAFETY: `start` stored the kernel's argv, followed by its NULL and the environment's
    // pointers and NULL; callers never index past a NULL (see `arg_bytes` and `vars`).
    let p = unsafe { *argv.add(index) };
    // SAFETY: every non-null pointer of the vectors is a NUL-terminated string on the stack.
    (!p.is_null()).then(|| unsafe { c_str(p) })
}

/// Argument `index` as the kernel passed it (argument 0 is the program).
pub fn arg_bytes(index: usize) -> Option<&'static [u8]> {
    (index < ARGC.load(Ordering::Relaxed)).then(|| vector(index)).flatten()
}

/// The arguments, program first, as text (an argument that is not UTF-8 is `"\u{FFFD}"`;
/// [`arg_bytes`] has its bytes).
pub fn args() -> impl Iterator<Item = &'static str> {
    (0..ARGC.load(Ordering::Relaxed)).filter_map(arg_bytes).map(|a| core::str::from_utf8(a).unwrap_or("\u{FFFD}"))
}

/// The environment's `KEY=value` strings.
pub fn vars() -> impl Iterator<Item = &'static [u8]> {
    let first = ARGC.load(Ordering::Relaxed) + 1;
    let argv_set = !ARGV.load(Ordering::Relaxed).is_null();
    (first..).map_while(move |i| if argv_set { vector(i) } else { None })
}

/// The value of environment variable `key`, if it is set and UTF-8.
pub fn env(key: &str) -> Option<&'static str> {
    vars().find_map(|kv| kv.strip_prefix(key.as_bytes())?.strip_prefix(b"=")).and_then(|v| core::str::from_utf8(v).ok())
}

/// A writer to a handle that gathers small writes into one hostcall (each costs a trap).
struct Buffered {
    handle: u64,
    buf: [u8; 1024],
    len: usize,
}

impl Buffered {
    fn flush(&mut self) {
        let mut at = 0;
        while at < self.len {
            match super::write(self.handle, &self.buf[at..self.len]) {
                Ok(n) if n > 0 => at += n,
                _ => break,
            }
        }
        self.len = 0;
    }
}

impl core::fmt::Write for Buffered {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let mut bytes = s.as_bytes();
        while !bytes.is_empty() {
            if self.len == self.buf.len() {
                self.flush();
            }
            let n = bytes.len().min(self.buf.len() - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }
}

/// Formats `args` to `handle` with one hostcall per KiB (what [`print!`](crate::print) and
/// friends call).
pub fn print_to(handle: u64, args: core::fmt::Arguments<'_>) {
    let mut out = Buffered { handle, buf: [0; 1024], len: 0 };
    let _ = core::fmt::write(&mut out, args);
    out.flush();
}

/// Prints to stdout (handle 1), like `std::print!`.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::sdk::rt::print_to(1, format_args!($($arg)*)) };
}

/// Prints a line to stdout, like `std::println!`.
#[macro_export]
macro_rules! println {
    () => { $crate::sdk::rt::print_to(1, format_args!("\n")) };
    ($($arg:tt)*) => { $crate::sdk::rt::print_to(1, format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints to stderr (handle 2), like `std::eprint!`.
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::sdk::rt::print_to(2, format_args!($($arg)*)) };
}

/// Prints a line to stderr, like `std::eprintln!`.
#[macro_export]
macro_rules! eprintln {
    () => { $crate::sdk::rt::print_to(2, format_args!("\n")) };
    ($($arg:tt)*) => { $crate::sdk::rt::print_to(2, format_args!("{}\n", format_args!($($arg)*))) };
}

/// Reports a panic through the `log` hostcall (level error) and exits with status 101, as a
/// Rust program's panic does. Formats into a fixed buffer: a panic may come from a failed
/// allocation.
pub fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    struct Fixed {
        buf: [u8; 512],
        len: usize,
    }
    impl core::fmt::Write for Fixed {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let n = s.len().min(self.buf.len() - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            Ok(())
        }
    }
    let mut text = Fixed { buf: [0; 512], len: 0 };
    let _ = core::fmt::write(&mut text, format_args!("panicked: {info}"));
    // A message cut inside a character is cut back to the last whole one.
    let message = match core::str::from_utf8(&text.buf[..text.len]) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&text.buf[..e.valid_up_to()]).unwrap_or("panicked"),
    };
    let _ = super::log(hostcall::level::ERROR, message);
    super::exit(101)
}

/// Size classes of the small allocations: 16 bytes to 4 KiB, powers of two.
const CLASSES: usize = 9;
const SMALLEST: usize = 16;
const LARGEST_SMALL: usize = SMALLEST << (CLASSES - 1);
/// Small allocations are carved from chunks of this many bytes from the host.
const CHUNK: usize = 256 * 1024;
const PAGE: usize = 4096;

/// The global allocator of a guest: allocations up to 4 KiB come from per-size free lists
/// carved out of 256 KiB chunks of [`alloc_pages`](super::alloc_pages); larger ones are whole
/// pages of their own, returned to the host when freed. Every byte it hands out starts zeroed
/// or was freed by the program. A spin lock makes it safe under threads (a native guest has
/// one).
#[derive(Debug)]
pub struct PageAllocator {
    lock: AtomicBool,
    free: [AtomicPtr<u8>; CLASSES],
    bump: AtomicUsize,
    bump_end: AtomicUsize,
}

impl Default for PageAllocator {
    fn default() -> PageAllocator {
        PageAllocator::new()
    }
}

impl PageAllocator {
    /// An allocator with nothing allocated yet.
    pub const fn new() -> PageAllocator {
        PageAllocator {
            lock: AtomicBool::new(false),
            free: [const { AtomicPtr::new(core::ptr::null_mut()) }; CLASSES],
            bump: AtomicUsize::new(0),
            bump_end: AtomicUsize::new(0),
        }
    }

    fn class(layout: Layout) -> Option<usize> {
        let size = layout.size().max(layout.align()).max(SMALLEST).next_power_of_two();
        (size <= LARGEST_SMALL).then(|| size.trailing_zeros() as usize - SMALLEST.trailing_zeros() as usize)
    }

    fn locked<R>(&self, f: impl FnOnce() -> R) -> R {
        while self.lock.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            core::hint::spin_loop();
        }
        let r = f();
        self.lock.store(false, Ordering::Release);
        r
    }

    fn large_len(layout: Layout) -> usize {
        (layout.size() + PAGE - 1) & !(PAGE - 1)
    }
}

// SAFETY: small blocks are handed out once until freed (free lists and the bump pointer
// change only under the lock), every block is at least as large and as aligned as its layout
// asks (a class is a power of two ≥ size and align, carved at multiples of itself from
// page-aligned chunks), and large blocks are fresh pages from the host.
unsafe impl GlobalAlloc for PageAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = PageAllocator::class(layout) else {
            if layout.align() > PAGE {
                return core::ptr::null_mut();
            }
            return super::alloc_pages(PageAllocator::large_len(layout)).map_or(core::ptr::null_mut(), |p| p.as_ptr());
        };
        let size = SMALLEST << class;
        self.locked(|| {
            let head = self.free[class].load(Ordering::Relaxed);
            if !head.is_null() {
                // SAFETY: a freed block of this class holds the next free block's address in
                // its first word (written by dealloc); blocks are at least 16-byte aligned.
                let next = unsafe { *(head as *mut *mut u8) };
                self.free[class].store(next, Ordering::Relaxed);
                return head;
            }
            let mut at = (self.bump.load(Ordering::Relaxed) + size - 1) & !(size - 1);
            if at == 0 || at + size > self.bump_end.load(Ordering::Relaxed) {
                let Ok(chunk) = super::alloc_pages(CHUNK) else { return core::ptr::null_mut() };
                at = chunk.as_ptr() as usize;
                self.bump_end.store(at + CHUNK, Ordering::Relaxed);
            }
            self.bump.store(at + size, Ordering::Relaxed);
            at as *mut u8
        })
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as alloc; a large block is fresh zeroed pages, a small one is cleared.
        unsafe {
            let p = self.alloc(layout);
            if !p.is_null() && PageAllocator::class(layout).is_some() {
                core::ptr::write_bytes(p, 0, layout.size());
            }
            p
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(class) = PageAllocator::class(layout) else {
            if let Some(p) = core::ptr::NonNull::new(ptr) {
                // SAFETY: the caller frees a block `alloc` got whole from the host, of this length.
                let _ = unsafe { super::free_pages(p, PageAllocator::large_len(layout)) };
            }
            return;
        };
        self.locked(|| {
            // SAFETY: the block is the caller's to give back and at least 16 bytes long: its
            // first word now links it into its class's free list.
            unsafe { *(ptr as *mut *mut u8) = self.free[class].load(Ordering::Relaxed) };
            self.free[class].store(ptr, Ordering::Relaxed);
        })
    }
}

/// Puts the runtime in a `no_std`, `no_main` guest binary: a `_start` that keeps the
/// arguments and environment ([`args`], [`env`]) and calls `main` (which returns `()`, an
/// `i32` status or a `Result<(), E: Display>`), then exits with its status; the
/// [`PageAllocator`] as the global allocator (so `alloc::vec::Vec`, `String` and `format!`
/// work); the panic handler ([`panic`]); and the memory functions (`memcpy`, `memmove`,
/// `memset`, `memcmp`, `bcmp`) the compiler calls, which `no_std` leaves out. See the crate
/// docs for a whole guest and how to build it.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[doc(hidden)]
        #[no_mangle]
        pub unsafe extern "C" fn __trapbox_start(sp: *const usize) -> ! {
            // SAFETY: `_start` below passes the initial stack pointer the kernel gave it.
            unsafe { $crate::sdk::rt::start(sp, $main) }
        }

        core::arch::global_asm!(
            ".globl _start",
            "_start:",
            "xor ebp, ebp",
            "mov rdi, rsp",
            "and rsp, -16",
            "call {start}",
            "ud2",
            start = sym __trapbox_start,
        );

        #[global_allocator]
        static __TRAPBOX_ALLOCATOR: $crate::sdk::rt::PageAllocator = $crate::sdk::rt::PageAllocator::new();

        #[panic_handler]
        fn __trapbox_panic(info: &core::panic::PanicInfo<'_>) -> ! {
            $crate::sdk::rt::panic(info)
        }

        // Referenced by the precompiled `core` and `alloc` even with `panic=abort`; never
        // called, since nothing unwinds.
        #[doc(hidden)]
        #[no_mangle]
        pub extern "C" fn rust_eh_personality() {}

        #[doc(hidden)]
        #[no_mangle]
        pub extern "C" fn _Unwind_Resume() -> ! {
            $crate::sdk::exit(134)
        }

        #[doc(hidden)]
        #[no_mangle]
        pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
            // SAFETY: the caller passes non-overlapping ranges of `n` bytes (memcpy's contract);
            // `rep movsb` is an instruction, so the compiler cannot turn it back into a call.
            unsafe {
                core::arch::asm!("rep movsb", inout("rdi") dst => _, inout("rsi") src => _, inout("rcx") n => _, options(nostack, preserves_flags));
            }
            dst
        }

        #[doc(hidden)]
        #[no_mangle]
        pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
            if (dst as usize) <= (src as usize) || (dst as usize) >= (src as usize).wrapping_add(n) {
                // SAFETY: copying forward is correct when the target starts before the source
                // or past its end.
                return unsafe { memcpy(dst, src, n) };
            }
            // SAFETY: overlapping with the target after the source: copy backwards (the
            // direction flag is restored before returning).
            unsafe {
                core::arch::asm!(
                    "std", "rep movsb", "cld",
                    inout("rdi") dst.add(n - 1) => _, inout("rsi") src.add(n - 1) => _, inout("rcx") n => _,
                    options(nostack),
                );
            }
            dst
        }

        #[doc(hidden)]
        #[no_mangle]
        pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
            // SAFETY: the caller passes `n` writable bytes at `dst` (memset's contract).
            unsafe {
                core::arch::asm!("rep stosb", inout("rdi") dst => _, inout("rcx") n => _, in("al") c as u8, options(nostack, preserves_flags));
            }
            dst
        }

        #[doc(hidden)]
        #[no_mangle]
        pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
            let mut i = 0;
            while i < n {
                // SAFETY: the caller passes `n` readable bytes at each (memcmp's contract).
                let (x, y) = unsafe { (core::ptr::read_volatile(a.add(i)), core::ptr::read_volatile(b.add(i))) };
                if x != y {
                    return i32::from(x) - i32::from(y);
                }
                i += 1;
            }
            0
        }

        #[doc(hidden)]
        #[no_mangle]
        pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
            // SAFETY: as memcmp.
            unsafe { memcmp(a, b, n) }
        }
    };
}
