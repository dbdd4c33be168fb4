/* grep -F: prints the lines of each file (mapped, zero copy) that contain a fixed string,
 * prefixed by the file's name when there are several; status 0 if a line matched, 1 if
 * none, 2 on an error, as grep's.
 *   trapbox run --personality native --allow-read /usr/share -- ./grep License /usr/share/common-licenses/GPL-3 */
#include "util.h"

static int contains(const unsigned char *line, unsigned long len, const char *pattern, unsigned long plen) {
    if (plen == 0) return 1;
    for (unsigned long i = 0; i + plen <= len; i++)
        if (line[i] == (unsigned char)pattern[0] && !memcmp(line + i, pattern, plen)) return 1;
    return 0;
}

int main(int argc, char **argv, char **envp) {
    (void)envp;
    if (argc < 3) {
        put_to(2, "usage: grep PATTERN FILE...\n");
        return 2;
    }
    const char *pattern = argv[1];
    unsigned long plen = trapbox_strlen_(pattern);
    int matched = 0, failed = 0;
    for (int f = 2; f < argc; f++) {
        unsigned long len = 0;
        const unsigned char *p = trapbox_map_file(argv[f], TRAPBOX_MAP_READ, &len);
        if (!p) {
            cannot_map("grep", argv[f]);
            failed = 1;
            continue;
        }
        unsigned long start = 0;
        while (start < len) {
            unsigned long end = start;
            while (end < len && p[end] != '\n') end++;
            if (contains(p + start, end - start, pattern, plen)) {
                matched = 1;
                if (argc > 3) {
                    put(argv[f]);
                    put(":");
                }
                write_all(1, (const char *)p + start, end - start);
                put("\n");
            }
            start = end + 1;
        }
        trapbox_unmap(p, len);
    }
    return failed ? 2 : matched ? 0 : 1;
}
