//! The seccomp backstop: a classic-BPF filter installed in the guest before `execve`.
//!
//! It has no instruction-pointer rule and no magic-argument rule (both are forgeable by a
//! guest that can write code or registers). Its whole logic is:
//!
//! 1. architecture is not x86-64 (`int 0x80`, `sysenter` from a 64-bit process) → kill the process;
//! 2. the x32 bit (`0x4000_0000`) is set → kill the process;
//! 3. the call is [`Disposition::Native`](crate::syscalls::Disposition::Native) in the
//!    dispatcher's table → allow;
//! 4. anything else → `SECCOMP_RET_TRACE`: a stop the host handles.
//!
//! So code the rewriter missed, JIT code, the vDSO fallback and unrewritten binaries are
//! still mediated — slower, never unmediated.

use crate::syscalls;

/// One classic-BPF instruction (`struct sock_filter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct SockFilter {
    /// Opcode.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Constant operand.
    pub k: u32,
}

/// `struct sock_fprog`.
#[derive(Debug)]
#[repr(C)]
pub struct SockFprog {
    /// Instruction count.
    pub len: u16,
    /// The instructions.
    pub filter: *const SockFilter,
}

/// `AUDIT_ARCH_X86_64`.
pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// The x32 ABI bit of a call number.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

const OFFSET_NR: u32 = 0; // struct seccomp_data
const OFFSET_ARCH: u32 = 4;

const fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter { code, jt: 0, jf: 0, k }
}

const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

/// Builds the filter from the dispatcher's table. With `trace_everything` (the native
/// personality) no call runs natively: every one stops in the host. Calls in `also_trace`
/// stop in the host although the table would let them run (a policy's extra checks).
pub fn build_filter(trace_everything: bool, also_trace: &[u64]) -> Vec<SockFilter> {
    let allowed: Vec<u32> = if trace_everything {
        Vec::new()
    } else {
        syscalls::native_calls().filter(|nr| !also_trace.contains(&u64::from(*nr))).collect()
    };
    let mut prog = vec![
        stmt(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, RET_KILL_PROCESS),
        stmt(LD_W_ABS, OFFSET_NR),
        jump(JSET_K, X32_SYSCALL_BIT, 0, 1),
        stmt(RET_K, RET_KILL_PROCESS),
    ];
    // Each allowed number jumps over the rest of the list and the TRACE return to ALLOW.
    // (Jump offsets are 8 bits: the list must stay under 255 entries, checked below.)
    let count = allowed.len();
    assert!(count < 255, "the allow-list outgrew the linear BPF layout");
    for (i, nr) in allowed.iter().enumerate() {
        let to_allow = (count - i - 1) + 1;
        prog.push(jump(JEQ_K, *nr, to_allow as u8, 0));
    }
    prog.push(stmt(RET_K, RET_TRACE));
    prog.push(stmt(RET_K, RET_ALLOW));
    prog
}

/// What the filter returns for a call, evaluated in Rust the way the kernel evaluates the BPF
/// (used by tests to check the program against the table).
pub fn evaluate(prog: &[SockFilter], arch: u32, nr: u32) -> u32 {
    let mut acc = 0u32;
    let mut pc = 0usize;
    while let Some(ins) = prog.get(pc) {
        match ins.code {
            LD_W_ABS => acc = if ins.k == OFFSET_ARCH { arch } else { nr },
            JEQ_K => pc += usize::from(if acc == ins.k { ins.jt } else { ins.jf }),
            JSET_K => pc += usize::from(if acc & ins.k != 0 { ins.jt } else { ins.jf }),
            RET_K => return ins.k,
            _ => return RET_KILL_PROCESS,
        }
        pc += 1;
    }
    RET_KILL_PROCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscalls::{Disposition, TABLE};

    #[test]
    fn filter_matches_the_table() {
        let prog = build_filter(false, &[]);
        for (nr, entry) in TABLE.iter().enumerate() {
            let expected = if entry.disposition == Disposition::Native { RET_ALLOW } else { RET_TRACE };
            assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, nr as u32), expected, "nr {nr}");
        }
        assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, 0x1000_0000), RET_TRACE, "hostcalls go to the host");
        assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 39), RET_KILL_PROCESS);
        assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT), RET_KILL_PROCESS);
        assert_eq!(evaluate(&prog, 0x4000_0003, 0), RET_KILL_PROCESS, "i386 (int 0x80) is killed");
        assert_eq!(evaluate(&build_filter(false, &[91]), AUDIT_ARCH_X86_64, 91), RET_TRACE, "fchmod traced under a policy");
        let native = build_filter(true, &[]);
        for nr in 0..TABLE.len() as u32 {
            assert_eq!(evaluate(&native, AUDIT_ARCH_X86_64, nr), RET_TRACE, "native personality: nr {nr}");
        }
        assert_eq!(evaluate(&native, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 1), RET_KILL_PROCESS);
    }
}
