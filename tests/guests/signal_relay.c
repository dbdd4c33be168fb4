/* Catches SIGTERM and SIGUSR1 twice (printing each), then takes SIGTERM's default: the guest
 * of the signal-relay test, which sends those signals to trapbox itself. The two signals stay
 * blocked but while it waits (sigsuspend), so one that arrives between "ready" and the wait
 * is not lost to a handler that ran before it (pause() would then wait for ever). */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static volatile sig_atomic_t got;
static void on(int s) { got = s; }
int main(void) {
    sigset_t both, none;
    sigemptyset(&both);
    sigaddset(&both, SIGTERM);
    sigaddset(&both, SIGUSR1);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &both, NULL);
    signal(SIGTERM, on); signal(SIGUSR1, on);
    printf("ready\n"); fflush(stdout);
    for (int i = 0; i < 2; i++) { got = 0; while (!got) sigsuspend(&none); printf("got %d\n", got); fflush(stdout); }
    signal(SIGTERM, SIG_DFL);
    sigsuspend(&none);
    return 0;
}
