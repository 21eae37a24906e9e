/* Preemption: safepoint requests, the High-priority fast path, stopping the
 * world, and opt-in signal preemption.
 *
 * [SCHED-SAFEPOINT] vmrt_safepoint_flag counts the vCPUs with a pending
 * request (preempt_req) plus STW_BIAS while the world stops. It is a plain
 * global so the inline fast path is one load and one branch wherever the
 * coroutine runs; a thread-local flag would be cheaper to keep precise but
 * its address can be cached across a yield that migrates the coroutine. The
 * slow path finds its own vCPU and yields only if that vCPU was asked to.
 *
 * Signal preemption (x86-64 and AArch64, no sanitizer): for a coroutine
 * created with VMRT_CORO_SIGNAL_PREEMPT whose request stays pending, the
 * monitor sends SIGURG to its vCPU thread. On x86-64 the handler does not
 * switch stacks itself: it rewrites the interrupted context so that, after
 * the handler returns, the thread runs a trampoline that saves every
 * register (general, flags, the full XSAVE state) below the red zone,
 * yields, and restores them. On AArch64 that cannot work (returning to an
 * arbitrary PC needs a free register, and x16/x17 are not free), so the
 * handler yields itself and the kernel's signal frame keeps the registers
 * (see sigurg_handler). The handler declines (and the monitor retries next tick) when the thread is
 * not executing that coroutine, when the vCPU is inside a no-preempt region
 * of vmrt (spinlocks, queue operations) or when the interrupted PC lies in
 * libc, the dynamic loader or another runtime library, which are not
 * reentrant. The handler is installed with SA_RESTART, so system calls in
 * other code are restarted, not failed with EINTR.
 */
#include "sched/sched_internal.h"

#include <errno.h>
#include <setjmp.h>
#include <link.h>
#include <signal.h>
#include <string.h>

#define STW_BIAS (1u << 20)

VMRT_API volatile uint32_t vmrt_safepoint_flag;

void vmrt__preempt_request(vcpu_t *v)
{
    if (!atomic_exchange_explicit(&v->preempt_req, 1, seq_cst))
        __atomic_fetch_add(&vmrt_safepoint_flag, 1, __ATOMIC_SEQ_CST);
}

void vmrt__preempt_clear(vcpu_t *v)
{
    if (atomic_exchange_explicit(&v->preempt_req, 0, seq_cst))
        __atomic_fetch_sub(&vmrt_safepoint_flag, 1, __ATOMIC_SEQ_CST);
}

static task_t *running_task(vcpu_t *v)
{
    task_t *t = atomic_load_explicit(&v->current, relaxed);
    return t && t->co == vmrt_coro_self() ? t : NULL;
}

/* Leaves the running coroutine READY after a preemption request: straight to
 * next when given (a lone High coroutine, vmrt__handoff_take_high; it
 * requeues the yielder on arrival), else back to the loop, which requeues it
 * on the global FIFO [SCHED-FAIR]. */
static void preempted_yield(vcpu_t *v, _Atomic uint64_t *counter, task_t *next)
{
    vmrt__preempt_clear(v);
    atomic_store_explicit(counter, atomic_load_explicit(counter, relaxed) + 1, relaxed);
    v->take_oldest = true;
    if (next) {
        v->handoff_yield = true;
        vmrt__coro_handoff(next->co, VMRT_CORO_READY);
        return;
    }
    v->preempted = true;
    vmrt__coro_yield_as(VMRT_CORO_READY);
}

void vmrt_safepoint_slow(void)
{
    vcpu_t *v = vmrt__vcpu_self();
    if (!v || !running_task(v))
        return;
    struct vmrt_sched *s = v->s;
    if (atomic_load_explicit(&s->stw, acquire)) {
        vmrt__coro_yield_as(VMRT_CORO_READY); /* the loop parks at the stop */
        return;
    }
    if (!atomic_load_explicit(&v->preempt_req, relaxed))
        return;
    /* asked to yield for a High coroutine that waits alone: straight to it */
    preempted_yield(v, &v->c.preempt_coop, vmrt__handoff_take_high(v, running_task(v)));
}

