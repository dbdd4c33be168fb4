#include "conf.h"
#include <signal.h>
#include <time.h>

static volatile int got;
static void h(int s) { got = s; }
static volatile int on_alt;
static char altstack[65536];
static void alth(int s) { (void)s; char x; on_alt = (&x >= altstack && &x < altstack + sizeof altstack); }

int main(int argc, char **argv) {
    setup(argc, argv);
    struct sigaction sa = { .sa_handler = h }, old;
    CK("sigaction", sigaction(SIGUSR1, &sa, &old));
    FACT("old default", old.sa_handler == SIG_DFL);
    CK("sigaction SIGKILL", sigaction(SIGKILL, &sa, NULL));
    CK("sigaction SIGSTOP", sigaction(SIGSTOP, &sa, NULL));
    CK("sigaction bad signo", sigaction(0, &sa, NULL));
    CK("sigaction 65", syscall(SYS_rt_sigaction, 65, NULL, NULL, 8));
    CK("rt_sigaction bad size", syscall(SYS_rt_sigaction, SIGUSR1, NULL, NULL, 4));
    CK("kill self", kill(getpid(), SIGUSR1));
    CK("handler ran", got);
    CK("kill sig 0", kill(getpid(), 0));
    CK("kill bad sig", kill(getpid(), 999));
    CK("kill missing pid", kill(99999, SIGUSR1));
    CK("kill pgrp self 0", kill(0, 0));
    CK("tgkill self", syscall(SYS_tgkill, getpid(), gettid(), 0));
    CK("tgkill wrong tgid", syscall(SYS_tgkill, 99999, gettid(), 0));
    CK("tkill bad", syscall(SYS_tkill, -1, 0));
    sigset_t m, o; sigemptyset(&m); sigaddset(&m, SIGUSR2);
    CK("sigprocmask block", sigprocmask(SIG_BLOCK, &m, &o));
    CK("sigprocmask bad how", sigprocmask(99, &m, NULL));
    CK("rt_sigprocmask bad size", syscall(SYS_rt_sigprocmask, SIG_BLOCK, &m, NULL, 4));
    raise(SIGUSR2);
    sigset_t pend; sigpending(&pend);
    FACT("pending", sigismember(&pend, SIGUSR2));
    siginfo_t si;
    CK("sigtimedwait pending", sigtimedwait(&m, &si, &(struct timespec){ 0, 0 }));
    FACT("siginfo from self", si.si_pid == getpid());
    CK("sigtimedwait timeout", sigtimedwait(&m, &si, &(struct timespec){ 0, 1000000 }));
    CK("sigtimedwait zero", sigtimedwait(&m, &si, &(struct timespec){ 0, 0 }));
    CK("sigtimedwait bad ts", sigtimedwait(&m, &si, &(struct timespec){ 0, -1 }));
    sigset_t kill_stop; sigemptyset(&kill_stop); sigaddset(&kill_stop, SIGKILL);
    CK("block SIGKILL silently", sigprocmask(SIG_BLOCK, &kill_stop, NULL));
    sigset_t now; sigprocmask(SIG_SETMASK, NULL, &now);
    FACT("SIGKILL not blocked", !sigismember(&now, SIGKILL));
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack }, os;
    CK("sigaltstack", sigaltstack(&ss, &os));
    FACT("old altstack disabled", os.ss_flags == SS_DISABLE);
    stack_t tiny = { .ss_sp = altstack, .ss_size = 100 };
    CK("sigaltstack too small", sigaltstack(&tiny, NULL));
    stack_t badf = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0x7 };
    CK("sigaltstack bad flags", sigaltstack(&badf, NULL));
    struct sigaction as = { .sa_handler = alth, .sa_flags = SA_ONSTACK };
    sigaction(SIGURG, &as, NULL);
    raise(SIGURG);
    FACT("handler on altstack", on_alt);
    struct sigaction ign = { .sa_handler = SIG_IGN };
    sigaction(SIGUSR1, &ign, NULL);
    got = 0; raise(SIGUSR1);
    CK("ignored not delivered", got);
    struct sigaction rh = { .sa_handler = h, .sa_flags = SA_RESETHAND };
    sigaction(SIGUSR1, &rh, NULL);
    raise(SIGUSR1);
    sigaction(SIGUSR1, NULL, &old);
    FACT("resethand reset", old.sa_handler == SIG_DFL);
    struct sigaction ch = { .sa_handler = h };
    sigaction(SIGCHLD, &ch, NULL);
    got = 0;
    pid_t c = fork();
    if (c == 0) _exit(3);
    siginfo_t wi = {0};
    CK("waitid", waitid(P_PID, c, &wi, WEXITED));
    CK("waitid code", wi.si_code);
    CK("waitid status", wi.si_status);
    FACT("waitid pid", wi.si_pid == c);
    CK("SIGCHLD handled", got);
    CK("waitid none left", waitid(P_ALL, 0, &wi, WEXITED));
    CK("waitid bad options", waitid(P_ALL, 0, &wi, 0));
    CK("waitid bad idtype", waitid(99, 0, &wi, WEXITED));
    CK("pause-free sigsuspend check", 0);
    return 0;
}
