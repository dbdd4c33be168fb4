//! Trap encodings and the kinds of instruction a trap site replaces.
//!
//! Every encoding is exactly two bytes, the length of `syscall`, so the rewriter patches in
//! place and nothing moves.

/// `syscall`: the x86-64 system-call instruction.
pub const SYSCALL_BYTES: [u8; 2] = [0x0F, 0x05];
/// `sysenter`: the 32-bit fast system call; never honoured for a 64-bit guest.
pub const SYSENTER_BYTES: [u8; 2] = [0x0F, 0x34];
/// `int 0x80`: the legacy 32-bit system-call gate; never honoured for a 64-bit guest.
pub const INT80_BYTES: [u8; 2] = [0xCD, 0x80];

/// The length of every trap site.
pub const TRAP_LEN: u64 = 2;

/// How a trap is encoded in a rewritten binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TrapEncoding {
    /// `ud2` (`0F 0B`), the canonical ABI: the CPU raises #UD, the kernel sends `SIGILL`, and
    /// the stopped thread's `rip` points at the trap itself.
    Ud2 = 1,
    /// `int3; nop` (`CC 90`): the CPU raises #BP, the kernel sends `SIGTRAP`, and `rip` points
    /// one byte past the trap start. On KVM guests #UD is intercepted by the hypervisor, so this
    /// encoding is cheaper there; it exists so that researchers can compare.
    Int3 = 2,
}

impl TrapEncoding {
    /// Every encoding, canonical first.
    pub const ALL: [TrapEncoding; 2] = [TrapEncoding::Ud2, TrapEncoding::Int3];

    /// The two bytes written over a site.
    pub const fn bytes(self) -> [u8; 2] {
        match self {
            TrapEncoding::Ud2 => [0x0F, 0x0B],
            TrapEncoding::Int3 => [0xCC, 0x90],
        }
    }

    /// The signal the kernel delivers when the trap executes (`SIGILL` or `SIGTRAP`, Linux numbering).
    pub const fn signal(self) -> i32 {
        match self {
            TrapEncoding::Ud2 => 4,
            TrapEncoding::Int3 => 5,
        }
    }

    /// The site address, given `rip` as the stopped thread reports it.
    pub const fn site_from_stop_ip(self, ip: u64) -> u64 {
        match self {
            TrapEncoding::Ud2 => ip,
            TrapEncoding::Int3 => ip.wrapping_sub(1),
        }
    }

    /// Where execution resumes after the host has served the trap at `site`.
    pub const fn resume_ip(site: u64) -> u64 {
        site.wrapping_add(TRAP_LEN)
    }

    /// The name used on command lines and in reports.
    pub const fn name(self) -> &'static str {
        match self {
            TrapEncoding::Ud2 => "ud2",
            TrapEncoding::Int3 => "int3",
        }
    }

    /// Parses [`TrapEncoding::name`].
    pub fn from_name(name: &str) -> Option<TrapEncoding> {
        TrapEncoding::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Parses the table's encoding byte.
    pub const fn from_u8(value: u8) -> Option<TrapEncoding> {
        match value {
            1 => Some(TrapEncoding::Ud2),
            2 => Some(TrapEncoding::Int3),
            _ => None,
        }
    }
}

/// Which instruction a trap site replaced. The host serves [`SiteKind::Syscall`] sites and
/// refuses the 32-bit gates: a 64-bit guest has no business using them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum SiteKind {
    /// `syscall` (`0F 05`).
    Syscall = 1,
    /// `sysenter` (`0F 34`).
    Sysenter = 2,
    /// `int 0x80` (`CD 80`).
    Int80 = 3,
}

impl SiteKind {
    /// Every kind.
    pub const ALL: [SiteKind; 3] = [SiteKind::Syscall, SiteKind::Sysenter, SiteKind::Int80];

    /// The original bytes of the instruction.
    pub const fn original_bytes(self) -> [u8; 2] {
        match self {
            SiteKind::Syscall => SYSCALL_BYTES,
            SiteKind::Sysenter => SYSENTER_BYTES,
            SiteKind::Int80 => INT80_BYTES,
        }
    }

    /// The instruction's mnemonic.
    pub const fn name(self) -> &'static str {
        match self {
            SiteKind::Syscall => "syscall",
            SiteKind::Sysenter => "sysenter",
            SiteKind::Int80 => "int80",
        }
    }

    /// Parses the table's kind byte.
    pub const fn from_u8(value: u8) -> Option<SiteKind> {
        match value {
            1 => Some(SiteKind::Syscall),
            2 => Some(SiteKind::Sysenter),
            3 => Some(SiteKind::Int80),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_two_bytes_and_differ_from_every_original() {
        for encoding in TrapEncoding::ALL {
            assert_eq!(encoding.bytes().len() as u64, TRAP_LEN);
            assert_eq!(TrapEncoding::from_name(encoding.name()), Some(encoding));
            assert_eq!(TrapEncoding::from_u8(encoding as u8), Some(encoding));
            for kind in SiteKind::ALL {
                assert_ne!(encoding.bytes(), kind.original_bytes());
            }
        }
        assert_eq!(TrapEncoding::Int3.site_from_stop_ip(0x1001), 0x1000);
        assert_eq!(TrapEncoding::Ud2.site_from_stop_ip(0x1000), 0x1000);
    }
}
