//! The seccomp backstop: a classic-BPF filter installed in the guest before `execve`.
//!
//! It has no instruction-pointer rule and no magic-argument rule (both are forgeable by a
//! guest that can write code or registers). Its whole logic is:
//!
//! 1. architecture is not x86-64 (`int 0x80`, `sysenter` from a 64-bit process) → kill the process;
//! 2. the x32 bit (`0x4000_0000`) is set → kill the process;
//! 3. under a policy, a memory-map or protection call whose range may reach the pinned-argument region
//!    ([`crate::pinned`]) → `SECCOMP_RET_TRACE` (the host refuses any that touches it);
//! 4. the call is [`Disposition::Native`](crate::syscalls::Disposition::Native) in the
//!    dispatcher's table → allow;
//! 5. anything else → `SECCOMP_RET_TRACE`: a stop the host handles.
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
const OFFSET_ARGS: u32 = 16;

/// The offset of the low (`false`) or high (`true`) 32 bits of argument `index`.
const fn arg_word(index: usize, high: bool) -> u32 {
    OFFSET_ARGS + 8 * index as u32 + if high { 4 } else { 0 }
}

const fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter { code, jt: 0, jf: 0, k }
}

const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

/// One test of a guard block: where it sends the call when it holds.
#[derive(Clone, Copy)]
enum GuardTest {
    /// Unless bit `.1` of argument `.0` is set, the call cannot reach the region: allow.
    NeedsFlag(usize, u32),
    /// A length argument of 4 GiB or more: trace.
    LongLength(usize),
    /// An address argument in the 4 GiB block of the region or the one below: trace.
    NearRegion(usize),
}

/// The instructions for one guarded call (the call number is in the accumulator and matched
/// by the caller): the tests in order, then `ret ALLOW` and `ret TRACE`. Any range that can
/// touch `[base, base + 4 GiB)` with a length below 4 GiB starts in that block or the one
/// below, so the tests are a superset of [`crate::pinned::touches_region`].
fn guard_block(tests: &[GuardTest], base: u64) -> Vec<SockFilter> {
    let block = (base >> 32) as u32;
    let mut body = Vec::new();
    // (jump-if-true target, jump-if-false target): None is the next instruction, Some(true)
    // the TRACE return, Some(false) the ALLOW return.
    let mut targets: Vec<(Option<bool>, Option<bool>)> = Vec::new();
    for test in tests {
        match *test {
            GuardTest::NeedsFlag(arg, bit) => {
                body.push(stmt(LD_W_ABS, arg_word(arg, false)));
                targets.push((None, None));
                body.push(jump(JSET_K, bit, 0, 0));
                targets.push((None, Some(false)));
            }
            GuardTest::LongLength(arg) => {
                body.push(stmt(LD_W_ABS, arg_word(arg, true)));
                targets.push((None, None));
                body.push(jump(JEQ_K, 0, 0, 0));
                targets.push((None, Some(true)));
            }
            GuardTest::NearRegion(arg) => {
                body.push(stmt(LD_W_ABS, arg_word(arg, true)));
                targets.push((None, None));
                body.push(jump(JEQ_K, block, 0, 0));
                targets.push((Some(true), None));
                body.push(jump(JEQ_K, block - 1, 0, 0));
                targets.push((Some(true), None));
            }
        }
    }
    // A call that passes every test falls through to ALLOW.
    let (allow_at, trace_at) = (body.len(), body.len() + 1);
    for (pc, (jt, jf)) in targets.into_iter().enumerate() {
        let offset = |target: Option<bool>| match target {
            None => 0,
            Some(true) => (trace_at - pc - 1) as u8,
            Some(false) => (allow_at - pc - 1) as u8,
        };
        body[pc].jt = offset(jt);
        body[pc].jf = offset(jf);
    }
    body.push(stmt(RET_K, RET_ALLOW));
    body.push(stmt(RET_K, RET_TRACE));
    body
}

/// The guard blocks for the memory-map calls that could replace the region at `base`.
fn guard(base: u64) -> Vec<SockFilter> {
    use trapbox_abi::linux::nr;
    use GuardTest::*;
    let map_fixed = libc::MAP_FIXED as u32;
    let calls: [(u64, &[GuardTest]); 6] = [
        (nr::MMAP, &[NeedsFlag(3, map_fixed), LongLength(1), NearRegion(0)]),
        (nr::MUNMAP, &[LongLength(1), NearRegion(0)]),
        (nr::MADVISE, &[LongLength(1), NearRegion(0)]),
        (nr::MPROTECT, &[LongLength(1), NearRegion(0)]),
        (nr::PKEY_MPROTECT, &[LongLength(1), NearRegion(0)]),
        (nr::MREMAP, &[LongLength(1), LongLength(2), NearRegion(0), NearRegion(4)]),
    ];
    let mut prog = Vec::new();
    for (number, tests) in calls {
        let block = guard_block(tests, base);
        prog.push(jump(JEQ_K, number as u32, 0, block.len() as u8));
        prog.extend(block);
    }
    prog
}

