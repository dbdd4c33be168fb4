//! Function extents from `.eh_frame`: each FDE names the start and length of a piece of code.
//!
//! Only what the rewriter needs is decoded (CIE augmentation for the FDE pointer encoding,
//! FDE `pc_begin`/`pc_range`); call-frame instructions are skipped. Malformed entries end the
//! walk: extents are hints, and a partial list is still correct.

use std::collections::HashMap;
use std::ops::Range;

const DW_EH_PE_OMIT: u8 = 0xff;
const DW_EH_PE_PCREL: u8 = 0x10;
const DW_EH_PE_DATAREL: u8 = 0x30;
const DW_EH_PE_INDIRECT: u8 = 0x80;

/// A bounds-checked little-endian reader; `vaddr` is the address of `bytes[0]`.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    vaddr: u64,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let out = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(out)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn uint(&mut self, n: usize) -> Option<u64> {
        let bytes = self.take(n)?;
        Some(bytes.iter().rev().fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
    }
    fn sint(&mut self, n: usize) -> Option<u64> {
        let value = self.uint(n)?;
        let shift = 64 - 8 * n as u32;
        Some((((value << shift) as i64) >> shift) as u64)
    }
    fn uleb(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    fn sleb(&mut self) -> Option<u64> {
        let mut value = 0u64;
        let mut shift = 0u32;
        loop {
            let byte = self.u8()?;
            if shift < 64 {
                value |= u64::from(byte & 0x7f) << shift;
            }
            shift += 7;
            if byte & 0x80 == 0 {
                if shift < 64 && byte & 0x40 != 0 {
                    value |= u64::MAX << shift;
                }
                return Some(value);
            }
            if shift > 70 {
                return None;
            }
        }
    }
    fn cstr(&mut self) -> Option<&[u8]> {
        let len = self.bytes.get(self.pos..)?.iter().position(|&b| b == 0)?;
        let out = &self.bytes[self.pos..self.pos + len];
        self.pos += len + 1;
        Some(out)
    }

    /// Reads a pointer in DWARF EH encoding `enc`. `data_base` serves `DW_EH_PE_datarel`.
    /// Indirect pointers cannot be followed in a file and yield `None`.
    fn pointer(&mut self, enc: u8, data_base: u64) -> Option<u64> {
        if enc == DW_EH_PE_OMIT || enc & DW_EH_PE_INDIRECT != 0 {
            return None;
        }
        let field_vaddr = self.vaddr.wrapping_add(self.pos as u64);
        let raw = self.raw_value(enc)?;
        match enc & 0x70 {
            0 => Some(raw),
            DW_EH_PE_PCREL => Some(field_vaddr.wrapping_add(raw)),
            DW_EH_PE_DATAREL => Some(data_base.wrapping_add(raw)),
            _ => None,
        }
    }

    /// Reads a value in the format (low nibble) of encoding `enc`, without applying it.
    fn raw_value(&mut self, enc: u8) -> Option<u64> {
        match enc & 0x0f {
            0x00 | 0x04 => self.uint(8),
            0x01 => self.uleb(),
            0x02 => self.uint(2),
            0x03 => self.uint(4),
            0x09 => self.sleb(),
            0x0a => self.sint(2),
            0x0b => self.sint(4),
            0x0c => self.sint(8),
            _ => None,
        }
    }
}

/// The address of `.eh_frame` as recorded in `.eh_frame_hdr` (found through `PT_GNU_EH_FRAME`).
pub fn eh_frame_address_from_hdr(hdr: &[u8], hdr_vaddr: u64) -> Option<u64> {
    let mut reader = Reader { bytes: hdr, pos: 0, vaddr: hdr_vaddr };
    if reader.u8()? != 1 {
        return None;
    }
    let eh_frame_ptr_enc = reader.u8()?;
    reader.take(2)?;
    reader.pointer(eh_frame_ptr_enc, hdr_vaddr)
}

/// What an FDE needs from its CIE.
#[derive(Clone, Copy)]
struct Cie {
    fde_pointer_encoding: u8,
}

