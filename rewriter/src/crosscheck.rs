//! An independent second opinion: the same chunked linear sweep with capstone's decoder.
//!
//! The two decoders disagree only where one of them decodes an instruction differently
//! (length or validity), which shifts the sweep; every such place is reported.

use capstone::prelude::*;
use trapbox_abi::trap::SiteKind;

use crate::scan::chunk_starts;

/// A site that one decoder sees and the other does not (or sees as another kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Disagreement {
    /// Address of the instruction.
    pub addr: u64,
    /// What iced-x86 decoded there.
    pub iced: Option<SiteKind>,
    /// What capstone decoded there.
    pub capstone: Option<SiteKind>,
}

fn kind_of_bytes(bytes: &[u8]) -> Option<SiteKind> {
    SiteKind::ALL.into_iter().find(|k| bytes == k.original_bytes())
}

/// Every two-byte syscall-class instruction capstone finds in `code` loaded at `base`,
/// sorted by address. `None` when capstone cannot be initialised.
pub fn capstone_sites(code: &[u8], base: u64, function_starts: &[u64]) -> Option<Vec<(u64, SiteKind)>> {
    base.checked_add(code.len() as u64)?;
    let mut cs = Capstone::new().x86().mode(arch::x86::ArchMode::Mode64).detail(false).build().ok()?;
    // Skipdata makes capstone step over an undecodable byte (one byte on x86) and go on,
    // the same rule the iced sweep follows.
    cs.set_skipdata(true).ok()?;
    let starts = chunk_starts(base, code.len(), function_starts);
    let mut sites = Vec::new();
    for (i, &chunk_start) in starts.iter().enumerate() {
        let chunk_end = starts.get(i + 1).copied().unwrap_or(base + code.len() as u64);
        let chunk = &code[(chunk_start - base) as usize..(chunk_end - base) as usize];
        let instructions = cs.disasm_all(chunk, chunk_start).ok()?;
        for insn in instructions.as_ref() {
            if let Some(kind) = kind_of_bytes(insn.bytes()) {
                sites.push((insn.address(), kind));
            }
        }
    }
    Some(sites)
}

/// Compares iced's site set (patched and skipped alike) with capstone's.
pub fn compare(iced: &[(u64, SiteKind)], capstone: &[(u64, SiteKind)]) -> Vec<Disagreement> {
    let mut out = Vec::new();
    let (mut i, mut c) = (0, 0);
    while i < iced.len() || c < capstone.len() {
        match (iced.get(i), capstone.get(c)) {
            (Some(a), Some(b)) if a.0 == b.0 => {
                if a.1 != b.1 {
                    out.push(Disagreement { addr: a.0, iced: Some(a.1), capstone: Some(b.1) });
                }
                i += 1;
                c += 1;
            }
            (Some(a), b) if b.is_none_or(|b| a.0 < b.0) => {
                out.push(Disagreement { addr: a.0, iced: Some(a.1), capstone: None });
                i += 1;
            }
            (_, Some(b)) => {
                out.push(Disagreement { addr: b.0, iced: None, capstone: Some(b.1) });
                c += 1;
            }
            (_, None) => break,
        }
    }
    out
}
