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

struct search {
    const char *pattern;
    unsigned long plen;
    int prefix, matched;
};

static void search(const char *name, const unsigned char *p, unsigned long len, void *state) {
    struct search *s = state;
    unsigned long start = 0;
    while (start < len) {
        unsigned long end = start;
        while (end < len && p[end] != '\n') end++;
        if (contains(p + start, end - start, s->pattern, s->plen)) {
            s->matched = 1;
            if (s->prefix) {
                put(name);
                put(":");
            }
            write_all(1, (const char *)p + start, end - start);
            put("\n");
        }
        start = end + 1;
    }
}

int main(int argc, char **argv, char **envp) {
    (void)envp;
    if (argc < 3) {
        put_to(2, "usage: grep PATTERN FILE...\n");
        return 2;
    }
    struct search s = {argv[1], trapbox_strlen_(argv[1]), argc > 3, 0};
    int failed = each_mapped("grep", argv + 2, argc - 2, search, &s);
    return failed ? 2 : s.matched ? 0 : 1;
}
