//! The seccomp backstop: a classic-BPF filter installed in the guest before `execve`.
//!
//! It has no instruction-pointer rule and no magic-argument rule (both are forgeable by a
//! guest that can write code or registers). Its whole logic is:
//!
//! 1. architecture is not x86-64 (`int 0x80`, `sysenter` from a 64-bit process) → kill the process;
//! 2. the x32 bit (`0x4000_0000`) is set → kill the process;
//! 3. under a policy, a memory-map or protection call whose range may reach the pinned-argument region
//!    ([`crate::trap::pinned`]) → `SECCOMP_RET_TRACE` (the host refuses any that touches it);
//! 4. a traced call with harmless, frequent requests ([`NativeWhen`]: some ioctl, fcntl,
//!    setsockopt and prctl codes, a clone without `CLONE_UNTRACED`, the caller's own
//!    `prlimit64`; in a grants-only root also `access` for existence or reading and the
//!    read-only `O_DIRECTORY` opens of listings) → allow when the request's low 32 bits match
//!    (for open flags: when no bit outside the harmless ones is set), else trace;
//! 5. the call is [`Disposition::Native`](crate::decode::syscalls::Disposition::Native) in the
//!    dispatcher's table → allow;
//! 6. anything else → `SECCOMP_RET_TRACE`: a stop the host handles.
//!
//! Argument words: a request code, option or level is an `int` to the kernel, so its test
//! loads the low word only (`(1 << 32) | TIOCSTI` is `TIOCSTI`, and is traced). Addresses and
//! lengths are 64-bit to the kernel; the guard loads their high words, and a high word only
//! ever sends a call to the host, never lets it run.
//!
//! So code the rewriter missed, JIT code, the vDSO fallback and unrewritten binaries are
//! still mediated — slower, never unmediated.

use crate::decode::syscalls::{self, NativeWhen, RootNatives};

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
/// `SECCOMP_RET_TRAP`: the call is not executed; the thread gets a `SIGSYS` whose `si_errno`
/// is the return's data.
const RET_TRAP: u32 = 0x0003_0000;
/// The data of the backstop's `RET_TRAP` for a call of another ABI (x32, i386 through
/// `int 0x80`, a number with the x32 bit such as -1): the host refuses it at the `SIGSYS`
/// stop with `ENOSYS` and a log line ([`crate::trap::debugger`]), so it is never executed,
/// and the thread runs on as after a native `ENOSYS`.
pub const FOREIGN_CALL: u16 = 0x7b0c;
/// `SECCOMP_RET_TRACE`: a ptrace seccomp stop.
pub const RET_TRACE: u32 = 0x7ff0_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const ALU_AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
/// `BPF_JMP | BPF_JA`: jumps `k` instructions forward, always.
pub const JA: u16 = 0x05;
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

const OFFSET_NR: u32 = 0; // struct seccomp_data
const OFFSET_ARCH: u32 = 4;
const OFFSET_IP: u32 = 8;
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

/// Where a jump of a block goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// The next instruction.
    Next,
    /// The block's `ret ALLOW`.
    Allow,
    /// The block's other way out: `ret TRACE` in the backstop, the caller's own instructions in
    /// the notification filter ([`conditional_block`]).
    Otherwise,
    /// Instruction `.0` of the block's body.
    At(usize),
}

/// A block's body with symbolic jumps, finished by [`Block::finish`] with `ret ALLOW` and
/// the other way out (`ret TRACE`, or the caller's instructions) after the body.
#[derive(Default)]
struct Block {
    body: Vec<(SockFilter, Target, Target)>,
}

impl Block {
    fn load(&mut self, k: u32) {
        self.body.push((stmt(LD_W_ABS, k), Target::Next, Target::Next));
    }

    fn jump(&mut self, code: u16, k: u32, jt: Target, jf: Target) {
        self.body.push((jump(code, k, 0, 0), jt, jf));
    }

    /// `A &= k`.
    fn and(&mut self, k: u32) {
        self.body.push((stmt(ALU_AND_K, k), Target::Next, Target::Next));
    }

    fn len(&self) -> usize {
        self.body.len()
    }

    fn finish(self) -> Vec<SockFilter> {
        self.finish_with(&[stmt(RET_K, RET_TRACE)])
    }

