//! Embedding trapbox: a program sandboxes a guest and offers it two services of its own as
//! custom hostcalls (see `examples/c/embed_guest.c`, the guest's side):
//!
//! - `EMBEDDER_BASE + 0`, `lookup(key, key_len, out, out_cap)`: copies the value of `key` from
//!   this program's table into the guest's buffer and returns its length (`ENOENT` for an
//!   unknown key, `EINVAL` when the buffer is too small);
//! - `EMBEDDER_BASE + 1`, `record(amount)`: adds to a total this program keeps and returns it.
//!
//! The handlers run in this program, so the total they keep is this program's own; the guest
//! runs with no Linux call at all (`Personality::Native`) under a default-deny policy.
//!
//! ```sh
//! bash examples/build.sh /tmp/sdk          # builds /tmp/sdk/embed_guest among the others
//! cargo run --release -p trapbox --example embed -- /tmp/sdk/embed_guest greeting answer nope
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use trapbox::{Command, Errno, Personality, Policy, EMBEDDER_BASE};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let guest = args.next().ok_or("usage: embed GUEST [KEY...]")?;
    let table: BTreeMap<&[u8], &[u8]> = BTreeMap::from([(&b"greeting"[..], &b"hello from the embedder"[..]), (b"answer", b"42")]);
    let total = Arc::new(AtomicU64::new(0));
    let recorded = total.clone();

    let report = Command::new(guest)
        .args(args)
        .personality(Personality::Native)
        .policy(Policy::new())
        .hostcall(EMBEDDER_BASE, move |call| {
            let [key, key_len, out, out_cap, ..] = call.args();
            let key = call.read(key, usize::try_from(key_len).map_err(|_| Errno::EINVAL)?.min(4096))?;
            let value = table.get(key.as_slice()).ok_or(Errno::ENOENT)?;
            if (value.len() as u64) > out_cap {
                return Err(Errno::EINVAL);
            }
            call.write(out, value)?;
            Ok(value.len() as u64)
        })
        .hostcall(EMBEDDER_BASE + 1, move |call| Ok(recorded.fetch_add(call.args()[0], Ordering::SeqCst) + call.args()[0]))
        .spawn()?
        .wait()?;
    eprintln!("embed: the guest exited with {}; it recorded {} bytes in all", report.status, total.load(Ordering::SeqCst));
    std::process::exit(report.status.code().unwrap_or(1));
}
