/* A rewriter fixture: real syscall sites next to data that decodes as syscall-class
 * instructions. Built with gcc -nostdlib -static; every function has CFI (so .eh_frame
 * knows its extent) and a sized symbol. Prints "datatext ok" and exits 0 natively. */
    .text
    .globl _start
    .type _start, @function
_start:
    .cfi_startproc
    .cfi_undefined rip
    call get_pid
    movl $0x050f, %eax          /* 0f 05 inside an immediate: not a site */
    call write_msg
    xorl %edi, %edi
    movl $60, %eax
    syscall                     /* exit(0) */
    hlt
    .cfi_endproc
    .size _start, .-_start

    .type get_pid, @function
get_pid:
    .cfi_startproc
    movl $39, %eax
    syscall                     /* getpid */
    ret
    .cfi_endproc
    .size get_pid, .-get_pid

    /* Data in .text after a return: a jump-table-like blob whose bytes are syscall,
     * int $0x80 and sysenter encodings. None of it may be patched. */
    .globl data_in_text
    .type data_in_text, @object
data_in_text:
    .byte 0x0f, 0x05, 0xcd, 0x80, 0x0f, 0x34, 0x0f, 0x05
    .quad 0x050f050f050f050f
    .size data_in_text, .-data_in_text

    .type write_msg, @function
write_msg:
    .cfi_startproc
    movl $1, %edi
    leaq msg(%rip), %rsi
    movl $msglen, %edx
    movl $1, %eax
    syscall                     /* write(1, msg, msglen) */
    ret
    .cfi_endproc
    .size write_msg, .-write_msg

    .section .rodata
msg:
    .ascii "datatext ok\n"
    .set msglen, . - msg
    .section .note.GNU-stack,"",@progbits
