/* Sums every byte of a file mapped by the map_file hostcall: no read(), no copy, no Linux
 * call at all (runs under --personality native). Build with
 *   gcc -O2 -static -nostdlib -fno-stack-protector -fno-builtin -I examples/c map_sum.c */
#include "hostcall.h"

static unsigned long str_len(const char *s) { unsigned long n = 0; while (s[n]) n++; return n; }

int sum_main(long argc, char **argv) {
    unsigned long len = 0;
    long addr = trapbox_hostcall(TRAPBOX_HC_MAP_FILE, (long)argv[1], (long)str_len(argv[1]), 1, (long)&len, 0, 0);
    if (argc < 2 || (addr < 0 && addr > -4096)) trapbox_hostcall(TRAPBOX_HC_EXIT, 1, 0, 0, 0, 0, 0);
    const unsigned char *bytes = (const unsigned char *)addr;
    unsigned long sum = 0;
    for (unsigned long i = 0; i < len; i++) sum += bytes[i];
    char out[64];
    int i = sizeof out;
    out[--i] = '\n';
    do { out[--i] = (char)('0' + sum % 10); sum /= 10; } while (sum);
    trapbox_hostcall(TRAPBOX_HC_WRITE, 1, (long)(out + i), (long)(sizeof out - i), 0, 0, 0);
    trapbox_hostcall(TRAPBOX_HC_EXIT, 0, 0, 0, 0, 0, 0);
    return 0;
}

__asm__(".text\n.globl _start\n_start:\n mov (%rsp), %rdi\n lea 8(%rsp), %rsi\n and $-16, %rsp\n call sum_main\n ud2\n");
