#include "conf.h"

int main(int argc, char **argv) {
    setup(argc, argv);
    put("f", "x", 0644);
    mkdir(P("d"), 0755);
    symlink("target-of-link", P("l"));
    symlink("f", P("d/inner"));
    char buf[64];
    long n;
    CK("readlink", n = readlink(P("l"), buf, sizeof buf));
    if (n > 0) { buf[n] = 0; STR("readlink text", buf); }
    CK("readlink small buf", n = readlink(P("l"), buf, 6));
    if (n > 0) { buf[n] = 0; STR("readlink small text", buf); }
    CK("readlink zero buf", readlink(P("l"), buf, 0));
    CK("readlink file", readlink(P("f"), buf, sizeof buf));
    CK("readlink dir", readlink(P("d"), buf, sizeof buf));
    CK("readlink missing", readlink(P("nope"), buf, sizeof buf));
    CK("readlink enotdir", readlink(P("f/x"), buf, sizeof buf));
    CK("readlink empty", readlink("", buf, sizeof buf));
    int dfd = open(P("d"), O_RDONLY | O_DIRECTORY);
    CK("readlinkat", n = readlinkat(dfd, "inner", buf, sizeof buf));
    if (n > 0) { buf[n] = 0; STR("readlinkat text", buf); }
    CK("readlinkat bad dirfd", readlinkat(9999, "inner", buf, sizeof buf));
    CK("readlinkat empty path on dir", readlinkat(dfd, "", buf, sizeof buf));
    int lfd = open(P("l"), O_PATH | O_NOFOLLOW);
    CK("readlinkat empty path on link", n = readlinkat(lfd, "", buf, sizeof buf));
    if (n > 0) { buf[n] = 0; STR("readlinkat empty text", buf); }
    CK("readlink null buf", syscall(SYS_readlink, P("l"), NULL, 10));
    return 0;
}
