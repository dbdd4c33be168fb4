/* A job for job-control tests: says it runs, says when it is continued, and otherwise
 * waits for signals with their default actions (SIGTERM, SIGINT end it, SIGTSTP stops it).
 * Usage: job_probe NAME */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *name;

static void said(const char *what) {
    char line[128];
    int n = snprintf(line, sizeof line, "%s %s\n", name, what);
    if (n > 0) write(1, line, (size_t)n);
}

static void on_cont(int sig) { (void)sig; said("continued"); }

int main(int argc, char **argv) {
    name = argc > 1 ? argv[1] : "job";
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_cont;
    sigaction(SIGCONT, &sa, NULL);
    said("running");
    for (;;) pause();
}
