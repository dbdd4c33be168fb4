//! # trapbox-rewriter: ELF in, ELF out
//!
//! Finds every syscall-class instruction (`syscall`, `sysenter`, `int 0x80`) in the executable
//! code of an ELF64 x86-64 file, replaces each with a two-byte trap of the same length, and
//! records every site in a trap table (a non-loaded `.trapbox` section, format defined in
//! [`trapbox_abi::table`]). Code and data never move.
//!
//! How sites are found (see [`scan`]): a linear sweep with iced-x86 that restarts at every
//! known function start (symbols, `.eh_frame` FDEs, the entry point), cross-checked by the
//! same sweep with a second, independent decoder, yaxpeax-x86 ([`crosscheck`]). When function extents are known, an instruction
//! outside all of them is reported but not patched, since it is more likely data than code;
//! a `syscall` left alone is still caught by the runtime's seccomp backstop.
//!
//! [`scan_code`] works on bytes already in memory, for patching at load time.

use std::time::{Duration, Instant};

use trapbox_abi::table::{TrapSite, TrapTable};
use trapbox_abi::trap::{SiteKind, TrapEncoding};

pub mod crosscheck;
pub mod ehframe;
pub mod elf;
mod error;
pub mod output;
pub mod scan;

pub use crosscheck::Disagreement;
pub use elf::{CodeRegion, ElfImage, FunctionSymbol};
pub use error::RewriteError;
pub use scan::{scan_code, CodeHints, ScanResult, SkipReason, SkippedSite};

/// How to rewrite.
#[derive(Clone, Copy, Debug)]
pub struct RewriteOptions {
    /// The trap written over each site.
    pub encoding: TrapEncoding,
    /// Also sweep with the second decoder (yaxpeax-x86) and report every disagreement.
    pub cross_check: bool,
}

impl Default for RewriteOptions {
    fn default() -> Self {
        RewriteOptions { encoding: TrapEncoding::Ud2, cross_check: true }
    }
}

/// Where the time went.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    /// Parsing the ELF file and gathering function starts and extents.
    pub parse: Duration,
    /// The iced-x86 sweep.
    pub scan: Duration,
    /// The second decoder's sweep and the comparison (zero when not asked for).
    pub cross_check: Duration,
    /// Patching and building the output bytes.
    pub write: Duration,
}

impl Timings {
    /// Analysis and patching, without the optional cross-check.
    pub fn rewrite_total(&self) -> Duration {
        self.parse + self.scan + self.write
    }
}

/// What the analysis found.
#[derive(Clone, Debug)]
pub struct Analysis {
    /// The executable code that was swept.
    pub regions: Vec<CodeRegion>,
    /// Sites to patch, sorted by address.
    pub sites: Vec<TrapSite>,
    /// The file offset of each site in `sites`.
    pub site_offsets: Vec<u64>,
    /// Sites found but deliberately left alone.
    pub skipped: Vec<SkippedSite>,
    /// Where iced-x86 and yaxpeax-x86 disagree (empty without cross-check).
    pub disagreements: Vec<Disagreement>,
    /// Whether the cross-check ran.
    pub cross_checked: bool,
    /// How many function starts steered the sweep.
    pub function_starts: usize,
    /// How many function extents (FDEs, sized symbols) were known.
    pub function_extents: usize,
    /// Bytes of executable code swept.
    pub code_bytes: u64,
    /// Where the time went.
    pub timings: Timings,
}

impl Analysis {
    /// How many patched sites are of `kind`.
    pub fn count_kind(&self, kind: SiteKind) -> usize {
        self.sites.iter().filter(|s| s.kind == kind).count()
    }

    /// How many patched sites have a statically known call number.
    pub fn count_known_numbers(&self) -> usize {
        self.sites.iter().filter(|s| s.nr.is_some()).count()
    }
}

/// A rewritten file.
#[derive(Debug)]
pub struct Rewritten {
    /// The bytes to write out.
    pub output: Vec<u8>,
    /// What was found and patched.
    pub analysis: Analysis,
}

/// The hints for one region: function starts and extents that fall inside it.
fn region_hints(region: &CodeRegion, symbols: &[FunctionSymbol], fdes: &[std::ops::Range<u64>], entry: u64) -> CodeHints {
    let end = region.vaddr + region.size;
    let within = |addr: u64| addr >= region.vaddr && addr < end;
    let mut hints = CodeHints::default();
    for symbol in symbols.iter().filter(|s| within(s.addr)) {
        hints.function_starts.push(symbol.addr);
        if symbol.size > 0 {
            hints.extents.push(symbol.addr..symbol.addr.saturating_add(symbol.size));
        }
    }
    for fde in fdes.iter().filter(|f| within(f.start)) {
        hints.function_starts.push(fde.start);
        hints.extents.push(fde.clone());
    }
    if within(entry) {
        hints.function_starts.push(entry);
    }
    hints
}

