/* A guest whose calls a research trace must show exactly: it prints what each call returned,
 * so a test can hold the JSON trace (and --stats) against the guest's own account.
 *   research_calls FILE MISSING   (FILE readable, MISSING absent)
 * Prints: "pid P", "getpid x5", "open FILE = FD", "open MISSING = ENOENT", "read N",
 * "close 0". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3)
        return 2;
    long pid = 0;
    for (int i = 0; i < 5; i++) /* raw calls: glibc caches nothing for syscall() */
        pid = syscall(SYS_getpid);
    printf("pid %ld\ngetpid x5\n", pid);
    int fd = open(argv[1], O_RDONLY);
    printf("open %s = %d\n", argv[1], fd);
    int missing = open(argv[2], O_RDONLY);
    printf("open %s = %s\n", argv[2], missing < 0 ? strerrorname_np(errno) : "opened");
    char buf[64];
    printf("read %zd\n", read(fd, buf, sizeof buf));
    printf("close %d\n", close(fd));
    return 0;
}
