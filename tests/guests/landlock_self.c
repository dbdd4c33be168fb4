/* A guest that restricts itself with its own Landlock ruleset: reads only beneath SCRATCH.
 *
 *   landlock_self SCRATCH OTHER   (OTHER: a readable file outside SCRATCH)
 *
 * Prints what each open gives: before restricting (a thread started then stays unrestricted,
 * as Landlock restricts only the calling thread), after it in the main thread, in a thread
 * and in a child process started afterwards (both inherit the domain). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *scratch, *other;
static char inside[4096];
static int go[2];

static void try_open(const char *who, const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%s: open %s: %s\n", who, path, strerrorname_np(errno));
        return;
    }
    char buf[64] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? strcspn(buf, "\n") : 0] = 0;
    printf("%s: open %s: ok \"%s\"\n", who, path, buf);
    close(fd);
}

static void all_three(const char *who) {
    try_open(who, "/dev/null");
    try_open(who, other);
    try_open(who, inside);
}

/* Started before the restriction; opens once the main thread has restricted itself. */
static void *earlier_thread(void *arg) {
    (void)arg;
    char byte;
    if (read(go[0], &byte, 1) != 1) return NULL;
    all_three("thread started before");
    return NULL;
}

static void *later_thread(void *arg) {
    (void)arg;
    all_three("thread started after");
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    scratch = argv[1];
    other = argv[2];
    snprintf(inside, sizeof inside, "%s/inside", scratch);
    setvbuf(stdout, NULL, _IONBF, 0);
    if (pipe(go) != 0) return 1;
    pthread_t earlier, later;
    pthread_create(&earlier, NULL, earlier_thread, NULL);
    all_three("before");

    struct landlock_ruleset_attr attr = {.handled_access_fs = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR};
    int ruleset = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0) {
        printf("landlock_create_ruleset: %s\n", strerrorname_np(errno));
        return 1;
    }
    struct landlock_path_beneath_attr beneath = {.allowed_access = attr.handled_access_fs, .parent_fd = open(scratch, O_PATH)};
    if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) != 0) {
        printf("landlock_add_rule: %s\n", strerrorname_np(errno));
        return 1;
    }
    close(beneath.parent_fd);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
        printf("landlock_restrict_self: %s\n", strerrorname_np(errno));
        return 1;
    }
    close(ruleset);
    all_three("after");

    if (write(go[1], "x", 1) != 1) return 1;
    pthread_join(earlier, NULL);
    pthread_create(&later, NULL, later_thread, NULL);
    pthread_join(later, NULL);
    pid_t child = fork();
    if (child == 0) {
        all_three("child forked after");
        _exit(0);
    }
    waitpid(child, NULL, 0);
    return 0;
}