/// Analyses an ELF file: every site, with its call number where known.
pub fn analyse(input: &[u8], options: &RewriteOptions) -> Result<Analysis, RewriteError> {
    let started = Instant::now();
    let image = ElfImage::parse(input)?;
    if image.section_data_by_name(trapbox_abi::table::SECTION_NAME)?.is_some() {
        return Err(RewriteError::AlreadyRewritten);
    }
    let regions = image.code_regions()?;
    let symbols = image.function_symbols();
    let fdes = image.eh_frame().map(|(vaddr, bytes)| ehframe::function_extents(bytes, vaddr)).unwrap_or_default();
    let mut timings = Timings { parse: started.elapsed(), ..Timings::default() };

    let mut analysis = Analysis {
        regions: Vec::new(),
        sites: Vec::new(),
        site_offsets: Vec::new(),
        skipped: Vec::new(),
        disagreements: Vec::new(),
        cross_checked: options.cross_check,
        function_starts: 0,
        function_extents: 0,
        code_bytes: 0,
        timings: Timings::default(),
    };
    for region in &regions {
        let code = &input[region.offset as usize..(region.offset + region.size) as usize];
        let hints = region_hints(region, &symbols, &fdes, image.entry);
        let scan_started = Instant::now();
        let result = scan_code(code, region.vaddr, &hints);
        timings.scan += scan_started.elapsed();

        if options.cross_check {
            let check_started = Instant::now();
            let mut iced: Vec<(u64, SiteKind)> = result.sites.iter().map(|s| (s.addr, s.kind)).collect();
            iced.extend(result.skipped.iter().filter(|s| s.reason != SkipReason::Prefixed).map(|s| (s.addr, s.kind)));
            iced.sort_unstable();
            match crosscheck::second_sites(code, region.vaddr, &hints.function_starts) {
                Some(second) => analysis.disagreements.extend(crosscheck::compare(&iced, &second)),
                None => analysis.cross_checked = false,
            }
            timings.cross_check += check_started.elapsed();
        }

        analysis.function_starts += scan::chunk_starts(region.vaddr, code.len(), &hints.function_starts).len();
        analysis.function_extents += hints.extents.len();
        analysis.code_bytes += region.size;
        analysis.site_offsets.extend(result.sites.iter().map(|s| region.offset + (s.addr - region.vaddr)));
        analysis.sites.extend(result.sites);
        analysis.skipped.extend(result.skipped);
    }
    // Regions come in section order, which need not be address order; the table is sorted.
    let mut paired: Vec<(TrapSite, u64)> = analysis.sites.drain(..).zip(analysis.site_offsets.drain(..)).collect();
    paired.sort_unstable_by_key(|(site, _)| site.addr);
    paired.dedup_by_key(|(site, _)| site.addr);
    (analysis.sites, analysis.site_offsets) = paired.into_iter().unzip();
    analysis.skipped.sort_unstable_by_key(|s| s.addr);
    analysis.regions = regions;
    analysis.timings = timings;
    Ok(analysis)
}

/// Rewrites an ELF file: every site found becomes `options.encoding`, and the output carries
/// the trap table in a `.trapbox` section.
pub fn rewrite(input: &[u8], options: &RewriteOptions) -> Result<Rewritten, RewriteError> {
    let mut analysis = analyse(input, options)?;
    let write_started = Instant::now();
    let image = ElfImage::parse(input)?;
    let output = output::write(&image, &analysis.sites, &analysis.site_offsets, options.encoding)?;
    analysis.timings.write = write_started.elapsed();
    Ok(Rewritten { output, analysis })
}

/// The bytes of the `.trapbox` section of an ELF file, or `None` when it was never rewritten.
/// Parse them with [`TrapTable::parse`].
pub fn trap_table_section(elf: &[u8]) -> Result<Option<&[u8]>, RewriteError> {
    let image = ElfImage::parse(elf)?;
    Ok(image.section_data_by_name(trapbox_abi::table::SECTION_NAME)?.map(|(_, bytes)| bytes))
}

/// The validated trap table of an ELF file, or `None` when it was never rewritten.
pub fn trap_table(elf: &[u8]) -> Result<Option<TrapTable<'_>>, RewriteError> {
    trap_table_section(elf)?
        .map(|bytes| TrapTable::parse(bytes).map_err(|e| RewriteError::Malformed(e.to_string())))
        .transpose()
}

/// The hostcall sites an SDK-built binary lists in its `.trapbox.sdk` section, sorted.
///
/// Only entries that point at a `ud2` in an executable segment are kept: when the linker
/// discards an unused stub (`--gc-sections`), its entry stays behind with a meaningless
/// address, and such an entry must never make a random address a trap site.
pub fn sdk_sites(elf: &[u8]) -> Result<Vec<TrapSite>, RewriteError> {
    let image = ElfImage::parse(elf)?;
    let Some((_, section)) = image.section_data_by_name(trapbox_abi::table::SDK_SECTION_NAME)? else {
        return Ok(Vec::new());
    };
    let mut sites: Vec<TrapSite> = trapbox_abi::table::sdk_entries(section)
        .filter_map(Result::ok)
        .filter(|site| image.is_executable_vaddr(site.addr) && image.bytes_at_vaddr(site.addr, 2) == Some(&TrapEncoding::Ud2.bytes()[..]))
        .collect();
    sites.sort_unstable_by_key(|s| s.addr);
    sites.dedup_by_key(|s| s.addr);
    Ok(sites)
}

/// Writes `encoding` over every site of `code` (loaded at `base`), checking that each site
/// still holds the instruction recorded for it. For load-time patching of bytes in memory.
pub fn patch_code(code: &mut [u8], base: u64, sites: &[TrapSite], encoding: TrapEncoding) -> Result<(), RewriteError> {
    for site in sites {
        let at = site
            .addr
            .checked_sub(base)
            .and_then(|o| usize::try_from(o).ok())
            .filter(|&o| o.checked_add(2).is_some_and(|end| end <= code.len()))
            .ok_or_else(|| RewriteError::Malformed(format!("site {:#x} lies outside the code", site.addr)))?;
        if code[at..at + 2] != site.kind.original_bytes() {
            return Err(RewriteError::Malformed(format!("site {:#x} does not hold {}", site.addr, site.kind.name())));
        }
        code[at..at + 2].copy_from_slice(&encoding.bytes());
    }
    Ok(())
}
