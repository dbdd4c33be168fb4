/* Error paths whose errno programs depend on (realpath, Java, `mkdir -p`, openat users), run
 * natively and under trapbox with the probed paths granted: each line must be the same.
 *   errno_probe DIR   (DIR holds a file `f` and a symlink `l` -> f) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void report(const char *what, long rc) {
    printf("%s: %s\n", what, rc < 0 ? strerrorname_np(errno) : "ok");
}

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1]) != 0)
        return 2;
    char buf[PATH_MAX];
    report("readlink of a directory", readlink(".", buf, sizeof buf));
    report("readlink of a file", readlink("f", buf, sizeof buf));
    long n = readlink("l", buf, sizeof buf);
    printf("readlink of a symlink: %.*s\n", (int)(n > 0 ? n : 0), buf);
    report("readlinkat of a file", readlinkat(AT_FDCWD, "f", buf, sizeof buf));
    char *real = realpath("l", NULL);
    printf("realpath of the symlink ends in /f: %s\n", real && strlen(real) > 2 && !strcmp(real + strlen(real) - 2, "/f") ? "yes" : "no");
    report("mkdir of an existing directory", mkdir(".", 0755));
    report("mkdir of an existing file", mkdir("f", 0755));
    report("symlink over an existing file", symlink("x", "f"));
    report("openat with dirfd -1", openat(-1, "f", O_RDONLY));
    report("openat with a closed dirfd", openat(99, "f", O_RDONLY));
    int file = open("f", O_RDONLY);
    report("openat relative to a file", openat(file, "f", O_RDONLY));
    report("openat absolute with dirfd -1", openat(-1, argv[1], O_RDONLY | O_DIRECTORY));
    return 0;
}
