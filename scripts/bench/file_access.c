/* One file-access workload, through mapping or through reads, for the map_file-vs-read
 * benchmark (scripts/bench-runtime.py --only-access). The same source builds as an SDK guest
 * (map_file and read are hostcalls: --personality native) and, with -DTRAPBOX_ON_LINUX, for
 * plain Linux (mmap and read are system calls), so both paths run the same loops.
 *
 *   file_access map|read seq FILE          every byte, once
 *   file_access map|read reread FILE K     every byte, K times
 *   file_access map|read random FILE N     N 8-byte words at pseudo-random offsets
 *
 * It prints the sum (the same for both ways) so the work cannot be optimised away.
 *   gcc -O2 -static -nostdlib -fno-stack-protector -fno-builtin -I examples/c [-DTRAPBOX_ON_LINUX] */
#define TRAPBOX_START
#include "hostcall.h"

static int same(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

static unsigned long number(const char *s) {
    unsigned long n = 0;
    while (*s >= '0' && *s <= '9') n = n * 10 + (unsigned long)(*s++ - '0');
    return n;
}

static void print(unsigned long value) {
    char out[24];
    int i = sizeof out;
    out[--i] = '\n';
    do { out[--i] = (char)('0' + value % 10); value /= 10; } while (value);
    trapbox_write(1, out + i, sizeof out - i);
}

static unsigned long next_offset(unsigned long *state, unsigned long len) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (*state % (len / 8)) * 8;
}

#define CHUNK (64 * 1024)

int main(int argc, char **argv, char **envp) {
    (void)envp;
    if (argc < 4) return 2;
    int mapping = same(argv[1], "map");
    const char *kind = argv[2], *file = argv[3];
    unsigned long count = argc > 4 ? number(argv[4]) : 1, sum = 0, state = 88172645463325252UL;
    if (mapping) {
        unsigned long len = 0;
        const unsigned char *bytes = trapbox_map_file(file, TRAPBOX_MAP_READ, &len);
        if (!bytes || len < 8) return 1;
        if (same(kind, "random")) {
            for (unsigned long i = 0; i < count; i++) sum += *(const unsigned long *)(bytes + next_offset(&state, len));
        } else {
            for (unsigned long pass = 0; pass < count; pass++)
                for (unsigned long i = 0; i < len; i++) sum += bytes[i];
        }
    } else {
        long h = trapbox_open(file, TRAPBOX_OPEN_READ);
        unsigned char *buf = trapbox_alloc(CHUNK);
        if (h < 0 || !buf) return 1;
        if (same(kind, "random")) {
            struct trapbox_stat st;
            if (trapbox_stat(h, &st) < 0 || st.size < 8) return 1;
            for (unsigned long i = 0; i < count; i++) {
                unsigned long word = 0;
                trapbox_seek(h, (long)next_offset(&state, st.size), TRAPBOX_SEEK_SET);
                if (trapbox_read(h, &word, 8) != 8) return 1;
                sum += word;
            }
        } else {
            for (unsigned long pass = 0; pass < count; pass++) {
                trapbox_seek(h, 0, TRAPBOX_SEEK_SET);
                long n;
                while ((n = trapbox_read(h, buf, CHUNK)) > 0)
                    for (long i = 0; i < n; i++) sum += buf[i];
            }
        }
    }
    print(sum);
    return 0;
}
