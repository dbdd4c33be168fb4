#include "conf.h"
#include <linux/openat2.h>

/* A scoped walk through `..` fails with EAGAIN when a rename or mount happens anywhere on the
 * machine meanwhile (openat2(2): the caller retries), natively and under trapbox alike: on a
 * busy machine either run could see it, so the program retries as the man page says. */
static long o2(int dfd, const char *p, long flags, long resolve) {
    struct open_how how = { .flags = flags, .mode = 0, .resolve = resolve };
    long r;
    int tries = 0;
    do r = syscall(SYS_openat2, dfd, p, &how, sizeof how);
    while (r < 0 && errno == EAGAIN && !(resolve & RESOLVE_CACHED) && ++tries < 100);
    return r;
}

int main(int argc, char **argv) {
    setup(argc, argv);
    mkdir(P("d"), 0755);
    mkdir(P("d/sub"), 0755);
    put("d/f", "x", 0644);
    put("outside", "o", 0644);
    symlink("f", P("d/rel"));
    symlink("../outside", P("d/up"));
    symlink(P("d/f"), P("d/abs"));
    int d = open(P("d"), O_RDONLY | O_DIRECTORY);
    OK("plain", o2(d, "f", O_RDONLY, 0));
    CK("missing", o2(d, "nope", O_RDONLY, 0));
    OK("beneath ok", o2(d, "sub/../f", O_RDONLY, RESOLVE_BENEATH));
    CK("beneath dotdot", o2(d, "../outside", O_RDONLY, RESOLVE_BENEATH));
    CK("beneath absolute", o2(d, P("d/f"), O_RDONLY, RESOLVE_BENEATH));
    CK("beneath symlink up", o2(d, "up", O_RDONLY, RESOLVE_BENEATH));
    OK("beneath symlink rel", o2(d, "rel", O_RDONLY, RESOLVE_BENEATH));
    CK("no symlinks", o2(d, "rel", O_RDONLY, RESOLVE_NO_SYMLINKS));
    OK("no symlinks plain", o2(d, "f", O_RDONLY, RESOLVE_NO_SYMLINKS));
    CK("no xdev ok", o2(d, "f", O_RDONLY, RESOLVE_NO_XDEV) >= 0);
    CK("no magiclinks", o2(AT_FDCWD, "/proc/self/exe", O_RDONLY, RESOLVE_NO_MAGICLINKS));
    OK("in root dotdot", o2(d, "../../f", O_RDONLY, RESOLVE_IN_ROOT));
    OK("in root abs", o2(d, "/f", O_RDONLY, RESOLVE_IN_ROOT));
    CK("beneath and in root", o2(d, "f", O_RDONLY, RESOLVE_BENEATH | RESOLVE_IN_ROOT));
    CK("unknown resolve", o2(d, "f", O_RDONLY, 1 << 30));
    CK("unknown flag", o2(d, "f", O_RDONLY | (1L << 40), 0));
    CK("mode without creat", ({ struct open_how h = { .flags = O_RDONLY, .mode = 0644 };
                               syscall(SYS_openat2, d, "f", &h, sizeof h); }));
    CK("size too small", ({ struct open_how h = { .flags = O_RDONLY };
                           syscall(SYS_openat2, d, "f", &h, 8); }));
    CK("size larger zeroed", ({ char big[64] = {0}; struct open_how *h = (void *)big; h->flags = O_RDONLY;
                               syscall(SYS_openat2, d, "f", big, sizeof big) >= 0; }));
    CK("size larger nonzero", ({ char big[64] = {0}; struct open_how *h = (void *)big; h->flags = O_RDONLY;
                                big[40] = 1; syscall(SYS_openat2, d, "f", big, sizeof big); }));
    CK("creat beneath", o2(d, "new", O_WRONLY | O_CREAT | O_EXCL, RESOLVE_BENEATH) >= 0);
    CK("creat excl again", o2(d, "new", O_WRONLY | O_CREAT | O_EXCL, RESOLVE_BENEATH));
    CK("bad dirfd", o2(9999, "f", O_RDONLY, 0));
    CK("directory on file", o2(d, "f", O_RDONLY | O_DIRECTORY, 0));
    return 0;
}
