/* Escape attempt against the broker: one thread flips a path buffer between a file the guest
 * may use (argv[1]) and one it may not (argv[2]) while another thread keeps chmod'ing (or, with
 * argv[4] = "stat", stat'ing) whatever the buffer names. A host that checked the path and then
 * let the kernel re-read it would sooner or later change argv[2]'s mode (or report its size). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[512];
static volatile int stop;
static const char *allowed, *forbidden;

static void *flipper(void *arg) {
    (void)arg;
    while (!stop) {
        strcpy(path, allowed);
        strcpy(path, forbidden);
    }
    return NULL;
}

int main(int argc, char **argv) {
    allowed = argv[1];
    forbidden = argv[2];
    int rounds = argc > 3 ? atoi(argv[3]) : 3000;
    strcpy(path, allowed);
    pthread_t t;
    pthread_create(&t, NULL, flipper, NULL);
    int stat_mode = argc > 4 && !strcmp(argv[4], "stat");
    struct stat forbidden_st;
    stat(forbidden, &forbidden_st); /* refused under the policy: stays zeroed */
    int changed = 0, leaked = 0;
    for (int i = 0; i < rounds; i++) {
        if (!stat_mode) {
            changed += chmod(path, 0600) == 0;
            continue;
        }
        struct stat st;
        if (stat(path, &st) == 0) {
            changed++;
            leaked += st.st_size == 7777;
        }
    }
    stop = 1;
    pthread_join(t, NULL);
    if (stat_mode) printf("stat succeeded %s, leaked %d\n", changed ? "sometimes" : "never", leaked);
    else printf("chmod succeeded %d times\n", changed);
    return 0;
}