    /// The body, `ret ALLOW`, then `otherwise` (self-contained: it ends in returns and jumps
    /// only within itself).
    fn finish_with(self, otherwise: &[SockFilter]) -> Vec<SockFilter> {
        let (allow_at, otherwise_at) = (self.body.len(), self.body.len() + 1);
        let mut prog: Vec<SockFilter> = Vec::with_capacity(self.body.len() + 1 + otherwise.len());
        for (pc, (mut ins, jt, jf)) in self.body.into_iter().enumerate() {
            let offset = |target: Target| {
                let to = match target {
                    Target::Next => pc + 1,
                    Target::Allow => allow_at,
                    Target::Otherwise => otherwise_at,
                    Target::At(at) => at,
                };
                u8::try_from(to - pc - 1).expect("a block stays within 8-bit jumps")
            };
            ins.jt = offset(jt);
            ins.jf = offset(jf);
            prog.push(ins);
        }
        prog.push(stmt(RET_K, RET_ALLOW));
        prog.extend_from_slice(otherwise);
        prog
    }
}

/// One test of a guard block: where it sends the call when it holds.
#[derive(Clone, Copy)]
enum GuardTest {
    /// Unless bit `.1` of argument `.0` is set, the call cannot reach the region: allow.
    /// (The mmap flags are an `unsigned long`; `MAP_FIXED` is in the low word.)
    NeedsFlag(usize, u32),
    /// A length argument (`size_t`, 64 bits) of 4 GiB or more: trace.
    LongLength(usize),
    /// An address argument (64 bits) in the 4 GiB block of the region or the one below: trace.
    NearRegion(usize),
}

/// The instructions for one guarded call (the call number is in the accumulator and matched
/// by the caller): the tests in order, then `ret ALLOW` and `ret TRACE`. Any range that can
/// touch `[base, base + 4 GiB)` with a length below 4 GiB starts in that block or the one
/// below, so the tests are a superset of [`crate::trap::pinned::touches_region`]. These are the
/// only high-word loads of the filter, on arguments the kernel reads at 64 bits, and a high
/// word only ever sends a call to the host.
fn guard_block(tests: &[GuardTest], base: u64) -> Vec<SockFilter> {
    let region_block = (base >> 32) as u32;
    let mut block = Block::default();
    for test in tests {
        match *test {
            GuardTest::NeedsFlag(arg, bit) => {
                block.load(arg_word(arg, false));
                block.jump(JSET_K, bit, Target::Next, Target::Allow);
            }
            GuardTest::LongLength(arg) => {
                block.load(arg_word(arg, true));
                block.jump(JEQ_K, 0, Target::Next, Target::Otherwise);
            }
            GuardTest::NearRegion(arg) => {
                block.load(arg_word(arg, true));
                block.jump(JEQ_K, region_block, Target::Otherwise, Target::Next);
                block.jump(JEQ_K, region_block - 1, Target::Otherwise, Target::Next);
            }
        }
    }
    // A call that passes every test falls through to ALLOW.
    block.finish()
}

/// The instructions that let a traced call run natively for the requests `when` names (the
/// call number is matched by the caller): only low words are loaded, the kernel's `int`.
fn request_block(when: NativeWhen) -> Vec<SockFilter> {
    request_body(when).finish()
}

/// [`request_block`] for another filter: `ret ALLOW` for the requests `when` names, the
/// instructions `otherwise` (self-contained, ending in returns) for the rest. The notification
/// filter ([`crate::perform::directfs::filter`]) must let through what the backstop runs
/// natively, or its notification would outrank the backstop's ALLOW.
pub fn conditional_block(when: NativeWhen, otherwise: &[SockFilter]) -> Vec<SockFilter> {
    request_body(when).finish_with(otherwise)
}

