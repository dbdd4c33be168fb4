/* Many processes that each restrict themselves with a Landlock ruleset of their own (reads
 * only beneath SCRATCH), one after another or all alive at once; each then opens a file
 * inside SCRATCH (allowed), OTHER (a readable file outside it: EACCES) and /dev/null (EACCES).
 *
 *   landlock_many sequential N SCRATCH OTHER   N children, each exits before the next starts
 *   landlock_many concurrent N SCRATCH OTHER   N children restrict themselves, and only once
 *                                              all have do any of them open
 *   landlock_many swapped MOST SCRATCH OTHER   each child restricts itself through an fd that
 *                                              a thread of its own swaps between the ruleset
 *                                              and /dev/null meanwhile, then opens OTHER
 *
 * Prints how many children saw each outcome ("inside ok, other EACCES, /dev/null EACCES" is
 * the kernel's answer), and the first child that saw another one; in the swapped mode, how
 * many children got another answer than the kernel's restriction (or none) implies. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CHILDREN 512
/* A child's exit status: which opens succeeded, or that restricting failed. */
#define INSIDE_OK 1
#define OTHER_OK 2
#define DEV_NULL_OK 4
#define NOT_RESTRICTED 8

static const char *scratch, *other;
static char inside[4096];

/* A ruleset that allows reading beneath SCRATCH only, or -1. */
static int scratch_ruleset(void) {
    struct landlock_ruleset_attr attr = {.handled_access_fs = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR};
    int ruleset = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0) return -1;
    struct landlock_path_beneath_attr beneath = {.allowed_access = attr.handled_access_fs, .parent_fd = open(scratch, O_PATH)};
    int added = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &beneath, 0);
    close(beneath.parent_fd);
    if (added != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        close(ruleset);
        return -1;
    }
    return ruleset;
}

static int restrict_to_scratch(void) {
    int ruleset = scratch_ruleset();
    if (ruleset < 0) return -1;
    int restricted = syscall(SYS_landlock_restrict_self, ruleset, 0) == 0;
    close(ruleset);
    return restricted ? 0 : -1;
}

static int opens(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    close(fd);
    return 1;
}

static int the_three_opens(void) {
    return (opens(inside) ? INSIDE_OK : 0) | (opens(other) ? OTHER_OK : 0) | (opens("/dev/null") ? DEV_NULL_OK : 0);
}

static void describe(int outcome, char *text, size_t size) {
    if (outcome & NOT_RESTRICTED) {
        snprintf(text, size, "landlock_restrict_self failed");
        return;
    }
    snprintf(text, size, "inside %s, other %s, /dev/null %s", outcome & INSIDE_OK ? "ok" : "EACCES", outcome & OTHER_OK ? "ok" : "EACCES",
             outcome & DEV_NULL_OK ? "ok" : "EACCES");
}

static int outcome_of(pid_t child) {
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status)) return 255;
    return WEXITSTATUS(status);
}

/* The swapped mode: a thread puts the ruleset and /dev/null in turn behind fd SWAPPED. */
#define SWAPPED 200
static volatile int stop_swapping;
static int ruleset_fd, dev_null_fd;

static void *swapper(void *arg) {
    (void)arg;
    /* Each file stays about as long as a stop in the host takes, so that what the host sees
     * at the call's entry and what the kernel sees when it runs differ often. */
    while (!stop_swapping) {
        dup2(ruleset_fd, SWAPPED);
        for (volatile int spin = 0; spin < 3000; spin++) {}
        dup2(dev_null_fd, SWAPPED);
        for (volatile int spin = 0; spin < 3000; spin++) {}
    }
    return NULL;
}

/* One round: restricts itself through fd SWAPPED while the swapper runs, then opens OTHER.
 * Exits with 1 if the kernel took the call, plus 2 if OTHER was refused. */
