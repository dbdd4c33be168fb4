/* Escape attempts under a policy, one per subcommand; each prints what happened.
 *   opath DIR           open DIR with O_PATH, then openat(dirfd, "../../../../../../etc/shadow")
 *   symlink-race DIR    one thread swaps DIR/l between a symlink to DIR/mine and one to
 *                       /etc/shadow; another opens DIR/l and reads; prints how often shadow leaked
 *   suid PROGRAM        drop to uid 65534, then exec PROGRAM (a setuid-root copy of busybox) id -u
 *   fdlink FILE DIR     open FILE read-only, then link it into DIR through /proc/self/fd/N
 *                       (linkat with AT_SYMLINK_FOLLOW): a read grant must not become a write one */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *dir;
static volatile int stop;

static void *swapper(void *arg) {
    (void)arg;
    char tmp[512], link[512], mine[512];
    snprintf(tmp, sizeof tmp, "%s/l.tmp", dir);
    snprintf(link, sizeof link, "%s/l", dir);
    snprintf(mine, sizeof mine, "%s/mine", dir);
    while (!stop) {
        unlink(tmp);
        symlink("/etc/shadow", tmp);
        rename(tmp, link);
        unlink(tmp);
        symlink(mine, tmp);
        rename(tmp, link);
    }
    return NULL;
}

int main(int argc, char **argv) {
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!strcmp(cmd, "opath")) {
        int d = open(argv[2], O_PATH | O_DIRECTORY);
        printf("opath dir: %s\n", d >= 0 ? "ok" : "denied");
        int f = openat(d, "../../../../../../../../etc/shadow", O_RDONLY);
        printf("openat escape: %s\n", f >= 0 ? "OPENED" : "denied");
    } else if (!strcmp(cmd, "symlink-race")) {
        dir = argv[2];
        char link[512];
        snprintf(link, sizeof link, "%s/l", dir);
        pthread_t t;
        pthread_create(&t, NULL, swapper, NULL);
        int opened = 0, leaked = 0;
        for (int i = 0; i < 3000; i++) {
            int fd = open(link, O_RDONLY);
            if (fd < 0) continue;
            opened++;
            char buf[5] = {0};
            if (read(fd, buf, 5) == 5 && !memcmp(buf, "root:", 5)) leaked++;
            close(fd);
        }
        stop = 1;
        pthread_join(t, NULL);
        printf("opened %s, leaked %d\n", opened > 0 ? "some" : "none", leaked);
    } else if (!strcmp(cmd, "fdlink")) {
        int fd = open(argv[2], O_RDONLY);
        char proc[64], to[512];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        snprintf(to, sizeof to, "%s/stolen", argv[3]);
        printf("open: %s\n", fd >= 0 ? "ok" : "denied");
        printf("fd link: %s\n", linkat(AT_FDCWD, proc, AT_FDCWD, to, AT_SYMLINK_FOLLOW) == 0 ? "LINKED" : "denied");
    } else if (!strcmp(cmd, "suid")) {
        if (setgid(65534) || setuid(65534)) { perror("setuid"); return 1; }
        execl(argv[2], "busybox", "id", "-u", (char *)NULL);
        perror("exec");
        return 1;
    }
    return 0;
}
