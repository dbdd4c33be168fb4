/* Escape attempt: exec a program outside --allow-exec through an fd. A memfd holding this
 * very program and an fd of an allowed program (GOOD) take turns at fd 100 while the main
 * thread keeps calling execveat(100, "", {"payload"}, AT_EMPTY_PATH). The host checks the
 * file behind fd 100 each time; if the kernel could then exec the memfd, this program would
 * start as "payload" and print "PAYLOAD RAN" (exit 3). Under a policy every memfd is created
 * non-executable, so the kernel refuses it even when the race is won.
 * Usage: exec_memfd_race GOOD SELF (SELF: this program's path, readable, copied into the memfd) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile int stop;
static int good, bad;

static void *flipper(void *arg) {
    (void)arg;
    while (!stop) {
        dup2(good, 100);
        for (volatile int i = 0; i < 100; i++) {}
        dup2(bad, 100);
        for (volatile int i = 0; i < 100; i++) {}
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (strcmp(argv[0], "payload") == 0) {
        puts("PAYLOAD RAN");
        return 3;
    }
    if (argc < 3) return 2;
    good = open(argv[1], O_RDONLY);
    int self = open(argv[2], O_RDONLY);
    bad = memfd_create("payload", 0);
    if (good < 0 || self < 0 || bad < 0) {
        perror("set-up");
        return 2;
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(self, buf, sizeof buf)) > 0) {
        if (write(bad, buf, (size_t)n) != n) return 2;
    }
    pthread_t t;
    pthread_create(&t, NULL, flipper, NULL);
    for (int i = 0; i < 3000; i++) {
        char *args[] = {"payload", NULL};
        syscall(SYS_execveat, 100, "", args, NULL, AT_EMPTY_PATH);
    }
    puts("no exec succeeded");
    return 1;
}
