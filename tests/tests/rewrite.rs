//! The rewriter on real binaries: busybox-static, static and static-pie glibc programs,
//! libc.so.6, a static Rust program, and a fixture with data inside its text.
//!
//! Each is checked against objdump (an independent disassembler): every `syscall`,
//! `sysenter` and `int $0x80` it finds in the input is in the trap table, none is left in the
//! output, and the loaded bytes differ from the input only at the sites.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use trapbox_abi::table::TrapTable;
use trapbox_abi::trap::{SiteKind, TrapEncoding};
use trapbox_rewriter::output::{E_SHNUM, E_SHOFF, E_SHSTRNDX};
use trapbox_rewriter::ElfImage;
use trapbox_tests::{build_guest, busybox, fixture_dir, run, scratch_dir, trapbox_bin, workspace_root, Outcome};

/// Syscall-class instructions objdump finds in the executable sections of `path`.
fn objdump_sites(path: &Path) -> BTreeSet<(u64, SiteKind)> {
    let out = Command::new("objdump").arg("-d").arg("--no-show-raw-insn").arg(path).output().expect("run objdump");
    assert!(out.status.success(), "objdump -d {} failed", path.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut sites = BTreeSet::new();
    for line in text.lines() {
        let Some((addr, rest)) = line.split_once(":\t") else { continue };
        let Ok(addr) = u64::from_str_radix(addr.trim(), 16) else { continue };
        let mnemonic: Vec<&str> = rest.split_whitespace().collect();
        let kind = match mnemonic.as_slice() {
            ["syscall", ..] => SiteKind::Syscall,
            ["sysenter", ..] => SiteKind::Sysenter,
            ["int", "$0x80", ..] => SiteKind::Int80,
            _ => continue,
        };
        sites.insert((addr, kind));
    }
    sites
}

fn trapbox(args: &[&str]) -> Outcome {
    run(Command::new(trapbox_bin()).args(args))
}

fn rewrite(input: &Path, output: &Path, extra: &[&str]) -> Outcome {
    let mut cmd = Command::new(trapbox_bin());
    cmd.arg("rewrite").args(extra).arg(input).arg("-o").arg(output);
    let outcome = run(&mut cmd);
    assert_eq!(outcome.status, 0, "trapbox rewrite {} failed: {}", input.display(), outcome.stderr);
    outcome
}

fn table_sites(bytes: &[u8]) -> (TrapEncoding, Vec<trapbox_abi::table::TrapSite>) {
    let table: TrapTable<'_> = trapbox_rewriter::trap_table(bytes).expect("valid ELF").expect("has a trap table");
    (table.encoding(), table.iter().collect())
}

/// Asserts that every loaded byte of `output` equals `input` except the two bytes of each
/// site and the ELF header's section-header fields, which no loader reads.
fn assert_loaded_bytes_differ_only_at_sites(input: &[u8], output: &[u8], sites: &[u64]) {
    let image = ElfImage::parse(input).unwrap();
    let header_fields = [E_SHOFF..E_SHOFF + 8, 0x3a..0x3c, E_SHNUM..E_SHNUM + 2, E_SHSTRNDX..E_SHSTRNDX + 2];
    let site_set: BTreeSet<u64> = sites.iter().flat_map(|&o| [o, o + 1]).collect();
    let mut differing = 0;
    for range in image.loaded_file_ranges() {
        for offset in range {
            let i = offset as usize;
            if input[i] != output[i] {
                assert!(
                    site_set.contains(&offset) || header_fields.iter().any(|f| f.contains(&i)),
                    "loaded byte at file offset {offset:#x} changed but is no site"
                );
                differing += 1;
            }
        }
    }
    assert!(differing >= sites.len(), "every site must actually change");
}

/// The whole check for one real binary; returns the number of sites.
fn check_real_binary(name: &str, input: &Path) -> usize {
    let dir = scratch_dir(name);
    let output = dir.join(input.file_name().unwrap());
    let before = std::fs::read(input).unwrap();
    let report = rewrite(input, &output, &[]);
    assert!(report.stdout.contains("yaxpeax-x86 agrees on every site"), "{name}: {}", report.stdout);
    let after = std::fs::read(&output).unwrap();

    let expected = objdump_sites(input);
    assert!(!expected.is_empty(), "{name}: objdump finds no site; the fixture is wrong");
    let (encoding, sites) = table_sites(&after);
    assert_eq!(encoding, TrapEncoding::Ud2);
    let found: BTreeSet<(u64, SiteKind)> = sites.iter().map(|s| (s.addr, s.kind)).collect();
    assert_eq!(found, expected, "{name}: trap table differs from objdump's sites");
    assert!(objdump_sites(&output).is_empty(), "{name}: objdump still finds syscall instructions after rewriting");

    let image = ElfImage::parse(&before).unwrap();
    let regions = image.code_regions().unwrap();
    let offsets: Vec<u64> = sites
        .iter()
        .map(|s| {
            let r = regions.iter().find(|r| s.addr >= r.vaddr && s.addr < r.vaddr + r.size).expect("site in a code region");
            r.offset + (s.addr - r.vaddr)
        })
        .collect();
    for &offset in &offsets {
        assert_eq!(&after[offset as usize..offset as usize + 2], &[0x0f, 0x0b], "{name}: site not patched with ud2");
    }
    assert_loaded_bytes_differ_only_at_sites(&before, &after, &offsets);

    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&output), mode(input), "{name}: permissions not kept");
    let inspect = trapbox(&["inspect", output.to_str().unwrap()]);
    assert_eq!(inspect.status, 0, "{}", inspect.stderr);
    assert!(inspect.stdout.contains(&format!("{} sites", sites.len())), "{}", inspect.stdout);
    sites.len()
}

