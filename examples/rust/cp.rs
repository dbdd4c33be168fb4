//! cp SOURCE TARGET over handles: the target is created (or emptied) and written in 64 KiB
//! pieces; only the bytes are copied.
#![no_std]
#![no_main]
extern crate alloc;

use alloc::vec;
use trapbox_abi::eprintln;
use trapbox_abi::sdk::fs::File;
use trapbox_abi::sdk::{self, rt};

trapbox_abi::entry!(main);

fn copy(from: &str, to: &str) -> Result<(), (&'static str, sdk::HostError)> {
    let mut source = File::open(from).map_err(|e| ("source", e))?;
    let mut target = File::create(to).map_err(|e| ("target", e))?;
    let mut buf = vec![0u8; 65536];
    loop {
        match source.read(&mut buf).map_err(|e| ("source", e))? {
            0 => return target.close().map_err(|e| ("target", e)),
            n => target.write_all(&buf[..n]).map_err(|e| ("target", e))?,
        }
    }
}

fn main() -> i32 {
    let (Some(from), Some(to), None) = (rt::args().nth(1), rt::args().nth(2), rt::args().nth(3)) else {
        eprintln!("usage: cp SOURCE TARGET");
        return 2;
    };
    match copy(from, to) {
        Ok(()) => 0,
        Err((which, e)) => {
            eprintln!("cp: {}: {e}", if which == "source" { from } else { to });
            1
        }
    }
}
