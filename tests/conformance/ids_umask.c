#include "conf.h"
#include <grp.h>
#include <sys/fsuid.h>
#include <sys/personality.h>

int main(int argc, char **argv) {
    setup(argc, argv);
    uid_t r, e, s; gid_t gr, ge, gs;
    CK("getresuid", getresuid(&r, &e, &s));
    FACT("ruid==euid==suid", r == e && e == s);
    FACT("getuid matches", getuid() == r && geteuid() == e);
    CK("getresgid", getresgid(&gr, &ge, &gs));
    FACT("rgid==egid==sgid", gr == ge && ge == gs);
    CK("setresuid unchanged", setresuid(-1, -1, -1));
    CK("setuid same", setuid(getuid()));
    CK("setgid same", setgid(getgid()));
    CK("setfsuid query", setfsuid(-1) == (int)getuid());
    int n = getgroups(0, NULL);
    FACT("getgroups count", n >= 0);
    gid_t g[1];
    CK("getgroups too small", n > 1 ? getgroups(1, g) : (errno = EINVAL, -1));
    CK("getgroups negative", getgroups(-1, g));
    CK("umask initial", umask(027));
    CK("umask set", umask(077));
    CK("umask wide", umask(0777 | 07000) );
    CK("umask masked", umask(022));
    CK("personality query", personality(0xffffffff) >= 0);
    CK("getpid positive", getpid() > 0);
    CK("getppid positive", getppid() > 0);
    CK("gettid is pid", gettid() == getpid());
    CK("setsid as leader or not", ({ pid_t c = fork(); int st = 0;
        if (c == 0) { _exit(setsid() > 0 ? 0 : 1); } waitpid(c, &st, 0); WEXITSTATUS(st); }));
    CK("setsid child getsid", ({ pid_t c = fork(); int st = 0;
        if (c == 0) { pid_t sid = setsid(); _exit(getsid(0) == sid ? 0 : 1); } waitpid(c, &st, 0); WEXITSTATUS(st); }));
    CK("setpgid self", setpgid(0, 0) == 0 || errno == EPERM);
    CK("setpgid bad pgid", setpgid(0, -1));
    return 0;
}