/* A waker that is itself a lower-priority coroutine on a vCPU asks only its
 * own vCPU: it yields at its next safepoint or blocking call and that vCPU,
 * cache-warm, runs the High coroutine (Go's runnext hand-off, plus priority).
 * Any other waker (a thread, the monitor, the poller, a High coroutine) asks
 * every vCPU that runs lower-priority work; the first to reach a safepoint
 * takes it. Asking only one vCPU there would leave the High coroutine waiting
 * whenever the host deschedules that vCPU's thread (a small shared VM does). */
void vmrt__preempt_for_high(struct vmrt_sched *s, vcpu_t *from)
{
    if (atomic_load_explicit(&s->idle_mask, relaxed))
        return; /* an idle vCPU was woken for it */
    if (from && !from->is_embed) {
        int p = atomic_load_explicit(&from->running_prio, relaxed);
        if (p > VMRT_PRIO_HIGH && p < VMRT_PRIO_COUNT) {
            vmrt__preempt_request(from);
            return;
        }
    }
    unsigned n = atomic_load_explicit(&s->nslots, acquire);
    for (unsigned i = 0; i < n; i++) {
        vcpu_t *v = s->vcpus[i];
        if (!v || atomic_load_explicit(&v->online, relaxed) != V_ONLINE)
            continue;
        int p = atomic_load_explicit(&v->running_prio, seq_cst);
        if (p > VMRT_PRIO_HIGH && p < VMRT_PRIO_COUNT)
            vmrt__preempt_request(v);
    }
}

/* ---- stop the world [SCHED-STW] ----------------------------------------------
 * The stopper sets s->stw, then waits until every other vCPU has in_run == 0.
 * A vCPU sets in_run = 1 *before* checking s->stw when it starts a coroutine,
 * so it either sees the stop or is seen running. */

void vmrt__stw_check(vcpu_t *v)
{
    struct vmrt_sched *s = v->s;
    while (atomic_load_explicit(&s->stw, acquire)) {
        uint32_t word = atomic_load_explicit(&s->stw_word, acquire);
        atomic_store_explicit(&v->stw_stopped, 1, release);
        if (!atomic_load_explicit(&s->stw, acquire))
            break;
        vmrt__futex_wait(&s->stw_word, word, 0);
    }
    atomic_store_explicit(&v->stw_stopped, 0, release);
}

void vmrt_sched_stw_wait(void)
{
    vcpu_t *v = vmrt__vcpu_self();
    if (!v)
        return;
    struct vmrt_sched *s = v->s;
    vmrt_coro_t *co = vmrt_coro_self();
    while (atomic_load_explicit(&s->stw, seq_cst)) {
        jmp_buf regs; /* spills callee-saved registers onto this stack */
        volatile char here = 0;
        setjmp(regs);
        if (co) /* publish the live extent for vmrt_sched_for_each_stack */
            co->sp =
                (void *)((uintptr_t)&regs < (uintptr_t)&here ? (uintptr_t)&regs : (uintptr_t)&here);
        atomic_store_explicit(&v->in_run, 0, release);
        vmrt__stw_check(v);
        atomic_store_explicit(&v->in_run, 1, seq_cst); /* then re-check [SCHED-STW] */
        (void)here;
    }
}

int vmrt_sched_stop_world(vmrt_sched_t *s)
{
    if (!s)
        return -EINVAL;
    pthread_mutex_lock(&s->stw_lock);
    atomic_store_explicit(&s->stw, 1, seq_cst);
    __atomic_fetch_add(&vmrt_safepoint_flag, STW_BIAS, __ATOMIC_SEQ_CST);
    vcpu_t *self = vmrt__vcpu_self();
    unsigned n = atomic_load_explicit(&s->nslots, acquire);
    for (unsigned i = 0; i <= n; i++) {
        vcpu_t *v = i < n ? s->vcpus[i] : s->embed;
        if (!v || v == self)
            continue;
        uint64_t t0 = vmrt_now_ns();
        unsigned spins = 0;
        while (atomic_load_explicit(&v->in_run, seq_cst)) {
            if (++spins > 64)
                sched_yield();
            if (vmrt_now_ns() - t0 > 1000000) {
                vmrt__signal_preempt(v);
                t0 = vmrt_now_ns();
            }
        }
    }
    return 0;
}

