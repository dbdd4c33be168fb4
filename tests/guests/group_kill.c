/* Signals to process groups, as a program that manages its own jobs sends them:
 *   - kill(-PGID) of a group it made (a child that called setpgid(0, 0)) must succeed and
 *     end the child;
 *   - kill(0) (the caller's own group) must succeed;
 *   - kill(-PGID) of the group named on the command line, which is not the guest's (the
 *     host's), is the kernel's ESRCH under trapbox: no such group exists for the guest.
 * Usage: group_kill OTHER_PGID */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *result(int rc) {
    if (rc == 0) return "ok";
    switch (errno) {
    case ESRCH: return "ESRCH";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    default: return strerror(errno);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: group_kill OTHER_PGID\n");
        return 2;
    }
    int other = atoi(argv[1]);
    int ready[2];
    if (pipe(ready) != 0) return 2;
    pid_t child = fork();
    if (child == 0) {
        setpgid(0, 0);
        close(ready[0]);
        write(ready[1], "x", 1);
        for (;;) pause();
    }
    setpgid(child, child); /* whichever of the two runs first makes the group */
    char byte;
    close(ready[1]);
    read(ready[0], &byte, 1);
    printf("kill(-own child's group, SIGTERM): %s\n", result(kill(-child, SIGTERM)));
    int status = 0;
    waitpid(child, &status, 0);
    printf("the child: %s %d\n", WIFSIGNALED(status) ? "killed by" : "exited", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    printf("kill(0, 0): %s\n", result(kill(0, 0)));
    printf("kill(-own child's group, 0) after it ended: %s\n", result(kill(-child, 0)));
    printf("kill(-other group, 0): %s\n", result(kill(-other, 0)));
    printf("kill(-other group, SIGTERM): %s\n", result(kill(-other, SIGTERM)));
    return 0;
}
