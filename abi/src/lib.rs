//! # The trapbox trap ABI
//!
//! This crate is the contract between a guest and the trapbox host. It is `no_std`, has no
//! dependencies and defines each part of the contract in exactly one place; the rewriter and
//! the runtime both use it. Everything here can be implemented in any language: the
//! definitions are plain integers and byte layouts.
//!
//! ## A trap
//!
//! A guest asks the host for service by executing a **trap instruction** at an address that
//! is listed in the trap table of the module (executable or shared object) containing it.
//! The rewriter produces such sites by replacing each `syscall` (`0F 05`) with a trap of the
//! same length, so no code or data moves. The canonical trap is `ud2` (`0F 0B`); the
//! alternative `int3; nop` (`CC 90`) exists for measurement (see [`trap::TrapEncoding`]).
//! A trap instruction at an address that is *not* listed is a genuine crash — compilers emit
//! `ud2` for `abort`/`unreachable` — and the guest receives its `SIGILL` as it would natively.
//!
//! ## Registers ([`regs`])
//!
//! Exactly the Linux x86-64 system-call convention, so a rewritten site needs no shuffling:
//! `rax` holds the call number, the arguments are in `rdi rsi rdx r10 r8 r9`, and the host
//! writes the result to `rax`: a value, or `-errno` (a value in `-4095..=-1`, see [`errno`]).
//! `rcx` and `r11` may be clobbered (the `syscall` instruction clobbers them too); every other
//! register is preserved. Execution resumes just after the two-byte trap.
//!
//! ## Call numbers
//!
//! Numbers below [`linux::SYSCALL_COUNT`] are the **linux personality**: the x86-64 Linux
//! system-call table, with Linux semantics. Numbers in
//! [`hostcall::HOSTCALL_BASE`]`..`[`hostcall::HOSTCALL_END`] are **hostcalls**, which exist only
//! under trapbox (ABI version, zero-copy file mapping, policy queries, structured logging). A
//! guest that uses only hostcalls needs no Linux system call at all.
//!
//! ## The trap table ([`table`])
//!
//! A versioned little-endian array of sites, sorted by address, carried in a non-loaded ELF
//! section named [`table::SECTION_NAME`]. Each site records its link-time virtual address
//! (the host adds the module's load bias), the kind of instruction it replaced and, when the
//! rewriter could infer it, the call number. Hostcall stubs of the SDK ([`sdk`]) list
//! themselves in a second section, `.trapbox.sdk`, a bare array of the same entries.

//!
//! ## Writing a guest against the SDK
//!
//! A guest that uses only hostcalls — the native personality, `trapbox run --personality
//! native` — is a `no_std`, `no_main` Rust program (or a C program with `hostcall.h`).
//! [`entry!`] gives it its `_start`, arguments and environment, a global allocator (so
//! `alloc`'s `Vec`, `String` and `format!` work), the panic handler and the memory functions;
//! [`sdk`] has a safe wrapper per hostcall, files ([`sdk::fs`]) and [`println!`]:
//!
//! ```text
//! #![no_std]
//! #![no_main]
//! extern crate alloc;
//!
//! use alloc::string::String;
//! use trapbox_abi::println;
//! use trapbox_abi::sdk::{self, fs};
//!
//! trapbox_abi::entry!(main);
//!
//! fn main() -> sdk::Result<()> {
//!     let name = sdk::rt::args().nth(1).unwrap_or("/dev/stdin");
//!     let text = String::from_utf8_lossy(&fs::read(name)?).into_owned();
//!     println!("{name}: {} lines", text.lines().count());
//!     Ok(())
//! }
//! ```
//!
//! (Marked `ignore` because a doc test links with `std`, which brings its own `_start`,
//! allocator and panic handler; the test suite builds this kind of guest as below —
//! `tests/guests/sdk_calls.rs`, `examples/rust/*.rs`.)
//!
//! Build it with `rustc` (or cargo with the same flags in `RUSTFLAGS`), the abi crate first:
//!
//! ```sh
//! FLAGS="--edition=2021 -O -C panic=abort"
//! rustc $FLAGS --crate-type=rlib --crate-name=trapbox_abi abi/src/lib.rs -o libtrapbox_abi.rlib
//! rustc $FLAGS -C relocation-model=static -C link-arg=-nostartfiles -C link-arg=-static \
//!     --extern trapbox_abi=libtrapbox_abi.rlib -o guest guest.rs
//! trapbox run --personality native --allow-read . -- ./guest README.md
//! ```
//!
//! `panic=abort` because nothing unwinds; `-nostartfiles` because [`entry!`] is the
//! `_start`; `-static` (and a static relocation model) because no dynamic loader is run.
//! The result is a static ELF that makes no Linux system call. `examples/rust/` in the
//! repository has whole programs (`wc`, `sha256sum`, `cat`, `cp`, `grep`, a key-value
//! store) and `examples/build.sh` builds them.
//!
//! ## What another host must implement
//!
//! Nothing in a guest is Linux's beyond the ELF format and the x86-64 instruction set: a
//! host on another OS, or a hypervisor, serves the same binary by implementing
//! - the **trap**: catch the `#UD` of `ud2` (a debugger's exception, or a VM exit), look the
//!   address up in the sites of the module's `.trapbox.sdk` section (plus its load bias) —
//!   an unlisted `ud2` is the guest's own crash — and resume at the address after it;
//! - the **registers**: number in `rax`, arguments in `rdi rsi rdx r10 r8 r9`, result in
//!   `rax` as a value or `-errno` with Linux's errno numbers ([`errno`]), `rcx`/`r11` free;
//! - the **hostcall table** ([`hostcall`]): each call's arguments, result and memory effects
//!   (the [`hostcall::FileStat`] and `READDIR` record layouts), handles 0, 1 and 2;
//! - the **initial stack** of an ELF process (argc, argv, envp, auxv) and its loading;
//! - optionally the second **entry**: a plain `syscall` with a hostcall number, served with
//!   the same results (where a trap is dearer than a system-call intercept).
//!
//! Numbers from [`hostcall::EMBEDDER_BASE`] to [`hostcall::EMBEDDER_END`] are the embedding
//! program's own (`trapbox::Command::hostcall` in the host crate): a host without such a
//! program answers them `-ENOSYS`.
//!
//! ## Unsafe code
//!
//! Only in [`sdk`] (the trap itself, guest memory the host fills, and the runtime of
//! [`entry!`]), each block with a `// SAFETY:` line.

#![no_std]
#![warn(missing_docs)]

#[cfg(target_arch = "x86_64")]
extern crate alloc;

pub mod errno;
pub mod hostcall;
pub mod linux;
pub mod regs;
#[cfg(target_arch = "x86_64")]
pub mod sdk;
pub mod table;
pub mod trap;

/// The version of the trap ABI described by this crate. A guest can ask the host for its
/// version with [`hostcall::VERSION`]; the trap table carries [`table::TABLE_VERSION`].
/// Version 2 added the hostcalls of a whole program (files, memory, clocks, randomness).
pub const ABI_VERSION: u32 = 2;
