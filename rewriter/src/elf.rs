//! What the rewriter needs to know about an ELF64 x86-64 file, read with bounds checks.

use object::elf::{self, FileHeader64, ProgramHeader64, SectionHeader64};
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader, SectionTable, Sym};
use object::LittleEndian as LE;

use crate::RewriteError;

/// An executable span of the file: `size` bytes at file `offset`, loaded at `vaddr`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRegion {
    /// Section name, or `PT_LOAD[i]` when found through program headers.
    pub name: String,
    /// Link-time virtual address of the first byte.
    pub vaddr: u64,
    /// File offset of the first byte.
    pub offset: u64,
    /// Length in bytes.
    pub size: u64,
}

/// A function symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionSymbol {
    /// Link-time address.
    pub addr: u64,
    /// Size in bytes (0 when unknown).
    pub size: u64,
    /// Name.
    pub name: String,
}

/// A section header and its file bytes.
pub type SectionWithData<'a> = (&'a SectionHeader64<LE>, &'a [u8]);

/// The parsed facts of one ELF file.
#[derive(Debug)]
pub struct ElfImage<'a> {
    /// The whole file.
    pub data: &'a [u8],
    /// `ET_EXEC` or `ET_DYN`.
    pub elf_type: u16,
    /// The entry point.
    pub entry: u64,
    header: &'a FileHeader64<LE>,
    segments: &'a [ProgramHeader64<LE>],
    sections: SectionTable<'a, FileHeader64<LE>>,
}

/// Offsets of the class and data bytes in `e_ident`.
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;

/// Checks the identification bytes one by one, so each wrong input gets its own message.
fn check_ident(data: &[u8]) -> Result<(), RewriteError> {
    if data.len() < 4 || data[..4] != elf::ELFMAG {
        return Err(if !data.is_empty() && data.len() < 4 && elf::ELFMAG.starts_with(data) {
            RewriteError::Truncated("shorter than the ELF magic number")
        } else {
            RewriteError::NotElf
        });
    }
    if data.len() < 16 {
        return Err(RewriteError::Truncated("shorter than e_ident"));
    }
    match data[EI_CLASS] {
        elf::ELFCLASS64 => {}
        elf::ELFCLASS32 => return Err(RewriteError::Not64Bit),
        value => return Err(RewriteError::BadIdent { name: "EI_CLASS", value }),
    }
    match data[EI_DATA] {
        elf::ELFDATA2LSB => {}
        elf::ELFDATA2MSB => return Err(RewriteError::BigEndian),
        value => return Err(RewriteError::BadIdent { name: "EI_DATA", value }),
    }
    if data.len() < std::mem::size_of::<FileHeader64<LE>>() {
        return Err(RewriteError::Truncated("shorter than the ELF header"));
    }
    Ok(())
}

impl<'a> ElfImage<'a> {
    /// Validates `data` as an ELF64 little-endian x86-64 executable or shared object.
    pub fn parse(data: &'a [u8]) -> Result<Self, RewriteError> {
        check_ident(data)?;
        let header = FileHeader64::<LE>::parse(data)?;
        let machine = header.e_machine(LE);
        if machine != elf::EM_X86_64 {
            return Err(RewriteError::NotX86_64(machine));
        }
        let elf_type = header.e_type(LE);
        if elf_type != elf::ET_EXEC && elf_type != elf::ET_DYN {
            return Err(RewriteError::UnsupportedType(elf_type));
        }
        let segments = header.program_headers(LE, data)?;
        let sections = header.sections(LE, data)?;
        Ok(ElfImage { data, elf_type, entry: header.e_entry(LE), header, segments, sections })
    }

