//! Which module is mapped where in a guest, and its trap table.
//!
//! `/proc/PID/maps` is parsed only after an exec and when a trap signal comes from an
//! executable file mapping the host does not know yet (a library loaded since, or a region
//! remapped) — never on the hot path, and never again for a `ud2` that is simply not listed
//! (in anonymous or JIT memory, or in a known module): one `PROCMAP_QUERY` of the address tells
//! those apart, so a guest looping on unlisted traps costs the host a query per trap, not a
//! parse of its whole map. Each distinct file (device, inode) is read and its `.trapbox` table validated once
//! per host run; the bytes are kept for the host's lifetime so a lookup is a binary search in
//! place, with no allocation.

use std::collections::HashMap;

use trapbox_abi::table::{TrapSite, TrapTable};
use trapbox_abi::trap::TrapEncoding;

use crate::sys::Pid;

/// What the host knows about one ELF file.
#[derive(Debug)]
pub struct Image {
    /// The file's trap table, `None` when it was never rewritten (or is not an ELF file).
    pub table: Option<TrapTable<'static>>,
    /// Hostcall stubs an SDK-built file lists in its `.trapbox.sdk` section (all `ud2`), sorted.
    pub sdk_sites: Vec<TrapSite>,
    /// `ET_EXEC`: loaded at its link-time addresses (bias 0).
    pub fixed_address: bool,
    /// The page-aligned `p_vaddr` of its first `PT_LOAD`.
    pub first_load_page: u64,
    /// An x86-64 ELF64 file (a process of such files alone has the x86-64 vDSO).
    pub x86_64: bool,
}

/// One executable mapping of a file in a guest.
#[derive(Clone, Copy, Debug)]
pub struct Module {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// The file.
    pub image: &'static Image,
    /// Load bias: runtime address minus link-time address.
    pub bias: u64,
    /// The file's inode and device (as `/proc/PID/maps` encodes it), to recognise the mapping.
    pub inode: u64,
    /// See `inode`.
    pub device: u64,
}

impl Module {
    /// The trap site at runtime address `site`, if this module's table lists it and the trap
    /// that stopped (`encoding`) is the table's own or the one the host wrote over its sites
    /// (`served_as`, `--trap ud2|int3`: either may be met while a library's sites are being
    /// re-encoded under running threads).
    pub fn site(&self, site: u64, encoding: TrapEncoding, served_as: Option<TrapEncoding>) -> Option<TrapSite> {
        let link_addr = site.wrapping_sub(self.bias);
        if let Some(table) = self.image.table.as_ref().filter(|t| t.encoding() == encoding || served_as == Some(encoding)) {
            if let Some(found) = table.find(link_addr) {
                return Some(found);
            }
        }
        if encoding != TrapEncoding::Ud2 {
            return None;
        }
        let sdk = &self.image.sdk_sites;
        sdk.binary_search_by_key(&link_addr, |s| s.addr).ok().map(|i| sdk[i])
    }
}

/// The images read so far, by (device, inode).
#[derive(Debug, Default)]
pub struct ImageCache {
    images: HashMap<(u64, u64), &'static Image>,
}

struct MapLine<'a> {
    start: u64,
    end: u64,
    executable: bool,
    offset: u64,
    device: u64,
    inode: u64,
    path: &'a str,
}

fn parse_map_line(line: &str) -> Option<MapLine<'_>> {
    let mut fields = line.splitn(6, ' ');
    let range = fields.next()?;
    let perms = fields.next()?;
    let offset = fields.next()?;
    let device = fields.next()?;
    let inode = fields.next()?;
    let path = fields.next().unwrap_or("").trim_start();
    let (start, end) = range.split_once('-')?;
    let (major, minor) = device.split_once(':')?;
    Some(MapLine {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        executable: perms.as_bytes().get(2) == Some(&b'x'),
        offset: u64::from_str_radix(offset, 16).ok()?,
        device: u64::from_str_radix(major, 16).ok()? << 32 | u64::from_str_radix(minor, 16).ok()?,
        inode: inode.parse().ok()?,
        path,
    })
}

// Offsets come from the guest's ELF file: every addition is checked.
fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at.checked_add(2)?)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

/// Whether `elf` begins as an x86-64 ELF64 little-endian file.
fn is_x86_64(elf: &[u8]) -> bool {
    const EM_X86_64: u16 = 62;
    elf.get(0..6) == Some(b"\x7fELF\x02\x01") && u16_at(elf, 18) == Some(EM_X86_64)
}

