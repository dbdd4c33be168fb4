//! Malformed and unsuitable inputs: each gets a clear error that names the file and the
//! reason, and a non-zero exit; none makes the rewriter panic. Also a mutation fuzzer over
//! the ELF headers, program headers, section headers and `.eh_frame` of real binaries.

use std::path::Path;
use std::process::Command;

use trapbox_rewriter::output::{E_SHNUM, E_SHOFF, E_SHSTRNDX};
use trapbox_rewriter::{rewrite, trap_table, RewriteError, RewriteOptions};
use trapbox_tests::{build_guest, busybox, run, scratch_dir, trapbox_bin};

/// trapbox's own exit status for a failure of the host (not of a guest).
const HOST_ERROR_EXIT: i32 = 125;

fn put(bytes: &mut [u8], at: usize, value: &[u8]) -> Vec<u8> {
    bytes[at..at + value.len()].copy_from_slice(value);
    bytes.to_vec()
}

/// The bad-input corpus: (name, bytes, what the error must say).
fn corpus() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let good = std::fs::read(build_guest("hello.c", &["-static", "-O2"])).unwrap();
    let object = {
        let out = trapbox_tests::fixture_dir().join("hello.o");
        let src = trapbox_tests::workspace_root().join("tests/guests/hello.c");
        assert!(Command::new("gcc").arg("-c").arg("-o").arg(&out).arg(&src).status().unwrap().success());
        std::fs::read(out).unwrap()
    };
    let rewritten = rewrite(&good, &RewriteOptions { cross_check: false, ..Default::default() }).unwrap().output;
    let phoff = u64::from_le_bytes(good[0x20..0x28].try_into().unwrap()) as usize;
    let shoff = u64::from_le_bytes(good[E_SHOFF..E_SHOFF + 8].try_into().unwrap()) as usize;
    let mut text_index = None;
    for i in 0..u16::from_le_bytes(good[E_SHNUM..E_SHNUM + 2].try_into().unwrap()) as usize {
        let flags = u64::from_le_bytes(good[shoff + i * 64 + 8..shoff + i * 64 + 16].try_into().unwrap());
        if flags & 4 != 0 {
            text_index = Some(i);
        }
    }
    let text = shoff + text_index.expect("an executable section") * 64;
    let huge = u64::MAX / 2;
    vec![
        ("empty", vec![], "not an ELF file"),
        ("magic-only", b"\x7fEL".to_vec(), "truncated"),
        ("ident-only", good[..16].to_vec(), "truncated"),
        ("header-cut", good[..40].to_vec(), "truncated"),
        ("program-headers-cut", good[..phoff + 20].to_vec(), "malformed"),
        ("half-file", good[..good.len() / 2].to_vec(), "malformed"),
        ("shell-script", b"#!/bin/sh\necho hi\n".to_vec(), "not an ELF file"),
        ("elf32", put(&mut good.clone(), 4, &[1]), "32-bit"),
        ("bad-class", put(&mut good.clone(), 4, &[7]), "EI_CLASS"),
        ("big-endian", put(&mut good.clone(), 5, &[2]), "big-endian"),
        ("aarch64", put(&mut good.clone(), 18, &183u16.to_le_bytes()), "not x86-64"),
        ("relocatable-object", object, "ET_EXEC, ET_DYN"),
        ("core-type", put(&mut good.clone(), 16, &4u16.to_le_bytes()), "cannot be rewritten"),
        ("already-rewritten", rewritten, "already rewritten"),
        ("phoff-past-end", put(&mut good.clone(), 0x20, &huge.to_le_bytes()), "malformed"),
        ("shoff-past-end", put(&mut good.clone(), E_SHOFF, &huge.to_le_bytes()), "malformed"),
        ("shstrndx-out-of-range", put(&mut good.clone(), E_SHSTRNDX, &0xfeffu16.to_le_bytes()), "malformed"),
        ("text-past-end", put(&mut good.clone(), text + 32, &huge.to_le_bytes()), "malformed"),
        ("text-offset-wraps", put(&mut good.clone(), text + 24, &u64::MAX.to_le_bytes()), "malformed"),
    ]
}

#[test]
fn every_bad_input_gets_a_clear_error_naming_the_file() {
    let dir = scratch_dir("bad-inputs");
    for (name, bytes, reason) in corpus() {
        let path = dir.join(name);
        std::fs::write(&path, &bytes).unwrap();
        let out = run(Command::new(trapbox_bin()).arg("rewrite").arg(&path).arg("-o").arg(dir.join(format!("{name}.out"))));
        assert_eq!(out.status, HOST_ERROR_EXIT, "{name}: {out:?}");
        assert!(!out.stderr.contains("panicked"), "{name}: {}", out.stderr);
        assert!(out.stderr.contains(&path.display().to_string()), "{name}: error does not name the file: {}", out.stderr);
        assert!(out.stderr.to_lowercase().contains(&reason.to_lowercase()), "{name}: expected `{reason}` in: {}", out.stderr);
        assert!(!dir.join(format!("{name}.out")).exists(), "{name}: an output was written");
    }
}

