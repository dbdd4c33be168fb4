/* wc over a zero-copy mapped file, with no Linux system call at all: the native personality.
 *
 *   gcc -O2 -static -nostdlib -fno-stack-protector -fno-builtin -o wc_map examples/c/wc_map.c
 *   trapbox run --personality native --allow-read /usr/share -- ./wc_map /usr/share/common-licenses/GPL-3
 *   #     674    5644   35149 /usr/share/common-licenses/GPL-3      (lines, words, bytes)
 *
 * Everything goes through hostcalls (hostcall.h): map_file to see the file as memory,
 * write for the result, exit to end. No libc, no startup code: util.h's TRAPBOX_START gives the _start. */
#include "util.h" /* put_number, and _start (TRAPBOX_START) */

static void put_n(const char *s, unsigned long n) {
    trapbox_hostcall(TRAPBOX_HC_WRITE, 1, (long)s, (long)n, 0, 0, 0);
}

static void fail(const char *what, const char *path, long err) {
    const char *msg = "wc_map: ";
    trapbox_hostcall(TRAPBOX_HC_WRITE, 2, (long)msg, (long)trapbox_strlen_(msg), 0, 0, 0);
    trapbox_hostcall(TRAPBOX_HC_WRITE, 2, (long)what, (long)trapbox_strlen_(what), 0, 0, 0);
    trapbox_hostcall(TRAPBOX_HC_WRITE, 2, (long)path, (long)trapbox_strlen_(path), 0, 0, 0);
    trapbox_hostcall(TRAPBOX_HC_WRITE, 2, (long)"\n", 1, 0, 0, 0);
    trapbox_hostcall(TRAPBOX_HC_EXIT, err == -13 ? 77 : 1, 0, 0, 0, 0, 0);
}

int main(int argc, char **argv, char **envp) {
    (void)envp;
    if (argc < 2) fail("usage: wc_map FILE", "", -22);
    const char *path = argv[1];
    unsigned long len = 0;
    long addr = trapbox_hostcall(TRAPBOX_HC_MAP_FILE, (long)path, (long)trapbox_strlen_(path), 1, (long)&len, 0, 0);
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
    put_n(" ", 1);
    put_n(path, trapbox_strlen_(path));
    put_n("\n", 1);
    if (len) trapbox_hostcall(TRAPBOX_HC_UNMAP, addr, (long)len, 0, 0, 0, 0);
    trapbox_hostcall(TRAPBOX_HC_EXIT, 0, 0, 0, 0, 0, 0);
    return 0;
}
