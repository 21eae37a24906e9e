/* Context switch for AArch64 (AAPCS64).
 *
 *   void *vmrt__ctx_switch(void **save_sp, void *new_sp, void *transfer, _Atomic int *park);
 *   int   vmrt__ctx_resume(...same...);
 *
 * Saves x19-x28, the frame pointer x29, the link register x30, the low
 * halves d8-d15 (all that AAPCS64 makes callee-saved of v8-v15), FPCR and
 * `park`, in a 176-byte frame; stores sp in *save_sp, switches to new_sp,
 * restores and branches to the saved x30. If the resumed context had passed
 * a park pointer, `transfer - 1` is stored there (store-release) and its call
 * returns 0, else it returns `transfer`. See switch_x86_64.S for why callers
 * tail-call it.
 *
 * vmrt__ctx_make lays out a new stack so that the first switch lands in
 * vmrt__ctx_entry with x19 = main, x20 = arg.
 */
    .text
    .globl vmrt__ctx_switch
    .hidden vmrt__ctx_switch
    .type vmrt__ctx_switch, %function
    .globl vmrt__ctx_resume
    .hidden vmrt__ctx_resume
    .type vmrt__ctx_resume, %function
    .p2align 4
vmrt__ctx_switch:
vmrt__ctx_resume:
    .cfi_startproc
    sub sp, sp, #176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mrs x9, fpcr
    stp x9, x3, [sp, #160]
    mov x11, sp
    str x11, [x0]
    mov sp, x1
    ldp x10, x3, [sp, #160]
    cmp x9, x10                /* FPCR writes are slow: only when it differs */
    b.eq 2f
    msr fpcr, x10
2:
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    add sp, sp, #176
    mov x0, x2
    cbz x3, 1f
    sub w9, w2, #1
    stlr w9, [x3]
    mov x0, #0
1:  br x30
    .cfi_endproc
    .size vmrt__ctx_switch, .-vmrt__ctx_switch

    .globl vmrt__ctx_entry
    .hidden vmrt__ctx_entry
    .type vmrt__ctx_entry, %function
    .p2align 4
vmrt__ctx_entry:
    .cfi_startproc
    .cfi_undefined x30
    mov x29, #0
    mov x30, #0
    mov x1, x20
    blr x19
    brk #0
    .cfi_endproc
    .size vmrt__ctx_entry, .-vmrt__ctx_entry

    .section .note.GNU-stack,"",@progbits
