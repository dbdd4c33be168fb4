/* The guest's SIGILL disposition and mask stay its own across system calls: a trap's fault
 * (ud2) must not make an ignored SIGILL the default or unblock a blocked one. Calls are made
 * through libc's syscall() (a site whose number the rewriter cannot know stays a trap) and
 * ordinary wrappers; the state is printed after each. A genuine ud2 (no trap site) still
 * raises SIGILL as natively: to a handler, and fatally when ignored or blocked. */
#include "conf.h"
#include <pthread.h>
#include <signal.h>

static const char *state(void) {
    static char out[64];
    struct sigaction sa;
    sigset_t m;
    sigaction(SIGILL, NULL, &sa);
    pthread_sigmask(SIG_BLOCK, NULL, &m);
    snprintf(out, sizeof out, "%s %s",
             sa.sa_handler == SIG_IGN ? "ignored" : sa.sa_handler == SIG_DFL ? "default" : "handler",
             sigismember(&m, SIGILL) ? "blocked" : "unblocked");
    return out;
}
/* A few calls, each through a different route, then the state. */
static void calls(const char *name) {
    char line[128];
    syscall(SYS_getppid);
    snprintf(line, sizeof line, "%s after syscall()", name);
    STR(line, state());
    getuid();
    close(-1);
    snprintf(line, sizeof line, "%s after wrappers", name);
    STR(line, state());
}
static volatile sig_atomic_t got;
static void on_ill(int s) { (void)s; got = 1; }
static char in_handler[64];
static void on_usr1(int s) {
    (void)s;
    syscall(SYS_getppid);
    snprintf(in_handler, sizeof in_handler, "%s", state());
}
static void *thread_body(void *arg) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGILL);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    calls("thread");
    return arg;
}
static void ud2_child(const char *name, void (*handler)(int), int block) {
    pid_t c = fork();
    if (c == 0) {
        signal(SIGILL, handler); /* (a handler leaves: returning would run the ud2 again) */
        if (block) {
            sigset_t s;
            sigemptyset(&s);
            sigaddset(&s, SIGILL);
            sigprocmask(SIG_BLOCK, &s, NULL);
        }
        asm volatile("ud2");
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    char v[32];
    if (WIFSIGNALED(st)) snprintf(v, sizeof v, "signal %d", WTERMSIG(st));
    else snprintf(v, sizeof v, "exit %d", WEXITSTATUS(st));
    STR(name, v);
}
static void leave(int s) { (void)s; _exit(3); }

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[2], "exec") == 0) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        STR("after exec", state());
        calls("exec'ed");
        return 0;
    }
    setup(argc, argv);
    STR("start", state());
    calls("default");
    signal(SIGILL, SIG_IGN);
    calls("ignored");
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGILL);
    sigprocmask(SIG_BLOCK, &s, NULL);
    calls("ignored and blocked");
    signal(SIGILL, SIG_DFL);
    calls("blocked");
    signal(SIGILL, on_ill);
    calls("handler blocked");
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    calls("handler");
    /* A handler whose sa_mask holds SIGILL: blocked while it runs, not after. */
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGILL);
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    STR("in a handler masking it", in_handler);
    calls("after that handler");
    /* The mask is per thread. */
    pthread_t t;
    pthread_create(&t, NULL, thread_body, NULL);
    pthread_join(t, NULL);
    STR("main thread after the thread", state());
    /* A fork keeps both. */
    signal(SIGILL, SIG_IGN);
    sigprocmask(SIG_BLOCK, &s, NULL);
    pid_t c = fork();
    if (c == 0) {
        calls("fork child");
        _exit(0);
    }
    waitpid(c, NULL, 0);
    calls("parent after fork");
    /* Exec keeps an ignore and the mask. */
    c = fork();
    if (c == 0) {
        execl(argv[0], argv[0], argv[1], "exec", (char *)NULL);
        _exit(127);
    }
    waitpid(c, NULL, 0);
    signal(SIGILL, SIG_DFL);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    /* Genuine ud2. */
    ud2_child("ud2 with a handler", leave, 0);
    ud2_child("ud2 ignored", SIG_IGN, 0);
    ud2_child("ud2 blocked", SIG_DFL, 1);
    ud2_child("ud2 default", SIG_DFL, 0);
    return 0;
}