#[test]
fn missing_and_unreadable_inputs_are_named() {
    let dir = scratch_dir("missing-input");
    let missing = dir.join("no-such-file");
    let out = run(Command::new(trapbox_bin()).arg("rewrite").arg(&missing).arg("-o").arg(dir.join("out")));
    assert_eq!(out.status, HOST_ERROR_EXIT);
    assert!(out.stderr.contains("no-such-file") && out.stderr.contains("No such file"), "{}", out.stderr);
    let out = run(Command::new(trapbox_bin()).arg("rewrite").arg(&dir).arg("-o").arg(dir.join("out")));
    assert_eq!(out.status, HOST_ERROR_EXIT);
    assert!(out.stderr.contains(&dir.display().to_string()), "{}", out.stderr);
}

/// A small deterministic PRNG, so a failure reproduces from its iteration number.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Byte ranges worth mutating: ELF header, program headers, section headers, `.eh_frame`.
fn structural_ranges(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let image = trapbox_rewriter::ElfImage::parse(bytes).unwrap();
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap()) as usize;
    let phnum = u16::from_le_bytes(bytes[0x38..0x3a].try_into().unwrap()) as usize;
    let shoff = u64::from_le_bytes(bytes[E_SHOFF..E_SHOFF + 8].try_into().unwrap()) as usize;
    let shnum = u16::from_le_bytes(bytes[E_SHNUM..E_SHNUM + 2].try_into().unwrap()) as usize;
    let mut ranges = vec![0..64, phoff..phoff + phnum * 56, shoff..(shoff + shnum * 64).min(bytes.len())];
    if let Some((_, eh_frame)) = image.eh_frame() {
        let start = eh_frame.as_ptr() as usize - bytes.as_ptr() as usize;
        ranges.push(start..start + eh_frame.len().min(4096));
    }
    ranges
}

fn mutate(rng: &mut XorShift, original: &[u8], ranges: &[std::ops::Range<usize>]) -> Vec<u8> {
    let mut bytes = original.to_vec();
    const INTERESTING: [u64; 8] = [0, 1, 0x7f, 0xff, 0xffff, 0xffff_ffff, u64::MAX, 1 << 40];
    for _ in 0..1 + rng.below(4) {
        let range = &ranges[rng.below(ranges.len())];
        let at = range.start + rng.below(range.len());
        match rng.below(4) {
            0 => bytes[at] ^= 1 << rng.below(8),
            1 => bytes[at] = rng.next() as u8,
            2 => {
                let width = [2usize, 4, 8][rng.below(3)];
                let value = INTERESTING[rng.below(INTERESTING.len())].to_le_bytes();
                let end = (at + width).min(bytes.len());
                let len = end - at;
                bytes[at..end].copy_from_slice(&value[..len]);
            }
            _ => {
                let value = (original.len() as u64 + rng.next() % 64).to_le_bytes();
                let end = (at + 8).min(bytes.len());
                let len = end - at;
                bytes[at..end].copy_from_slice(&value[..len]);
            }
        }
    }
    if rng.below(10) == 0 {
        bytes.truncate(rng.below(original.len()));
    }
    bytes
}

fn fuzz(path: &Path, iterations: usize, seed: u64) {
    let original = std::fs::read(path).unwrap();
    let ranges = structural_ranges(&original);
    let mut rng = XorShift(seed);
    let options = RewriteOptions { cross_check: iterations <= 2000, ..Default::default() };
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for iteration in 0..iterations {
        let bytes = mutate(&mut rng, &original, &ranges);
        // A panic here fails the test and names the iteration through the message below.
        let result = std::panic::catch_unwind(|| rewrite(&bytes, &options).map(|r| r.output));
        let result = result.unwrap_or_else(|_| panic!("{}: rewriter panicked on mutant {iteration} (seed {seed})", path.display()));
        let key = match &result {
            Ok(output) => {
                // Whatever was written must read back as a valid table.
                let table = trap_table(output);
                assert!(table.as_ref().is_ok_and(|t| t.is_some()), "mutant {iteration}: unreadable output: {table:?}");
                "ok".to_string()
            }
            Err(RewriteError::Malformed(_)) => "malformed".to_string(),
            Err(e) => format!("{e:?}").split('(').next().unwrap().to_string(),
        };
        *outcomes.entry(key).or_default() += 1;
    }
    // The mutants must exercise both the accepting and the rejecting paths.
    assert!(outcomes.len() >= 3, "{}: mutants too uniform: {outcomes:?}", path.display());
}

#[test]
fn fuzz_mutated_headers_never_panic_small_fixture() {
    fuzz(&build_guest("datatext.S", &["-nostdlib", "-static", "-Wl,--eh-frame-hdr"]), 20_000, 0x9e37_79b9_7f4a_7c15);
}

#[test]
fn fuzz_mutated_headers_never_panic_static_glibc() {
    fuzz(&build_guest("hello.c", &["-static-pie", "-O2"]), 400, 0xd1b5_4a32_d192_ed03);
}

#[test]
fn fuzz_mutated_headers_never_panic_busybox() {
    fuzz(&busybox(), 60, 0x2545_f491_4f6c_dd1d);
}
