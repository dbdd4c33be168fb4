// An x32 system call: getpid's number with the x32 bit (0x40000000). It is never executed: ENOSYS.
#include <stdio.h>
int main(void) {
    printf("calling x32 getpid\n");
    fflush(stdout);
    long result;
    __asm__ volatile("syscall" : "=a"(result) : "a"(0x40000000L | 39L) : "rcx", "r11", "memory");
    printf("x32 getpid returned %ld\n", result);
    return 0;
}
