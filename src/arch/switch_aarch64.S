/* Context switch for AArch64 (AAPCS64).
 *
 *   void *vmrt__ctx_switch(void **save_sp, void *new_sp, void *transfer);
 *
 * Saves x19-x28, the frame pointer x29, the link register x30, the low
 * halves d8-d15 (all that AAPCS64 makes callee-saved of v8-v15) and FPCR, in
 * a 176-byte frame; stores sp in *save_sp, switches to new_sp, restores and
 * branches to the saved x30 with x0 = transfer.
 *
 * vmrt__ctx_make lays out a new stack so that the first switch lands in
 * vmrt__ctx_entry with x19 = main, x20 = arg.
 */
    .text
    .globl vmrt__ctx_switch
    .hidden vmrt__ctx_switch
    .type vmrt__ctx_switch, %function
    .p2align 4
vmrt__ctx_switch:
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
    str x9, [sp, #160]
    mov x9, sp
    str x9, [x0]
    mov sp, x1
    ldr x9, [sp, #160]
    msr fpcr, x9
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
    br x30
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
