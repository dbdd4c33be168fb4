//! Finding syscall-class instructions in code, with iced-x86.
//!
//! The sweep is linear, restarted at every known function start ("chunks"), and after an
//! undecodable byte it moves on by one byte, as a disassembler does. Data inside text can
//! still decode as an instruction, so when function extents are known (FDEs, sized symbols),
//! a site is patched only if it lies inside one, or is reached by falling through from one
//! without an unconditional jump or return in between (glibc's `clone` ends its FDE just
//! before the `syscall`, so the child's unwinder stops there). Any other site is reported and
//! left alone: a missed `syscall` is still mediated by the seccomp backstop, while a patched
//! data byte would corrupt the program.

use std::collections::VecDeque;
use std::ops::Range;

use iced_x86::{Code, Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, OpAccess, OpKind, Register};
use trapbox_abi::table::TrapSite;
use trapbox_abi::trap::SiteKind;

/// What is known about a code region besides its bytes. Both lists may be empty (bytes
/// found in memory with no symbols): then the whole region is one chunk and every site
/// found is patched.
#[derive(Clone, Debug, Default)]
pub struct CodeHints {
    /// Addresses where decoding must restart (function entries).
    pub function_starts: Vec<u64>,
    /// Address ranges known to hold code.
    pub extents: Vec<Range<u64>>,
}

/// Why a syscall-class instruction was found but not patched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// It lies outside every known function and is not reached by falling through from one:
    /// probably data that decodes as an instruction.
    OutsideKnownCode,
    /// It carries a prefix, so it is longer than a two-byte trap.
    Prefixed,
}

impl SkipReason {
    /// A sentence for reports.
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::OutsideKnownCode => "outside every known function and not reached from one (data in text?); left to the seccomp backstop",
            SkipReason::Prefixed => "prefixed instruction longer than a trap; left to the seccomp backstop",
        }
    }
}

/// A site that was found and deliberately left alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SkippedSite {
    /// Address of the instruction.
    pub addr: u64,
    /// What it is.
    pub kind: SiteKind,
    /// Why it was not patched.
    pub reason: SkipReason,
}

/// The outcome of scanning one code region.
#[derive(Clone, Debug, Default)]
pub struct ScanResult {
    /// Sites to patch, sorted by address.
    pub sites: Vec<TrapSite>,
    /// Sites found but not patched, sorted by address.
    pub skipped: Vec<SkippedSite>,
}

/// How many instructions before a site are searched for the move that sets `rax`.
const NR_LOOKBACK: usize = 16;

/// The chunk boundaries of `base..base+len`: the region start and every function start in it.
pub(crate) fn chunk_starts(base: u64, len: usize, function_starts: &[u64]) -> Vec<u64> {
    let end = base.saturating_add(len as u64);
    let mut starts: Vec<u64> = function_starts.iter().copied().filter(|&s| s > base && s < end).collect();
    starts.push(base);
    starts.sort_unstable();
    starts.dedup();
    starts
}