fn request_body(when: NativeWhen) -> Block {
    let mut block = Block::default();
    match when {
        NativeWhen::Code { arg, codes } => {
            block.load(arg_word(arg, false));
            for &code in codes {
                block.jump(JEQ_K, code, Target::Allow, Target::Next);
            }
            block.jump(JEQ_K, 0, Target::Otherwise, Target::Otherwise); // nothing matched
        }
        NativeWhen::CodePair { first, second, pairs } => {
            let mut firsts: Vec<u32> = pairs.iter().map(|p| p.0).collect();
            firsts.sort_unstable();
            firsts.dedup();
            for head in firsts {
                let seconds: Vec<u32> = pairs.iter().filter(|p| p.0 == head).map(|p| p.1).collect();
                // load first; jeq head ? next : next group; load second; jeq each ? allow.
                let next_group = block.len() + 3 + seconds.len();
                block.load(arg_word(first, false));
                block.jump(JEQ_K, head, Target::Next, Target::At(next_group));
                block.load(arg_word(second, false));
                for code in seconds {
                    block.jump(JEQ_K, code, Target::Allow, Target::Next);
                }
            }
            block.jump(JEQ_K, 0, Target::Otherwise, Target::Otherwise);
        }
        NativeWhen::Flags { arg, mask, value } => {
            block.load(arg_word(arg, false));
            block.and(mask);
            block.jump(JEQ_K, value, Target::Allow, Target::Otherwise);
        }
    }
    block
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

/// The filter the host stacks on the backstop of a process that has `ud2` trap sites (see
/// [`crate::trap::sigstate`]): a new signal action or mask, and every `rt_sigreturn`, stop in
/// the host, which follows the guest's `SIGILL` state that a trap's fault would change;
/// queries (a null new action or set) and every other call pass to the backstop's verdict.
/// Calls from the stub page's `syscall` pass too: those are trapped calls the host has
/// followed at their trap already (a guest jumping there itself could only make the host
/// restore a wrong SIGILL state of its own; the backstop still judges the call). Nothing but
/// these costs more. (Another ABI's numbers meet the backstop's `RET_TRAP`, which outranks
/// this `TRACE`.)
pub fn signal_state_filter() -> Vec<SockFilter> {
    use crate::trap::{inject, pinned::STUB_BASE};
    use trapbox_abi::linux::nr;
    let stub_low = STUB_BASE as u32;
    vec![
        /* 0 */ stmt(LD_W_ABS, OFFSET_NR),
        /* 1 */ jump(JEQ_K, nr::RT_SIGRETURN as u32, 2, 0), // → 4
        /* 2 */ jump(JEQ_K, nr::RT_SIGACTION as u32, 1, 0), // → 4
        /* 3 */ jump(JEQ_K, nr::RT_SIGPROCMASK as u32, 0, 12), // else → allow
        /* 4 */ stmt(LD_W_ABS, OFFSET_IP + 4),
        /* 5 */ jump(JEQ_K, (STUB_BASE >> 32) as u32, 0, 3), // not the stub's block → 9
        /* 6 */ stmt(LD_W_ABS, OFFSET_IP),
        /* 7 */ jump(JEQ_K, stub_low + inject::FAST_RETURN as u32, 8, 0), // → allow
        /* 8 */ jump(JEQ_K, stub_low + inject::SLOW_RETURN as u32, 7, 0), // → allow
        /* 9 */ stmt(LD_W_ABS, OFFSET_NR),
        /* 10 */ jump(JEQ_K, nr::RT_SIGRETURN as u32, 4, 0), // → trace
        /* 11 */ stmt(LD_W_ABS, arg_word(1, false)),
        /* 12 */ jump(JEQ_K, 0, 0, 2), // a non-null low word → trace
        /* 13 */ stmt(LD_W_ABS, arg_word(1, true)),
        /* 14 */ jump(JEQ_K, 0, 1, 0), // null → allow, else trace
        /* 15 */ stmt(RET_K, RET_TRACE),
        /* 16 */ stmt(RET_K, RET_ALLOW),
    ]
}

/// `prog` as the bytes of its instructions, for a copy in guest memory.
pub fn filter_bytes(prog: &[SockFilter]) -> Vec<u8> {
    prog.iter().flat_map(|i| [i.code.to_le_bytes().as_slice(), &[i.jt, i.jf], &i.k.to_le_bytes()].concat()).collect()
}

/// Builds the filter from the dispatcher's table. With `trace_everything` (the native
/// personality) no call runs natively: every one stops in the host. Calls in `also_trace`
/// stop in the host although the table would let them run (a policy's extra checks), but for
/// the requests [`syscalls::policy_native_when_calls`] names. With
/// `guarded_region`, memory-map calls that may reach it stop in the host. With
/// `grants_only_root` (the guest's root holds only its grants) the metadata calls of
/// [`syscalls::native_in_grants_only_root`] run natively too.
pub fn build_filter(trace_everything: bool, also_trace: &[u64], guarded_region: Option<u64>, grants_only_root: Option<RootNatives>) -> Vec<SockFilter> {
    let metadata: Vec<(u32, Option<NativeWhen>)> = match grants_only_root {
        Some(natives) if !trace_everything => syscalls::native_in_grants_only_root(natives).collect(),
        _ => Vec::new(),
    };
    let allowed: Vec<u32> = if trace_everything {
        Vec::new()
    } else {
        let plain_metadata = metadata.iter().filter(|(_, when)| when.is_none()).map(|(nr, _)| *nr);
        syscalls::native_calls().chain(plain_metadata).filter(|nr| !also_trace.contains(&u64::from(*nr))).collect()
    };
    let mut prog = vec![
        stmt(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, RET_TRAP | u32::from(FOREIGN_CALL)),
        stmt(LD_W_ABS, OFFSET_NR),
        jump(JSET_K, X32_SYSCALL_BIT, 0, 1),
        stmt(RET_K, RET_TRAP | u32::from(FOREIGN_CALL)),
    ];
    if let (false, Some(base)) = (trace_everything, guarded_region) {
        prog.extend(guard(base));
    }
    if !trace_everything {
        let metadata_when = metadata.iter().filter_map(|&(nr, when)| Some((nr, when?)));
        let untraced_when = syscalls::native_when_calls().chain(metadata_when).filter(|(nr, _)| !also_trace.contains(&u64::from(*nr)));
        // (A call the policy decides still runs natively where its decision is to run it as it is.)
        let policy_when = syscalls::policy_native_when_calls().filter(|(nr, _)| also_trace.contains(&u64::from(*nr)));
        for (number, when) in untraced_when.chain(policy_when) {
            let block = request_block(when);
            prog.push(jump(JEQ_K, number, 0, u8::try_from(block.len()).expect("a request block stays within 8-bit jumps")));
            prog.extend(block);
        }
    }
    let mut allowed = allowed;
    allowed.sort_unstable();
    allowed.dedup();
    prog.extend(allow_tree(&allowed));
    prog
}

/// How many numbers a leaf of [`allow_tree`] compares one by one.
const ALLOW_LEAF: usize = 16;

/// `ret ALLOW` for the call numbers `sorted` (ascending, distinct), `ret TRACE` for every other:
/// a binary search, one `jge` per level, down to leaves of up to [`ALLOW_LEAF`] numbers
/// compared one by one, each leaf with its own two returns (so every conditional jump stays
/// within BPF's 8-bit offsets; a level skips its lower half with `ja`). The kernel runs a
/// new filter for every call number when it is installed (to cache those it always allows),
/// so a chain of N comparisons cost it up to N per number: for the ~200 native calls the tree
/// installs several times faster (BENCHMARKS.md), and a call that stops walks ~log2 N
/// comparisons instead of all of them.
fn allow_tree(sorted: &[u32]) -> Vec<SockFilter> {
    if sorted.len() <= ALLOW_LEAF {
        let mut leaf: Vec<SockFilter> = sorted
            .iter()
            .enumerate()
            // Over the numbers after this one and the `ret TRACE`, to the `ret ALLOW`.
            .map(|(i, &nr)| jump(JEQ_K, nr, (sorted.len() - i) as u8, 0))
            .collect();
        leaf.push(stmt(RET_K, RET_TRACE));
        leaf.push(stmt(RET_K, RET_ALLOW));
        return leaf;
    }
    let (low, high) = sorted.split_at(sorted.len() / 2);
    let below = allow_tree(low);
    // At or above the upper half's first number: on to the `ja`, which skips the lower half.
    let mut prog = vec![jump(JGE_K, high[0], 0, 1), stmt(JA, below.len() as u32)];
    prog.extend(below);
    prog.extend(allow_tree(high));
    prog
}

/// `SECCOMP_RET_USER_NOTIF`: the call waits for a listener's answer.
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;

/// A filter that returns `action` for x86-64 call `number` and allows everything else:
/// `trapbox bench`'s measuring filters (one seccomp stop or notification per call).
pub fn one_call_filter(number: u32, action: u32) -> Vec<SockFilter> {
    vec![
        stmt(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, AUDIT_ARCH_X86_64, 0, 3),
        stmt(LD_W_ABS, OFFSET_NR),
        jump(JEQ_K, number, 0, 1),
        stmt(RET_K, action),
        stmt(RET_K, RET_ALLOW),
    ]
}

/// What the filter returns for a call, evaluated in Rust the way the kernel evaluates the BPF
/// (used by tests to check the program against the table).
pub fn evaluate(prog: &[SockFilter], arch: u32, nr: u32, args: &[u64; 6]) -> u32 {
    evaluate_at(prog, arch, nr, 0, args)
}

/// [`evaluate`] for a call made from instruction pointer `ip`.
pub fn evaluate_at(prog: &[SockFilter], arch: u32, nr: u32, ip: u64, args: &[u64; 6]) -> u32 {
    let mut acc = 0u32;
    let mut pc = 0usize;
    while let Some(ins) = prog.get(pc) {
        match ins.code {
            LD_W_ABS => {
                acc = match ins.k {
                    OFFSET_NR => nr,
                    OFFSET_ARCH => arch,
                    OFFSET_IP => ip as u32,
                    k if k == OFFSET_IP + 4 => (ip >> 32) as u32,
                    k if (OFFSET_ARGS..OFFSET_ARGS + 48).contains(&k) && k % 4 == 0 => {
                        let word = args[((k - OFFSET_ARGS) / 8) as usize];
                        if (k - OFFSET_ARGS) % 8 == 4 { (word >> 32) as u32 } else { word as u32 }
                    }
                    _ => return RET_KILL_PROCESS,
                }
            }
            JEQ_K => pc += usize::from(if acc == ins.k { ins.jt } else { ins.jf }),
            JSET_K => pc += usize::from(if acc & ins.k != 0 { ins.jt } else { ins.jf }),
            JGE_K => pc += usize::from(if acc >= ins.k { ins.jt } else { ins.jf }),
            ALU_AND_K => acc &= ins.k,
            JA => pc += ins.k as usize,
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
    use crate::decode::syscalls::{Disposition, TABLE};
    use trapbox_abi::linux::nr;

    #[test]
    fn the_signal_state_filter_stops_only_changes_and_sigreturn() {
        let prog = signal_state_filter();
        let call = |number: u64, arg1: u64| evaluate(&prog, AUDIT_ARCH_X86_64, number as u32, &[0, arg1, 0, 0, 0, 0]);
        assert_eq!(call(nr::RT_SIGRETURN, 0), RET_TRACE);
        assert_eq!(call(nr::RT_SIGACTION, 0x7fff_0000_1000), RET_TRACE);
        assert_eq!(call(nr::RT_SIGPROCMASK, 0x7fff_0000_0000), RET_TRACE, "a pointer with a zero low word");
        assert_eq!(call(nr::RT_SIGPROCMASK, 0x1000), RET_TRACE);
        assert_eq!(call(nr::RT_SIGPROCMASK, 0), RET_ALLOW, "a query");
        assert_eq!(call(nr::RT_SIGACTION, 0), RET_ALLOW);
        assert_eq!(call(nr::GETPID, 0x1000), RET_ALLOW);
        let stub = crate::trap::pinned::STUB_BASE;
        let from = |ip: u64| evaluate_at(&prog, AUDIT_ARCH_X86_64, nr::RT_SIGPROCMASK as u32, ip, &[0, 0x1000, 0, 0, 0, 0]);
        assert_eq!(from(stub + crate::trap::inject::FAST_RETURN), RET_ALLOW, "followed at the trap");
        assert_eq!(from(stub + crate::trap::inject::SLOW_RETURN), RET_ALLOW);
        assert_eq!(from(stub + 0x1_0000_0000 + crate::trap::inject::FAST_RETURN), RET_TRACE);
        assert_eq!(from(stub + 0x40), RET_TRACE);
        assert_eq!(filter_bytes(&prog).len(), prog.len() * 8);
    }

    #[test]
    fn the_allow_tree_allows_exactly_its_numbers() {
        let args = [0u64; 6];
        // Every shape: empty, one leaf, an uneven split, more numbers than an 8-bit jump spans.
        for count in [0usize, 1, ALLOW_LEAF, ALLOW_LEAF + 1, 37, 300, 600] {
            let numbers: Vec<u32> = (0..count as u32).map(|i| i * 3 + (i % 2)).collect();
            let mut prog = vec![stmt(LD_W_ABS, OFFSET_NR)];
            prog.extend(allow_tree(&numbers));
            for nr in 0..(count as u32 * 3 + 8) {
                let expected = if numbers.contains(&nr) { RET_ALLOW } else { RET_TRACE };
                assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, nr, &args), expected, "{count} numbers: nr {nr}");
            }
            assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, u32::MAX, &args), RET_TRACE);
        }
    }

    #[test]
    fn filter_matches_the_table() {
        let none = [0u64; 6];
        let prog = build_filter(false, &[], None, None);
        for (nr, entry) in TABLE.iter().enumerate() {
            let native = entry.disposition == Disposition::Native || entry.native_when.is_some_and(|w| w.matches(&none));
            let expected = if native { RET_ALLOW } else { RET_TRACE };
            assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, nr as u32, &none), expected, "nr {nr}");
        }
        assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, 0x1000_0000, &none), RET_TRACE, "hostcalls go to the host");
        let foreign = RET_TRAP | u32::from(FOREIGN_CALL);
        assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 39, &none), foreign);
        assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT, &none), foreign);
        assert_eq!(evaluate(&prog, AUDIT_ARCH_X86_64, u32::MAX, &none), foreign, "syscall(-1)");
        assert_eq!(evaluate(&prog, 0x4000_0003, 0, &none), foreign, "i386 (int 0x80) is never executed");
        assert_eq!(evaluate(&build_filter(false, &[91], None, None), AUDIT_ARCH_X86_64, 91, &none), RET_TRACE, "fchmod traced under a policy");
        let native = build_filter(true, &[], Some(crate::trap::pinned::PIN_BASE), None);
        for nr in 0..TABLE.len() as u32 {
            assert_eq!(evaluate(&native, AUDIT_ARCH_X86_64, nr, &none), RET_TRACE, "native personality: nr {nr}");
        }
        assert_eq!(evaluate(&native, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 1, &none), foreign);
    }

    /// Under a policy memfd_create stops in the host, unless it asks for what the host would
    /// make of it: never executable. Its flags are an unsigned int.
    #[test]
    fn a_memfd_asked_never_executable_runs_natively_under_a_policy() {
        use crate::decide::confine::{MFD_EXEC, MFD_NOEXEC_SEAL};
        let under_policy = build_filter(false, &crate::decode::syscalls::policy_decided_native_calls().collect::<Vec<_>>(), None, None);
        let memfd = |flags: u64| evaluate(&under_policy, AUDIT_ARCH_X86_64, nr::MEMFD_CREATE as u32, &[0x1000, flags, 0, 0, 0, 0]);
        let (cloexec, sealing) = (libc::MFD_CLOEXEC as u64, libc::MFD_ALLOW_SEALING as u64);
        assert_eq!(memfd(0), RET_TRACE, "the host adds the exec seal");
        assert_eq!(memfd(cloexec | sealing), RET_TRACE);
        assert_eq!(memfd(MFD_NOEXEC_SEAL), RET_ALLOW);
        assert_eq!(memfd(MFD_NOEXEC_SEAL | cloexec | sealing), RET_ALLOW, "the host's own, at every exec");
        assert_eq!(memfd(MFD_NOEXEC_SEAL | u64::from(MFD_EXEC)), RET_TRACE, "refused by the host");
        assert_eq!(memfd(u64::from(MFD_EXEC)), RET_TRACE);
        assert_eq!(memfd(MFD_NOEXEC_SEAL << 32), RET_TRACE, "a high word is not the flags");
        assert_eq!(memfd((MFD_NOEXEC_SEAL << 32) | MFD_NOEXEC_SEAL), RET_ALLOW, "the kernel reads the low word");
        let unconfined = build_filter(false, &[], None, None);
        assert_eq!(evaluate(&unconfined, AUDIT_ARCH_X86_64, nr::MEMFD_CREATE as u32, &[0; 6]), RET_ALLOW, "native without a policy");
    }

    /// With a grants-only root the metadata calls run natively, access only for existence or
    /// reading (its mode an int: a high word does not change it); without one they stay traced.
    #[test]
    fn a_grants_only_root_lets_metadata_run_natively() {
        let (with, without) = (build_filter(false, &[], None, Some(RootNatives { listings: true })), build_filter(false, &[], None, None));
        let none = [0u64; 6];
        for (nr, when) in syscalls::native_in_grants_only_root(RootNatives { listings: true }) {
            assert_eq!(evaluate(&without, AUDIT_ARCH_X86_64, nr, &none), RET_TRACE, "nr {nr} without");
            let expected = if when.is_none_or(|w| w.matches(&none)) { RET_ALLOW } else { RET_TRACE };
            assert_eq!(evaluate(&with, AUDIT_ARCH_X86_64, nr, &none), expected, "nr {nr} with");
        }
        // A directory opened to be listed runs natively; any open that could write, create or
        // make an O_PATH or O_TMPFILE file goes to the host.
        let listing = (libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NONBLOCK) as u64;
        assert_eq!(evaluate(&with, AUDIT_ARCH_X86_64, nr::OPENAT as u32, &[0, 0, listing, 0, 0, 0]), RET_ALLOW);
        assert_eq!(evaluate(&with, AUDIT_ARCH_X86_64, nr::OPEN as u32, &[0, listing | 0o100000, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(evaluate(&without, AUDIT_ARCH_X86_64, nr::OPENAT as u32, &[0, 0, listing, 0, 0, 0]), RET_TRACE);
        let metadata_only = build_filter(false, &[], None, Some(RootNatives { listings: false }));
        assert_eq!(evaluate(&metadata_only, AUDIT_ARCH_X86_64, nr::OPENAT as u32, &[0, 0, listing, 0, 0, 0]), RET_TRACE, "a listing that may be refused is the host's");
        assert_eq!(evaluate(&metadata_only, AUDIT_ARCH_X86_64, nr::NEWFSTATAT as u32, &none), RET_ALLOW);
        for flags in [libc::O_RDONLY, libc::O_DIRECTORY | libc::O_WRONLY, libc::O_DIRECTORY | libc::O_CREAT, libc::O_TMPFILE | libc::O_WRONLY, libc::O_DIRECTORY | libc::O_PATH, libc::O_DIRECTORY | libc::O_TRUNC] {
            assert_eq!(evaluate(&with, AUDIT_ARCH_X86_64, nr::OPENAT as u32, &[0, 0, flags as u64, 0, 0, 0]), RET_TRACE, "openat flags {flags:#o}");
        }
        let access = nr::ACCESS as u32;
        for (mode, verdict) in [(libc::R_OK as u64, RET_ALLOW), ((1 << 32) | libc::R_OK as u64, RET_ALLOW), (libc::W_OK as u64, RET_TRACE), (libc::X_OK as u64, RET_TRACE), ((libc::R_OK | libc::X_OK) as u64, RET_TRACE)] {
            assert_eq!(evaluate(&with, AUDIT_ARCH_X86_64, access, &[0, mode, 0, 0, 0, 0]), verdict, "access mode {mode:#x}");
            assert_eq!(evaluate(&with, AUDIT_ARCH_X86_64, nr::FACCESSAT2 as u32, &[0, 0, mode, 0, 0, 0]), verdict, "faccessat2 mode {mode:#x}");
        }
        for call in [nr::OPENAT, nr::EXECVE, nr::MKDIR, nr::UNLINKAT, nr::FCHDIR, nr::GETCWD] {
            assert_eq!(evaluate(&with, AUDIT_ARCH_X86_64, call as u32, &none), RET_TRACE, "nr {call} still goes to the host");
        }
    }

    /// Every memory-map call that touches the pinned region stops in the host; ordinary ones
    /// (and every other call) keep the table's verdict.
    #[test]
    fn guard_covers_the_pinned_region() {
        use crate::trap::pinned::{touches_region, GUARDED_CALLS, PIN_BASE, PIN_LEN};
        let guarded = build_filter(false, &[], Some(PIN_BASE), None);
        let plain = build_filter(false, &[], None, None);
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

    /// Requests run natively exactly when their low 32 bits are listed: high bits never make
    /// a refused request look like a native one, and never make a native one stop.
    #[test]
    fn request_codes_are_matched_on_their_low_word() {
        use crate::decide::requests::{FCNTL_NATIVE, IOCTL_NATIVE, SETSOCKOPT_NATIVE};
        let prog = build_filter(false, &[], Some(crate::trap::pinned::PIN_BASE), None);
        let verdict = |number: u64, args: [u64; 6]| evaluate(&prog, AUDIT_ARCH_X86_64, number as u32, &args);
        let tiocsti = u64::from(libc::TIOCSTI as u32);
        for high in [0u64, 1 << 32, 0xffff_ffff << 32] {
            assert_eq!(verdict(nr::IOCTL, [0, high | tiocsti, 0, 0, 0, 0]), RET_TRACE, "TIOCSTI {high:#x}");
            assert_eq!(verdict(nr::PRCTL, [high | 22, 0, 0, 0, 0, 0]), RET_TRACE);
            for &code in IOCTL_NATIVE {
                assert_eq!(verdict(nr::IOCTL, [1, high | u64::from(code), 0, 0, 0, 0]), RET_ALLOW, "ioctl {code:#x}");
            }
            for &cmd in FCNTL_NATIVE {
                assert_eq!(verdict(nr::FCNTL, [1, high | u64::from(cmd), 0, 0, 0, 0]), RET_ALLOW, "fcntl {cmd}");
            }
            for cmd in [8, 15, 1024, 0xdead] {
                assert_eq!(verdict(nr::FCNTL, [1, high | cmd, 0, 0, 0, 0]), RET_TRACE, "fcntl {cmd}");
            }
            for &(level, name) in SETSOCKOPT_NATIVE {
                let args = [3, high | u64::from(level), high | u64::from(name), 0, 4, 0];
                assert_eq!(verdict(nr::SETSOCKOPT, args), RET_ALLOW, "setsockopt {level} {name}");
                assert_eq!(verdict(nr::SETSOCKOPT, [3, u64::from(level), 999, 0, 4, 0]), RET_TRACE);
            }
            assert_eq!(verdict(nr::SETSOCKOPT, [3, high, 4, 0, 40, 0]), RET_TRACE, "IP_OPTIONS");
            assert_eq!(verdict(nr::SETSOCKOPT, [3, 1, high | 25, 0, 16, 0]), RET_TRACE, "SO_BINDTODEVICE");
            assert_eq!(verdict(nr::SETSOCKOPT, [3, 6, 2, 0, 4, 0]), RET_TRACE, "the pairs are pairs: (IPPROTO_TCP, SO_REUSEADDR's number) is TCP_MAXSEG");
            for &option in crate::decide::requests::PRCTL_NATIVE {
                assert_eq!(verdict(nr::PRCTL, [high | u64::from(option), 0, 0, 0, 0, 0]), RET_ALLOW, "prctl {option}");
            }
            for option in [4, 8, 24, 28, 47, 59] {
                assert_eq!(verdict(nr::PRCTL, [high | option, 0, 0, 0, 0, 0]), RET_TRACE, "prctl {option} changes what the host follows");
            }
            // A fork's or a thread's clone runs natively (the child is auto-attached); one with
            // CLONE_UNTRACED stops for the host's refusal. Limits of the caller itself (pid 0)
            // run natively, another process's stop.
            let fork = u64::from((libc::CLONE_CHILD_SETTID | libc::CLONE_CHILD_CLEARTID | libc::SIGCHLD) as u32);
            assert_eq!(verdict(nr::CLONE, [high | fork, 0, 0, 0, 0, 0]), RET_ALLOW);
            assert_eq!(verdict(nr::CLONE, [high | fork | libc::CLONE_UNTRACED as u64, 0, 0, 0, 0, 0]), RET_TRACE);
            assert_eq!(verdict(nr::PRLIMIT64, [high, 7, 0, 0x1000, 0, 0]), RET_ALLOW);
            assert_eq!(verdict(nr::PRLIMIT64, [high | 1, 7, 0x1000, 0, 0, 0]), RET_TRACE);
        }
        assert_eq!(verdict(nr::GETSOCKOPT, [3, 0, 4, 0, 0, 0]), RET_ALLOW, "reading options runs natively");
        let policy = build_filter(false, &[nr::FCNTL], None, None);
        assert_eq!(evaluate(&policy, AUDIT_ARCH_X86_64, nr::FCNTL as u32, &[1, 1, 0, 0, 0, 0]), RET_TRACE, "also_trace wins");
    }

    fn none() -> [u64; 6] {
        [0; 6]
    }
}
