/* Small helpers the C examples share: printing without libc, over hostcall.h. */
#ifndef TRAPBOX_EXAMPLE_UTIL_H
#define TRAPBOX_EXAMPLE_UTIL_H
#define TRAPBOX_START
#include "hostcall.h"

static inline void put_to(long handle, const char *s) { trapbox_write(handle, s, trapbox_strlen_(s)); }
static inline void put(const char *s) { put_to(1, s); }

/* `value` in decimal, right-aligned in `width` columns. */
static inline void put_number(unsigned long value, int width) {
    char buf[24];
    int i = sizeof buf;
    do {
        buf[--i] = (char)('0' + value % 10);
        value /= 10;
    } while (value && i > 0);
    while (i > (int)sizeof buf - width && i > 0) buf[--i] = ' ';
    trapbox_write(1, buf + i, sizeof buf - i);
}

/* Writes all of buf (a write may be short). */
static inline long write_all(long handle, const char *buf, unsigned long len) {
    while (len) {
        long n = trapbox_write(handle, buf, len);
        if (n <= 0) return n < 0 ? n : -5;
        buf += n;
        len -= (unsigned long)n;
    }
    return 0;
}

/* "PROGRAM: WHAT: errno N" on stderr. */
static inline void complain(const char *program, const char *what, long err) {
    char num[24];
    int i = sizeof num;
    unsigned long e = (unsigned long)-err;
    do num[--i] = (char)('0' + e % 10); while ((e /= 10) && i > 0);
    put_to(2, program);
    put_to(2, ": ");
    put_to(2, what);
    put_to(2, ": errno ");
    trapbox_write(2, num + i, sizeof num - i);
    put_to(2, "\n");
}

/* "PROGRAM: PATH: cannot map" on stderr (map_file tells no errno). */
static inline void cannot_map(const char *program, const char *path) {
    put_to(2, program);
    put_to(2, ": ");
    put_to(2, path);
    put_to(2, ": cannot map\n");
}

/* Calls fn on the bytes of each of the `count` files `names` (mapped, zero copy), with an
 * opaque `state`; a file that cannot be mapped is reported and skipped. 1 if any was, else 0. */
static inline int each_mapped(const char *program, char **names, int count,
                              void (*fn)(const char *name, const unsigned char *p, unsigned long len, void *state), void *state) {
    int failed = 0;
    for (int i = 0; i < count; i++) {
        unsigned long len = 0;
        const unsigned char *p = trapbox_map_file(names[i], TRAPBOX_MAP_READ, &len);
        if (!p) {
            cannot_map(program, names[i]);
            failed = 1;
            continue;
        }
        fn(names[i], p, len, state);
        trapbox_unmap(p, len);
    }
    return failed;
}

static inline int str_eq(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}
#endif