static int swapped_round(int round) {
    ruleset_fd = scratch_ruleset();
    dev_null_fd = open("/dev/null", O_RDONLY);
    if (ruleset_fd < 0 || dev_null_fd < 0) return 255;
    dup2(ruleset_fd, SWAPPED);
    pthread_t thread;
    pthread_create(&thread, NULL, swapper, NULL);
    usleep(100 + (round % 7) * 50);
    int took = syscall(SYS_landlock_restrict_self, SWAPPED, 0) == 0;
    stop_swapping = 1;
    pthread_join(thread, NULL);
    return (took ? 1 : 0) | (opens(other) ? 0 : 2);
}

/* Rounds until each way the kernel can go (it took the ruleset, or met /dev/null) was seen
 * 100 times, or `most` rounds; a wrong answer is an open of OTHER refused by a process the
 * kernel left unrestricted, or allowed to one it restricted. */
static int swapped(int most) {
    int rounds = 0, took = 0, refused = 0, wrong = 0;
    while (rounds < most && (took < 100 || rounds - took < 100)) {
        pid_t child = fork();
        if (child == 0) _exit(swapped_round(rounds));
        int outcome = outcome_of(child);
        if (outcome == 255) return 1;
        rounds++;
        took += outcome & 1;
        wrong += (outcome & 1) != (outcome & 2) >> 1;
        refused += (outcome & 2) >> 1;
    }
    printf("wrong answers: %d\n", wrong);
    printf("race seen: %s\n", took >= 100 && rounds - took >= 100 ? "yes" : "no");
    fprintf(stderr, "%d rounds: the kernel took the ruleset in %d, the open was refused in %d\n", rounds, took, refused);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 5) return 2;
    const char *mode = argv[1];
    int n = atoi(argv[2]);
    scratch = argv[3];
    other = argv[4];
    snprintf(inside, sizeof inside, "%s/inside", scratch);
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(mode, "swapped")) return swapped(n);
    if (n < 1 || n > MAX_CHILDREN) return 2;
    int outcomes[MAX_CHILDREN];
    if (!strcmp(mode, "sequential")) {
        for (int i = 0; i < n; i++) {
            pid_t child = fork();
            if (child == 0) _exit(restrict_to_scratch() == 0 ? the_three_opens() : NOT_RESTRICTED);
            outcomes[i] = outcome_of(child);
        }
    } else if (!strcmp(mode, "concurrent")) {
        int ready[2], go[2];
        if (pipe(ready) != 0 || pipe(go) != 0) return 1;
        pid_t children[MAX_CHILDREN];
        for (int i = 0; i < n; i++) {
            children[i] = fork();
            if (children[i] == 0) {
                close(go[1]);
                int restricted = restrict_to_scratch() == 0;
                if (write(ready[1], "r", 1) != 1) _exit(255);
                char byte;
                if (read(go[0], &byte, 1) != 0) _exit(255); /* EOF: every child is restricted */
                _exit(restricted ? the_three_opens() : NOT_RESTRICTED);
            }
        }
        for (int i = 0; i < n; i++) {
            char byte;
            if (read(ready[0], &byte, 1) != 1) return 1;
        }
        close(go[1]);
        for (int i = 0; i < n; i++) outcomes[i] = outcome_of(children[i]);
    } else {
        return 2;
    }
    /* Each outcome seen, in order of first appearance, with its count and first child. */
    int seen[MAX_CHILDREN], count[MAX_CHILDREN], first[MAX_CHILDREN], kinds = 0;
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (k < kinds && seen[k] != outcomes[i]) k++;
        if (k == kinds) {
            seen[kinds] = outcomes[i];
            count[kinds] = 0;
            first[kinds++] = i;
        }
        count[k]++;
    }
    for (int k = 0; k < kinds; k++) {
        char text[128];
        describe(seen[k], text, sizeof text);
        printf("%s: %d of %d children (first: child %d)\n", text, count[k], n, first[k]);
    }
    return 0;
}
