#include "conf.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>

int main(int argc, char **argv) {
    setup(argc, argv);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    OK("epoll_create1", ep);
    CK("epoll_create1 bad flag", epoll_create1(0x1));
    CK("epoll_create zero", epoll_create(0));
    OK("epoll_create one", epoll_create(1));
    int p[2]; pipe(p);
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 42 }, out[4];
    CK("add", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    CK("add again", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    CK("mod missing", epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev));
    CK("del missing", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], &ev));
    CK("add self", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
    CK("add bad fd", epoll_ctl(ep, EPOLL_CTL_ADD, 9999, &ev));
    CK("ctl on non epoll", epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev));
    CK("bad op", epoll_ctl(ep, 99, p[0], &ev));
    put("f", "x", 0644);
    CK("add regular file", epoll_ctl(ep, EPOLL_CTL_ADD, open(P("f"), O_RDONLY), &ev));
    CK("wait nothing", epoll_wait(ep, out, 4, 0));
    write(p[1], "x", 1);
    CK("wait ready", epoll_wait(ep, out, 4, 0));
    CK("ready data", (long)out[0].data.u64);
    printf("ready events: %x\n", out[0].events);
    CK("wait zero maxevents", epoll_wait(ep, out, 0, 0));
    CK("wait on non epoll", epoll_wait(p[0], out, 4, 0));
    ev.events = EPOLLIN | EPOLLET;
    CK("mod edge", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    CK("edge first", epoll_wait(ep, out, 4, 0));
    CK("edge second", epoll_wait(ep, out, 4, 0));
    ev.events = EPOLLIN | EPOLLONESHOT;
    CK("mod oneshot", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    CK("oneshot first", epoll_wait(ep, out, 4, 0));
    CK("oneshot second", epoll_wait(ep, out, 4, 0));
    CK("del", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
    CK("wait after del", epoll_wait(ep, out, 4, 0));
    int e = eventfd(1, 0);
    ev.events = EPOLLOUT; ev.data.u64 = 9;
    epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev);
    CK("epoll_pwait", epoll_pwait(ep, out, 4, 0, NULL));
    CK("epoll_pwait2", syscall(SYS_epoll_pwait2, ep, out, 4, &(struct timespec){ 0, 0 }, NULL, 8));
    CK("epoll_pwait2 bad timeout", syscall(SYS_epoll_pwait2, ep, out, 4, &(struct timespec){ 0, -1 }, NULL, 8));
    return 0;
}
