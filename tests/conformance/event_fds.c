#include "conf.h"
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/epoll.h>

int main(int argc, char **argv) {
    setup(argc, argv);
    uint64_t v = 0;
    int e = eventfd(3, EFD_NONBLOCK);
    OK("eventfd", e);
    CK("eventfd bad flag", eventfd(0, 0x10));
    CK("eventfd read", read(e, &v, 8)); CK("eventfd value", (long)v);
    CK("eventfd read empty", read(e, &v, 8));
    CK("eventfd short read", read(e, &v, 4));
    v = 5; CK("eventfd write", write(e, &v, 8));
    v = UINT64_MAX; CK("eventfd write max", write(e, &v, 8));
    int s = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    CK("semaphore read", read(s, &v, 8)); CK("semaphore value", (long)v);
    int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    OK("timerfd", t);
    CK("timerfd bad clock", timerfd_create(12345, 0));
    CK("timerfd bad flag", timerfd_create(CLOCK_MONOTONIC, 0x1));
    struct itimerspec its = { { 0, 0 }, { 0, 1 } }, old;
    CK("timerfd_settime", timerfd_settime(t, 0, &its, NULL));
    struct itimerspec bad = { { 0, 0 }, { 0, 2000000000 } };
    CK("timerfd_settime bad nsec", timerfd_settime(t, 0, &bad, NULL));
    CK("timerfd_settime bad flag", timerfd_settime(t, 0x100, &its, NULL));
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 7 };
    epoll_ctl(ep, EPOLL_CTL_ADD, t, &ev);
    struct epoll_event out;
    CK("wait for timer", epoll_wait(ep, &out, 1, -1));
    CK("timerfd read", read(t, &v, 8)); FACT("expirations >= 1", v >= 1);
    CK("timerfd read again", read(t, &v, 8));
    CK("timerfd_gettime", timerfd_gettime(t, &old));
    FACT("disarmed", old.it_value.tv_sec == 0 && old.it_value.tv_nsec == 0);
    CK("timerfd_gettime bad fd", timerfd_gettime(e, &old));
    sigset_t m; sigemptyset(&m); sigaddset(&m, SIGUSR1);
    sigprocmask(SIG_BLOCK, &m, NULL);
    int sf = signalfd(-1, &m, SFD_NONBLOCK);
    OK("signalfd", sf);
    struct signalfd_siginfo si;
    CK("signalfd read empty", read(sf, &si, sizeof si));
    raise(SIGUSR1);
    CK("signalfd read", read(sf, &si, sizeof si));
    CK("signalfd signo", si.ssi_signo);
    FACT("signalfd pid is self", si.ssi_pid == (uint32_t)getpid());
    CK("signalfd small read", read(sf, &si, 8));
    CK("signalfd bad size", syscall(SYS_signalfd4, -1, &m, 4, 0));
    CK("signalfd bad flag", syscall(SYS_signalfd4, -1, &m, 8, 0x1));
    CK("signalfd on eventfd", signalfd(e, &m, 0));
    return 0;
}
