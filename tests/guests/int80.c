// The 32-bit system-call gate from a 64-bit program (i386 getpid is 20). trapbox must never
// honour it: refused with ENOSYS at a rewritten site and by the backstop.
#include <stdio.h>
int main(void) {
    printf("calling int 0x80\n");
    fflush(stdout);
    long result;
    __asm__ volatile("int $0x80" : "=a"(result) : "a"(20L) : "memory");
    printf("int 0x80 returned %ld\n", result);
    return 0;
}