/// `(is ET_EXEC, page-aligned vaddr of the first PT_LOAD)` of an ELF64 little-endian file.
fn load_layout(elf: &[u8]) -> Option<(bool, u64)> {
    if elf.get(0..4)? != b"\x7fELF" || *elf.get(4)? != 2 {
        return None;
    }
    let e_type = u16_at(elf, 16)?;
    let phoff = usize::try_from(u64_at(elf, 32)?).ok()?;
    let phentsize = usize::from(u16_at(elf, 54)?);
    let phnum = usize::from(u16_at(elf, 56)?);
    for i in 0..phnum {
        let at = phoff.checked_add(i.checked_mul(phentsize)?)?;
        if u32_at(elf, at)? == 1 {
            return Some((e_type == 2, u64_at(elf, at.checked_add(16)?)? & !0xfff));
        }
    }
    None
}

fn load_image(bytes: &ImageBytes) -> Image {
    let bytes = match bytes {
        ImageBytes::Parsed(bytes) => bytes,
        // No trapbox section: the layout is all there is to know.
        ImageBytes::Plain(prefix) => {
            let (fixed_address, first_load_page) = load_layout(prefix).unwrap_or((false, 0));
            return Image { table: None, sdk_sites: Vec::new(), fixed_address, first_load_page, x86_64: is_x86_64(prefix) };
        }
    };
    let layout = load_layout(bytes);
    let table = match trapbox_rewriter::trap_table_section(bytes) {
        Ok(Some(section)) => {
            // Only the table is kept, for the host's lifetime (one per distinct file), so a
            // lookup is a binary search in place with no copy or allocation.
            let section: &'static [u8] = Box::leak(section.to_vec().into_boxed_slice());
            match TrapTable::parse(section) {
                Ok(table) => Some(table),
                Err(err) => {
                    crate::host_log!("trapbox: warning: ignoring an invalid trap table: {err}");
                    None
                }
            }
        }
        _ => None,
    };
    let sdk_sites = trapbox_rewriter::sdk_sites(bytes).unwrap_or_default();
    let (fixed_address, first_load_page) = layout.unwrap_or((false, 0));
    Image { table, sdk_sites, fixed_address, first_load_page, x86_64: is_x86_64(bytes) }
}

/// The largest file the host reads to find a trap table: a guest must not make the host
/// read (and hold) arbitrary amounts of data by mapping huge executable files.
const MAX_IMAGE_BYTES: u64 = 1 << 30;

/// Files up to this size are read whole; larger ones only where the host looks (a few small
/// reads cost less than copying more than a few pages: reading the 210 KiB `ld.so` whole at
/// every exec was ~4% of a `trapbox run -- /bin/true`'s host CPU).
const READ_WHOLE_BYTES: u64 = 16 << 10;

/// The most bytes of headers the host reads of a file without a trapbox section (its
/// program headers end within them in every real file; a file whose do not is read sparsely).
const PLAIN_PREFIX_BYTES: u64 = 64 << 10;

/// `sizeof(Elf64_Shdr)`.
const SECTION_HEADER_LEN: u64 = 64;

/// What the host read of an ELF file to know it ([`read_bounded`]).
enum ImageBytes {
    /// The file's bytes at their offsets, to parse for its trap table and SDK sites.
    Parsed(Vec<u8>),
    /// A file with no trapbox section (every program never rewritten): its first bytes,
    /// through the program headers, which are all its layout needs.
    Plain(Vec<u8>),
}

