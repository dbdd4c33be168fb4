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

#![no_std]
#![warn(missing_docs)]

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
pub const ABI_VERSION: u32 = 2;
