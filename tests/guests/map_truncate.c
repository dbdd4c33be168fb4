/* Maps a file with the map_file hostcall (Linux personality, libc available), truncates it
 * underneath the mapping and touches the vanished page: SIGBUS, exactly as with a native mmap.
 * argv[1] is a writable scratch file. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "../../examples/c/hostcall.h"

int main(int argc, char **argv) {
    const char *path = argv[1];
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    char page[8192];
    memset(page, 'x', sizeof page);
    write(fd, page, sizeof page);
    close(fd);
    unsigned long len = 0;
    long addr = trapbox_hostcall(TRAPBOX_HC_MAP_FILE, (long)path, (long)strlen(path), 1, (long)&len, 0, 0);
    if (addr < 0 && addr > -4096) { printf("map_file failed: %ld\n", addr); return 1; }
    volatile const char *bytes = (const char *)addr;
    printf("mapped %lu bytes, first byte %c\n", len, bytes[0]);
    fflush(stdout);
    truncate(path, 0);
    printf("after truncate: %c\n", bytes[4096]);   /* SIGBUS here */
    return 0;
}
