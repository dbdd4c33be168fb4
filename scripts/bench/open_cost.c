/* The cost of one open(2) of FILE, measured N times inside the program, with KIB KiB of
 * memory written between two opens (0: a tight loop, every cache warm; 4096: the caches and
 * TLBs mostly someone else's, as between a real program's opens). scripts/bench/open_cost.py
 * runs it natively and under trapbox.
 *
 *   gcc -O2 -o open_cost open_cost.c && ./open_cost N FILE KIB */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: open_cost N FILE KIB\n");
        return 2;
    }
    int n = atoi(argv[1]);
    const char *path = argv[2];
    size_t dirty = (size_t)atoi(argv[3]) * 1024;
    char *buf = malloc(dirty + 1);
    memset(buf, 1, dirty + 1);
    double total = 0;
    int failed = 0;
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < dirty; k += 64) buf[k]++;
        double start = now_us();
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        total += now_us() - start;
        if (fd >= 0) close(fd); else failed++;
    }
    printf("%.2f us/open (%d failed)\n", total / n, failed);
    return 0;
}
