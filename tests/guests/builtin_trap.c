// A genuine ud2 (__builtin_trap): the guest must die by SIGILL exactly as natively.
#include <stdio.h>
int main(void) {
    printf("before the trap\n");
    fflush(stdout);
    __builtin_trap();
}
