#include "conf.h"
#include <sys/mman.h>
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

int main(int argc, char **argv) {
    setup(argc, argv);
    int m = memfd_create("conf", MFD_ALLOW_SEALING | MFD_CLOEXEC);
    OK("memfd_create", m);
    CK("memfd bad flag", memfd_create("x", 0x1000));
    char longname[300]; memset(longname, 'a', sizeof longname - 1); longname[299] = 0;
    CK("memfd long name", memfd_create(longname, 0));
    CK("write", write(m, "hello", 5));
    CK("initial seals have exec", (fcntl(m, F_GET_SEALS) & ~F_SEAL_EXEC));
    CK("add shrink seal", fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK));
    CK("shrink refused", ftruncate(m, 1));
    CK("grow ok", ftruncate(m, 4096));
    CK("add write seal", fcntl(m, F_ADD_SEALS, F_SEAL_WRITE));
    CK("write refused", write(m, "x", 1));
    CK("shared writable map refused", (long)mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0) == -1 ? -1 : 0);
    CK("add grow seal", fcntl(m, F_ADD_SEALS, F_SEAL_GROW));
    CK("grow refused", ftruncate(m, 8192));
    CK("add seal seal", fcntl(m, F_ADD_SEALS, F_SEAL_SEAL));
    CK("further seal refused", fcntl(m, F_ADD_SEALS, F_SEAL_GROW));
    printf("seals: %x\n", fcntl(m, F_GET_SEALS) & ~F_SEAL_EXEC);
    int n = memfd_create("nosealing", 0);
    CK("no sealing", fcntl(n, F_ADD_SEALS, F_SEAL_WRITE));
    CK("no sealing seals", fcntl(n, F_GET_SEALS) & ~F_SEAL_EXEC);
    put("f", "x", 0644);
    CK("seals on file", fcntl(open(P("f"), O_RDWR), F_GET_SEALS));
    void *a = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    FACT("mmap anon", a != MAP_FAILED);
    CK("mmap zero len", (long)mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == -1 ? -1 : 0);
    CK("mmap no type", (long)mmap(NULL, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0) == -1 ? -1 : 0);
    CK("mmap unaligned fixed", (long)mmap((char *)a + 1, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == -1 ? -1 : 0);
    CK("mmap unaligned offset", (long)mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, m, 1) == -1 ? -1 : 0);
    CK("mmap bad fd", (long)mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 9999, 0) == -1 ? -1 : 0);
    int wo = open(P("f"), O_WRONLY);
    CK("mmap writeonly fd", (long)mmap(NULL, 4096, PROT_READ, MAP_SHARED, wo, 0) == -1 ? -1 : 0);
    int ro = open(P("f"), O_RDONLY);
    CK("mmap shared write on rdonly", (long)mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == -1 ? -1 : 0);
    FACT("mmap private write on rdonly", mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0) != MAP_FAILED);
    CK("mprotect", mprotect(a, 4096, PROT_READ));
    CK("mprotect unaligned", mprotect((char *)a + 1, 4096, PROT_READ));
    CK("mprotect bad prot", mprotect(a, 4096, 0x100));
    CK("mprotect unmapped", mprotect((void *)0x10000, 4096, PROT_READ));
    CK("madvise", madvise(a, 4096, MADV_DONTNEED));
    CK("madvise bad", madvise(a, 4096, 12345));
    CK("munmap unaligned", munmap((char *)a + 1, 4096));
    CK("munmap zero", munmap(a, 0));
    CK("munmap", munmap(a, 8192));
    CK("munmap again", munmap(a, 8192));
    CK("mremap bad flags", (long)mremap(a, 4096, 8192, 0x100) == -1 ? -1 : 0);
    CK("msync unaligned", msync((char *)a + 1, 4096, MS_SYNC));
    CK("mlock zero", mlock(a, 0));
    CK("mincore unmapped", mincore(a, 4096, (unsigned char[1]){0}));
    return 0;
}