    /// The program headers.
    pub fn segments(&self) -> &'a [ProgramHeader64<LE>] {
        self.segments
    }

    /// The section headers (empty when the file has none).
    pub fn section_headers(&self) -> &'a [SectionHeader64<LE>] {
        self.sections.iter().as_slice()
    }

    /// The index of the section-name string table, if any.
    pub fn shstrndx(&self) -> Result<Option<usize>, RewriteError> {
        if self.sections.is_empty() {
            return Ok(None);
        }
        let index = self.header.shstrndx(LE, self.data)? as usize;
        Ok((index != 0).then_some(index))
    }

    /// The name of a section, or "" when it has none.
    pub fn section_name(&self, section: &SectionHeader64<LE>) -> String {
        self.sections
            .section_name(LE, section)
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default()
    }

    /// The file bytes of the section called `name`, if present.
    pub fn section_data_by_name(&self, name: &str) -> Result<Option<SectionWithData<'a>>, RewriteError> {
        for section in self.sections.iter() {
            if self.section_name(section) == name {
                let bytes = section
                    .data(LE, self.data)
                    .map_err(|_| RewriteError::Malformed(format!("section {name} lies outside the file")))?;
                return Ok(Some((section, bytes)));
            }
        }
        Ok(None)
    }

    /// Executable code: `SHF_EXECINSTR` sections, or executable `PT_LOAD` segments when the
    /// file has no section headers (or none marked executable).
    pub fn code_regions(&self) -> Result<Vec<CodeRegion>, RewriteError> {
        let mut regions = Vec::new();
        for section in self.sections.iter() {
            let flags = section.sh_flags(LE);
            let wanted = u64::from(elf::SHF_EXECINSTR | elf::SHF_ALLOC);
            if section.sh_type(LE) == elf::SHT_PROGBITS && flags & wanted == wanted && section.sh_size(LE) > 0 {
                regions.push(CodeRegion {
                    name: self.section_name(section),
                    vaddr: section.sh_addr(LE),
                    offset: section.sh_offset(LE),
                    size: section.sh_size(LE),
                });
            }
        }
        if regions.is_empty() {
            for (i, segment) in self.segments.iter().enumerate() {
                if segment.p_type(LE) == elf::PT_LOAD && segment.p_flags(LE) & elf::PF_X != 0 && segment.p_filesz(LE) > 0 {
                    regions.push(CodeRegion {
                        name: format!("PT_LOAD[{i}]"),
                        vaddr: segment.p_vaddr(LE),
                        offset: segment.p_offset(LE),
                        size: segment.p_filesz(LE),
                    });
                }
            }
        }
        if regions.is_empty() {
            return Err(RewriteError::NoCode);
        }
        for region in &regions {
            let end = region.offset.checked_add(region.size);
            if end.is_none_or(|end| end > self.data.len() as u64) {
                return Err(RewriteError::Malformed(format!(
                    "code region {} (offset {:#x}, size {:#x}) extends past the end of the file ({:#x} bytes)",
                    region.name,
                    region.offset,
                    region.size,
                    self.data.len()
                )));
            }
            region.vaddr.checked_add(region.size).ok_or_else(|| {
                RewriteError::Malformed(format!("code region {} wraps the address space", region.name))
            })?;
        }
        Ok(regions)
    }

    /// Function symbols from `.symtab` and `.dynsym`, sorted by address. Malformed symbol
    /// tables are skipped: symbols only help, they are never required.
    pub fn function_symbols(&self) -> Vec<FunctionSymbol> {
        let mut out = Vec::new();
        for table_type in [elf::SHT_SYMTAB, elf::SHT_DYNSYM] {
            let Ok(symbols) = self.sections.symbols(LE, self.data, table_type) else { continue };
            for symbol in symbols.iter() {
                let kind = symbol.st_type();
                if (kind == elf::STT_FUNC || kind == elf::STT_GNU_IFUNC) && symbol.st_shndx(LE) != elf::SHN_UNDEF {
                    let name = symbols.symbol_name(LE, symbol).map(|n| String::from_utf8_lossy(n).into_owned());
                    out.push(FunctionSymbol {
                        addr: symbol.st_value(LE),
                        size: symbol.st_size(LE),
                        name: name.unwrap_or_default(),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.addr.cmp(&b.addr).then(b.size.cmp(&a.size)));
        out.dedup_by(|later, first| later.addr == first.addr);
        out
    }

    /// The `.eh_frame` bytes and their link-time address: from the section, or through
    /// `PT_GNU_EH_FRAME` (`.eh_frame_hdr`) when the file has no section headers.
    pub fn eh_frame(&self) -> Option<(u64, &'a [u8])> {
        if let Ok(Some((section, bytes))) = self.section_data_by_name(".eh_frame") {
            return Some((section.sh_addr(LE), bytes));
        }
        let hdr = self.segments.iter().find(|s| s.p_type(LE) == elf::PT_GNU_EH_FRAME)?;
        let hdr_bytes = self.bytes_at_vaddr(hdr.p_vaddr(LE), hdr.p_filesz(LE))?;
        let eh_frame_vaddr = crate::ehframe::eh_frame_address_from_hdr(hdr_bytes, hdr.p_vaddr(LE))?;
        // The section's length is not recorded; parsing stops at the zero terminator or at
        // the end of the segment that holds it.
        let (segment_end, _) = self.segment_span_containing(eh_frame_vaddr)?;
        self.bytes_at_vaddr(eh_frame_vaddr, segment_end - eh_frame_vaddr).map(|b| (eh_frame_vaddr, b))
    }

    /// The end address and file offset of the loaded file bytes holding `vaddr`.
    fn segment_span_containing(&self, vaddr: u64) -> Option<(u64, u64)> {
        self.segments.iter().find_map(|s| {
            let start = s.p_vaddr(LE);
            let end = start.checked_add(s.p_filesz(LE))?;
            (s.p_type(LE) == elf::PT_LOAD && vaddr >= start && vaddr < end).then(|| (end, s.p_offset(LE) + (vaddr - start)))
        })
    }

    /// Whether `vaddr` lies in the file bytes of an executable `PT_LOAD` segment.
    pub fn is_executable_vaddr(&self, vaddr: u64) -> bool {
        self.segments.iter().any(|s| {
            let start = s.p_vaddr(LE);
            s.p_type(LE) == elf::PT_LOAD
                && s.p_flags(LE) & elf::PF_X != 0
                && vaddr >= start
                && vaddr - start < s.p_filesz(LE)
        })
    }

    /// The file bytes loaded at `vaddr..vaddr+len`, if one segment holds them all.
    pub fn bytes_at_vaddr(&self, vaddr: u64, len: u64) -> Option<&'a [u8]> {
        let (end, offset) = self.segment_span_containing(vaddr)?;
        if vaddr.checked_add(len)? > end {
            return None;
        }
        let start = usize::try_from(offset).ok()?;
        self.data.get(start..start.checked_add(usize::try_from(len).ok()?)?)
    }

    /// File ranges that the loader maps (`PT_LOAD` `p_offset..p_offset+p_filesz`).
    pub fn loaded_file_ranges(&self) -> Vec<std::ops::Range<u64>> {
        self.segments
            .iter()
            .filter(|s| s.p_type(LE) == elf::PT_LOAD)
            .map(|s| s.p_offset(LE)..s.p_offset(LE).saturating_add(s.p_filesz(LE)))
            .collect()
    }

    /// The lowest `PT_LOAD` virtual address and its file offset: what a host needs to turn a
    /// mapping's start into the module's load bias.
    pub fn first_load(&self) -> Option<(u64, u64)> {
        self.segments
            .iter()
            .filter(|s| s.p_type(LE) == elf::PT_LOAD)
            .map(|s| (s.p_vaddr(LE), s.p_offset(LE)))
            .min()
    }
}