/// The bytes of the ELF file at `path` that finding its layout and trap table needs: the
/// whole file when it is small or lists SDK hostcall sites (whose code is checked too); for a
/// file with a trap table, the headers, the section names and the `.trapbox` sections at
/// their offsets, the rest left zero (a zeroed allocation that is never touched costs no
/// memory); and for a file with neither (a program never rewritten), only its headers: the
/// section headers and names are looked at in small reads, and nothing of the size of the
/// file is allocated or parsed. Starting a dynamically linked program so reads a few KiB of
/// each of its files (libc, ld.so) instead of all of them.
fn read_bounded(path: &str) -> Option<ImageBytes> {
    use std::os::unix::fs::FileExt;
    // A path of the guest's /proc/PID/maps: the file as the guest sees it.
    let file = crate::launch::view::open_file(std::path::Path::new(path), 0).ok()?;
    let len = file.metadata().ok()?.len();
    if len > MAX_IMAGE_BYTES {
        return None;
    }
    let read_at = |offset: u64, size: u64| -> Option<Vec<u8>> {
        let size = size.min(len.saturating_sub(offset));
        let mut bytes = vec![0u8; usize::try_from(size).ok()?];
        file.read_exact_at(&mut bytes, offset).ok()?;
        Some(bytes)
    };
    if len <= READ_WHOLE_BYTES {
        return read_at(0, len).map(ImageBytes::Parsed);
    }
    let head = read_at(0, 64)?;
    if head.get(0..4)? != b"\x7fELF" {
        return Some(ImageBytes::Plain(head)); // not ELF: nothing to find
    }
    let phoff = u64_at(&head, 32)?;
    let shoff = u64_at(&head, 40)?;
    let phsize = u64::from(u16_at(&head, 54)?) * u64::from(u16_at(&head, 56)?);
    let shentsize = u64::from(u16_at(&head, 58)?);
    let shnum = u64::from(u16_at(&head, 60)?);
    let shstrndx = u64::from(u16_at(&head, 62)?);
    // The section headers, when there are any of the ELF64 size (a file stripped of them has
    // no trapbox section either); nothing found in them means none.
    let headers = if shentsize == SECTION_HEADER_LEN && shnum > 0 { read_at(shoff, shentsize * shnum)? } else { Vec::new() };
    // (sh_name u32, offset, size: one section header of ELF64, at its index)
    let header = |i: u64| -> Option<(u32, u64, u64)> {
        let at = usize::try_from(i.checked_mul(shentsize)?).ok()?;
        Some((u32_at(&headers, at)?, u64_at(&headers, at.checked_add(24)?)?, u64_at(&headers, at.checked_add(32)?)?))
    };
    let (names_at, names_len) = header(shstrndx).map_or((0, 0), |(_, at, len)| (at, len.min(1 << 20)));
    let names = if names_len > 0 { read_at(names_at, names_len)? } else { Vec::new() };
    let mut tables = Vec::new();
    for i in 0..shnum {
        let Some((name, offset, size)) = header(i) else { break };
        let named = |wanted: &[u8]| {
            let at = usize::try_from(name).unwrap_or(usize::MAX);
            names.get(at..).is_some_and(|n| n.starts_with(wanted) && n.get(wanted.len()) == Some(&0))
        };
        if named(trapbox_abi::table::SDK_SECTION_NAME.as_bytes()) && size > 0 {
            return read_at(0, len).map(ImageBytes::Parsed); // the SDK sites' code is checked too
        }
        if named(trapbox_abi::table::SECTION_NAME.as_bytes()) {
            tables.push((offset, size));
        }
    }
    let prefix_len = phoff.checked_add(phsize)?.max(64);
    if tables.is_empty() && prefix_len <= PLAIN_PREFIX_BYTES {
        return read_at(0, prefix_len).map(ImageBytes::Plain);
    }
    // A rewritten file: its bytes at their offsets, for the ELF parser.
    let mut image = Sparse { file, bytes: vec![0u8; usize::try_from(len).ok()?] };
    image.fill(0, prefix_len)?;
    image.fill(shoff, headers.len() as u64)?;
    image.fill(names_at, names_len)?;
    for (offset, size) in tables {
        image.fill(offset, size)?;
    }
    Some(ImageBytes::Parsed(image.bytes))
}

/// A file's bytes at their offsets, read only where asked.
struct Sparse {
    file: std::fs::File,
    bytes: Vec<u8>,
}

impl Sparse {
    /// Reads `size` bytes at `offset` into their place (clipped to the file).
    fn fill(&mut self, offset: u64, size: u64) -> Option<()> {
        use std::os::unix::fs::FileExt;
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(usize::try_from(size).ok()?)?.min(self.bytes.len());
        if start < end {
            self.file.read_exact_at(&mut self.bytes[start..end], offset).ok()?;
        }
        Some(())
    }
}

