//! A small key-value store in one data file, which must lie in a write grant:
//! `kv FILE set KEY VALUE | get KEY | del KEY | list`. The file holds `KEY\tVALUE\n` lines
//! (the C example's format); a change is written to `FILE.tmp` and renamed over `FILE`.
#![no_std]
#![no_main]
extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use trapbox_abi::errno::ENOENT;
use trapbox_abi::sdk::fs::{self, File};
use trapbox_abi::sdk::{self, rt, HostError};
use trapbox_abi::{eprintln, print};

trapbox_abi::entry!(main);

fn load(path: &str) -> sdk::Result<Vec<(String, String)>> {
    let bytes = match fs::read(path) {
        Err(HostError(ENOENT)) => Vec::new(),
        other => other?,
    };
    let text = String::from_utf8_lossy(&bytes);
    Ok(text.lines().filter_map(|l| l.split_once('\t')).map(|(k, v)| (k.into(), v.into())).collect())
}

fn save(path: &str, store: &[(String, String)]) -> sdk::Result<()> {
    let tmp = format!("{path}.tmp");
    let mut out = File::create(&tmp)?;
    let text: String = store.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect();
    out.write_all(text.as_bytes())?;
    out.close()?;
    fs::rename(&tmp, path)
}

fn main() -> i32 {
    let args: Vec<&str> = rt::args().collect();
    let Some(&path) = args.get(1) else {
        eprintln!("usage: kv FILE set KEY VALUE | get KEY | del KEY | list");
        return 2;
    };
    let mut store = match load(path) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("kv: {path}: {e}");
            return 1;
        }
    };
    let at = |store: &[(String, String)], key: &str| store.iter().position(|(k, _)| k == key);
    let result = match args[2..] {
        ["list"] => {
            store.iter().for_each(|(k, v)| print!("{k}\t{v}\n"));
            return 0;
        }
        ["get", key] => {
            return match at(&store, key) {
                Some(i) => {
                    print!("{}\n", store[i].1);
                    0
                }
                None => 1,
            };
        }
        ["set", key, value] if !key.contains(['\t', '\n']) && !value.contains('\n') => {
            match at(&store, key) {
                Some(i) => store[i].1 = value.into(),
                None => store.push((key.into(), value.into())),
            }
            save(path, &store)
        }
        ["del", key] => match at(&store, key) {
            Some(i) => {
                store.remove(i);
                save(path, &store)
            }
            None => return 1,
        },
        _ => {
            eprintln!("kv: unknown command (a key holds no tab or newline, a value no newline)");
            return 2;
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("kv: {path}: {e}");
            1
        }
    }
}
