//! wc over map_file: lines, words and bytes of each file, counted in place (zero copy),
//! printed as coreutils' wc prints them, with a total line for several files.
#![no_std]
#![no_main]
extern crate alloc;

use alloc::vec::Vec;
use trapbox_abi::sdk::{self, rt};
use trapbox_abi::{eprintln, println};

trapbox_abi::entry!(main);

fn count(bytes: &[u8]) -> [u64; 3] {
    let (mut lines, mut words, mut in_word) = (0, 0, false);
    for &b in bytes {
        lines += u64::from(b == b'\n');
        let space = b == b' ' || (b'\t'..=b'\r').contains(&b);
        words += u64::from(!space && !in_word);
        in_word = !space;
    }
    [lines, words, bytes.len() as u64]
}

fn main() -> i32 {
    let names: Vec<&str> = rt::args().skip(1).collect();
    let mut status = 0;
    let mut rows = Vec::new();
    for name in &names {
        match sdk::map_file(name) {
            Ok(file) => rows.push((*name, count(file.bytes()))),
            Err(e) => {
                eprintln!("wc: {name}: {e}");
                status = 1;
            }
        }
    }
    let total = rows.iter().fold([0; 3], |t, (_, c)| [t[0] + c[0], t[1] + c[1], t[2] + c[2]]);
    let width = total[2].max(1).ilog10() as usize + 1;
    if names.len() > 1 {
        rows.push(("total", total));
    }
    for (name, [l, w, b]) in rows {
        println!("{l:>width$} {w:>width$} {b:>width$} {name}");
    }
    status
}
