/* ITERATIONS raw getpid system calls, then exit(0): the trap round-trip benchmark guest.
 * No libc, so the only system calls are the loop's and the exit; build with
 *   gcc -nostdlib -static -DITERATIONS=1000000 -o getpid_loop getpid_loop.S
 * and rewrite it with `trapbox rewrite [--trap int3]` to turn both into traps. */
#ifndef ITERATIONS
#define ITERATIONS 1000000
#endif
    .text
    .globl _start
    .type _start, @function
_start:
    .cfi_startproc
    .cfi_undefined rip
    movl $ITERATIONS, %ebx
1:
    movl $39, %eax
    syscall                     /* getpid */
    decl %ebx
    jnz 1b
    xorl %edi, %edi
    movl $60, %eax
    syscall                     /* exit(0) */
    hlt
    .cfi_endproc
    .size _start, .-_start
    .section .note.GNU-stack,"",@progbits
