/* Two per-call costs: `sigmask N` runs N rt_sigprocmask calls that set a mask (a rewritten
 * program's are followed by the host: trap/sigstate.rs); `mounts N DIR` mounts and unmounts a
 * tmpfs on DIR N times (under trapbox, init makes each one: launch/agent.rs). Prints µs/call. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    int n = atoi(argv[2]);
    double start = now();
    if (!strcmp(argv[1], "sigmask")) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        for (int i = 0; i < n; i++) sigprocmask(i & 1 ? SIG_UNBLOCK : SIG_BLOCK, &set, NULL);
    } else if (!strcmp(argv[1], "mounts") && argc > 3) {
        for (int i = 0; i < n; i++) {
            if (mount("none", argv[3], "tmpfs", 0, NULL) != 0 || umount2(argv[3], 0) != 0) { perror("mount"); return 1; }
        }
        n *= 2;
    } else {
        return 2;
    }
    printf("%.2f us/call\n", (now() - start) / n);
    return 0;
}
