/* Machine contexts: the assembly switch and the first frame of a new stack.
 * Internal to vmrt; see switch_<arch>.S for the contract. */
#ifndef VMRT_ARCH_CTX_H
#define VMRT_ARCH_CTX_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Entry of a new context: transfer is the value given to the first switch. */
typedef void (*vmrt__ctx_main)(void *transfer, void *arg);

void *vmrt__ctx_switch(void **save_sp, void *new_sp, void *transfer, _Atomic int *park);
int vmrt__ctx_resume(void **save_sp, void *new_sp, void *transfer, _Atomic int *park);
void vmrt__ctx_entry(void);

/* Lays out the initial frame at the top of [lo, hi) so that switching to the
 * returned stack pointer calls main(transfer, arg). */
void *vmrt__ctx_make(void *lo, void *hi, vmrt__ctx_main main, void *arg);

#endif
