/* Context switch for x86-64 SysV.
 *
 *   void *vmrt__ctx_switch(void **save_sp, void *new_sp, void *transfer);
 *
 * Pushes the callee-saved registers (rbp, rbx, r12-r15) and the FP control
 * state the ABI makes callee-saved (MXCSR control bits, x87 control word),
 * stores the stack pointer in *save_sp, loads new_sp, restores the same set
 * from there and continues the other context, which sees `transfer` as the
 * return value of its own vmrt__ctx_switch call. Resuming uses pop + jmp, not
 * ret: the return-stack predictor would miss on every switch anyway.
 *
 * A new context's stack is laid out by vmrt__ctx_make (coro/stack.c) so that
 * the first switch "returns" into vmrt__ctx_entry with r12 = main, r13 = arg.
 */
    .text
    .globl vmrt__ctx_switch
    .hidden vmrt__ctx_switch
    .type vmrt__ctx_switch, @function
    .p2align 4
vmrt__ctx_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    popq %rcx
    movq %rdx, %rax
    jmpq *%rcx
    .cfi_endproc
    .size vmrt__ctx_switch, .-vmrt__ctx_switch

/* First code run on a new stack: main(transfer, arg). main never returns. */
    .globl vmrt__ctx_entry
    .hidden vmrt__ctx_entry
    .type vmrt__ctx_entry, @function
    .p2align 4
vmrt__ctx_entry:
    .cfi_startproc
    .cfi_undefined rip
    xorl %ebp, %ebp
    movq %rax, %rdi
    movq %r13, %rsi
    andq $-16, %rsp
    callq *%r12
    ud2
    .cfi_endproc
    .size vmrt__ctx_entry, .-vmrt__ctx_entry

    .section .note.GNU-stack,"",@progbits
