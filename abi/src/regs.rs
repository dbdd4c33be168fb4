//! The register convention: Linux x86-64 `syscall`, unchanged.

/// The registers that carry arguments 0 to 5, in order. `rax` carries the call number on
/// entry and the result on return.
pub const ARGUMENT_REGISTERS: [&str; 6] = ["rdi", "rsi", "rdx", "r10", "r8", "r9"];

/// The register that carries the call number on entry and the result on return.
pub const NUMBER_REGISTER: &str = "rax";

/// Registers the host (like the `syscall` instruction) may clobber.
pub const CLOBBERED_REGISTERS: [&str; 2] = ["rcx", "r11"];

/// How many argument registers a call can use.
pub const MAX_ARGUMENTS: usize = 6;
