/* Catches SIGTERM and SIGUSR1 twice (printing each), then takes SIGTERM's default: the guest
 * of the signal-relay test, which sends those signals to trapbox itself. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static volatile sig_atomic_t got;
static void on(int s) { got = s; }
int main(void) {
    signal(SIGTERM, on); signal(SIGUSR1, on);
    printf("ready\n"); fflush(stdout);
    for (int i = 0; i < 2; i++) { pause(); printf("got %d\n", got); fflush(stdout); }
    signal(SIGTERM, SIG_DFL);
    pause();
    return 0;
}
