/* What another process of the same user can do to process PID: read its memory, maps and
 * environment through /proc, and attach to it with ptrace. One line each, with the errno.
 *   reach_host PID */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *err(long rc) { return rc < 0 ? strerrorname_np(errno) : "ok"; }

/* Opens /proc/PID/NAME and reads one byte of it (for mem: at the first mapping, which needs
 * maps; an open that succeeds is already a breach, so its read is reported as well). */
static void read_proc(long pid, const char *name) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/%s", pid, name);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%s: %s\n", name, err(fd));
        return;
    }
    char byte;
    printf("%s: open ok, read %s\n", name, err(read(fd, &byte, 1)));
    close(fd);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    long pid = strtol(argv[1], NULL, 10);
    read_proc(pid, "mem");
    read_proc(pid, "maps");
    read_proc(pid, "environ");
    long rc = ptrace(PTRACE_SEIZE, pid, 0, 0);
    printf("ptrace: %s\n", err(rc));
    if (rc == 0) ptrace(PTRACE_DETACH, pid, 0, 0);
    return 0;
}
