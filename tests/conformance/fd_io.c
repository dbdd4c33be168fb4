#include "conf.h"
#include <sys/sendfile.h>
#include <sys/uio.h>

int main(int argc, char **argv) {
    setup(argc, argv);
    put("f", "0123456789", 0644);
    mkdir(P("d"), 0755);
    int fd = open(P("f"), O_RDWR);
    char buf[32] = {0};
    CK("pread", pread(fd, buf, 4, 3)); STR("pread data", buf);
    CK("offset unchanged", lseek(fd, 0, SEEK_CUR));
    CK("pread negative offset", pread(fd, buf, 4, -1));
    CK("pwrite", pwrite(fd, "AB", 2, 8));
    CK("pwrite negative", pwrite(fd, "AB", 2, -5));
    CK("lseek end", lseek(fd, 0, SEEK_END));
    CK("lseek negative", lseek(fd, -100, SEEK_SET));
    CK("lseek bad whence", lseek(fd, 0, 99));
    CK("lseek data", lseek(fd, 0, SEEK_DATA));
    CK("lseek hole", lseek(fd, 0, SEEK_HOLE));
    CK("lseek data past end", lseek(fd, 100, SEEK_DATA));
    int p[2]; pipe(p);
    CK("lseek pipe", lseek(p[0], 0, SEEK_SET));
    CK("pread pipe", pread(p[0], buf, 1, 0));
    lseek(fd, 0, SEEK_SET);
    char a[3] = {0}, b[5] = {0};
    struct iovec iov[2] = { { a, 2 }, { b, 4 } };
    CK("readv", readv(fd, iov, 2)); STR("readv a", a); STR("readv b", b);
    CK("readv bad count", readv(fd, iov, -1));
    CK("readv zero", readv(fd, iov, 0));
    struct iovec w[2] = { { "xy", 2 }, { "z", 1 } };
    CK("writev", writev(fd, w, 2));
    CK("preadv2 bad flag", preadv2(fd, iov, 1, 0, 0x1000));
    CK("read dir", read(open(P("d"), O_RDONLY), buf, sizeof buf));
    CK("write dir fd", write(open(P("d"), O_RDONLY), "x", 1));
    CK("read bad fd", read(9999, buf, 1));
    CK("read path fd", read(open(P("f"), O_PATH), buf, 1));
    CK("write zero", write(fd, "", 0));
    int out = open(P("copy"), O_WRONLY | O_CREAT, 0644);
    off_t off = 2;
    CK("sendfile", sendfile(out, fd, &off, 5));
    CK("sendfile offset", off);
    CK("sendfile bad in", sendfile(out, 9999, NULL, 5));
    CK("sendfile from wronly", sendfile(fd, out, NULL, 5));
    loff_t in_off = 0;
    CK("copy_file_range", copy_file_range(fd, &in_off, out, NULL, 4, 0));
    CK("copy_file_range bad flag", copy_file_range(fd, &in_off, out, NULL, 4, 1));
    CK("copy_file_range same overlap", ({ loff_t x = 0, y = 1; copy_file_range(fd, &x, fd, &y, 4, 0); }));
    CK("fallocate", fallocate(fd, 0, 0, 4096));
    struct stat st; fstat(fd, &st); CK("size after fallocate", st.st_size);
    CK("fallocate keep size", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 8192));
    CK("fallocate bad mode", fallocate(fd, 0x100, 0, 10));
    CK("fallocate zero len", fallocate(fd, 0, 0, 0));
    CK("fallocate rdonly", fallocate(open(P("f"), O_RDONLY), 0, 0, 10));
    CK("fsync", fsync(fd));
    CK("fdatasync", fdatasync(fd));
    CK("fsync pipe", fsync(p[0]));
    CK("syncfs", syncfs(fd));
    CK("fadvise", posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL));
    CKE("fadvise bad", posix_fadvise(fd, 0, 0, 99));
    CKE("fadvise pipe", posix_fadvise(p[0], 0, 0, POSIX_FADV_NORMAL));
    CK("readahead pipe", readahead(p[0], 0, 10));
    CK("close_range", syscall(SYS_close_range, 100, 200, 0));
    CK("close_range bad", syscall(SYS_close_range, 200, 100, 0));
    return 0;
}
