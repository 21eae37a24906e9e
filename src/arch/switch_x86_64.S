/* Context switch for x86-64 SysV.
 *
 *   void *vmrt__ctx_switch(void **save_sp, void *new_sp, void *transfer, _Atomic int *park);
 *   int   vmrt__ctx_resume(...same...);   (the same code, typed for resume())
 *
 * Pushes `park` and the callee-saved registers (rbp, rbx, r12-r15) plus the FP
 * control state the ABI makes callee-saved (MXCSR, x87 control word), stores
 * rsp in *save_sp, loads new_sp and restores the other context's set. If the
 * other context had passed a park pointer, `transfer - 1` is stored there and
 * its call returns 0; otherwise its call returns `transfer`.
 *
 * Why this shape: callers tail-call it (vmrt_coro_resume/yield end with
 * `return vmrt__ctx_...`), and it resumes with `pop; jmp`, never `ret`. So no
 * return address pushed by one context is ever popped by `ret` in another —
 * each such `ret` mispredicts (the return stack buffer is per core, not per
 * stack). MXCSR and the x87 control word are always saved but reloaded only
 * when they differ from the running context's. The store through `park` is
 * the [CORO-PARK] state change of
 * coro.c, done after the switch without a `ret` back into resume().
 *
 * A new stack laid out by vmrt__ctx_make "resumes" into vmrt__ctx_entry with
 * r12 = main, r13 = arg, rax = transfer.
 */
    .text
    .globl vmrt__ctx_switch
    .hidden vmrt__ctx_switch
    .type vmrt__ctx_switch, @function
    .globl vmrt__ctx_resume
    .hidden vmrt__ctx_resume
    .type vmrt__ctx_resume, @function
    .p2align 4
vmrt__ctx_switch:
vmrt__ctx_resume:
    .cfi_startproc
    pushq %rcx
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movl (%rsp), %r8d          /* separate loads: the stores above forward */
    movzwl 4(%rsp), %r10d
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    movl (%rsp), %r9d
    xorl %r8d, %r9d
    andl $-64, %r9d            /* MXCSR bits 0-5 are status flags, not state */
    jnz 2f
    cmpw 4(%rsp), %r10w
    jne 2f
3:  addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    popq %rcx
    movq %rdx, %rax
    testq %rcx, %rcx
    jz 1f
    leal -1(%rdx), %r8d
    movl %r8d, (%rcx)
    xorl %eax, %eax
1:  popq %r8
    jmpq *%r8
    /* ldmxcsr/fldcw serialise (~1.7 ns a switch here): load them only when
     * the resumed context's control state differs from ours. */
2:  ldmxcsr (%rsp)
    fldcw 4(%rsp)
    jmp 3b
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
