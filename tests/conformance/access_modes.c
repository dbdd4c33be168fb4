#include "conf.h"

int main(int argc, char **argv) {
    setup(argc, argv);
    put("rw", "x", 0600);
    put("ro", "x", 0400);
    put("none", "x", 0000);
    put("exe", "x", 0700);
    mkdir(P("d"), 0700);
    symlink("nowhere", P("dangling"));
    symlink("rw", P("l"));
    CK("access F_OK", access(P("rw"), F_OK));
    CK("access R_OK", access(P("rw"), R_OK));
    CK("access W_OK", access(P("rw"), W_OK));
    CK("access X_OK no x", access(P("rw"), X_OK));
    CK("access X_OK exe", access(P("exe"), X_OK));
    CK("access X_OK dir", access(P("d"), X_OK));
    CK("access missing", access(P("nope"), F_OK));
    CK("access enotdir", access(P("rw/x"), F_OK));
    CK("access dangling", access(P("dangling"), F_OK));
    CK("access via link", access(P("l"), R_OK | W_OK));
    CK("access bad mode", access(P("rw"), 0x10));
    CK("access empty", access("", F_OK));
    int sfd = open(scratch, O_RDONLY | O_DIRECTORY);
    CK("faccessat rel", faccessat(sfd, "rw", R_OK, 0));
    CK("faccessat bad dirfd", syscall(SYS_faccessat, 9999, "rw", R_OK));
    CK("faccessat2 eaccess", syscall(SYS_faccessat2, sfd, "rw", R_OK, AT_EACCESS));
    CK("faccessat2 nofollow dangling", syscall(SYS_faccessat2, sfd, "dangling", F_OK, AT_SYMLINK_NOFOLLOW));
    CK("faccessat2 follow dangling", syscall(SYS_faccessat2, sfd, "dangling", F_OK, 0));
    CK("faccessat2 empty path", syscall(SYS_faccessat2, sfd, "", R_OK, AT_EMPTY_PATH));
    CK("faccessat2 empty no flag", syscall(SYS_faccessat2, sfd, "", R_OK, 0));
    CK("faccessat2 bad flag", syscall(SYS_faccessat2, sfd, "rw", R_OK, 0x1));
    CK("faccessat2 bad mode", syscall(SYS_faccessat2, sfd, "rw", 0x10, 0));
    CK("faccessat2 x none", syscall(SYS_faccessat2, sfd, "none", X_OK, AT_EACCESS));
    return 0;
}