#[test]
fn busybox_static_every_site_found_and_nothing_else_changes() {
    let n = check_real_binary("busybox", &busybox());
    assert!(n > 200, "busybox has hundreds of syscall sites, found {n}");
}

#[test]
fn glibc_static_program() {
    check_real_binary("hello-static", &build_guest("hello.c", &["-static", "-O2"]));
}

#[test]
fn glibc_static_pie_program() {
    let bin = build_guest("hello.c", &["-static-pie", "-O2"]);
    let image_bytes = std::fs::read(&bin).unwrap();
    assert_eq!(ElfImage::parse(&image_bytes).unwrap().elf_type, object::elf::ET_DYN);
    check_real_binary("hello-static-pie", &bin);
}

#[test]
fn shared_libc() {
    let libc = ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("libc.so.6");
    assert!(check_real_binary("libc", &libc) > 300);
}

#[test]
fn static_rust_program() {
    let out = fixture_dir().join("hello-rust-static");
    let src = workspace_root().join("tests/guests/hello.rs");
    let status = Command::new("rustc")
        .args(["-O", "-C", "target-feature=+crt-static", "--edition", "2021", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("run rustc");
    assert!(status.success());
    check_real_binary("hello-rust", &out);
}

#[test]
fn data_in_text_is_never_patched() {
    let bin = build_guest("datatext.S", &["-nostdlib", "-static", "-Wl,--eh-frame-hdr"]);
    assert_eq!(run(&mut Command::new(&bin)).stdout, "datatext ok\n");
    let dir = scratch_dir("datatext");

    // Three ways to know where code is: symbols and FDEs; FDEs only (stripped); FDEs found
    // through PT_GNU_EH_FRAME (no section headers at all).
    let stripped = dir.join("datatext.stripped");
    assert!(Command::new("strip").arg("-o").arg(&stripped).arg(&bin).status().unwrap().success());
    let mut no_sections = std::fs::read(&bin).unwrap();
    no_sections[E_SHOFF..E_SHOFF + 8].fill(0);
    no_sections[E_SHNUM..E_SHSTRNDX + 2].fill(0);
    let no_sections_path = dir.join("datatext.nosections");
    std::fs::write(&no_sections_path, &no_sections).unwrap();

    let original = std::fs::read(&bin).unwrap();
    let image = ElfImage::parse(&original).unwrap();
    let text = image.code_regions().unwrap().into_iter().find(|r| r.name == ".text").unwrap();
    let data_sym = image.function_symbols(); // functions only; find the data symbol by its bytes
    assert!(data_sym.iter().all(|s| s.name != "data_in_text"));
    let code = &original[text.offset as usize..(text.offset + text.size) as usize];
    let data_at = code.windows(8).position(|w| w == [0x0f, 0x05, 0xcd, 0x80, 0x0f, 0x34, 0x0f, 0x05]).expect("data blob");
    let data_range = text.offset as usize + data_at..text.offset as usize + data_at + 16;

    for input in [bin.clone(), stripped, no_sections_path] {
        let output = dir.join(format!("{}.trapped", input.file_name().unwrap().to_string_lossy()));
        let report = rewrite(&input, &output, &[]);
        assert!(report.stdout.contains("3 sites patched"), "{}: {}", input.display(), report.stdout);
        assert!(report.stdout.contains("number known 3"), "{}", report.stdout);
        assert!(report.stderr.contains("int80 not patched: outside every known function"), "{}", report.stderr);
        let after = std::fs::read(&output).unwrap();
        assert_eq!(after[data_range.clone()], original[data_range.clone()], "{}: data in text was patched", input.display());
        let (_, sites) = table_sites(&after);
        let numbers: Vec<Option<u32>> = sites.iter().map(|s| s.nr).collect();
        assert_eq!(numbers, [Some(60), Some(39), Some(1)], "exit, getpid, write in address order");
        // The immediate `movl $0x050f, %eax` keeps its bytes.
        assert!(after.windows(5).any(|w| w == [0xb8, 0x0f, 0x05, 0x00, 0x00]));
    }
}

/// A golden file: the objdump lines that change when the data-in-text fixture is rewritten.
/// Regenerate with `TRAPBOX_BLESS=1 cargo test --test rewrite golden`.
#[test]
fn golden_objdump_diff_of_the_fixture() {
    let bin = build_guest("datatext.S", &["-nostdlib", "-static", "-Wl,--eh-frame-hdr"]);
    let dir = scratch_dir("golden");
    let mut diff = String::new();
    for encoding in ["ud2", "int3"] {
        let output = dir.join(format!("datatext.{encoding}"));
        rewrite(&bin, &output, &["--trap", encoding]);
        let listing = |p: &Path| -> Vec<String> {
            let out = Command::new("objdump").args(["-d", "--no-show-raw-insn", "-j", ".text"]).arg(p).output().unwrap();
            String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with("  ")).map(|l| l.trim().to_string()).collect()
        };
        let (before, after) = (listing(&bin), listing(&output));
        diff.push_str(&format!("== --trap {encoding}\n"));
        for line in before.iter().filter(|l| !after.contains(l)) {
            diff.push_str(&format!("- {line}\n"));
        }
        for line in after.iter().filter(|l| !before.contains(l)) {
            diff.push_str(&format!("+ {line}\n"));
        }
    }
    let golden_path = workspace_root().join("tests/golden/datatext.objdump.diff");
    if std::env::var_os("TRAPBOX_BLESS").is_some() {
        std::fs::create_dir_all(golden_path.parent().unwrap()).unwrap();
        std::fs::write(&golden_path, &diff).unwrap();
    }
    let golden = std::fs::read_to_string(&golden_path).expect("golden file (bless with TRAPBOX_BLESS=1)");
    assert_eq!(diff, golden, "objdump diff changed; inspect and re-bless if intended");
}

#[test]
fn int3_encoding_is_recorded_and_written() {
    let input = busybox();
    let dir = scratch_dir("int3");
    let output = dir.join("busybox.int3");
    rewrite(&input, &output, &["--trap", "int3", "--no-cross-check"]);
    let after = std::fs::read(&output).unwrap();
    let (encoding, sites) = table_sites(&after);
    assert_eq!(encoding, TrapEncoding::Int3);
    assert_eq!(sites.len(), objdump_sites(&input).len());
    let inspect = trapbox(&["inspect", output.to_str().unwrap()]);
    assert!(inspect.stdout.contains("trap int3"), "{}", inspect.stdout);
}

#[test]
fn refuses_to_overwrite_the_input_unless_in_place() {
    let dir = scratch_dir("in-place");
    let copy = dir.join("busybox");
    std::fs::copy(busybox(), &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o750)).unwrap();
    let refused = trapbox(&["rewrite", copy.to_str().unwrap(), "-o", copy.to_str().unwrap()]);
    assert_ne!(refused.status, 0);
    assert!(refused.stderr.contains("--in-place"), "{}", refused.stderr);
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(busybox()).unwrap(), "input untouched");

    let done = trapbox(&["rewrite", "--in-place", "--no-cross-check", copy.to_str().unwrap()]);
    assert_eq!(done.status, 0, "{}", done.stderr);
    assert!(trapbox_rewriter::trap_table(&std::fs::read(&copy).unwrap()).unwrap().is_some());
    assert_eq!(std::fs::metadata(&copy).unwrap().permissions().mode() & 0o7777, 0o750);

    let again = trapbox(&["rewrite", "--in-place", copy.to_str().unwrap()]);
    assert_ne!(again.status, 0);
    assert!(again.stderr.contains(copy.to_str().unwrap()) && again.stderr.contains("already rewritten"), "{}", again.stderr);
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(Result::ok).filter(|e| e.file_name() != "busybox").collect();
    assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
}

