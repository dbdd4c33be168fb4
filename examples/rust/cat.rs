//! cat over handles: copies each file named (or stdin, with none or `-`) to stdout, in 64 KiB
//! reads and writes. No Linux system call: run it with `--personality native`.
#![no_std]
#![no_main]
extern crate alloc;

use alloc::vec;
use trapbox_abi::eprintln;
use trapbox_abi::sdk::{self, fs::File};

trapbox_abi::entry!(main);

fn copy(input: &mut File, out: &mut File, buf: &mut [u8]) -> sdk::Result<()> {
    loop {
        match input.read(buf)? {
            0 => return Ok(()),
            n => out.write_all(&buf[..n])?,
        }
    }
}

fn main() -> i32 {
    let mut buf = vec![0u8; 65536];
    let mut out = File::stdout();
    let mut status = 0;
    let mut names: alloc::vec::Vec<&str> = sdk::rt::args().skip(1).collect();
    if names.is_empty() {
        names.push("-");
    }
    for name in names {
        let result = if name == "-" { copy(&mut File::stdin(), &mut out, &mut buf) } else { File::open(name).and_then(|mut f| copy(&mut f, &mut out, &mut buf)) };
        if let Err(e) = result {
            eprintln!("cat: {name}: {e}");
            status = 1;
        }
    }
    status
}
