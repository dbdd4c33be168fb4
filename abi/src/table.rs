//! The trap-table format (version 1).
//!
//! All integers are little-endian. A table is a 32-byte header followed by `count` entries of
//! 16 bytes, sorted by strictly increasing address:
//!
//! | offset | size | header field |
//! |---|---|---|
//! | 0 | 8 | magic `b"TRAPBOX\0"` |
//! | 8 | 2 | table version, [`TABLE_VERSION`] |
//! | 10 | 2 | header size in bytes (32); readers skip what they do not know |
//! | 12 | 2 | entry size in bytes (16); readers skip what they do not know |
//! | 14 | 1 | trap encoding, [`TrapEncoding`] as `u8` |
//! | 15 | 1 | flags, 0 |
//! | 16 | 4 | entry count |
//! | 20 | 12 | reserved, 0 |
//!
//! | offset | size | entry field |
//! |---|---|---|
//! | 0 | 8 | site address: the link-time virtual address (as in the ELF's `p_vaddr` space); the host adds the module's load bias (0 for `ET_EXEC`) |
//! | 8 | 1 | [`SiteKind`] as `u8` |
//! | 9 | 1 | flags: bit 0 = [`SITE_NR_KNOWN`] |
//! | 10 | 2 | reserved, 0 |
//! | 12 | 4 | the call number, when [`SITE_NR_KNOWN`] is set |
//!
//! Parsing ([`TrapTable::parse`]) validates everything and never allocates, so the host can
//! use a table straight from the file and look sites up by binary search.
//!
//! Guests built with the SDK carry a second, simpler table in the non-loaded section
//! [`SDK_SECTION_NAME`]: a bare array of entries in the layout above, in any order, no header,
//! all using the `ud2` encoding. Each hostcall stub appends its own entry at assembly time
//! and the linker fills in the address ([`sdk_entries`] reads them).

use crate::trap::{SiteKind, TrapEncoding};

/// The name of the non-loaded ELF section that holds the table.
pub const SECTION_NAME: &str = ".trapbox";
/// The name of the non-loaded section of bare entries emitted by the SDK's hostcall stubs.
pub const SDK_SECTION_NAME: &str = ".trapbox.sdk";
/// The table's magic number.
pub const MAGIC: [u8; 8] = *b"TRAPBOX\0";
/// The table format this crate reads and writes.
pub const TABLE_VERSION: u16 = 1;
/// The size of the header this version writes.
pub const HEADER_SIZE: usize = 32;
/// The size of an entry this version writes.
pub const ENTRY_SIZE: usize = 16;
/// Entry flag: the call number was inferred statically.
pub const SITE_NR_KNOWN: u8 = 1;

/// One trap site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TrapSite {
    /// Link-time virtual address of the site.
    pub addr: u64,
    /// The instruction the trap replaced.
    pub kind: SiteKind,
    /// The call number, where a constant move in the same basic block sets it.
    pub nr: Option<u32>,
}

impl TrapSite {
    /// The entry's bytes.
    pub fn to_bytes(&self) -> [u8; ENTRY_SIZE] {
        let mut out = [0u8; ENTRY_SIZE];
        out[0..8].copy_from_slice(&self.addr.to_le_bytes());
        out[8] = self.kind as u8;
        if let Some(nr) = self.nr {
            out[9] = SITE_NR_KNOWN;
            out[12..16].copy_from_slice(&nr.to_le_bytes());
        }
        out
    }
}

/// The header's bytes for a table of `count` entries.
pub fn header_bytes(encoding: TrapEncoding, count: u32) -> [u8; HEADER_SIZE] {
    let mut out = [0u8; HEADER_SIZE];
    out[0..8].copy_from_slice(&MAGIC);
    out[8..10].copy_from_slice(&TABLE_VERSION.to_le_bytes());
    out[10..12].copy_from_slice(&(HEADER_SIZE as u16).to_le_bytes());
    out[12..14].copy_from_slice(&(ENTRY_SIZE as u16).to_le_bytes());
    out[14] = encoding as u8;
    out[16..20].copy_from_slice(&count.to_le_bytes());
    out
}

