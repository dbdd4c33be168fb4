/* Escape attempt: one thread keeps rewriting a path buffer between an allowed path and a
 * forbidden one while the main thread keeps using whatever the buffer says. A host that
 * checked the path and then let the kernel re-read it would eventually act on the forbidden
 * path. Modes:
 *   open   open() and read: leaked if the content starts like /etc/shadow's ("root:");
 *   opath  open(O_PATH): leaked if the fd is not the allowed file (Landlock does not cover
 *          O_PATH, so only the host's pinned copy stops this);
 *   chdir  chdir(): leaked if the working directory became the forbidden one (Landlock does
 *          not cover chdir either);
 *   stat   stat(): leaked if the metadata is not the allowed path's (for a directory above a
 *          grant, the kernel answers on the host's pinned copy of the path);
 *   chmod  chmod(path, 0600) (the broker performs it): the caller checks the forbidden file's
 *          mode afterwards, so "leaked" stays 0 here.
 * A race test must see its race: the calls go on past ROUNDS until at least MIN_EACH of them
 * succeeded (the allowed path was used) and MIN_EACH failed (the forbidden one was checked and
 * refused), or until BOUND_FACTOR times ROUNDS, and the report says which:
 *   race observed after N rounds: succeeded S refused R leaked L
 *   race not observed in N rounds: succeeded S refused R leaked L
 * Exits 0 either way.
 * Usage: path_race MODE ALLOWED FORBIDDEN [ROUNDS] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIN_EACH 10
#define BOUND_FACTOR 100

static char path[256];
static volatile int stop;
static volatile long flips;
static const char *allowed, *forbidden;

static void *flipper(void *arg) {
    (void)arg;
    while (!stop) {
        strcpy(path, allowed);
        strcpy(path, forbidden);
        flips++;
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: path_race open|opath|chdir|stat|chmod ALLOWED FORBIDDEN [ROUNDS]\n");
        return 2;
    }
    const char *mode = argv[1];
    allowed = argv[2];
    forbidden = argv[3];
    long rounds = argc > 4 ? atol(argv[4]) : 3000;
    long bound = rounds * BOUND_FACTOR;
    struct stat want;
    if (stat(allowed, &want) != 0) {
        perror(allowed);
        return 2;
    }
    strcpy(path, allowed);
    pthread_t t;
    pthread_create(&t, NULL, flipper, NULL);
    while (flips == 0) sched_yield(); /* the racing thread runs before the first call */
    int succeeded = 0, refused = 0, leaked = 0;
    char cwd[256];
    long i;
    for (i = 0; i < bound; i++) {
        if (i >= rounds && succeeded >= MIN_EACH && refused >= MIN_EACH) break;
        if (refused == 0 && i % 64 == 63) sched_yield(); /* let a starved flipper in */
        int before = succeeded;
        if (strcmp(mode, "chdir") == 0) {
            if (chdir(path) != 0) { refused++; continue; }
            succeeded++;
            if (getcwd(cwd, sizeof cwd) && strcmp(cwd, allowed) != 0) leaked++;
            continue;
        }
        if (strcmp(mode, "chmod") == 0) {
            succeeded += chmod(path, 0600) == 0;
            refused += succeeded == before;
            continue;
        }
        if (strcmp(mode, "stat") == 0) {
            struct stat got;
            if (stat(path, &got) != 0) { refused++; continue; }
            succeeded++;
            if (got.st_ino != want.st_ino || got.st_dev != want.st_dev) leaked++;
            continue;
        }
        int fd = open(path, strcmp(mode, "opath") == 0 ? O_PATH : O_RDONLY);
        if (fd < 0) { refused++; continue; }
        succeeded++;
        if (strcmp(mode, "opath") == 0) {
            struct stat got;
            if (fstat(fd, &got) == 0 && (got.st_ino != want.st_ino || got.st_dev != want.st_dev)) leaked++;
        } else {
            char buf[5] = {0};
            if (read(fd, buf, 5) == 5 && memcmp(buf, "root:", 5) == 0) leaked++;
        }
        close(fd);
    }
    stop = 1;
    pthread_join(t, NULL);
    int observed = succeeded >= MIN_EACH && refused >= MIN_EACH;
    printf("race %s %ld rounds: succeeded %d refused %d leaked %d\n", observed ? "observed after" : "not observed in", i,
           succeeded, refused, leaked);
    return 0;
}
