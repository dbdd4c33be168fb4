#include "conf.h"
#include <linux/fs.h>

static void show(const char *name, const char *rel) {
    char buf[32] = {0};
    int fd = open(P(rel), O_RDONLY);
    if (fd < 0) { printf("%s: %s\n", name, errname(errno)); return; }
    if (read(fd, buf, sizeof buf - 1) < 0) buf[0] = 0;
    close(fd);
    printf("%s: %s\n", name, buf);
}

int main(int argc, char **argv) {
    setup(argc, argv);
    put("a", "A", 0644);
    put("b", "B", 0644);
    put("c", "C", 0644);
    mkdir(P("d"), 0755);
    mkdir(P("e"), 0755);
    mkdir(P("full"), 0755);
    put("full/x", "x", 0644);
    int sfd = open(scratch, O_RDONLY | O_DIRECTORY);
    CK("unlink dir", unlink(P("d")));
    CK("unlink missing", unlink(P("nope")));
    CK("unlink enotdir", unlink(P("a/x")));
    CK("unlinkat removedir on file", unlinkat(sfd, "c", AT_REMOVEDIR));
    put("victim", "v", 0644);
    CK("unlinkat bad flag", unlinkat(sfd, "victim", 0x1));
    FACT("victim survives", access(P("victim"), F_OK) == 0);
    CK("unlinkat bad dirfd", unlinkat(9999, "c", 0));
    put("gone", "g", 0644);
    CK("unlinkat file", unlinkat(sfd, "gone", 0));
    mkdir(P("rd"), 0755);
    CK("unlinkat removedir", unlinkat(sfd, "rd", AT_REMOVEDIR));
    CK("unlinkat removedir nonempty", unlinkat(sfd, "full", AT_REMOVEDIR));
    symlink("d", P("ld"));
    CK("unlink symlink to dir", unlink(P("ld")));
    FACT("dir survives", access(P("d"), F_OK) == 0);
    CK("rename file", rename(P("a"), P("a2")));
    show("renamed content", "a2");
    CK("rename missing", rename(P("nope"), P("x")));
    CK("rename over file", rename(P("a2"), P("b")));
    show("replaced content", "b");
    CK("rename file over dir", rename(P("b"), P("d")));
    CK("rename dir over file", rename(P("d"), P("b")));
    CK("rename dir over empty dir", rename(P("d"), P("e")));
    FACT("old dir gone", access(P("d"), F_OK) != 0);
    CK("rename dir over nonempty", rename(P("e"), P("full")));
    CK("rename dir into itself", rename(P("e"), P("e/sub")));
    CK("rename same", rename(P("b"), P("b")));
    CK("rename to missing parent", rename(P("b"), P("no/b")));
    CK("renameat2 noreplace exists", renameat2(sfd, "b", sfd, "c", RENAME_NOREPLACE));
    CK("renameat2 noreplace new", renameat2(sfd, "b", sfd, "b2", RENAME_NOREPLACE));
    CK("renameat2 exchange", renameat2(sfd, "b2", sfd, "c", RENAME_EXCHANGE));
    show("exchanged b2", "b2");
    show("exchanged c", "c");
    CK("renameat2 exchange missing", renameat2(sfd, "b2", sfd, "nope", RENAME_EXCHANGE));
    CK("renameat2 exchange file dir", renameat2(sfd, "c", sfd, "e", RENAME_EXCHANGE));
    FACT("exchanged dir is file", ({ struct stat st; stat(P("c"), &st) == 0 && S_ISDIR(st.st_mode); }));
    CK("renameat2 both flags", renameat2(sfd, "b2", sfd, "c", RENAME_EXCHANGE | RENAME_NOREPLACE));
    CK("renameat2 bad flag", renameat2(sfd, "b2", sfd, "zz", 1 << 20));
    CK("renameat bad dirfd", renameat(9999, "b2", sfd, "zz"));
    return 0;
}
