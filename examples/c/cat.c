/* cat over handles: copies each file named (stdin for none or "-") to stdout.
 *   gcc -O2 -static -nostdlib -fno-stack-protector -fno-builtin -o cat examples/c/cat.c
 *   echo hi | trapbox run --personality native --allow-read /usr/share -- ./cat /usr/share/common-licenses/MIT - */
#include "util.h"

static long copy(long from, char *buf, unsigned long size) {
    for (;;) {
        long n = trapbox_read(from, buf, size);
        if (n <= 0) return n;
        long w = write_all(1, buf, (unsigned long)n);
        if (w < 0) return w;
    }
}

int main(int argc, char **argv, char **envp) {
    (void)envp;
    unsigned long size = 65536;
    char *buf = trapbox_alloc(size);
    if (!buf) return 1;
    int status = 0;
    char *dash = "-";
    char **names = argc > 1 ? argv + 1 : &dash;
    int count = argc > 1 ? argc - 1 : 1;
    for (int i = 0; i < count; i++) {
        long h = str_eq(names[i], "-") ? 0 : trapbox_open(names[i], TRAPBOX_OPEN_READ);
        long r = h < 0 ? h : copy(h, buf, size);
        if (r < 0) {
            complain("cat", names[i], r);
            status = 1;
        }
        if (h > 0) trapbox_close(h);
    }
    return status;
}