int vmrt_sched_start_world(vmrt_sched_t *s)
{
    if (!s)
        return -EINVAL;
    if (!atomic_load(&s->stw))
        return VMRT_ESTATE;
    atomic_store_explicit(&s->stw, 0, seq_cst);
    __atomic_fetch_sub(&vmrt_safepoint_flag, STW_BIAS, __ATOMIC_SEQ_CST);
    atomic_fetch_add_explicit(&s->stw_word, 1, seq_cst);
    vmrt__futex_wake(&s->stw_word, INT32_MAX);
    pthread_mutex_unlock(&s->stw_lock);
    return 0;
}

/* ---- signal preemption ------------------------------------------------------- */

#ifdef VMRT_SIGNAL_PREEMPT
#include <ucontext.h>

_Thread_local int vmrt__nopreempt __attribute__((tls_model("initial-exec")));

#if defined(__x86_64__)
#include <cpuid.h>

uint64_t vmrt__xsave_size __attribute__((visibility("hidden")));
void vmrt__preempt_trampoline(void) __attribute__((visibility("hidden")));
void vmrt__preempt_yield(void) __attribute__((visibility("hidden")));

/* Saves everything the interrupted code may hold, yields, restores, and
 * returns to the interrupted PC (pushed by the handler below the red zone). */
__asm__(".text\n"
        ".p2align 4\n"
        ".globl vmrt__preempt_trampoline\n"
        ".hidden vmrt__preempt_trampoline\n"
        ".type vmrt__preempt_trampoline,@function\n"
        "vmrt__preempt_trampoline:\n"
        "  pushfq\n"
        "  pushq %rax\n  pushq %rcx\n  pushq %rdx\n  pushq %rsi\n  pushq %rdi\n"
        "  pushq %r8\n  pushq %r9\n  pushq %r10\n  pushq %r11\n  pushq %rbp\n"
        "  movq %rsp, %rbp\n"
        "  subq vmrt__xsave_size(%rip), %rsp\n"
        "  andq $-64, %rsp\n"
        "  xorl %eax, %eax\n"
        "  movq %rax, 512(%rsp)\n  movq %rax, 520(%rsp)\n  movq %rax, 528(%rsp)\n"
        "  movq %rax, 536(%rsp)\n  movq %rax, 544(%rsp)\n  movq %rax, 552(%rsp)\n"
        "  movq %rax, 560(%rsp)\n  movq %rax, 568(%rsp)\n"
        "  movl $-1, %eax\n  movl $-1, %edx\n"
        "  xsave64 (%rsp)\n"
        "  call vmrt__preempt_yield\n"
        "  movl $-1, %eax\n  movl $-1, %edx\n"
        "  xrstor64 (%rsp)\n"
        "  movq %rbp, %rsp\n"
        "  popq %rbp\n  popq %r11\n  popq %r10\n  popq %r9\n  popq %r8\n"
        "  popq %rdi\n  popq %rsi\n  popq %rdx\n  popq %rcx\n  popq %rax\n"
        "  popfq\n"
        "  ret $128\n"
        ".size vmrt__preempt_trampoline, .-vmrt__preempt_trampoline\n");

void vmrt__preempt_yield(void)
{
    vcpu_t *v = vmrt__vcpu_self();
    preempted_yield(v, &v->c.preempt_signal, NULL);
}
#endif /* __x86_64__ */

#define MAX_RANGES 64
static struct {
    uintptr_t lo, hi;
} denied[MAX_RANGES];
static int ndenied;

