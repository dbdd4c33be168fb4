/* A small key-value store in one data file, which must lie in a write grant:
 *   kv FILE set KEY VALUE | kv FILE get KEY | kv FILE del KEY | kv FILE list
 * The file holds "KEY\tVALUE\n" lines. A change is written to FILE.tmp and renamed over
 * FILE, so a crash leaves the old or the new store, never half of one.
 *   trapbox run --personality native --allow-write /tmp/store -- ./kv /tmp/store/db set colour blue */
#include "util.h"

static char *data;
static unsigned long size;

/* Loads FILE (a missing file is an empty store); 0 or -errno. */
static long load(const char *path) {
    long h = trapbox_open(path, TRAPBOX_OPEN_READ);
    if (h == -2) return 0;
    if (h < 0) return h;
    struct trapbox_stat st;
    long r = trapbox_stat(h, &st);
    if (r < 0) return r;
    data = trapbox_alloc(st.size + 1);
    if (!data) return -12;
    while (size < st.size) {
        long n = trapbox_read(h, data + size, st.size - size);
        if (n < 0) return n;
        if (n == 0) break;
        size += (unsigned long)n;
    }
    return trapbox_close(h);
}

/* The line of `key` (its start and length), or -1. */
static long find(const char *key, unsigned long *line_len) {
    unsigned long klen = trapbox_strlen_(key), at = 0;
    while (at < size) {
        unsigned long end = at;
        while (end < size && data[end] != '\n') end++;
        if (end - at > klen && data[at + klen] == '\t' && !memcmp(data + at, key, klen)) {
            *line_len = end - at + (end < size);
            return (long)at;
        }
        at = end + 1;
    }
    return -1;
}

/* Writes the store without the line at `skip` (if any) and with `extra` appended, then
 * renames it into place. */
static long save(const char *path, long skip, unsigned long skip_len, const char *key, const char *value) {
    char tmp[4096];
    unsigned long plen = trapbox_strlen_(path);
    if (plen + 5 > sizeof tmp) return -36;
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    long h = trapbox_open(tmp, TRAPBOX_OPEN_WRITE | TRAPBOX_OPEN_CREATE | TRAPBOX_OPEN_TRUNCATE);
    if (h < 0) return h;
    unsigned long keep = skip < 0 ? size : (unsigned long)skip;
    long r = write_all(h, data, keep);
    if (r == 0 && skip >= 0) r = write_all(h, data + skip + skip_len, size - skip - skip_len);
    if (r == 0 && key) {
        r = write_all(h, key, trapbox_strlen_(key));
        if (r == 0) r = write_all(h, "\t", 1);
        if (r == 0) r = write_all(h, value, trapbox_strlen_(value));
        if (r == 0) r = write_all(h, "\n", 1);
    }
    long c = trapbox_close(h);
    if (r == 0) r = c;
    return r < 0 ? r : trapbox_rename(tmp, path);
}

int main(int argc, char **argv, char **envp) {
    (void)envp;
    if (argc < 3) {
        put_to(2, "usage: kv FILE set KEY VALUE | get KEY | del KEY | list\n");
        return 2;
    }
    const char *path = argv[1], *op = argv[2];
    long r = load(path);
    if (r < 0) return complain("kv", path, r), 1;
    unsigned long len = 0;
    if (str_eq(op, "list") && argc == 3) {
        return (int)(write_all(1, data, size) < 0);
    } else if (str_eq(op, "get") && argc == 4) {
        long at = find(argv[3], &len);
        if (at < 0) return 1;
        unsigned long klen = trapbox_strlen_(argv[3]);
        write_all(1, data + at + klen + 1, len - klen - 1);
        if (data[at + len - 1] != '\n') put("\n");
        return 0;
    } else if (str_eq(op, "set") && argc == 5) {
        for (const char *c = argv[3]; *c; c++)
            if (*c == '\t' || *c == '\n') return put_to(2, "kv: a key holds no tab or newline\n"), 2;
        for (const char *c = argv[4]; *c; c++)
            if (*c == '\n') return put_to(2, "kv: a value holds no newline\n"), 2;
        long at = find(argv[3], &len); /* (before the call: argument order is unspecified) */
        r = save(path, at, len, argv[3], argv[4]);
    } else if (str_eq(op, "del") && argc == 4) {
        long at = find(argv[3], &len);
        if (at < 0) return 1;
        r = save(path, at, len, 0, 0);
    } else {
        put_to(2, "kv: unknown command\n");
        return 2;
    }
    if (r < 0) return complain("kv", path, r), 1;
    return 0;
}
