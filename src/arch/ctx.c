/* Initial frames matching the save order of switch_<arch>.S. */
#include "arch/ctx.h"

#include <string.h>

#if defined(__x86_64__)
/* Frame, lowest address first:
 *   [MXCSR|x87 CW] r15 r14 r13 r12 rbx rbp park return-address pad */
void *vmrt__ctx_make(void *lo, void *hi, vmrt__ctx_main main, void *arg)
{
    (void)lo;
    uintptr_t top = (uintptr_t)hi & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)top - 10;
    memset(sp, 0, 10 * sizeof(uint64_t));
    uint32_t fp_ctl[2] = {0x1F80u, 0x037Fu}; /* default MXCSR, x87 control word */
    memcpy(&sp[0], fp_ctl, sizeof fp_ctl);
    sp[4] = (uint64_t)(uintptr_t)main; /* r12 */
    sp[3] = (uint64_t)(uintptr_t)arg;  /* r13 */
    sp[8] = (uint64_t)(uintptr_t)&vmrt__ctx_entry;
    return sp;
}
#elif defined(__aarch64__)
/* Frame of 22 slots: x19..x28, x29, x30, d8..d15, fpcr, park */
void *vmrt__ctx_make(void *lo, void *hi, vmrt__ctx_main main, void *arg)
{
    (void)lo;
    uintptr_t top = (uintptr_t)hi & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)top - 22;
    memset(sp, 0, 22 * sizeof(uint64_t));
    sp[0] = (uint64_t)(uintptr_t)main;              /* x19 */
    sp[1] = (uint64_t)(uintptr_t)arg;               /* x20 */
    sp[11] = (uint64_t)(uintptr_t)&vmrt__ctx_entry; /* x30 */
    return sp;
}
#else
#error "vmrt: unsupported architecture (x86-64 and aarch64 only)"
#endif