/// The entries of a [`SDK_SECTION_NAME`] section, in section order; `Err(index)` for an
/// entry with an unknown kind. Trailing bytes shorter than an entry are ignored.
pub fn sdk_entries(bytes: &[u8]) -> impl Iterator<Item = Result<TrapSite, u32>> + '_ {
    bytes.chunks_exact(ENTRY_SIZE).enumerate().map(|(index, e)| {
        let kind = SiteKind::from_u8(e[8]).ok_or(index as u32)?;
        let nr = (e[9] & SITE_NR_KNOWN != 0).then(|| u32_at(e, 12));
        Ok(TrapSite { addr: u64_at(e, 0), kind, nr })
    })
}

/// Why bytes are not a valid trap table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableError {
    /// Shorter than its header or its entries claim.
    Truncated,
    /// The magic number is wrong.
    BadMagic,
    /// A table version this crate does not read.
    UnsupportedVersion(u16),
    /// Header or entry size smaller than version 1's.
    BadLayout,
    /// An unknown trap encoding.
    BadEncoding(u8),
    /// Entry `index` names an unknown site kind.
    BadKind {
        /// The entry's index.
        index: u32,
    },
    /// Entry `index` is not above the one before it.
    Unsorted {
        /// The entry's index.
        index: u32,
    },
}

impl core::fmt::Display for TableError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TableError::Truncated => write!(f, "trap table is truncated"),
            TableError::BadMagic => write!(f, "trap table has a bad magic number"),
            TableError::UnsupportedVersion(v) => write!(f, "trap table version {v} is not supported (this build reads {TABLE_VERSION})"),
            TableError::BadLayout => write!(f, "trap table header or entry size is too small"),
            TableError::BadEncoding(e) => write!(f, "trap table names unknown trap encoding {e}"),
            TableError::BadKind { index } => write!(f, "trap table entry {index} has an unknown kind"),
            TableError::Unsorted { index } => write!(f, "trap table entry {index} is out of order"),
        }
    }
}

/// A validated view of a trap table in memory.
#[derive(Clone, Copy, Debug)]
pub struct TrapTable<'a> {
    encoding: TrapEncoding,
    entry_size: usize,
    count: u32,
    entries: &'a [u8],
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from(u32_at(bytes, at)) | u64::from(u32_at(bytes, at + 4)) << 32
}

impl<'a> TrapTable<'a> {
    /// Validates `bytes` as a trap table. Bytes after the last entry are ignored.
    pub fn parse(bytes: &'a [u8]) -> Result<TrapTable<'a>, TableError> {
        if bytes.len() < HEADER_SIZE {
            return Err(TableError::Truncated);
        }
        if bytes[0..8] != MAGIC {
            return Err(TableError::BadMagic);
        }
        let version = u16_at(bytes, 8);
        if version != TABLE_VERSION {
            return Err(TableError::UnsupportedVersion(version));
        }
        let header_size = usize::from(u16_at(bytes, 10));
        let entry_size = usize::from(u16_at(bytes, 12));
        if header_size < HEADER_SIZE || entry_size < ENTRY_SIZE {
            return Err(TableError::BadLayout);
        }
        let encoding = TrapEncoding::from_u8(bytes[14]).ok_or(TableError::BadEncoding(bytes[14]))?;
        let count = u32_at(bytes, 16);
        let body_len = (count as usize).checked_mul(entry_size).ok_or(TableError::Truncated)?;
        let end = header_size.checked_add(body_len).ok_or(TableError::Truncated)?;
        let entries = bytes.get(header_size..end).ok_or(TableError::Truncated)?;
        let table = TrapTable { encoding, entry_size, count, entries };
        let mut previous: Option<u64> = None;
        for index in 0..count {
            let at = index as usize * entry_size;
            if SiteKind::from_u8(entries[at + 8]).is_none() {
                return Err(TableError::BadKind { index });
            }
            let addr = u64_at(entries, at);
            if previous.is_some_and(|p| addr <= p) {
                return Err(TableError::Unsorted { index });
            }
            previous = Some(addr);
        }
        Ok(table)
    }

    /// The trap encoding every site of this module uses.
    pub fn encoding(&self) -> TrapEncoding {
        self.encoding
    }

    /// How many sites the table lists.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether the table lists no site.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn addr_at(&self, index: usize) -> u64 {
        u64_at(self.entries, index * self.entry_size)
    }

