// A seccomp filter of the guest's own: it may only restrict the guest further.
//   seccomp_probe errno      seccomp(2): getppid fails with errno 99, in a child too
//   seccomp_probe prctl      the same filter through prctl(PR_SET_SECCOMP)
//   seccomp_probe trap       uname raises SIGSYS (si_syscall reported)
//   seccomp_probe kill       uname kills the process (SIGSYS)
//   seccomp_probe escape     filters that would hand calls to someone else (USER_NOTIF,
//                            TRACE, a computed verdict, a listener flag), then an open
//   seccomp_probe race N     N children: one thread flips a verdict between ERRNO and
//                            USER_NOTIF while another installs the filter
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#endif

static const char *errname(int e) { return e ? strerrorname_np(e) : "ok"; }

// [load nr; if nr == NR then RET verdict else RET ALLOW]
static struct sock_filter prog_for[4];
static struct sock_fprog filter_for(int nr, unsigned verdict) {
    struct sock_filter p[4] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, verdict),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    memcpy(prog_for, p, sizeof p);
    struct sock_fprog f = {.len = 4, .filter = prog_for};
    return f;
}

static int install(struct sock_fprog *f, unsigned flags) {
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, f) < 0 ? errno : 0;
}

static void report_getppid(const char *who) {
    errno = 0;
    long r = syscall(SYS_getppid);
    printf("%s getppid: %s\n", who, r < 0 ? (errno == 99 ? "errno 99" : errname(errno)) : "ok");
}

static volatile int sigsys_nr = -1;
static void on_sigsys(int sig, siginfo_t *info, void *ctx) {
    (void)sig, (void)ctx;
    sigsys_nr = info->si_syscall;
}

static struct sock_filter race_prog[4];
static volatile int racing = 1, flipping = 0;
// USER_NOTIF most of the time, the checked-looking ERRNO now and then.
static void *flip(void *arg) {
    (void)arg;
    while (racing) {
        *(volatile unsigned *)&race_prog[2].k = SECCOMP_RET_ERRNO | 98;
        for (volatile int i = 0; i < 300; i++) {}
        *(volatile unsigned *)&race_prog[2].k = SECCOMP_RET_USER_NOTIF;
        flipping = 1;
        for (volatile int i = 0; i < 3000; i++) {}
    }
    return NULL;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "errno") || !strcmp(mode, "prctl")) {
        struct sock_fprog f = filter_for(SYS_getppid, SECCOMP_RET_ERRNO | 99);
        int e = !strcmp(mode, "errno") ? install(&f, 0) : (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &f) < 0 ? errno : 0);
        printf("install: %s\n", errname(e));
        report_getppid("parent");
        pid_t child = fork();
        if (child == 0) {
            report_getppid("child");
            _exit(0);
        }
        waitpid(child, NULL, 0);
        printf("getuid: %s\n", syscall(SYS_getuid) < 0 ? errname(errno) : "ok");
    } else if (!strcmp(mode, "trap")) {
        struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
        sigaction(SIGSYS, &sa, NULL);
        struct sock_fprog f = filter_for(SYS_uname, SECCOMP_RET_TRAP);
        printf("install: %s\n", errname(install(&f, 0)));
        struct utsname u;
        syscall(SYS_uname, &u);
        printf("sigsys for %d\n", sigsys_nr);
    } else if (!strcmp(mode, "kill")) {
        struct sock_fprog f = filter_for(SYS_uname, SECCOMP_RET_KILL_PROCESS);
        printf("install: %s\n", errname(install(&f, 0)));
        struct utsname u;
        syscall(SYS_uname, &u);
        printf("still alive\n");
    } else if (!strcmp(mode, "escape")) {
        struct sock_fprog f = filter_for(SYS_openat, SECCOMP_RET_USER_NOTIF);
        printf("user notif: %s\n", errname(install(&f, 0)));
        f = filter_for(SYS_openat, SECCOMP_RET_TRACE);
        printf("trace: %s\n", errname(install(&f, 0)));
        struct sock_filter computed[] = {
            BPF_STMT(BPF_LD | BPF_IMM, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_RET | BPF_A, 0),
        };
        struct sock_fprog c = {.len = 2, .filter = computed};
        printf("computed verdict: %s\n", errname(install(&c, 0)));
        f = filter_for(SYS_getppid, SECCOMP_RET_ALLOW);
        printf("listener: %s\n", errname(install(&f, SECCOMP_FILTER_FLAG_NEW_LISTENER)));
        int fd = open(argc > 2 ? argv[2] : "/etc/shadow", O_RDONLY);
        printf("open after: %s\n", fd < 0 ? errname(errno) : "opened");
    } else if (!strcmp(mode, "race") && argc > 2) {
        int rounds = atoi(argv[2]), installed = 0, refused = 0, slipped = 0;
        for (int i = 0; i < rounds; i++) {
            pid_t child = fork();
            if (child == 0) {
                struct sock_filter p[4] = {
                    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
                    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 98),
                    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                };
                memcpy(race_prog, p, sizeof p);
                pthread_t t;
                pthread_create(&t, NULL, flip, NULL);
                while (!flipping) {}
                struct sock_fprog f = {.len = 4, .filter = race_prog};
                int e = install(&f, 0);
                racing = 0;
                pthread_join(t, NULL);
                if (e)
                    _exit(1); // refused: the host saw USER_NOTIF
                errno = 0;
                syscall(SYS_getppid);
                // ERRNO 98 is the filter that was checked; ENOSYS would be a USER_NOTIF
                // verdict with no listener: a filter the host never judged.
                _exit(errno == 98 ? 0 : 2);
            }
            int status = 0;
            waitpid(child, &status, 0);
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : 3;
            installed += code == 0, refused += code == 1, slipped += code > 1;
        }
        printf("race: slipped %d installed %d refused %d\n", slipped, installed, refused);
    } else {
        fprintf(stderr, "usage: seccomp_probe errno|prctl|trap|kill|escape|race N\n");
        return 2;
    }
    return 0;
}
