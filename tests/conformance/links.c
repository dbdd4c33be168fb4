#include "conf.h"

int main(int argc, char **argv) {
    setup(argc, argv);
    put("f", "x", 0644);
    mkdir(P("d"), 0755);
    symlink("f", P("sl"));
    symlink("nowhere", P("dangling"));
    struct stat st;
    int sfd = open(scratch, O_RDONLY | O_DIRECTORY);
    CK("link", link(P("f"), P("h")));
    stat(P("f"), &st);
    CK("nlink", st.st_nlink);
    CK("link exists", link(P("f"), P("h")));
    CK("link missing", link(P("nope"), P("h2")));
    CK("link dir", link(P("d"), P("dh")));
    CK("link missing parent", link(P("f"), P("no/h")));
    CK("linkat nofollow symlink", linkat(sfd, "sl", sfd, "hl", 0));
    lstat(P("hl"), &st);
    FACT("hardlink to symlink is link", S_ISLNK(st.st_mode));
    CK("linkat follow symlink", linkat(sfd, "sl", sfd, "hf", AT_SYMLINK_FOLLOW));
    lstat(P("hf"), &st);
    FACT("followed is file", S_ISREG(st.st_mode));
    CK("linkat follow dangling", linkat(sfd, "dangling", sfd, "hd", AT_SYMLINK_FOLLOW));
    CK("linkat bad flag", linkat(sfd, "f", sfd, "hx", 0x1));
    CK("linkat bad dirfd", linkat(9999, "f", sfd, "hx", 0));
    CK("symlink", symlink("some/target", P("s2")));
    char buf[64] = {0};
    readlink(P("s2"), buf, sizeof buf);
    STR("symlink target", buf);
    CK("symlink exists", symlink("x", P("f")));
    CK("symlink empty target", symlink("", P("s3")));
    CK("symlink missing parent", symlink("x", P("no/s")));
    CK("symlinkat", symlinkat("f", sfd, "s4"));
    CK("symlinkat bad dirfd", symlinkat("f", 9999, "s5"));
    CK("symlinkat dangling ok", symlinkat("/nonexistent/deep", sfd, "s6"));
    lstat(P("s6"), &st);
    CK("symlink size", st.st_size);
    return 0;
}