impl ImageCache {
    fn image(&mut self, pid: Pid, line: &MapLine<'_>) -> &'static Image {
        let key = (line.device, line.inode);
        if let Some(image) = self.images.get(&key) {
            return image;
        }
        // map_files survives renames and deletions; the path is the fallback for non-root hosts.
        let by_map = format!("/proc/{pid}/map_files/{:x}-{:x}", line.start, line.end);
        let bytes = read_bounded(&by_map).or_else(|| read_bounded(line.path)).unwrap_or(ImageBytes::Plain(Vec::new()));
        let image: &'static Image = Box::leak(Box::new(load_image(&bytes)));
        self.images.insert(key, image);
        image
    }

    /// Reads `/proc/PID/maps` and returns every executable file mapping with its image, and
    /// where the vDSO is.
    pub fn scan(&mut self, pid: Pid) -> Scan {
        let Ok(maps) = crate::sys::read_proc(&format!("/proc/{pid}/maps")) else {
            return Scan::default();
        };
        let lines: Vec<MapLine<'_>> = maps.lines().filter_map(parse_map_line).collect();
        let vdso = lines.iter().find(|l| l.path == "[vdso]").map(|l| (l.start, l.end));
        let mut modules = Vec::new();
        for line in lines.iter().filter(|l| l.executable && l.inode != 0 && l.path.starts_with('/')) {
            let image = self.image(pid, line);
            let bias = if image.fixed_address {
                0
            } else {
                let base = lines
                    .iter()
                    .filter(|l| l.device == line.device && l.inode == line.inode && l.offset == 0)
                    .map(|l| l.start)
                    .min()
                    .unwrap_or(line.start);
                base.wrapping_sub(image.first_load_page)
            };
            modules.push(Module { start: line.start, end: line.end, image, bias, inode: line.inode, device: line.device });
        }
        Scan { modules, vdso }
    }
}

/// What one read of a process's `/proc/PID/maps` found ([`ImageCache::scan`]).
#[derive(Debug, Default)]
pub struct Scan {
    /// Its executable file mappings.
    pub modules: Vec<Module>,
    /// Its vDSO's range (start, end), which the host's area is set up through: known from the
    /// exec's scan, it need not be read again.
    pub vdso: Option<(u64, u64)>,
}

/// The module covering `addr`.
pub fn find(modules: &[Module], addr: u64) -> Option<&Module> {
    modules.iter().find(|m| m.start <= addr && addr < m.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_maps_lines() {
        let l = parse_map_line("00400000-00452000 r-xp 00001000 fd:01 1234                       /bin/busybox").unwrap();
        assert_eq!((l.start, l.end, l.executable, l.offset, l.inode, l.path), (0x400000, 0x452000, true, 0x1000, 1234, "/bin/busybox"));
        assert_eq!(l.device, 0xfd << 32 | 1);
        let anon = parse_map_line("7ffd0000-7ffd1000 rw-p 00000000 00:00 0 ").unwrap();
        assert!(!anon.executable);
        assert!(parse_map_line("garbage").is_none());
    }

    #[test]
    fn layout_of_a_real_binary() {
        let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(load_layout(&bytes).is_some());
        assert!(load_layout(b"\x7fELF").is_none());
        assert!(load_layout(&[]).is_none());
        // A header whose program-header offset points past the end of memory.
        let mut hostile = bytes[..64].to_vec();
        hostile[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(load_layout(&hostile).is_none());
    }

    #[test]
    fn a_file_never_rewritten_is_known_from_its_headers() {
        let ls = "/bin/ls"; // a system program, never rewritten, larger than READ_WHOLE_BYTES
        let whole = std::fs::read(ls).unwrap();
        assert!(whole.len() as u64 > READ_WHOLE_BYTES);
        let prefix = match read_bounded(ls) {
            Some(ImageBytes::Plain(prefix)) => prefix,
            Some(ImageBytes::Parsed(bytes)) => panic!("{ls} has no trapbox section, yet {} bytes were to parse", bytes.len()),
            None => panic!("{ls} could not be read"),
        };
        assert!(prefix.len() < 4096, "only the headers are read, not {} bytes", prefix.len());
        assert_eq!(load_layout(&prefix), load_layout(&whole));
        let image = load_image(&ImageBytes::Plain(prefix));
        assert!(image.table.is_none() && image.sdk_sites.is_empty());
        assert!(image.x86_64 && !is_x86_64(b"\x7fELF\x01\x01"));
    }

    #[test]
    fn a_file_with_sdk_sites_is_read_whole_and_parsed() {
        // The host links the SDK: its own binary has a `.trapbox.sdk` section.
        let exe = std::env::current_exe().unwrap();
        let Some(ImageBytes::Parsed(bytes)) = read_bounded(exe.to_str().unwrap()) else { panic!("the SDK section was not seen") };
        assert!(bytes == std::fs::read(&exe).unwrap(), "read whole, for the sites' code to be checked");
    }
}