    /// Site `index`, in address order.
    pub fn get(&self, index: usize) -> Option<TrapSite> {
        if index >= self.len() {
            return None;
        }
        let at = index * self.entry_size;
        let e = &self.entries[at..at + ENTRY_SIZE];
        let kind = SiteKind::from_u8(e[8])?;
        let nr = (e[9] & SITE_NR_KNOWN != 0).then(|| u32_at(e, 12));
        Some(TrapSite { addr: u64_at(e, 0), kind, nr })
    }

    /// The site at link-time address `addr`, by binary search.
    pub fn find(&self, addr: u64) -> Option<TrapSite> {
        let (mut low, mut high) = (0usize, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            let here = self.addr_at(mid);
            if here == addr {
                return self.get(mid);
            }
            if here < addr {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        None
    }

    /// Every site, in address order.
    pub fn iter(&self) -> impl Iterator<Item = TrapSite> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn build(encoding: TrapEncoding, sites: &[TrapSite]) -> Vec<u8> {
        let mut out = Vec::from(header_bytes(encoding, sites.len() as u32));
        for site in sites {
            out.extend_from_slice(&site.to_bytes());
        }
        out
    }

    #[test]
    fn round_trip_and_lookup() {
        let sites = [
            TrapSite { addr: 0x1000, kind: SiteKind::Syscall, nr: Some(39) },
            TrapSite { addr: 0x1010, kind: SiteKind::Int80, nr: None },
            TrapSite { addr: 0x2000, kind: SiteKind::Sysenter, nr: Some(0) },
        ];
        let bytes = build(TrapEncoding::Int3, &sites);
        let table = TrapTable::parse(&bytes).unwrap();
        assert_eq!(table.encoding(), TrapEncoding::Int3);
        assert_eq!(table.iter().collect::<Vec<_>>(), sites);
        for site in sites {
            assert_eq!(table.find(site.addr), Some(site));
        }
        assert_eq!(table.find(0x1001), None);
        assert_eq!(table.find(0), None);
        assert_eq!(table.find(u64::MAX), None);
    }

    #[test]
    fn malformed_tables_are_rejected() {
        let site = |addr| TrapSite { addr, kind: SiteKind::Syscall, nr: None };
        let good = build(TrapEncoding::Ud2, &[site(1), site(2)]);
        assert_eq!(TrapTable::parse(&good[..good.len() - 1]).unwrap_err(), TableError::Truncated);
        assert_eq!(TrapTable::parse(&good[..10]).unwrap_err(), TableError::Truncated);
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(TrapTable::parse(&bad).unwrap_err(), TableError::BadMagic);
        let mut bad = good.clone();
        bad[8] = 9;
        assert_eq!(TrapTable::parse(&bad).unwrap_err(), TableError::UnsupportedVersion(9));
        let mut bad = good.clone();
        bad[14] = 7;
        assert_eq!(TrapTable::parse(&bad).unwrap_err(), TableError::BadEncoding(7));
        let mut bad = good.clone();
        bad[HEADER_SIZE + ENTRY_SIZE + 8] = 0;
        assert_eq!(TrapTable::parse(&bad).unwrap_err(), TableError::BadKind { index: 1 });
        let unsorted = build(TrapEncoding::Ud2, &[site(2), site(2)]);
        assert_eq!(TrapTable::parse(&unsorted).unwrap_err(), TableError::Unsorted { index: 1 });
        let mut huge = good.clone();
        huge[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(TrapTable::parse(&huge).unwrap_err(), TableError::Truncated);
    }
}