/// Sorted, merged copy of `ranges`.
fn merge(ranges: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut sorted: Vec<Range<u64>> = ranges.iter().filter(|r| r.start < r.end).cloned().collect();
    sorted.sort_unstable_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(sorted.len());
    for range in sorted {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

fn inside(merged: &[Range<u64>], start: u64, end: u64) -> bool {
    let index = merged.partition_point(|r| r.end <= start);
    merged.get(index).is_some_and(|r| r.start <= start && end <= r.end)
}

/// Whether execution can continue with the next instruction in memory.
fn falls_through(instr: &Instruction) -> bool {
    matches!(
        instr.flow_control(),
        FlowControl::Next | FlowControl::ConditionalBranch | FlowControl::Call | FlowControl::IndirectCall | FlowControl::Interrupt | FlowControl::XbeginXabortXend
    )
}

/// The syscall-class kind of a decoded instruction, if it is one.
fn site_kind(instr: &Instruction) -> Option<SiteKind> {
    match instr.code() {
        Code::Syscall => Some(SiteKind::Syscall),
        Code::Sysenter => Some(SiteKind::Sysenter),
        Code::Int_imm8 if instr.immediate8() == 0x80 => Some(SiteKind::Int80),
        _ => None,
    }
}

/// The value a constant move puts in `rax`, if `instr` is one.
fn constant_rax_write(instr: &Instruction) -> Option<u64> {
    let reg0 = instr.op0_register();
    match instr.code() {
        Code::Mov_r32_imm32 | Code::Mov_rm32_imm32 if reg0 == Register::EAX && instr.op0_kind() == OpKind::Register => {
            Some(u64::from(instr.immediate32()))
        }
        Code::Mov_r64_imm64 if reg0 == Register::RAX => Some(instr.immediate64()),
        Code::Mov_rm64_imm32 if reg0 == Register::RAX && instr.op0_kind() == OpKind::Register => {
            Some(instr.immediate32to64() as u64)
        }
        Code::Xor_r32_rm32 | Code::Xor_rm32_r32 | Code::Sub_r32_rm32 | Code::Sub_rm32_r32
            if reg0 == Register::EAX && instr.op1_kind() == OpKind::Register && instr.op1_register() == Register::EAX =>
        {
            Some(0)
        }
        Code::Xor_r64_rm64 | Code::Xor_rm64_r64 | Code::Sub_r64_rm64 | Code::Sub_rm64_r64
            if reg0 == Register::RAX && instr.op1_kind() == OpKind::Register && instr.op1_register() == Register::RAX =>
        {
            Some(0)
        }
        _ => None,
    }
}

fn writes_rax(info_factory: &mut InstructionInfoFactory, instr: &Instruction) -> bool {
    info_factory.info(instr).used_registers().iter().any(|used| {
        used.register().full_register() == Register::RAX
            && matches!(used.access(), OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite | OpAccess::ReadCondWrite)
    })
}

/// A site before its call number is settled: the constant move that set `rax`, if any.
struct Candidate {
    addr: u64,
    kind: SiteKind,
    rax_write: Option<(u64, u64)>,
}

/// Scans `code`, loaded at `base`, for syscall-class instructions. This is the whole analysis:
/// the file rewriter and a load-time patcher (bytes already in memory) both use it.
pub fn scan_code(code: &[u8], base: u64, hints: &CodeHints) -> ScanResult {
    if base.checked_add(code.len() as u64).is_none() {
        return ScanResult::default(); // no such region exists in an address space
    }
    let starts = chunk_starts(base, code.len(), &hints.function_starts);
    let extents = merge(&hints.extents);
    let mut info_factory = InstructionInfoFactory::new();
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut branch_targets: Vec<u64> = Vec::new();
    let mut skipped: Vec<SkippedSite> = Vec::new();
    let mut straight_run: VecDeque<Instruction> = VecDeque::with_capacity(NR_LOOKBACK);
    let mut instr = Instruction::default();

    for (i, &chunk_start) in starts.iter().enumerate() {
        let chunk_end = starts.get(i + 1).copied().unwrap_or(base + code.len() as u64);
        let bytes = &code[(chunk_start - base) as usize..(chunk_end - base) as usize];
        let mut decoder = Decoder::with_ip(64, bytes, chunk_start, DecoderOptions::NONE);
        straight_run.clear();
        // Whether the previous instruction was known code that falls through to this one.
        let mut reached_from_known_code = false;
        while decoder.can_decode() {
            let position = decoder.position();
            decoder.decode_out(&mut instr);
            if instr.is_invalid() {
                // Resynchronise one byte further on, as objdump and the cross-check's decoder do.
                let _ = decoder.set_position(position + 1);
                decoder.set_ip(chunk_start + position as u64 + 1);
                straight_run.clear();
                reached_from_known_code = false;
                continue;
            }
            let known_code = extents.is_empty() || reached_from_known_code || inside(&extents, instr.ip(), instr.next_ip());
            reached_from_known_code = known_code && falls_through(&instr);
            if let Some(kind) = site_kind(&instr) {
                let addr = instr.ip();
                if instr.len() != 2 {
                    skipped.push(SkippedSite { addr, kind, reason: SkipReason::Prefixed });
                } else if !known_code {
                    skipped.push(SkippedSite { addr, kind, reason: SkipReason::OutsideKnownCode });
                } else {
                    let mut rax_write = None;
                    for earlier in straight_run.iter().rev() {
                        if let Some(value) = constant_rax_write(earlier) {
                            rax_write = Some((earlier.ip(), value));
                            break;
                        }
                        if writes_rax(&mut info_factory, earlier) {
                            break;
                        }
                    }
                    candidates.push(Candidate { addr, kind, rax_write });
                }
                straight_run.clear();
                continue;
            }
            if instr.flow_control() == FlowControl::Next {
                if straight_run.len() == NR_LOOKBACK {
                    straight_run.pop_front();
                }
                straight_run.push_back(instr);
            } else {
                if matches!(instr.op0_kind(), OpKind::NearBranch64) {
                    branch_targets.push(instr.near_branch_target());
                }
                straight_run.clear();
            }
        }
    }

    // A constant move only fixes the number if no branch can land between it and the site.
    branch_targets.sort_unstable();
    let sites = candidates
        .into_iter()
        .map(|c| {
            let nr = c.rax_write.and_then(|(write_addr, value)| {
                let first_after = branch_targets.partition_point(|&t| t <= write_addr);
                let entered_between = branch_targets.get(first_after).is_some_and(|&t| t <= c.addr);
                (!entered_between).then_some(value).and_then(|v| u32::try_from(v).ok())
            });
            TrapSite { addr: c.addr, kind: c.kind, nr }
        })
        .collect();
    ScanResult { sites, skipped }
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    fn hints(starts: &[u64], extents: &[Range<u64>]) -> CodeHints {
        CodeHints { function_starts: starts.to_vec(), extents: extents.to_vec() }
    }

    #[test]
    fn infers_numbers_from_constant_moves_in_the_same_block() {
        // mov eax, 39; syscall; xor eax, eax; syscall; mov rdi, rax; mov eax, edi; syscall
        let code = [0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0x31, 0xc0, 0x0f, 0x05, 0x48, 0x89, 0xc7, 0x89, 0xf8, 0x0f, 0x05];
        let result = scan_code(&code, 0x1000, &CodeHints::default());
        let found: Vec<_> = result.sites.iter().map(|s| (s.addr, s.nr)).collect();
        assert_eq!(found, [(0x1005, Some(39)), (0x1009, Some(0)), (0x1010, None)]);
    }

    #[test]
    fn a_branch_into_the_block_makes_the_number_unknown() {
        // 0: mov eax, 1; 5: nop; 6: syscall; 8: jmp 5
        let code = [0xb8, 1, 0, 0, 0, 0x90, 0x0f, 0x05, 0xeb, 0xfb];
        let result = scan_code(&code, 0, &CodeHints::default());
        assert_eq!(result.sites, [TrapSite { addr: 6, kind: SiteKind::Syscall, nr: None }]);
    }

    #[test]
    fn a_region_that_would_wrap_the_address_space_yields_nothing() {
        let result = scan_code(&[0x0f, 0x05], u64::MAX, &CodeHints::default());
        assert!(result.sites.is_empty() && result.skipped.is_empty());
    }

    #[test]
    fn bytes_inside_an_immediate_are_not_a_site() {
        // mov eax, 0x050f; ret
        let code = [0xb8, 0x0f, 0x05, 0, 0, 0xc3];
        assert!(scan_code(&code, 0, &CodeHints::default()).sites.is_empty());
    }

    #[test]
    fn a_site_reached_by_falling_through_from_known_code_is_patched() {
        // f (extent ends before the syscall, as glibc's clone): mov eax, 56 | syscall; ret | syscall
        let code = [0xb8, 56, 0, 0, 0, 0x0f, 0x05, 0xc3, 0x0f, 0x05];
        let result = scan_code(&code, 0, &hints(&[0], &[0..5]));
        assert_eq!(result.sites, [TrapSite { addr: 5, kind: SiteKind::Syscall, nr: Some(56) }]);
        assert_eq!(result.skipped.iter().map(|s| s.addr).collect::<Vec<_>>(), [8]);
    }

    #[test]
    fn sites_outside_known_functions_are_skipped() {
        // f: syscall; ret | data: 0f 05 | g: int 0x80; ret; sysenter (prefixed: 66 0f 05)
        let code = [0x0f, 0x05, 0xc3, 0x0f, 0x05, 0xcd, 0x80, 0xc3, 0x66, 0x0f, 0x05];
        let result = scan_code(&code, 0x10, &hints(&[0x10, 0x15], &[0x10..0x13, 0x15..0x1b]));
        let found: Vec<_> = result.sites.iter().map(|s| (s.addr, s.kind)).collect();
        assert_eq!(found, [(0x10, SiteKind::Syscall), (0x15, SiteKind::Int80)]);
        let skipped: Vec<_> = result.skipped.iter().map(|s| (s.addr, s.reason)).collect();
        assert_eq!(skipped, [(0x13, SkipReason::OutsideKnownCode), (0x18, SkipReason::Prefixed)]);
    }

    #[test]
    fn decoding_restarts_at_function_starts() {
        // A 5-byte mov would swallow the syscall at offset 3; a function starts there.
        let code = [0xb8, 0x00, 0x00, 0x0f, 0x05, 0xc3];
        assert!(scan_code(&code, 0, &CodeHints::default()).sites.is_empty());
        let result = scan_code(&code, 0, &hints(&[3], &[]));
        assert_eq!(result.sites.iter().map(|s| s.addr).collect::<Vec<_>>(), [3]);
    }
}
