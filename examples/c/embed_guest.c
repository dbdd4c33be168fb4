/* A guest of examples/embed.rs: it uses two services its embedding program offers as custom
 * hostcalls, besides trapbox's own.
 *   lookup(key, key_len, out, out_cap) -> the value's length (-ENOENT: no such key)
 *   record(amount) -> the running total the embedder keeps
 * For each key named on the command line it prints "key = value" (or complains), records the
 * value's length, and finally prints the total the embedder reports.
 *   gcc -O2 -static -nostdlib -fno-stack-protector -fno-builtin -o embed_guest examples/c/embed_guest.c
 *   cargo run --release -p trapbox --example embed -- ./embed_guest greeting answer */
#include "util.h"

#define HC_LOOKUP (TRAPBOX_HC_EMBEDDER_BASE + 0)
#define HC_RECORD (TRAPBOX_HC_EMBEDDER_BASE + 1)

int main(int argc, char **argv, char **envp) {
    (void)envp;
    char value[256];
    int status = 0;
    long total = 0;
    for (int i = 1; i < argc; i++) {
        long n = trapbox_hostcall(HC_LOOKUP, (long)argv[i], (long)trapbox_strlen_(argv[i]), (long)value, sizeof value, 0, 0);
        if (n < 0) {
            complain("embed_guest", argv[i], n);
            status = 1;
            continue;
        }
        put(argv[i]);
        put(" = ");
        write_all(1, value, (unsigned long)n);
        put("\n");
        total = trapbox_hostcall(HC_RECORD, n, 0, 0, 0, 0, 0);
    }
    /* A number no handler serves: ENOSYS, as for any unknown hostcall. */
    if (trapbox_hostcall(TRAPBOX_HC_EMBEDDER_BASE + 0x7ff, 0, 0, 0, 0, 0, 0) != -38) status = 2;
    put("total recorded: ");
    put_number((unsigned long)total, 1);
    put("\n");
    return status;
}
