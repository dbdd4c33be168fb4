/* inotify_add_watch on PATH: prints whether the watch was set; if it was, prints "watching",
 * then the name of the first file created in PATH (someone else creates it) or "no event"
 * after 20 s.
 *
 *   inotify_watch PATH */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    int fd = inotify_init1(IN_CLOEXEC);
    if (fd < 0) {
        printf("inotify_init1: %s\n", strerrorname_np(errno));
        return 1;
    }
    if (inotify_add_watch(fd, argv[1], IN_CREATE) < 0) {
        printf("watch %s: %s\n", argv[1], strerrorname_np(errno));
        return 0;
    }
    printf("watching\n");
    struct pollfd ready = {.fd = fd, .events = POLLIN};
    if (poll(&ready, 1, 20000) != 1) {
        printf("no event\n");
        return 1;
    }
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < (ssize_t)sizeof(struct inotify_event)) {
        printf("read: %s\n", strerrorname_np(errno));
        return 1;
    }
    struct inotify_event *event = (struct inotify_event *)buf;
    printf("created: %s\n", event->len ? event->name : "?");
    return 0;
}
