/* Escape attempt: change the metadata of a file granted read only, through an fd number that
 * another thread keeps switching (dup2) between it and a writable file. A host that checked
 * the file behind the number and then let the kernel act on the number would sometimes change
 * the read-only one. Modes: fchmod (to 0606), futimens (times to the epoch), fchown (to the
 * same owner: only the success counts). Prints whether the read-only file changed.
 * Usage: fd_race MODE WRITABLE READONLY
 * Mode openat: fd_race openat DEEP_DIR GRANT_DIR RELATIVE FORBIDDEN_INODE — the number
 * switches between two granted directories and openat(100, RELATIVE, O_PATH) climbs out of
 * the grant from the shallower one; prints whether an fd ever named the forbidden inode.
 * Mode exec: fd_race exec GOOD SELF — the number switches between an fd of GOOD (an allowed
 * program) and a memfd holding a copy of SELF (this program), while execveat(100, "",
 * {"payload"}, AT_EMPTY_PATH) is tried 3000 times; if the memfd ever ran, it would print
 * "PAYLOAD RAN" and exit 3. Under a policy every memfd is non-executable. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile int stop;
static int writable, readonly;

static void *flipper(void *arg) {
    (void)arg;
    while (!stop) {
        dup2(writable, 100);
        for (volatile int i = 0; i < 100; i++) {}
        dup2(readonly, 100);
        for (volatile int i = 0; i < 100; i++) {}
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (strcmp(argv[0], "payload") == 0) {
        puts("PAYLOAD RAN");
        return 3;
    }
    if (argc < 4) return 2;
    const char *mode = argv[1];
    if (!strcmp(mode, "exec")) {
        writable = open(argv[2], O_RDONLY);
        int self = open(argv[3], O_RDONLY);
        readonly = memfd_create("payload", 0);
        if (writable < 0 || self < 0 || readonly < 0) {
            perror("set-up");
            return 2;
        }
        char buf[65536];
        ssize_t n;
        while ((n = read(self, buf, sizeof buf)) > 0) {
            if (write(readonly, buf, (size_t)n) != n) return 2;
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
    if (!strcmp(mode, "openat") && argc > 5) {
        writable = open(argv[2], O_RDONLY | O_DIRECTORY);
        readonly = open(argv[3], O_RDONLY | O_DIRECTORY);
        unsigned long forbidden = strtoul(argv[5], NULL, 10);
        pthread_t t;
        pthread_create(&t, NULL, flipper, NULL);
        int opened = 0, leaked = 0;
        for (int i = 0; i < 3000; i++) {
            int fd = openat(100, argv[4], O_PATH);
            if (fd < 0) continue;
            opened++;
            struct stat st;
            if (fstat(fd, &st) == 0 && st.st_ino == forbidden) leaked++;
            close(fd);
        }
        stop = 1;
        pthread_join(t, NULL);
        printf("openat: %s\n", leaked ? "reached the forbidden file" : "never reached the forbidden file");
        return 0;
    }
    writable = open(argv[2], O_RDONLY);
    readonly = open(argv[3], O_RDONLY);
    if (writable < 0 || readonly < 0) {
        perror("open");
        return 2;
    }
    struct stat before;
    fstat(readonly, &before);
    pthread_t t;
    pthread_create(&t, NULL, flipper, NULL);
    int succeeded = 0;
    for (int i = 0; i < 3000; i++) {
        int rc;
        if (!strcmp(mode, "futimens")) {
            struct timespec epoch[2] = {{0, 0}, {0, 0}};
            rc = futimens(100, epoch);
        } else {
            rc = fchmod(100, 0606);
        }
        if (rc == 0) succeeded++;
    }
    stop = 1;
    pthread_join(t, NULL);
    struct stat after;
    fstat(readonly, &after);
    int changed = (after.st_mode & 0777) != (before.st_mode & 0777) || after.st_mtime != before.st_mtime;
    printf("%s: %s\n", mode, changed ? "the read-only file changed" : "the read-only file is unchanged");
    return succeeded > 0 ? 0 : 1;
}
