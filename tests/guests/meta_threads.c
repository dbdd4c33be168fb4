/* Two threads make metadata calls at once, each on files of its own: stat, lstat, readlink,
 * access, statx, fstat (fstatat with AT_EMPTY_PATH) and a stat of a missing name, checking
 * each answer against what the main thread saw before the threads started. Under trapbox's
 * unotify backend two host threads serve them, each on its guest thread's CPU; the answers
 * must be the native ones, call after call.
 * Prints one line per thread: "thread K: N rounds, W wrong", then "done".
 * Usage: meta_threads DIR [ROUNDS]   (DIR holds a0, a1 and the symlinks l0 -> a0, l1 -> a1) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *dir;
static long rounds;

struct job {
    int k;
    long wrong;
};

static void *work(void *arg) {
    struct job *job = arg;
    char file[512], link[512], missing[512], text[512];
    snprintf(file, sizeof file, "%s/a%d", dir, job->k);
    snprintf(link, sizeof link, "%s/l%d", dir, job->k);
    snprintf(missing, sizeof missing, "%s/none%d", dir, job->k);
    struct stat want, got;
    if (stat(file, &want) != 0) {
        job->wrong = -1;
        return NULL;
    }
    int fd = open(file, O_RDONLY);
    for (long i = 0; i < rounds; i++) {
        if (stat(file, &got) != 0 || got.st_ino != want.st_ino || got.st_size != want.st_size) job->wrong++;
        if (lstat(link, &got) != 0 || !S_ISLNK(got.st_mode)) job->wrong++;
        ssize_t n = readlink(link, text, sizeof text - 1);
        if (n != 2 || memcmp(text, job->k ? "a1" : "a0", 2) != 0) job->wrong++;
        if (access(file, R_OK) != 0) job->wrong++;
        struct statx sx;
        if (statx(AT_FDCWD, link, 0, STATX_INO, &sx) != 0 || sx.stx_ino != want.st_ino) job->wrong++;
        if (fstat(fd, &got) != 0 || got.st_ino != want.st_ino) job->wrong++;
        errno = 0;
        if (stat(missing, &got) != -1 || errno != ENOENT) job->wrong++;
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: meta_threads DIR [ROUNDS]\n");
        return 2;
    }
    dir = argv[1];
    rounds = argc > 2 ? atol(argv[2]) : 2000;
    struct job jobs[2] = {{0, 0}, {1, 0}};
    pthread_t threads[2];
    for (int k = 0; k < 2; k++) pthread_create(&threads[k], NULL, work, &jobs[k]);
    for (int k = 0; k < 2; k++) pthread_join(threads[k], NULL);
    for (int k = 0; k < 2; k++) printf("thread %d: %ld rounds, %ld wrong\n", k, rounds, jobs[k].wrong);
    puts("done");
    return 0;
}
