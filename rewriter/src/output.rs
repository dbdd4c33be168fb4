//! Writing the rewritten file: patch sites in place, then append the trap table, an extended
//! section-name table and a new section-header table after everything that is loaded.
//!
//! Only three fields of the ELF header change (`e_shoff`, `e_shnum`, `e_shstrndx`); neither
//! the kernel nor the dynamic loader reads them. Every other loaded byte is unchanged except
//! the two bytes of each patched site.

use object::elf::{self, SectionHeader64};
use object::pod::bytes_of_slice;
use object::LittleEndian as LE;
use trapbox_abi::table::{self, TrapSite, SECTION_NAME};
use trapbox_abi::trap::TrapEncoding;

use crate::elf::ElfImage;
use crate::RewriteError;

const SHDR_SIZE: usize = 64;
/// Byte offsets of the ELF header fields this module rewrites.
pub const E_SHOFF: usize = 0x28;
const E_SHENTSIZE: usize = 0x3a;
/// Byte offset of `e_shnum`.
pub const E_SHNUM: usize = 0x3c;
/// Byte offset of `e_shstrndx`.
pub const E_SHSTRNDX: usize = 0x3e;

/// The trap table's bytes: header and sorted entries.
pub fn table_bytes(encoding: TrapEncoding, sites: &[TrapSite]) -> Result<Vec<u8>, RewriteError> {
    let count = u32::try_from(sites.len()).map_err(|_| RewriteError::Malformed("more than 2^32 sites".into()))?;
    let mut out = Vec::with_capacity(table::HEADER_SIZE + sites.len() * table::ENTRY_SIZE);
    out.extend_from_slice(&table::header_bytes(encoding, count));
    for site in sites {
        out.extend_from_slice(&site.to_bytes());
    }
    Ok(out)
}

fn section_header(name: u32, sh_type: u32, offset: u64, size: u64, align: u64) -> [u8; SHDR_SIZE] {
    let mut out = [0u8; SHDR_SIZE];
    out[0..4].copy_from_slice(&name.to_le_bytes());
    out[4..8].copy_from_slice(&sh_type.to_le_bytes());
    out[24..32].copy_from_slice(&offset.to_le_bytes());
    out[32..40].copy_from_slice(&size.to_le_bytes());
    out[48..56].copy_from_slice(&align.to_le_bytes());
    out
}

fn pad_to(out: &mut Vec<u8>, align: usize) {
    while !out.len().is_multiple_of(align) {
        out.push(0);
    }
}

/// Builds the output file: `sites` are patched at their file offsets (`site_offsets`, same
/// order) and the table is added as a non-loaded `.trapbox` section.
pub fn write(image: &ElfImage<'_>, sites: &[TrapSite], site_offsets: &[u64], encoding: TrapEncoding) -> Result<Vec<u8>, RewriteError> {
    let mut out = image.data.to_vec();
    for (site, &offset) in sites.iter().zip(site_offsets) {
        let at = offset as usize;
        let original = site.kind.original_bytes();
        if out.get(at..at + 2) != Some(&original[..]) {
            return Err(RewriteError::Malformed(format!("site {:#x} does not hold {}", site.addr, site.kind.name())));
        }
        out[at..at + 2].copy_from_slice(&encoding.bytes());
    }

    let old_headers = image.section_headers();
    let mut headers: Vec<[u8; SHDR_SIZE]> = bytes_of_slice(old_headers)
        .chunks_exact(SHDR_SIZE)
        .map(|chunk| chunk.try_into().expect("chunks_exact yields SHDR_SIZE"))
        .collect();
    if headers.is_empty() {
        headers.push([0u8; SHDR_SIZE]);
    }
    let old_shstrndx = image.shstrndx()?;
    let mut names: Vec<u8> = match old_shstrndx {
        Some(index) => {
            let section: &SectionHeader64<LE> = old_headers
                .get(index)
                .ok_or_else(|| RewriteError::Malformed(format!("e_shstrndx {index} names no section")))?;
            object::read::elf::SectionHeader::data(section, LE, image.data)
                .map_err(|_| RewriteError::Malformed("section-name table lies outside the file".into()))?
                .to_vec()
        }
        None => vec![0],
    };

    // A name offset past the old table would now point into the appended names (and could
    // read ".trapbox"): such a file is malformed.
    for (index, header) in headers.iter().enumerate().skip(1) {
        let name = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
        if name >= names.len() {
            return Err(RewriteError::Malformed(format!("section {index} has a name offset outside the section-name table")));
        }
    }

    pad_to(&mut out, 8);
    let table = table_bytes(encoding, sites)?;
    let table_offset = out.len() as u64;
    out.extend_from_slice(&table);

    let trapbox_name = names.len() as u32;
    names.extend_from_slice(SECTION_NAME.as_bytes());
    names.push(0);
    let shstrndx = match old_shstrndx {
        Some(index) => index,
        None => {
            let shstrtab_name = names.len() as u32;
            names.extend_from_slice(b".shstrtab\0");
            headers.push(section_header(shstrtab_name, elf::SHT_STRTAB, 0, 0, 1));
            headers.len() - 1
        }
    };
    let names_offset = out.len() as u64;
    out.extend_from_slice(&names);
    headers[shstrndx][24..32].copy_from_slice(&names_offset.to_le_bytes());
    headers[shstrndx][32..40].copy_from_slice(&(names.len() as u64).to_le_bytes());
    headers.push(section_header(trapbox_name, elf::SHT_PROGBITS, table_offset, table.len() as u64, 8));

    pad_to(&mut out, 8);
    let shoff = out.len() as u64;
    let count = headers.len();
    // Extended numbering: counts and indexes from SHN_LORESERVE on live in section 0.
    let e_shnum = if count >= usize::from(elf::SHN_LORESERVE) {
        headers[0][32..40].copy_from_slice(&(count as u64).to_le_bytes());
        0
    } else {
        count as u16
    };
    let e_shstrndx = if shstrndx >= usize::from(elf::SHN_LORESERVE) {
        headers[0][40..44].copy_from_slice(&(shstrndx as u32).to_le_bytes());
        elf::SHN_XINDEX
    } else {
        shstrndx as u16
    };
    for header in &headers {
        out.extend_from_slice(header);
    }
    out[E_SHOFF..E_SHOFF + 8].copy_from_slice(&shoff.to_le_bytes());
    out[E_SHENTSIZE..E_SHENTSIZE + 2].copy_from_slice(&(SHDR_SIZE as u16).to_le_bytes());
    out[E_SHNUM..E_SHNUM + 2].copy_from_slice(&e_shnum.to_le_bytes());
    out[E_SHSTRNDX..E_SHSTRNDX + 2].copy_from_slice(&e_shstrndx.to_le_bytes());
    Ok(out)
}
