/* wc over map_file: lines, words and bytes of each file, counted in place (zero copy),
 * printed as coreutils' wc prints them (columns as wide as the total byte count), with a
 * total line for several files.
 *   trapbox run --personality native --allow-read /usr/share -- ./wc /usr/share/common-licenses/GPL-3 */
#include "util.h"

struct counts { unsigned long lines, words, bytes; };

static void count(const unsigned char *p, unsigned long len, struct counts *c) {
    int in_word = 0;
    unsigned long lines = 0, words = 0;
    for (unsigned long i = 0; i < len; i++) {
        unsigned char ch = p[i];
        lines += ch == '\n';
        int space = ch == ' ' || (ch >= '\t' && ch <= '\r');
        words += !space && !in_word;
        in_word = !space;
    }
    c->lines = lines;
    c->words = words;
    c->bytes = len;
}

static void show(const struct counts *c, int width, const char *name) {
    put_number(c->lines, width);
    put(" ");
    put_number(c->words, width);
    put(" ");
    put_number(c->bytes, width);
    put(" ");
    put(name);
    put("\n");
}

int main(int argc, char **argv, char **envp) {
    (void)envp;
    if (argc < 2) {
        put_to(2, "usage: wc FILE...\n");
        return 2;
    }
    int files = argc - 1, status = 0;
    struct counts *all = trapbox_alloc(sizeof(struct counts) * (unsigned long)files);
    int *ok = trapbox_alloc(sizeof(int) * (unsigned long)files);
    struct counts total = {0, 0, 0};
    for (int i = 0; i < files; i++) {
        unsigned long len = 0;
        const unsigned char *p = trapbox_map_file(argv[i + 1], TRAPBOX_MAP_READ, &len);
        if (!p) {
            cannot_map("wc", argv[i + 1]);
            status = 1;
            continue;
        }
        count(p, len, &all[i]);
        trapbox_unmap(p, len);
        ok[i] = 1;
        total.lines += all[i].lines;
        total.words += all[i].words;
        total.bytes += all[i].bytes;
    }
    int width = 1;
    for (unsigned long t = total.bytes; t >= 10; t /= 10) width++;
    for (int i = 0; i < files; i++)
        if (ok[i]) show(&all[i], width, argv[i + 1]);
    if (files > 1) show(&total, width, "total");
    return status;
}
