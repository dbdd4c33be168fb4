#include "conf.h"
#include <time.h>
#include <signal.h>
#include <sys/resource.h>

int main(int argc, char **argv) {
    setup(argc, argv);
    put("f", "0123456789", 0644);
    mkdir(P("d"), 0755);
    put("ro", "abc", 0444);
    struct stat st;
    CK("truncate shrink", truncate(P("f"), 4));
    stat(P("f"), &st); CK("size", st.st_size);
    CK("truncate grow", truncate(P("f"), 100));
    stat(P("f"), &st); CK("size grown", st.st_size);
    CK("truncate negative", truncate(P("f"), -1));
    CK("truncate dir", truncate(P("d"), 0));
    CK("truncate missing", truncate(P("nope"), 0));
    CK("truncate enotdir", truncate(P("f/x"), 0));
    int fd = open(P("f"), O_RDWR);
    CK("ftruncate", ftruncate(fd, 7));
    fstat(fd, &st); CK("fsize", st.st_size);
    CK("ftruncate negative", ftruncate(fd, -5));
    int rfd = open(P("f"), O_RDONLY);
    CK("ftruncate rdonly", ftruncate(rfd, 1));
    int dfd = open(P("d"), O_RDONLY);
    CK("ftruncate dir", ftruncate(dfd, 0));
    CK("ftruncate bad fd", ftruncate(9999, 0));
    int sfd = open(scratch, O_RDONLY | O_DIRECTORY);
    struct timespec ts[2] = { { 1000000, 0 }, { 2000000, 500 } };
    CK("utimensat", utimensat(sfd, "f", ts, 0));
    stat(P("f"), &st);
    CK("atime", st.st_atim.tv_sec);
    CK("mtime", st.st_mtim.tv_sec);
    CK("mtime nsec", st.st_mtim.tv_nsec);
    struct timespec omit[2] = { { 0, UTIME_OMIT }, { 3000000, 0 } };
    CK("utimensat omit atime", utimensat(sfd, "f", omit, 0));
    stat(P("f"), &st);
    CK("atime kept", st.st_atim.tv_sec);
    CK("mtime set", st.st_mtim.tv_sec);
    struct timespec now[2] = { { 0, UTIME_NOW }, { 0, UTIME_OMIT } };
    CK("utimensat now", utimensat(sfd, "f", now, 0));
    stat(P("f"), &st);
    FACT("atime is recent", st.st_atim.tv_sec > 1600000000);
    CK("mtime still", st.st_mtim.tv_sec);
    CK("utimensat null times", utimensat(sfd, "f", NULL, 0));
    stat(P("f"), &st);
    FACT("mtime is recent", st.st_mtim.tv_sec > 1600000000);
    CK("utimensat null path fd", syscall(SYS_utimensat, fd, NULL, ts, 0));
    fstat(fd, &st);
    CK("null path mtime", st.st_mtim.tv_sec);
    CK("futimens", futimens(fd, ts));
    struct timespec bad[2] = { { 0, 1000000000 }, { 0, 0 } };
    CK("utimensat bad nsec", utimensat(sfd, "f", bad, 0));
    CK("utimensat missing", utimensat(sfd, "nope", ts, 0));
    CK("utimensat bad flag", utimensat(sfd, "f", ts, 0x1));
    symlink("f", P("l"));
    CK("utimensat nofollow", utimensat(sfd, "l", ts, AT_SYMLINK_NOFOLLOW));
    CK("utimensat bad dirfd", utimensat(9999, "f", ts, 0));
    CK("futimens bad fd", futimens(9999, ts));
    /* A NULL path: the kernel reads it (EFAULT), unless utimensat acts on a real dirfd. */
    struct timespec two[2] = {{1000, 0}, {2000, 0}};
    CK("utimes null path", syscall(SYS_utimes, NULL, two));
    /* Microseconds outside a second are EINVAL, before any conversion: this many would
     * become 384 ns if multiplied by 1000 in 64 bits. */
    struct timeval usec_over[2] = { { 0, 0 }, { 5, 1000000 } };
    struct timeval usec_negative[2] = { { 0, -1 }, { 5, 0 } };
    struct timeval usec_wraps[2] = { { 0, 0 }, { 5, 18446744073709552L } };
    CK("utimes usec 1000000", syscall(SYS_utimes, P("f"), usec_over));
    CK("utimes usec -1", syscall(SYS_utimes, P("f"), usec_negative));
    CK("utimes usec that wraps as ns", syscall(SYS_utimes, P("f"), usec_wraps));
    stat(P("f"), &st);
    FACT("mtime not 5 after refused utimes", st.st_mtim.tv_sec != 5);
    struct timeval usec_ok[2] = { { 7, 999999 }, { 8, 1 } };
    CK("utimes usec in range", syscall(SYS_utimes, P("f"), usec_ok));
    stat(P("f"), &st);
    CK("utimes mtime ns", st.st_mtim.tv_nsec);
    CK("utimensat cwd null path", syscall(SYS_utimensat, AT_FDCWD, NULL, two, 0));
    CK("utimensat bad fd null path", syscall(SYS_utimensat, 9999, NULL, two, 0));
    /* Both times omitted: nothing to do, and the kernel looks at neither the path nor the
     * flags; a bad times pointer is EFAULT before either. */
    struct timespec both_omitted[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    CK("utimensat omit both, missing path", utimensat(sfd, "nope", both_omitted, 0));
    CK("utimensat omit both, bad flag", utimensat(sfd, "f", both_omitted, 0x1));
    CK("utimensat omit both, outside", utimensat(AT_FDCWD, "/etc/passwd", both_omitted, 0));
    CK("utimensat bad times, missing path", syscall(SYS_utimensat, sfd, "nope", (void *)16, 0));
    /* RLIMIT_FSIZE binds truncate(path) as it binds ftruncate: growing past it is EFBIG with a
     * SIGXFSZ (ignored here), shrinking and growing up to it are not. */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit fsize = { 200, 200 };
    setrlimit(RLIMIT_FSIZE, &fsize);
    CK("truncate past RLIMIT_FSIZE", truncate(P("f"), 1000));
    CK("ftruncate past RLIMIT_FSIZE", ftruncate(fd, 1000));
    CK("truncate up to RLIMIT_FSIZE", truncate(P("f"), 200));
    CK("truncate shrink under RLIMIT_FSIZE", truncate(P("f"), 150));
    stat(P("f"), &st); CK("size after", st.st_size);
    /* Not ignored, SIGXFSZ ends the process (after the call, which fails). */
    pid_t child = fork();
    if (child == 0) {
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        signal(SIGXFSZ, SIG_DFL);
        truncate(P("f"), 5000);
        _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    CK("killed by SIGXFSZ", WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ);
    return 0;
}
