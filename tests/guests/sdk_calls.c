/* Every hostcall of the C SDK, its success and its error paths, one line each: "name: result".
 * Run in a directory `.` with a write grant on `w/` and a read grant on `r/` (see run_sdk.rs);
 * `/etc/shadow` stands for a file outside every grant. No libc: native personality. */
#define TRAPBOX_START
#include "../../examples/c/hostcall.h"

static void put(const char *s) { trapbox_write(1, s, trapbox_strlen_(s)); }

static void put_long(long v) {
    char buf[24];
    int i = sizeof buf;
    unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
    do buf[--i] = (char)('0' + u % 10); while ((u /= 10) && i > 1);
    if (v < 0) buf[--i] = '-';
    trapbox_write(1, buf + i, sizeof buf - i);
}

static void show(const char *name, long v) {
    put(name);
    put(": ");
    put_long(v);
    put("\n");
}

static long ok(long v) { return v < 0 ? v : 0; } /* 0 for any success: values vary per run */

int main(int argc, char **argv, char **envp) {
    show("version", trapbox_version());
    show("argc", argc);
    put("argv[1]: ");
    put(argc > 1 ? argv[1] : "(none)");
    put("\n");
    long envs = 0;
    for (char **e = envp; *e; e++) envs++;
    show("envp has entries", envs > 0);

    /* Memory. */
    unsigned char *p = trapbox_alloc(10000);
    long zero = 1;
    for (int i = 0; i < 12288; i++) zero &= p[i] == 0;
    show("alloc zeroed", p && zero);
    p[9999] = 7;
    show("free", trapbox_free(p, 10000));
    show("alloc 0", trapbox_alloc(0) == 0);
    show("alloc huge", trapbox_alloc(1UL << 62) == 0);
    show("free stub page", trapbox_free((void *)0x550000000000UL, 4096));

    /* Handles. */
    show("write stdout", trapbox_write(1, "x\n", 2));
    show("write bad handle", trapbox_write(99, "x", 1));
    show("read bad handle", trapbox_read(99, p, 1));
    show("close bad handle", trapbox_close(99));
    char buf[64];
    show("read stdin", trapbox_read(0, buf, sizeof buf));
    show("write stdin (read-only)", trapbox_write(0, "x", 1) < 0);

    /* Files in the write grant. */
    long h = trapbox_open("w/new", TRAPBOX_OPEN_WRITE | TRAPBOX_OPEN_CREATE | TRAPBOX_OPEN_TRUNCATE);
    show("open create", h >= 3);
    show("write file", trapbox_write(h, "hello world\n", 12));
    show("read write-only", trapbox_read(h, buf, 4));
    show("seek end", trapbox_seek(h, 0, TRAPBOX_SEEK_END));
    show("seek bad whence", trapbox_seek(h, 0, 7));
    show("seek negative", trapbox_seek(h, -100, TRAPBOX_SEEK_SET));
    show("close", trapbox_close(h));
    show("close again", trapbox_close(h));
    show("open exclusive existing", trapbox_open("w/new", TRAPBOX_OPEN_WRITE | TRAPBOX_OPEN_CREATE | TRAPBOX_OPEN_EXCLUSIVE));
    h = trapbox_open("w/new", TRAPBOX_OPEN_WRITE | TRAPBOX_OPEN_APPEND);
    show("append", trapbox_write(h, "more\n", 5));
    trapbox_close(h);
    h = trapbox_open("w/new", TRAPBOX_OPEN_READ | TRAPBOX_OPEN_WRITE);
    show("seek set", trapbox_seek(h, 6, TRAPBOX_SEEK_SET));
    long n = trapbox_read(h, buf, sizeof buf);
    show("read after seek", n);
    trapbox_write(1, buf, n > 0 ? n : 0);
    struct trapbox_stat st;
    show("stat", trapbox_stat(h, &st));
    show("stat size", st.size);
    show("stat kind", st.kind);
    show("stat links", st.links);
#ifndef TRAPBOX_ON_LINUX /* (the Linux build copies the kernel's struct stat itself: it would fault) */
    show("stat bad pointer", trapbox_stat(h, (struct trapbox_stat *)8));
#endif
    trapbox_seek(h, 0, TRAPBOX_SEEK_SET);
    show("read bad pointer", trapbox_read(h, (void *)8, 4));
    trapbox_close(h);
    show("open no access mode", trapbox_open("w/new", TRAPBOX_OPEN_CREATE));
    show("open unknown flag", trapbox_open("w/new", TRAPBOX_OPEN_READ | 1024));
    show("open missing", trapbox_open("w/missing", TRAPBOX_OPEN_READ));
    show("open empty path", trapbox_open("", TRAPBOX_OPEN_READ));
    show("open directory for writing", trapbox_open("w", TRAPBOX_OPEN_WRITE));
    show("mkdir", trapbox_mkdir("w/dir"));
    show("mkdir existing", trapbox_mkdir("w/dir"));
    show("rename", trapbox_rename("w/new", "w/dir/moved"));
    show("rename missing", trapbox_rename("w/new", "w/other"));
    show("remove dir not empty", trapbox_remove("w/dir", TRAPBOX_REMOVE_DIR));
    show("remove dir as file", trapbox_remove("w/dir", 0));

    /* Listing. */
    h = trapbox_open("w/dir", TRAPBOX_OPEN_READ);
    show("open directory", h >= 3);
    show("read directory", trapbox_read(h, buf, 8));
    unsigned long cookie = 0;
    for (;;) {
        long got = trapbox_readdir(h, buf, sizeof buf, cookie);
        if (got <= 0) {
            show("readdir end", got);
            break;
        }
        struct trapbox_dirent *d = (struct trapbox_dirent *)buf;
        put("entry: ");
        trapbox_write(1, buf + sizeof *d, d->name_len);
        put(" kind ");
        put_long(d->kind);
        put("\n");
        cookie = d->next_cookie;
    }
    show("readdir tiny buffer", trapbox_readdir(h, buf, 8, 0));
    show("readdir of a file handle", trapbox_readdir(1, buf, sizeof buf, 0) );
    trapbox_close(h);
    show("remove file", trapbox_remove("w/dir/moved", 0));
    show("remove file again", trapbox_remove("w/dir/moved", 0));
    show("remove dir", trapbox_remove("w/dir", TRAPBOX_REMOVE_DIR));
    show("remove bad flag", trapbox_remove("w/x", 9));

    /* Denied: a read-only grant and a file outside every grant. */
    show("open read grant", ok(trapbox_open("r/data", TRAPBOX_OPEN_READ)));
    show("open read grant for writing", trapbox_open("r/data", TRAPBOX_OPEN_WRITE));
    show("create in read grant", trapbox_open("r/new", TRAPBOX_OPEN_WRITE | TRAPBOX_OPEN_CREATE));
    show("mkdir in read grant", trapbox_mkdir("r/dir"));
    show("remove in read grant", trapbox_remove("r/data", 0));
    show("rename out of read grant", trapbox_rename("r/data", "w/stolen"));
    show("open outside grants", trapbox_open("/etc/shadow", TRAPBOX_OPEN_READ));
    unsigned long len = 1;
    show("map outside grants", trapbox_map_file("/etc/shadow", TRAPBOX_MAP_READ, &len) == 0);
    const char *data = trapbox_map_file("r/data", TRAPBOX_MAP_READ, &len);
    show("map read grant", data != 0 && len == 5 && data[0] == 'd');
    show("unmap", trapbox_unmap(data, len));
    show("map read grant writable", trapbox_map_file("r/data", TRAPBOX_MAP_READ | TRAPBOX_MAP_WRITE, &len) == 0);

    /* Clocks, randomness, sleep. */
    long t0 = trapbox_clock(TRAPBOX_CLOCK_MONOTONIC);
    show("sleep", trapbox_sleep(20000000));
    long t1 = trapbox_clock(TRAPBOX_CLOCK_MONOTONIC);
    show("slept at least 20ms", t1 - t0 >= 20000000);
    show("realtime after 2020", trapbox_clock(TRAPBOX_CLOCK_REALTIME) > 1577836800L * 1000000000L);
    show("clock bad id", trapbox_clock(9));
    unsigned char r1[32] = {0}, r2[32] = {0};
    show("random", trapbox_random(r1, 32));
    trapbox_random(r2, 32);
    show("random differs", memcmp(r1, r2, 32) != 0);
    show("random bad pointer", trapbox_random((void *)8, 32));
    show("log", trapbox_log(TRAPBOX_LOG_INFO, "sdk_calls logs"));
    put("exiting 3\n");
    trapbox_exit(3);
    return 0;
}