#[test]
fn inspect_of_an_unrewritten_file_says_so() {
    let out = trapbox(&["inspect", "/bin/busybox"]);
    assert_ne!(out.status, 0);
    assert!(out.stderr.contains("/bin/busybox") && out.stderr.contains("not rewritten"), "{}", out.stderr);
}

/// The load-time API (bytes already in memory, plus what is known about them) finds the
/// same sites as the file rewriter, and patches them the same way.
#[test]
fn in_memory_scan_matches_the_file_rewriter() {
    let bytes = std::fs::read(busybox()).unwrap();
    let options = trapbox_rewriter::RewriteOptions { cross_check: false, ..Default::default() };
    let analysis = trapbox_rewriter::analyse(&bytes, &options).unwrap();
    let image = ElfImage::parse(&bytes).unwrap();
    let (eh_vaddr, eh_frame) = image.eh_frame().unwrap();
    let fdes = trapbox_rewriter::ehframe::function_extents(eh_frame, eh_vaddr);
    let mut from_memory = Vec::new();
    for region in image.code_regions().unwrap() {
        let mut code = bytes[region.offset as usize..(region.offset + region.size) as usize].to_vec();
        let end = region.vaddr + region.size;
        let in_region: Vec<_> = fdes.iter().filter(|f| f.start >= region.vaddr && f.start < end).cloned().collect();
        let hints = trapbox_rewriter::CodeHints {
            function_starts: in_region.iter().map(|f| f.start).chain([image.entry]).collect(),
            extents: in_region,
        };
        let found = trapbox_rewriter::scan_code(&code, region.vaddr, &hints);
        trapbox_rewriter::patch_code(&mut code, region.vaddr, &found.sites, TrapEncoding::Ud2).unwrap();
        let left = trapbox_rewriter::scan_code(&code, region.vaddr, &trapbox_rewriter::CodeHints::default());
        assert!(left.sites.is_empty() && left.skipped.is_empty(), "{}: a syscall survived patching", region.name);
        // Patching twice fails: the sites no longer hold their instructions.
        assert!(trapbox_rewriter::patch_code(&mut code, region.vaddr, &found.sites, TrapEncoding::Ud2).is_err() || found.sites.is_empty());
        from_memory.extend(found.sites);
    }
    from_memory.sort_by_key(|s| s.addr);
    assert_eq!(from_memory, analysis.sites);
}
