/* Shared helpers of the syscall conformance suite (the C programs of tests/conformance/).
 * Each program exercises one area, success and error paths, and prints one line per case:
 * `name: result`, the result normalised (no pids, addresses, times, fd numbers unless they
 * are deterministic by construction) or the errno's name. argv[1] is a scratch directory the
 * program may use freely; it starts empty. The output must be the same natively and under
 * trapbox (tests/tests/run_conformance.rs compares them line by line). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

static const char *errname(int e) {
    const char *n = strerrorname_np(e);
    return n ? n : "E?";
}

/* The integer result, or the errno's name when it is -1. */
#define CK(name, expr) do { errno = 0; long _r = (long)(expr); \
    if (_r == -1) printf("%s: %s\n", name, errname(errno)); else printf("%s: %ld\n", name, _r); \
    fflush(stdout); } while (0)
/* "ok" for a non-negative result (an fd, a size that varies), or the errno's name. */
#define OK(name, expr) do { errno = 0; long _r = (long)(expr); \
    if (_r < 0) printf("%s: %s\n", name, errname(errno)); else printf("%s: ok\n", name); \
    fflush(stdout); } while (0)
/* For calls that return an error number instead of setting errno (pthread_*, posix_*). */
#define CKE(name, expr) do { int _e = (expr); \
    printf("%s: %s\n", name, _e ? errname(_e) : "0"); fflush(stdout); } while (0)
/* A fact about the results: yes or no. */
#define FACT(name, cond) do { printf("%s: %s\n", name, (cond) ? "yes" : "no"); fflush(stdout); } while (0)
/* A string result. */
#define STR(name, s) do { printf("%s: %s\n", name, s); fflush(stdout); } while (0)

static char scratch[4096];
static char pbuf[8][4096];
static int pnext;
/* A path in the scratch directory (a few may be live at once). */
__attribute__((unused)) static const char *P(const char *rel) {
    char *b = pbuf[pnext++ % 8];
    snprintf(b, 4096, "%s/%s", scratch, rel);
    return b;
}
/* Writes `content` to scratch/rel, creating it with `mode`. */
__attribute__((unused)) static void put(const char *rel, const char *content, mode_t mode) {
    int fd = open(P(rel), O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) { printf("setup %s: %s\n", rel, errname(errno)); exit(99); }
    if (content && write(fd, content, strlen(content)) < 0) exit(99);
    close(fd);
}
/* Every program starts with this: the scratch directory as argv[1], and stdout unbuffered
 * enough that a crash loses no line. */
static void setup(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s SCRATCH\n", argv[0]); exit(2); }
    snprintf(scratch, sizeof scratch, "%s", argv[1]);
    setvbuf(stdout, NULL, _IOLBF, 0);
}