fn parse_cie(body: &mut Reader<'_>) -> Option<Cie> {
    let version = body.u8()?;
    let augmentation = body.cstr()?.to_vec();
    if augmentation.windows(2).any(|w| w == b"eh") {
        return None;
    }
    body.uleb()?; // code alignment
    body.sleb()?; // data alignment
    if version == 1 {
        body.u8()?;
    } else {
        body.uleb()?;
    }
    let mut cie = Cie { fde_pointer_encoding: 0 };
    if augmentation.first() == Some(&b'z') {
        body.uleb()?; // augmentation data length
        for &c in &augmentation[1..] {
            match c {
                b'R' => cie.fde_pointer_encoding = body.u8()?,
                b'P' => {
                    let enc = body.u8()?;
                    body.raw_value(enc & 0x0f)?;
                }
                b'L' => {
                    body.u8()?;
                }
                b'S' | b'B' | b'G' => {}
                _ => break,
            }
        }
    }
    Some(cie)
}

/// Every FDE's code range `pc_begin..pc_begin+pc_range`, in section order.
pub fn function_extents(eh_frame: &[u8], eh_frame_vaddr: u64) -> Vec<Range<u64>> {
    let mut extents = Vec::new();
    let mut cies: HashMap<usize, Option<Cie>> = HashMap::new();
    let mut reader = Reader { bytes: eh_frame, pos: 0, vaddr: eh_frame_vaddr };
    while reader.pos < eh_frame.len() {
        let Some(mut length) = reader.uint(4) else { break };
        if length == 0 {
            break;
        }
        if length == 0xffff_ffff {
            let Some(long) = reader.uint(8) else { break };
            length = long;
        }
        let id_pos = reader.pos;
        let Some(entry_end) = usize::try_from(length).ok().and_then(|l| id_pos.checked_add(l)) else { break };
        if entry_end > eh_frame.len() {
            break;
        }
        let Some(id) = reader.uint(4) else { break };
        if id != 0 {
            // An FDE: `id` is the distance back from this field to its CIE.
            let cie_pos = id_pos.checked_sub(id as usize);
            let cie = cie_pos.and_then(|pos| {
                *cies.entry(pos).or_insert_with(|| parse_cie_at(eh_frame, eh_frame_vaddr, pos))
            });
            if let Some(cie) = cie {
                let mut body = Reader { bytes: &eh_frame[..entry_end], pos: reader.pos, vaddr: eh_frame_vaddr };
                let begin = body.pointer(cie.fde_pointer_encoding, 0);
                let range = body.raw_value(cie.fde_pointer_encoding);
                if let (Some(begin), Some(range)) = (begin, range) {
                    if range > 0 {
                        if let Some(end) = begin.checked_add(range) {
                            extents.push(begin..end);
                        }
                    }
                }
            }
        }
        reader.pos = entry_end;
    }
    extents
}

fn parse_cie_at(eh_frame: &[u8], vaddr: u64, pos: usize) -> Option<Cie> {
    let mut reader = Reader { bytes: eh_frame, pos, vaddr };
    let mut length = reader.uint(4)?;
    if length == 0xffff_ffff {
        length = reader.uint(8)?;
    }
    let end = reader.pos.checked_add(usize::try_from(length).ok()?)?;
    let body = eh_frame.get(..end)?;
    let mut reader = Reader { bytes: body, pos: reader.pos, vaddr };
    if reader.uint(4)? != 0 {
        return None;
    }
    parse_cie(&mut reader)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_and_signed_fields() {
        let mut r = Reader { bytes: &[0xe5, 0x8e, 0x26, 0x7f, 0xfe, 0xff], pos: 0, vaddr: 0 };
        assert_eq!(r.uleb(), Some(624_485));
        assert_eq!(r.sleb(), Some(u64::MAX)); // 0x7f = -1
        assert_eq!(r.sint(2), Some(u64::MAX - 1)); // 0xfffe = -2
        assert_eq!(r.u8(), None);
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed >> 24) as u8 & if seed & 1 == 0 { 0x0f } else { 0xff }
                })
                .collect();
            let _ = function_extents(&bytes, 0x1000);
            let _ = eh_frame_address_from_hdr(&bytes, 0x1000);
        }
    }
}
