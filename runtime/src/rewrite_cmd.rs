//! `trapbox rewrite` and `trapbox inspect`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use trapbox_abi::linux::syscall_name;
use trapbox_abi::trap::{SiteKind, TrapEncoding};
use trapbox_rewriter::{ElfImage, FunctionSymbol, RewriteOptions};

pub const REWRITE_EXAMPLES: &str = "\
Examples:
  trapbox rewrite /bin/busybox -o busybox.trapped     # keep a name starting with `busybox`: it picks the applet from argv[0]
  trapbox rewrite --trap int3 prog -o prog.int3       # int3;nop instead of ud2, to compare trap costs
  trapbox rewrite --in-place ./prog                   # replace the file itself
  trapbox inspect busybox.trapped                     # list the trap table

The output keeps the input's permissions. Its loaded bytes equal the input's except the two
bytes of each patched site; the trap table is a non-loaded `.trapbox` section.";

pub const INSPECT_EXAMPLES: &str = "\
Columns: site address (link-time; add the load bias for PIE and shared objects), the
nearest function symbol, the replaced instruction, and the system call number and name when
a constant move in the same basic block sets it (`?` otherwise).";

#[derive(Debug, clap::Args)]
pub struct RewriteArgs {
    /// The ELF file to rewrite (x86-64 executable or shared object).
    pub input: PathBuf,
    /// Where to write the rewritten file.
    #[arg(short, long, required_unless_present = "in_place", conflicts_with = "in_place")]
    pub output: Option<PathBuf>,
    /// Replace the input file itself.
    #[arg(long)]
    pub in_place: bool,
    /// The trap written over each site: `ud2` (canonical, SIGILL) or `int3` (`CC 90`, SIGTRAP).
    #[arg(long, default_value = "ud2", value_parser = parse_encoding)]
    pub trap: TrapEncoding,
    /// Skip the cross-check of the site set by a second decoder, yaxpeax-x86 (faster; for benchmarks).
    #[arg(long)]
    pub no_cross_check: bool,
    /// List every patched site after the summary.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// A file written by `trapbox rewrite`.
    pub file: PathBuf,
}

fn parse_encoding(name: &str) -> Result<TrapEncoding, String> {
    TrapEncoding::from_name(name).ok_or_else(|| format!("unknown trap `{name}`: use ud2 or int3"))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, so a failed
/// write never leaves a half-written binary, and gives it `mode`.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().with_context(|| format!("{}: not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.trapbox-tmp{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("{}: cannot write", path.display()))
}

pub fn rewrite(args: &RewriteArgs) -> Result<()> {
    let input = &args.input;
    let output = args.output.as_deref().unwrap_or(input);
    if !args.in_place && same_file(input, output) {
        bail!("{}: output is the input file; pass --in-place to replace it", output.display());
    }
    let bytes = fs::read(input).with_context(|| format!("{}: cannot read", input.display()))?;
    let mode = fs::metadata(input)?.permissions().mode() & 0o7777;
    let options = RewriteOptions { encoding: args.trap, cross_check: !args.no_cross_check };
    let rewritten = trapbox_rewriter::rewrite(&bytes, &options).with_context(|| input.display().to_string())?;
    write_atomically(output, &rewritten.output, mode)?;

    let a = &rewritten.analysis;
    let total = a.timings.rewrite_total();
    let mb_per_s = a.code_bytes as f64 / 1e6 / total.as_secs_f64().max(1e-9);
    println!(
        "{}: {} sites patched with {} (syscall {}, sysenter {}, int80 {}; number known {}, unknown {}) in {:.1} ms ({} KiB of code, {:.0} MB/s)",
        output.display(),
        a.sites.len(),
        args.trap.name(),
        a.count_kind(SiteKind::Syscall),
        a.count_kind(SiteKind::Sysenter),
        a.count_kind(SiteKind::Int80),
        a.count_known_numbers(),
        a.sites.len() - a.count_known_numbers(),
        total.as_secs_f64() * 1e3,
        a.code_bytes.div_ceil(1024),
        mb_per_s,
    );
    if a.cross_checked {
        println!(
            "cross-check: yaxpeax-x86 {} ({:.1} ms)",
            if a.disagreements.is_empty() { "agrees on every site".to_string() } else { format!("disagrees at {} addresses", a.disagreements.len()) },
            a.timings.cross_check.as_secs_f64() * 1e3
        );
    } else if !args.no_cross_check {
        println!("cross-check: not run (the code's addresses overflow)");
    }
    for d in &a.disagreements {
        let show = |k: Option<SiteKind>| k.map_or("nothing", SiteKind::name);
        eprintln!("warning: {:#x}: iced-x86 decodes {}, yaxpeax-x86 decodes {}", d.addr, show(d.iced), show(d.second));
    }
    for s in &a.skipped {
        eprintln!("note: {:#x}: {} not patched: {}", s.addr, s.kind.name(), s.reason.describe());
    }
    if args.verbose {
        let image = ElfImage::parse(&bytes)?;
        print_sites(&image.function_symbols(), &a.sites)?;
    }
    Ok(())
}

/// `symbol+0xoff` for the function that holds `addr`, or `?`.
fn symbolize(symbols: &[FunctionSymbol], addr: u64) -> String {
    let index = symbols.partition_point(|s| s.addr <= addr);
    match index.checked_sub(1).map(|i| &symbols[i]) {
        Some(s) if s.size == 0 || addr < s.addr.saturating_add(s.size) => format!("{}+{:#x}", s.name, addr - s.addr),
        _ => "?".to_string(),
    }
}

/// Prints the site list. A closed stdout (`| head`) ends the listing quietly.
fn print_sites(symbols: &[FunctionSymbol], sites: &[trapbox_abi::table::TrapSite]) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let result = (|| {
        writeln!(out, "{:<18}  {:<40}  {:<8}  {:>4}  name", "address", "symbol", "kind", "nr")?;
        for site in sites {
            let (nr, name) = match site.nr {
                Some(nr) => (nr.to_string(), syscall_name(u64::from(nr)).unwrap_or("(unknown number)")),
                None => ("?".to_string(), "?"),
            };
            writeln!(out, "{:#018x}  {:<40}  {:<8}  {:>4}  {}", site.addr, symbolize(symbols, site.addr), site.kind.name(), nr, name)?;
        }
        out.flush()
    })();
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to stdout"),
    }
}

pub fn inspect(args: &InspectArgs) -> Result<()> {
    let path = &args.file;
    let bytes = fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let context = || path.display().to_string();
    let table = trapbox_rewriter::trap_table(&bytes).with_context(context)?.with_context(|| {
        format!("{}: no trap table (.trapbox section): the file was not rewritten; run `trapbox rewrite` first", path.display())
    })?;
    let image = ElfImage::parse(&bytes).with_context(context)?;
    let sites: Vec<_> = table.iter().collect();
    let known = sites.iter().filter(|s| s.nr.is_some()).count();
    println!(
        "{}: trap table v{}, {} sites, trap {}, {} numbers known, {}",
        path.display(),
        trapbox_abi::table::TABLE_VERSION,
        sites.len(),
        table.encoding().name(),
        known,
        if image.elf_type == 2 { "ET_EXEC (absolute addresses)" } else { "ET_DYN (addresses relative to the load base)" }
    );
    print_sites(&image.function_symbols(), &sites)
}
