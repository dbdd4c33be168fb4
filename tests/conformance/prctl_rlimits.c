#include "conf.h"
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>

int main(int argc, char **argv) {
    setup(argc, argv);
    char name[32] = {0};
    CK("PR_SET_NAME", prctl(PR_SET_NAME, "conf-name"));
    CK("PR_GET_NAME", prctl(PR_GET_NAME, name));
    STR("name", name);
    CK("PR_SET_NAME long", prctl(PR_SET_NAME, "a-name-longer-than-sixteen"));
    prctl(PR_GET_NAME, name);
    STR("truncated name", name);
    int fd = open("/proc/self/comm", O_RDONLY);
    memset(name, 0, sizeof name);
    CK("read comm", fd >= 0 ? read(fd, name, sizeof name) : -1);
    STR("comm", strtok(name, "\n"));
    CK("PR_SET_PDEATHSIG", prctl(PR_SET_PDEATHSIG, SIGUSR1));
    int sig = 0;
    CK("PR_GET_PDEATHSIG", prctl(PR_GET_PDEATHSIG, &sig)); CK("pdeathsig", sig);
    CK("PR_SET_PDEATHSIG bad", prctl(PR_SET_PDEATHSIG, 999));
    CK("PR_GET_DUMPABLE", prctl(PR_GET_DUMPABLE));
    CK("PR_SET_DUMPABLE bad", prctl(PR_SET_DUMPABLE, 7));
    CK("PR_GET_NO_NEW_PRIVS set", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) >= 0);
    CK("PR_SET_NO_NEW_PRIVS", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    CK("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    CK("PR_SET_CHILD_SUBREAPER", prctl(PR_SET_CHILD_SUBREAPER, 1));
    int sr = 0; prctl(PR_GET_CHILD_SUBREAPER, &sr); CK("subreaper", sr);
    CK("PR_GET_TIMERSLACK positive", prctl(PR_GET_TIMERSLACK) > 0);
    CK("prctl unknown", prctl(0x7fff1234, 0, 0, 0, 0));
    struct rlimit rl, orig;
    CK("getrlimit NOFILE", getrlimit(RLIMIT_NOFILE, &orig));
    rl = orig; rl.rlim_cur = 64;
    CK("setrlimit lower soft", setrlimit(RLIMIT_NOFILE, &rl));
    getrlimit(RLIMIT_NOFILE, &rl); CK("soft now", rl.rlim_cur);
    CK("dup beyond soft", dup2(0, 100));
    CK("open beyond soft", ({ int n = 0, last = 0; while ((last = dup(0)) >= 0) n++; (long)(last < 0 ? -1 : 0); }));
    rl.rlim_cur = rl.rlim_max + 1;
    if (rl.rlim_max != RLIM_INFINITY) CK("soft above hard", setrlimit(RLIMIT_NOFILE, &rl)); else STR("soft above hard", "EINVAL");
    CK("getrlimit bad", getrlimit(9999, &rl));
    struct rlimit core = { 0, 0 };
    CK("prlimit set core", prlimit(0, RLIMIT_CORE, &core, &rl));
    CK("prlimit get core", prlimit(0, RLIMIT_CORE, NULL, &rl));
    CK("core soft", rl.rlim_cur); CK("core hard", rl.rlim_max);
    struct rlimit up = { 1, 1 };
    CK("raise hard unprivileged or root", prlimit(0, RLIMIT_CORE, &up, NULL) == 0 ? (long)(getuid() == 0) : -1);
    CK("prlimit missing pid", prlimit(99999, RLIMIT_CORE, NULL, &rl));
    struct rlimit stack;
    CK("getrlimit STACK", getrlimit(RLIMIT_STACK, &stack));
    struct rusage ru;
    CK("getrusage self", getrusage(RUSAGE_SELF, &ru));
    CK("getrusage bad", getrusage(99, &ru));
    return 0;
}
