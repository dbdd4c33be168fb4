//! grep -F: prints the lines of each file (mapped, zero copy) that contain a fixed string,
//! prefixed by the file's name when there are several; status 0 if a line matched, 1 if
//! none, 2 on an error, as grep's.
#![no_std]
#![no_main]
extern crate alloc;

use alloc::vec::Vec;
use trapbox_abi::eprintln;
use trapbox_abi::sdk::fs::File;
use trapbox_abi::sdk::{self, rt};

trapbox_abi::entry!(main);

fn main() -> i32 {
    let args: Vec<&str> = rt::args().collect();
    if args.len() < 3 {
        eprintln!("usage: grep PATTERN FILE...");
        return 2;
    }
    let pattern = args[1].as_bytes();
    let (mut matched, mut failed) = (false, false);
    let mut out = File::stdout();
    let mut pending = Vec::new();
    for name in &args[2..] {
        let file = match sdk::map_file(name) {
            Ok(file) => file,
            Err(e) => {
                eprintln!("grep: {name}: {e}");
                failed = true;
                continue;
            }
        };
        let bytes = file.bytes();
        let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        for line in bytes.split(|&b| b == b'\n').filter(|_| !file.is_empty()) {
            if pattern.is_empty() || line.windows(pattern.len()).any(|w| w == pattern) {
                matched = true;
                if args.len() > 3 {
                    pending.extend_from_slice(name.as_bytes());
                    pending.push(b':');
                }
                pending.extend_from_slice(line);
                pending.push(b'\n');
                if pending.len() > 60000 {
                    let _ = out.write_all(&pending);
                    pending.clear();
                }
            }
        }
    }
    let _ = out.write_all(&pending);
    if failed { 2 } else if matched { 0 } else { 1 }
}
