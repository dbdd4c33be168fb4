// Asks for the trapbox ABI version with the VERSION hostcall (0x10000000) through a plain
// `syscall` instruction: -ENOSYS natively, the ABI version under trapbox (from a trap in a
// rewritten build, from the backstop in an unrewritten one).
#include <stdio.h>
int main(void) {
    long result;
    __asm__ volatile("syscall" : "=a"(result) : "a"(0x10000000L) : "rcx", "r11", "memory");
    printf("version hostcall: %ld\n", result);
    __asm__ volatile("syscall" : "=a"(result) : "a"(0x10000fffL) : "rcx", "r11", "memory");
    printf("unknown hostcall: %ld\n", result);
    return 0;
}
