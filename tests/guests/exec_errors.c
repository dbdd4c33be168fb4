/* execve's error paths, natively and under trapbox (an exec after the first is decided on a
 * pinned copy of its path): each line must be the same, errno included.
 *   exec_errors DIR   (DIR holds a file `f` that is not executable) */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void report(const char *what) {
    printf("%s: %s\n", what, strerrorname_np(errno));
}

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1]) != 0)
        return 2;
    char *args[] = { "x", NULL };
    char *env[] = { NULL };
    char *too_long = malloc(5000);
    memset(too_long, 'a', 4999);
    too_long[4999] = 0;
    errno = 0, execve(NULL, args, env), report("a NULL path");
    errno = 0, execve((const char *)1, args, env), report("a path at an unmapped address");
    errno = 0, execve(too_long, args, env), report("a path longer than PATH_MAX");
    errno = 0, execve("missing", args, env), report("a missing file");
    errno = 0, execve(".", args, env), report("a directory");
    errno = 0, execve("f", args, env), report("a file without exec permission");
    errno = 0, execve("f/x", args, env), report("a file as a directory");
    errno = 0, execve("/bin/true", (char *const *)1, env), report("argv at an unmapped address");
    return 0;
}
