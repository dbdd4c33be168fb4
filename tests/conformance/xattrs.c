#include "conf.h"
#include <sys/xattr.h>

int main(int argc, char **argv) {
    setup(argc, argv);
    put("f", "x", 0644);
    symlink("f", P("l"));
    char buf[256];
    CK("setxattr", setxattr(P("f"), "user.alpha", "one", 3, 0));
    CK("setxattr create exists", setxattr(P("f"), "user.alpha", "two", 3, XATTR_CREATE));
    CK("setxattr replace missing", setxattr(P("f"), "user.beta", "two", 3, XATTR_REPLACE));
    CK("setxattr replace", setxattr(P("f"), "user.alpha", "uno", 3, XATTR_REPLACE));
    CK("setxattr bad flags", setxattr(P("f"), "user.gamma", "x", 1, 0x10));
    CK("setxattr bad namespace", setxattr(P("f"), "bogus.x", "x", 1, 0));
    CK("setxattr missing file", setxattr(P("nope"), "user.x", "x", 1, 0));
    long n;
    CK("getxattr", n = getxattr(P("f"), "user.alpha", buf, sizeof buf));
    if (n > 0) { buf[n] = 0; STR("getxattr value", buf); }
    CK("getxattr size query", getxattr(P("f"), "user.alpha", NULL, 0));
    CK("getxattr small buf", getxattr(P("f"), "user.alpha", buf, 1));
    CK("getxattr missing attr", getxattr(P("f"), "user.none", buf, sizeof buf));
    CK("getxattr via link", getxattr(P("l"), "user.alpha", buf, sizeof buf));
    CK("lgetxattr link", lgetxattr(P("l"), "user.alpha", buf, sizeof buf));
    CK("setxattr second", setxattr(P("f"), "user.beta", "", 0, 0));
    CK("listxattr", n = listxattr(P("f"), buf, sizeof buf));
    int users = 0;
    for (char *p = buf; n > 0 && p < buf + n; p += strlen(p) + 1)
        if (!strncmp(p, "user.", 5)) { printf("listed: %s\n", p); users++; }
    CK("listxattr size query", listxattr(P("f"), NULL, 0) >= 20);
    CK("listxattr small", listxattr(P("f"), buf, 3));
    int fd = open(P("f"), O_RDWR);
    CK("fsetxattr", fsetxattr(fd, "user.gamma", "g", 1, 0));
    CK("fgetxattr", fgetxattr(fd, "user.gamma", buf, sizeof buf));
    CK("flistxattr", flistxattr(fd, buf, sizeof buf));
    CK("fremovexattr", fremovexattr(fd, "user.gamma"));
    CK("fremovexattr again", fremovexattr(fd, "user.gamma"));
    CK("removexattr", removexattr(P("f"), "user.beta"));
    CK("removexattr missing", removexattr(P("f"), "user.beta"));
    CK("lremovexattr", lremovexattr(P("f"), "user.alpha"));
    CK("listxattr empty", listxattr(P("f"), buf, sizeof buf));
    CK("lsetxattr user on symlink", lsetxattr(P("l"), "user.x", "x", 1, 0));
    CK("fgetxattr bad fd", fgetxattr(9999, "user.x", buf, sizeof buf));
    CK("getxattr empty name", getxattr(P("f"), "", buf, sizeof buf));
    /* The kernel copies the name (and setxattr's flags and value) before it looks the path up. */
    char long_name[300];
    memset(long_name, 'a', sizeof long_name - 1);
    memcpy(long_name, "user.", 5);
    long_name[sizeof long_name - 1] = 0;
    CK("getxattr null name", syscall(SYS_getxattr, P("f"), NULL, buf, sizeof buf));
    CK("getxattr null name, missing file", syscall(SYS_getxattr, P("nope"), NULL, buf, sizeof buf));
    CK("getxattr long name, missing file", getxattr(P("nope"), long_name, buf, sizeof buf));
    CK("getxattr empty name, missing file", getxattr(P("nope"), "", buf, sizeof buf));
    CK("removexattr null name, missing file", syscall(SYS_removexattr, P("nope"), NULL));
    CK("setxattr bad flags, missing file", setxattr(P("nope"), "user.x", "x", 1, 0x10));
    CK("setxattr bad value, missing file", syscall(SYS_setxattr, P("nope"), "user.x", (void *)16, 1, 0));
    CK("setxattr huge value, missing file", setxattr(P("nope"), "user.x", buf, 70000, 0));
    CK("setxattr null name", syscall(SYS_setxattr, P("f"), NULL, "x", 1, 0));
    CK("lgetxattr null name", syscall(SYS_lgetxattr, P("l"), NULL, buf, sizeof buf));
    return 0;
}
