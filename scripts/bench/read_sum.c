/* Sums every byte of a file read with read() through a 64 KiB buffer: the native reference
 * and the "granted fd" / "trap per read" variants of the file-reading benchmark. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    static unsigned char buf[64 * 1024];
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) { perror(argv[1]); return 1; }
    unsigned long sum = 0, total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) sum += buf[i];
        total += (unsigned long)n;
    }
    printf("%lu bytes, sum %lu\n", total, sum);
    return 0;
}
