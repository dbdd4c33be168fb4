/* cp SOURCE TARGET over handles: the target is created (or emptied) and written in 64 KiB
 * pieces; only the bytes are copied (mode 0666 less the umask).
 *   trapbox run --personality native --allow-read /usr/share --allow-write /tmp/out -- ./cp /usr/share/common-licenses/MIT /tmp/out/MIT */
#include "util.h"

int main(int argc, char **argv, char **envp) {
    (void)envp;
    if (argc != 3) {
        put_to(2, "usage: cp SOURCE TARGET\n");
        return 2;
    }
    long from = trapbox_open(argv[1], TRAPBOX_OPEN_READ);
    if (from < 0) return complain("cp", argv[1], from), 1;
    long to = trapbox_open(argv[2], TRAPBOX_OPEN_WRITE | TRAPBOX_OPEN_CREATE | TRAPBOX_OPEN_TRUNCATE);
    if (to < 0) return complain("cp", argv[2], to), 1;
    unsigned long size = 65536;
    char *buf = trapbox_alloc(size);
    if (!buf) return 1;
    for (;;) {
        long n = trapbox_read(from, buf, size);
        if (n < 0) return complain("cp", argv[1], n), 1;
        if (n == 0) break;
        long w = write_all(to, buf, (unsigned long)n);
        if (w < 0) return complain("cp", argv[2], w), 1;
    }
    long c = trapbox_close(to);
    if (c < 0) return complain("cp", argv[2], c), 1;
    trapbox_close(from);
    return 0;
}
