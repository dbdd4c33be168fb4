#include "conf.h"

int main(int argc, char **argv) {
    setup(argc, argv);
    put("f", "x", 0644);
    struct stat st;
    CK("mkdir", mkdir(P("d"), 0750));
    stat(P("d"), &st);
    printf("mkdir mode: %o\n", st.st_mode & 07777);
    CK("mkdir exists", mkdir(P("d"), 0755));
    CK("mkdir on file", mkdir(P("f"), 0755));
    CK("mkdir missing parent", mkdir(P("no/sub"), 0755));
    CK("mkdir parent is file", mkdir(P("f/sub"), 0755));
    CK("mkdir trailing slash", mkdir(P("d2/"), 0755));
    CK("mkdir empty", mkdir("", 0755));
    int sfd = open(scratch, O_RDONLY | O_DIRECTORY);
    CK("mkdirat", mkdirat(sfd, "d3", 0700));
    CK("mkdirat bad dirfd", mkdirat(9999, "d4", 0700));
    CK("mkdirat file dirfd", mkdirat(open(P("f"), O_RDONLY), "d4", 0700));
    put("d/inside", "x", 0644);
    CK("rmdir nonempty", rmdir(P("d")));
    CK("rmdir file", rmdir(P("f")));
    CK("rmdir missing", rmdir(P("nope")));
    CK("rmdir dot", rmdir(P("d3/.")));
    CK("rmdir dotdot", rmdir(P("d3/..")));
    CK("rmdir empty dir", rmdir(P("d3")));
    CK("rmdir again", rmdir(P("d3")));
    CK("rmdir trailing slash", rmdir(P("d2/")));
    symlink("d", P("ld"));
    CK("rmdir symlink to dir", rmdir(P("ld")));
    umask(077);
    CK("mkdir umask", mkdir(P("u"), 0777));
    stat(P("u"), &st);
    printf("umask mode: %o\n", st.st_mode & 07777);
    CK("mkdir sticky", mkdir(P("s"), 01777));
    stat(P("s"), &st);
    printf("sticky mode: %o\n", st.st_mode & 07777);
    return 0;
}
