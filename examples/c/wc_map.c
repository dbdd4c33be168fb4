/* wc over a zero-copy mapped file, with no Linux system call at all: the native personality.
 *
 *   gcc -O2 -static -nostdlib -fno-stack-protector -fno-builtin -o wc_map examples/c/wc_map.c
 *   trapbox run --personality native --allow-read /usr/share -- ./wc_map /usr/share/common-licenses/GPL-3
 *   #     674    5644   35149 /usr/share/common-licenses/GPL-3      (lines, words, bytes)
 *
 * Everything goes through hostcalls (hostcall.h): map_file to see the file as memory,
 * write for the result, exit to end. No libc, no startup code: _start is below. */
#include "hostcall.h"

static unsigned long str_len(const char *s) {
    unsigned long n = 0;
    while (s[n]) n++;
    return n;
}

static void put(const char *s, unsigned long n) {
    trapbox_hostcall(TRAPBOX_HC_WRITE, 1, (long)s, (long)n, 0, 0, 0);
}

/* Right-aligned in `width` columns, as coreutils wc prints several counts. */
static void put_number(unsigned long value, int width) {
    char buf[24];
    int i = sizeof buf;
    do {
        buf[--i] = (char)('0' + value % 10);
        value /= 10;
    } while (value && i > 0);
    while (i > (int)sizeof buf - width && i > 0) buf[--i] = ' ';
    put(buf + i, sizeof buf - i);
}

static void fail(const char *what, const char *path, long err) {
    const char *msg = "wc_map: ";
    trapbox_hostcall(TRAPBOX_HC_WRITE, 2, (long)msg, (long)str_len(msg), 0, 0, 0);
    trapbox_hostcall(TRAPBOX_HC_WRITE, 2, (long)what, (long)str_len(what), 0, 0, 0);
    trapbox_hostcall(TRAPBOX_HC_WRITE, 2, (long)path, (long)str_len(path), 0, 0, 0);
    trapbox_hostcall(TRAPBOX_HC_WRITE, 2, (long)"\n", 1, 0, 0, 0);
    trapbox_hostcall(TRAPBOX_HC_EXIT, err == -13 ? 77 : 1, 0, 0, 0, 0, 0);
}

int wc_main(long argc, char **argv) {
    if (argc < 2) fail("usage: wc_map FILE", "", -22);
    const char *path = argv[1];
    unsigned long len = 0;
    long addr = trapbox_hostcall(TRAPBOX_HC_MAP_FILE, (long)path, (long)str_len(path), 1, (long)&len, 0, 0);
    if (addr < 0 && addr > -4096) fail(addr == -13 ? "permission denied: " : "cannot map ", path, addr);
    const unsigned char *bytes = (const unsigned char *)addr;
    unsigned long lines = 0, words = 0;
    int in_word = 0;
    for (unsigned long i = 0; i < len; i++) {
        unsigned char c = bytes[i];
        if (c == '\n') lines++;
        int space = c == ' ' || (c >= '\t' && c <= '\r');
        if (!space && !in_word) words++;
        in_word = !space;
    }
    put_number(lines, 7);
    put_number(words, 8);
    put_number(len, 8);
    put(" ", 1);
    put(path, str_len(path));
    put("\n", 1);
    if (len) trapbox_hostcall(TRAPBOX_HC_UNMAP, addr, (long)len, 0, 0, 0, 0);
    trapbox_hostcall(TRAPBOX_HC_EXIT, 0, 0, 0, 0, 0, 0);
    return 0;
}

/* The process entry: argc at (%rsp), argv after it. Align the stack and call wc_main. */
__asm__(
    ".text\n"
    ".globl _start\n"
    "_start:\n"
    "    mov (%rsp), %rdi\n"
    "    lea 8(%rsp), %rsi\n"
    "    and $-16, %rsp\n"
    "    call wc_main\n"
    "    ud2\n");