/// Builds the filter from the dispatcher's table. With `trace_everything` (the native
/// personality) no call runs natively: every one stops in the host. Calls in `also_trace`
/// stop in the host although the table would let them run (a policy's extra checks). With
/// `guarded_region`, memory-map calls that may reach it stop in the host.
pub fn build_filter(trace_everything: bool, also_trace: &[u64], guarded_region: Option<u64>) -> Vec<SockFilter> {
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
    if let (false, Some(base)) = (trace_everything, guarded_region) {
        prog.extend(guard(base));
    }
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
pub fn evaluate(prog: &[SockFilter], arch: u32, nr: u32, args: &[u64; 6]) -> u32 {
    let mut acc = 0u32;
    let mut pc = 0usize;
    while let Some(ins) = prog.get(pc) {
        match ins.code {
            LD_W_ABS => {
                acc = match ins.k {
                    OFFSET_NR => nr,
                    OFFSET_ARCH => arch,
                    k if (OFFSET_ARGS..OFFSET_ARGS + 48).contains(&k) && k % 4 == 0 => {
                        let word = args[((k - OFFSET_ARGS) / 8) as usize];
                        if (k - OFFSET_ARGS) % 8 == 4 { (word >> 32) as u32 } else { word as u32 }
                    }
                    _ => return RET_KILL_PROCESS,
                }
            }
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
    use trapbox_abi::linux::nr;

    #[test]
    fn filter_matches_the_table() {
        let none = [0u64; 6];
        let prog = build_filter(false, &[], None);
        for (nr, entry) in TABLE.iter().enumerate() {
            let expected = if entry.disposition == Disposition::Native { RET_ALLOW } else { RET_TRACE };
            assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, nr as u32, &none), expected, "nr {nr}");
        }
        assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, 0x1000_0000, &none), RET_TRACE, "hostcalls go to the host");
        assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 39, &none), RET_KILL_PROCESS);
        assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT, &none), RET_KILL_PROCESS);
        assert_eq!(evaluate(&prog, 0x4000_0003, 0, &none), RET_KILL_PROCESS, "i386 (int 0x80) is killed");
        assert_eq!(evaluate(&build_filter(false, &[91], None), AUDIT_ARCH_X86_64, 91, &none), RET_TRACE, "fchmod traced under a policy");
        let native = build_filter(true, &[], Some(crate::pinned::PIN_BASE));
        for nr in 0..TABLE.len() as u32 {
            assert_eq!(evaluate(&native, AUDIT_ARCH_X86_64, nr, &none), RET_TRACE, "native personality: nr {nr}");
        }
        assert_eq!(evaluate(&native, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 1, &none), RET_KILL_PROCESS);
    }

    /// Every memory-map call that touches the pinned region stops in the host; ordinary ones
    /// (and every other call) keep the table's verdict.
    #[test]
    fn guard_covers_the_pinned_region() {
        use crate::pinned::{touches_region, GUARDED_CALLS, PIN_BASE, PIN_LEN};
        let guarded = build_filter(false, &[], Some(PIN_BASE));
        let plain = build_filter(false, &[], None);
        let addresses = [0, 0x1000, 0x40_0000, PIN_BASE - (1 << 32), PIN_BASE - 8192, PIN_BASE - 1, PIN_BASE, PIN_BASE + 4096,
            PIN_BASE + PIN_LEN, PIN_BASE + (1 << 32), 0x7fff_f7ff_0000];
        let lengths = [0, 1, 4096, 8192, 1 << 31, (1 << 32) - 1, 1 << 32, 1 << 40, u64::MAX];
        let flags = [0, libc::MAP_FIXED as u64, libc::MREMAP_FIXED as u64 | 1, 0x22];
        let mut traced = 0;
        for number in GUARDED_CALLS {
            for &a0 in &addresses {
                for &a1 in &lengths {
                    for &f in &flags {
                        for &a4 in &addresses {
                            let args = [a0, a1, a1 / 2, f, a4, 0];
                            let verdict = evaluate(&guarded, AUDIT_ARCH_X86_64, number as u32, &args);
                            if touches_region(number, &args) {
                                assert_eq!(verdict, RET_TRACE, "nr {number} args {args:x?}");
                                traced += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(traced > 100);
        let ordinary = [0x7f12_3456_0000, 0x21000, 3, 0x22, 0, 0];
        for number in [nr::MMAP, nr::MUNMAP, nr::MADVISE, nr::MREMAP, nr::MPROTECT, nr::PKEY_MPROTECT] {
            assert_eq!(evaluate(&guarded, AUDIT_ARCH_X86_64, number as u32, &ordinary), RET_ALLOW, "nr {number}");
        }
        for nr in 0..TABLE.len() as u32 {
            if !GUARDED_CALLS.contains(&u64::from(nr)) {
                assert_eq!(evaluate(&guarded, AUDIT_ARCH_X86_64, nr, &none()), evaluate(&plain, AUDIT_ARCH_X86_64, nr, &none()));
            }
        }
    }

    fn none() -> [u64; 6] {
        [0; 6]
    }
}
