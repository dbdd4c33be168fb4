//! An independent second opinion: the same chunked linear sweep with yaxpeax-x86, a decoder
//! written apart from iced-x86 (and from capstone's LLVM tables). It is pure Rust with no
//! load-time relocations to speak of: capstone, used before, compiled every architecture in
//! and its tables (~75k relative relocations) were relocated at every `trapbox` start, ~1.8 ms
//! of each `trapbox run` that never cross-checks anything (BENCHMARKS.md).
//!
//! The two decoders disagree only where one of them decodes an instruction differently
//! (length or validity), which shifts the sweep; every such place is reported.

use yaxpeax_arch::LengthedInstruction;
use yaxpeax_x86::long_mode::InstDecoder;
use trapbox_abi::trap::SiteKind;

use crate::scan::chunk_starts;

/// A site that one decoder sees and the other does not (or sees as another kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Disagreement {
    /// Address of the instruction.
    pub addr: u64,
    /// What iced-x86 decoded there.
    pub iced: Option<SiteKind>,
    /// What the second decoder (yaxpeax-x86) decoded there.
    pub second: Option<SiteKind>,
}

fn kind_of_bytes(bytes: &[u8]) -> Option<SiteKind> {
    SiteKind::ALL.into_iter().find(|k| bytes == k.original_bytes())
}

/// Every two-byte syscall-class instruction the second decoder finds in `code` loaded at
/// `base`, sorted by address. `None` when the code's addresses would overflow.
pub fn second_sites(code: &[u8], base: u64, function_starts: &[u64]) -> Option<Vec<(u64, SiteKind)>> {
    base.checked_add(code.len() as u64)?;
    // Every extension decoded, undefined sequences as real processors treat them: iced's
    // sweep decodes the same way.
    let decoder = InstDecoder::default();
    let starts = chunk_starts(base, code.len(), function_starts);
    let mut sites = Vec::new();
    for (i, &chunk_start) in starts.iter().enumerate() {
        let chunk_end = starts.get(i + 1).copied().unwrap_or(base + code.len() as u64);
        let chunk = &code[(chunk_start - base) as usize..(chunk_end - base) as usize];
        let mut at = 0usize;
        while at < chunk.len() {
            // An undecodable byte is stepped over (one byte) and the sweep goes on, the same
            // rule the iced sweep follows.
            let len = match decoder.decode_slice(&chunk[at..]) {
                Ok(insn) => (insn.len().to_const() as usize).clamp(1, chunk.len() - at),
                Err(_) => 1,
            };
            if let Some(kind) = kind_of_bytes(&chunk[at..at + len]) {
                sites.push((chunk_start + at as u64, kind));
            }
            at += len;
        }
    }
    Some(sites)
}

/// Compares iced's site set (patched and skipped alike) with the second decoder's.
pub fn compare(iced: &[(u64, SiteKind)], second: &[(u64, SiteKind)]) -> Vec<Disagreement> {
    let mut out = Vec::new();
    let (mut i, mut c) = (0, 0);
    while i < iced.len() || c < second.len() {
        match (iced.get(i), second.get(c)) {
            (Some(a), Some(b)) if a.0 == b.0 => {
                if a.1 != b.1 {
                    out.push(Disagreement { addr: a.0, iced: Some(a.1), second: Some(b.1) });
                }
                i += 1;
                c += 1;
            }
            (Some(a), b) if b.is_none_or(|b| a.0 < b.0) => {
                out.push(Disagreement { addr: a.0, iced: Some(a.1), second: None });
                i += 1;
            }
            (_, Some(b)) => {
                out.push(Disagreement { addr: b.0, iced: None, second: Some(b.1) });
                c += 1;
            }
            (_, None) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_sites_a_plain_sweep_finds() {
        // mov eax, 60; syscall; int 0x80; sysenter; a syscall's bytes inside `mov eax, imm32`
        let code = [0xb8, 60, 0, 0, 0, 0x0f, 0x05, 0xcd, 0x80, 0x0f, 0x34, 0xb8, 0x0f, 0x05, 0, 0];
        let sites = second_sites(&code, 0x1000, &[]).unwrap();
        assert_eq!(sites, [(0x1005, SiteKind::Syscall), (0x1007, SiteKind::Int80), (0x1009, SiteKind::Sysenter)]);
    }

    #[test]
    fn sweeps_arbitrary_bytes_and_truncated_code() {
        // Undecodable bytes, prefixes running off the end, a chunk cut mid-instruction.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..1 << 16)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        for cut in [0, 1, 2, 15, noise.len()] {
            assert!(second_sites(&noise[..cut], 0x40_0000, &[0x40_0003, 0x40_1000]).is_some());
        }
        assert!(second_sites(&[0x66; 32], 0, &[]).unwrap().is_empty());
        assert!(second_sites(&[0x0f, 0x05], u64::MAX, &[]).is_none());
    }
}