static int collect_ranges(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    static const char *const libs[] = {"libc.so",    "ld-linux",   "libpthread", "libm.so",
                                       "libvmrt.so", "libgcc_s",   "libstdc++",  "linux-vdso",
                                       "libseccomp", "libjansson", "libcmocka",  "libasan",
                                       "libubsan",   "liblsan"};
    bool deny = false;
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++)
        if (strstr(name, libs[i]))
            deny = true;
    if (!deny)
        return 0;
    for (int i = 0; i < info->dlpi_phnum && ndenied < MAX_RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            denied[ndenied].lo = info->dlpi_addr + ph->p_vaddr;
            denied[ndenied].hi = denied[ndenied].lo + ph->p_memsz;
            ndenied++;
        }
    }
    return 0;
}

static bool pc_denied(uintptr_t pc)
{
    for (int i = 0; i < ndenied; i++)
        if (pc >= denied[i].lo && pc < denied[i].hi)
            return true;
    return false;
}

static void sigurg_handler(int sig, siginfo_t *si, void *uctx)
{
    (void)sig;
    (void)si;
    int saved = errno;
    vcpu_t *v = vmrt__vcpu_self();
    ucontext_t *uc = uctx;
    if (!v || vmrt__nopreempt || !atomic_load_explicit(&v->preempt_req, relaxed))
        goto out;
    task_t *t = running_task(v);
    if (!t || !(t->co->flags & VMRT_CORO_SIGNAL_PREEMPT))
        goto out;
#if defined(__x86_64__)
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    if (pc_denied(pc))
        goto out;
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP] - 128 - 8;
    *(uintptr_t *)sp = pc;
    uc->uc_mcontext.gregs[REG_RSP] = (greg_t)sp;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)vmrt__preempt_trampoline;
#else
    /* AArch64: no scratch register is free at an arbitrary instruction
     * (x16/x17 are ordinary temporaries there), so a trampoline could not
     * jump back without clobbering one. Yield from the handler instead: the
     * kernel's signal frame, on this coroutine's stack (no SA_ONSTACK),
     * holds every register, flags and the FP/SIMD state, and rt_sigreturn
     * restores them when the handler returns after the coroutine is resumed,
     * on whichever vCPU thread that is. SA_NODEFER keeps SIGURG unblocked on
     * this thread meanwhile; the frame restores the interrupted signal mask. */
    if (pc_denied((uintptr_t)uc->uc_mcontext.pc))
        goto out;
    preempted_yield(v, &v->c.preempt_signal, NULL);
#endif
out:
    errno = saved; /* (after a yield: the thread the coroutine resumed on) */
}

static pthread_once_t sig_once = PTHREAD_ONCE_INIT;
static int sig_status = VMRT_EUNSUPPORTED;

static void sig_init(void)
{
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27)))
        return; /* no OSXSAVE */
    __cpuid_count(0xd, 0, a, b, c, d);
    vmrt__xsave_size = b + 64;
    const int flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
#else
    /* the frame must stay on the coroutine's stack while it is switched out */
    const int flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
#endif
    dl_iterate_phdr(collect_ranges, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sigurg_handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGURG, &sa, NULL) == 0)
        sig_status = 0;
}

int vmrt__signal_preempt_init(void)
{
    pthread_once(&sig_once, sig_init);
    return sig_status;
}

void vmrt__signal_preempt(vcpu_t *v)
{
    if (!v->has_thread || vmrt__signal_preempt_init() != 0)
        return;
    task_t *t = atomic_load_explicit(&v->current, relaxed);
    if (!t || !(t->co->flags & VMRT_CORO_SIGNAL_PREEMPT))
        return;
    vmrt__preempt_request(v);
    pthread_kill(v->thread, SIGURG);
}

#else
/* No signal preemption on this target: other architectures (no context
 * rewriting written for them), or ThreadSanitizer. TSan's own handler defers
 * an asynchronous signal until the thread next enters an intercepted call or
 * the TSan runtime, so a coroutine that never calls anything (the only one
 * that needs signal preemption) would never receive it; and yielding from
 * the deferred handler would switch fibers inside TSan's per-thread signal
 * bookkeeping, while a rewritten context would be ignored because the real
 * signal frame has already returned. Coroutines still yield at safepoints. */

int vmrt__signal_preempt_init(void)
{
    return VMRT_EUNSUPPORTED;
}

void vmrt__signal_preempt(vcpu_t *v)
{
    (void)v;
}

#endif
