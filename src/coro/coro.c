/* Stackful coroutines.
 *
 * Design. A coroutine owns an mmap'ed stack (stack.c) and a saved stack
 * pointer; vmrt__ctx_switch (arch/) swaps stack pointers, saving only the
 * callee-saved registers. resume() saves the resumer's stack pointer in the
 * coroutine (resumer_sp), so the resumer may be a thread stack or another
 * coroutine, on any thread: a coroutine resumed on thread B after running on
 * thread A simply returns to B's resumer when it yields.
 *
 * State transitions happen on the resumer's side, after the switch is
 * complete [CORO-PARK]: the coroutine passes its next state (READY, BLOCKED,
 * SUSPENDED, TERMINATED) as the switch's transfer value and the switch code
 * stores it through the `park` pointer that resume() handed it. So whoever observes a state other
 * than RUNNING knows the coroutine's stack is no longer in use and may resume it elsewhere or free
 * it.
 *
 * Thread-local state (the current coroutine) is always reached through
 * tls(), a non-inlinable call: a coroutine may migrate between threads at any
 * switch, and a compiler is allowed to cache the address of a _Thread_local
 * across a call, which would then point at the previous thread's slot.
 *
 * Sanitizers. Under ASan every switch is bracketed by
 * __sanitizer_start/finish_switch_fiber; under TSan every coroutine is a TSan
 * fiber. Valgrind learns each stack in stack.c.
 *
 * Stack overflow. Each thread that resumes coroutines gets an alternate
 * signal stack; a SIGSEGV whose address lies in the current coroutine's guard
 * region prints "vmrt: stack overflow in coroutine 'NAME' (N KiB stack)" and
 * aborts. Other SIGSEGVs go to the previous handler.
 */
#include "coro/coro_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/ctx.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VMRT_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define VMRT_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define VMRT_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define VMRT_TSAN 1
#endif
#ifdef VMRT_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef VMRT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#define ALTSTACK_SIZE (64u * 1024u)

#define ID_BLOCK 256

struct thread_state {
    vmrt_coro_t *current; /* coroutine running on this thread, NULL on the thread stack */
    uint64_t id_next;     /* next coroutine id of this thread's block */
    uint64_t id_end;      /* end of the block (ids are taken ID_BLOCK at a time) */
    bool initialised;     /* alternate signal stack installed */
    void *altstack;       /* our alternate signal stack, unmapped at thread exit */
};

/* initial-exec: one %fs-relative load instead of a __tls_get_addr call (the
 * library is PIC). Costs a little static TLS space if vmrt is dlopen()ed. */
static _Thread_local struct thread_state tls_state __attribute__((tls_model("initial-exec")));
static _Atomic uint64_t next_id = 1;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static pthread_key_t altstack_key;
static struct sigaction previous_segv;

__attribute__((noinline)) static struct thread_state *tls(void)
{
    __asm__ volatile("" ::: "memory");
    return &tls_state;
}

/* Direct access, for functions whose only switch is their last statement:
 * nothing is read through it after a migration. */
static inline struct thread_state *tls_before_switch(void)
{
    return &tls_state;
}

/* ---- stack overflow reporting ------------------------------------------ */

static size_t append(char *buf, size_t pos, size_t cap, const char *s)
{
    while (*s && pos + 1 < cap)
        buf[pos++] = *s++;
    return pos;
}

static size_t append_uint(char *buf, size_t pos, size_t cap, size_t v)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && pos + 1 < cap)
        buf[pos++] = digits[--n];
    return pos;
}

static void report_overflow(const vmrt_coro_t *co)
{
    char msg[160];
    size_t n = append(msg, 0, sizeof msg, "vmrt: stack overflow in coroutine '");
    n = append(msg, n, sizeof msg, co->name);
    n = append(msg, n, sizeof msg, "' (");
    n = append_uint(msg, n, sizeof msg, vmrt__stack_usable(&co->stack) / 1024);
    n = append(msg, n, sizeof msg, " KiB stack)\n");
    ssize_t unused = write(STDERR_FILENO, msg, n);
    (void)unused;
}

static void segv_handler(int sig, siginfo_t *si, void *uctx)
{
    vmrt_coro_t *co = tls_state.current;
    if (co && co->stack.base && vmrt__stack_in_guard(&co->stack, si->si_addr)) {
        report_overflow(co);
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigaction(SIGABRT, &dfl, NULL);
        abort();
    }
    if ((previous_segv.sa_flags & SA_SIGINFO) && previous_segv.sa_sigaction) {
        previous_segv.sa_sigaction(sig, si, uctx);
    } else if (previous_segv.sa_handler != SIG_DFL && previous_segv.sa_handler != SIG_IGN) {
        previous_segv.sa_handler(sig);
    } else {
        /* Restore the default action; the faulting instruction re-faults. */
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigaction(SIGSEGV, &dfl, NULL);
    }
}

static void free_altstack(void *p)
{
    stack_t off = {.ss_flags = SS_DISABLE};
    if (sigaltstack(&off, NULL) == 0)
        munmap(p, ALTSTACK_SIZE);
}

static void install_handler(void)
{
    struct sigaction sa = {.sa_sigaction = segv_handler, .sa_flags = SA_SIGINFO | SA_ONSTACK};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &previous_segv) != 0)
        return; /* overflow then shows as a plain SIGSEGV; nothing else breaks */
    (void)pthread_key_create(&altstack_key, free_altstack);
}

void vmrt__coro_thread_init(void)
{
    struct thread_state *t = tls();
    if (t->initialised)
        return;
    t->initialised = true;
    pthread_once(&handler_once, install_handler);
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
        return; /* the thread already has one (e.g. ASan's) */
    void *p = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    stack_t ss = {.ss_sp = p, .ss_size = ALTSTACK_SIZE};
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(p, ALTSTACK_SIZE);
        return;
    }
    t->altstack = p;
    (void)pthread_setspecific(altstack_key, p);
}

/* ---- switching ----------------------------------------------------------- */

static inline void *encode_state(vmrt_coro_state_t s)
{
    return (void *)(uintptr_t)(s + 1);
}

/* Called on the coroutine's stack right after it was switched to. */
static inline void arrived(vmrt_coro_t *co)
{
#ifdef VMRT_ASAN
    const void *lo;
    size_t size;
    __sanitizer_finish_switch_fiber(co->asan_fake_stack, &lo, &size);
    if (co->asan_handed_off) { /* we came from a sibling: vmrt__coro_handoff set our resumer */
        co->asan_handed_off = false;
    } else {
        co->resumer_stack_lo = lo;
        co->resumer_stack_size = size;
    }
#else
    (void)co;
#endif
}

/* Leaves co for its resumer, announcing next_state; returns when resumed.
 * Without sanitizers the switch is a tail call (see arch/switch_x86_64.S):
 * keep it the last statement of every caller that wants the fast path. */
static inline __attribute__((always_inline)) void leave(struct thread_state *t, vmrt_coro_t *co,
                                                        vmrt_coro_state_t next_state)
{
    t->current = co->resumer;
#if defined(VMRT_ASAN) || defined(VMRT_TSAN)
#ifdef VMRT_ASAN
    __sanitizer_start_switch_fiber(next_state == VMRT_CORO_TERMINATED ? NULL : &co->asan_fake_stack,
                                   co->resumer_stack_lo, co->resumer_stack_size);
#endif
#ifdef VMRT_TSAN
    __tsan_switch_to_fiber(co->resumer_tsan_fiber, 0);
#endif
    vmrt__ctx_switch(&co->sp, co->resumer_sp, encode_state(next_state), NULL);
    arrived(co);
#else
    vmrt__ctx_switch(&co->sp, co->resumer_sp, encode_state(next_state), NULL);
#endif
}

static void coro_main(void *transfer, void *arg)
{
    (void)transfer;
    vmrt_coro_t *co = arg;
    arrived(co);
    co->result = co->fn(co->arg);
    leave(tls(), co, VMRT_CORO_TERMINATED); /* tls(): fn may have migrated */
    __builtin_unreachable();
}

/* First resume of a coroutine, or first on this thread: kept out of line so
 * that the fast path of resume() needs no stack frame. */
static __attribute__((noinline, cold)) void resume_prepare(struct thread_state *t, vmrt_coro_t *co)
{
    if (!t->initialised)
        vmrt__coro_thread_init();
    if (!co->started) {
        co->started = true;
        co->sp =
            vmrt__ctx_make(vmrt__stack_lo(&co->stack), vmrt__coro_stack_top(co), coro_main, co);
    }
}

int vmrt_coro_resume(vmrt_coro_t *co)
{
    if (!co)
        return -EINVAL;
    int st = atomic_load_explicit(&co->state, memory_order_acquire);
    if (st == VMRT_CORO_RUNNING || st == VMRT_CORO_TERMINATED)
        return VMRT_ESTATE;
    struct thread_state *t = tls_before_switch();
    if (__builtin_expect(!t->initialised || !co->started, 0))
        resume_prepare(t, co);
    co->resumer = t->current;
    t->current = co;
    atomic_store_explicit(&co->state, VMRT_CORO_RUNNING, memory_order_relaxed);
    /* [CORO-PARK] the switch stores the coroutine's next state into
     * co->state once it is fully off its stack, then returns 0 here. */
#if defined(VMRT_ASAN) || defined(VMRT_TSAN)
#ifdef VMRT_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, vmrt__stack_lo(&co->stack),
                                   vmrt__stack_usable(&co->stack));
#endif
#ifdef VMRT_TSAN
    co->resumer_tsan_fiber = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(co->tsan_fiber, 0);
#endif
    int rc = vmrt__ctx_resume(&co->resumer_sp, co->sp, NULL, &co->state);
#ifdef VMRT_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    return rc;
#else
    return vmrt__ctx_resume(&co->resumer_sp, co->sp, NULL, &co->state);
#endif
}

void vmrt_coro_yield(void)
{
    struct thread_state *t = tls_before_switch();
    vmrt_coro_t *co = t->current;
    if (co)
        leave(t, co, VMRT_CORO_READY);
}

void vmrt__coro_yield_as(vmrt_coro_state_t state)
{
    struct thread_state *t = tls_before_switch();
    vmrt_coro_t *co = t->current;
    if (co)
        leave(t, co, state);
}

/* Offset, in words from a saved stack pointer, of the `park` argument that
 * vmrt__ctx_switch saved in the frame (arch/switch_*.S). */
#if defined(__x86_64__)
#define CTX_PARK_SLOT 7 /* MXCSR/FCW word, r15, r14, r13, r12, rbx, rbp, then park */
#elif defined(__aarch64__)
#define CTX_PARK_SLOT 21 /* [sp + 168]: after the FPCR word at [sp + 160] */
#else
/* A hand-off cannot fall back to a plain yield: the scheduler has already
 * made `to` the running coroutine when it calls vmrt__coro_handoff. */
#error "vmrt__coro_handoff needs the park slot of this architecture's switch frame"
#endif

void vmrt__coro_handoff(vmrt_coro_t *to, vmrt_coro_state_t state)
{
    struct thread_state *t = tls_before_switch();
    vmrt_coro_t *co = t->current;
    /* The resumer's frame waits for co's state: make it wait for to's. */
    ((_Atomic int **)co->resumer_sp)[CTX_PARK_SLOT] = &to->state;
    /* to's own frame (saved by a yield, park NULL) now stores co's state
     * once we are off co's stack. */
    ((_Atomic int **)to->sp)[CTX_PARK_SLOT] = &co->state;
    to->resumer = co->resumer;
    to->resumer_sp = co->resumer_sp;
    atomic_store_explicit(&to->state, VMRT_CORO_RUNNING, memory_order_relaxed);
    t->current = to;
#if defined(VMRT_ASAN) || defined(VMRT_TSAN)
#ifdef VMRT_ASAN
    to->resumer_stack_lo = co->resumer_stack_lo;
    to->resumer_stack_size = co->resumer_stack_size;
    to->asan_handed_off = true;
    __sanitizer_start_switch_fiber(&co->asan_fake_stack, vmrt__stack_lo(&to->stack),
                                   vmrt__stack_usable(&to->stack));
#endif
#ifdef VMRT_TSAN
    to->resumer_tsan_fiber = co->resumer_tsan_fiber;
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    vmrt__ctx_switch(&co->sp, to->sp, encode_state(state), NULL);
    arrived(co);
#else
    vmrt__ctx_switch(&co->sp, to->sp, encode_state(state), NULL);
#endif
}

vmrt_coro_t *vmrt_coro_self(void)
{
    return tls()->current;
}

/* ---- creation and accessors --------------------------------------------- */

void vmrt_coro_attr_init(vmrt_coro_attr_t *attr)
{
    memset(attr, 0, sizeof *attr);
    attr->size = sizeof *attr;
    attr->stack_size = VMRT_CORO_DEFAULT_STACK;
    attr->priority = VMRT_PRIO_MEDIUM;
    attr->bind_vcpu = -1;
}

int vmrt__coro_alloc(vmrt_coro_t **out, size_t stack_size)
{
    vmrt_coro_t *co = calloc(1, sizeof *co);
    if (!co)
        return -ENOMEM;
    int err = vmrt__stack_alloc(&co->stack, stack_size);
    if (err) {
        free(co);
        return err;
    }
#ifdef VMRT_TSAN
    co->tsan_fiber = __tsan_create_fiber(0);
#endif
    *out = co;
    return 0;
}

/* Unique ids without a shared atomic per creation: each thread takes a
 * block of ID_BLOCK ids at a time. Ids are unique, not dense or ordered. */
static uint64_t next_coro_id(void)
{
    struct thread_state *t = tls();
    if (t->id_next == t->id_end) {
        t->id_next = atomic_fetch_add_explicit(&next_id, ID_BLOCK, memory_order_relaxed);
        t->id_end = t->id_next + ID_BLOCK;
    }
    return t->id_next++;
}

void vmrt__coro_init(vmrt_coro_t *co, const vmrt_coro_attr_t *attr, vmrt_coro_fn fn, void *arg)
{
    vmrt_coro_attr_t defaults;
    if (!attr) {
        vmrt_coro_attr_init(&defaults);
        attr = &defaults;
    }
    const char *name = attr->name ? attr->name : "coro";
    size_t len = strnlen(name, VMRT_CORO_NAME_MAX - 1);
    memcpy(co->name, name, len);
    co->name[len] = '\0';
    co->id = next_coro_id();
    co->fn = fn;
    co->arg = arg;
    co->result = NULL;
    co->started = false;
    co->resumer = NULL;
    co->asan_fake_stack = NULL;
    co->asan_handed_off = false;
    atomic_store_explicit(
        &co->priority, (int)(attr->priority <= VMRT_PRIO_LOW ? attr->priority : VMRT_PRIO_MEDIUM),
        memory_order_relaxed);
    co->affinity = attr->affinity;
    co->bind_vcpu = attr->bind_vcpu;
    co->flags = attr->flags;
    co->userdata = NULL;
    co->sched = NULL;
    co->sched_data = NULL;
    atomic_store_explicit(&co->state, VMRT_CORO_READY, memory_order_relaxed);
}

int vmrt_coro_create(vmrt_coro_t **out, const vmrt_coro_attr_t *attr, vmrt_coro_fn fn, void *arg)
{
    if (!out || !fn)
        return -EINVAL;
    size_t stack = attr ? attr->stack_size : VMRT_CORO_DEFAULT_STACK;
    if (attr && attr->size != sizeof *attr)
        return -EINVAL;
    if (stack < VMRT_CORO_MIN_STACK || stack > VMRT_CORO_MAX_STACK)
        return -EINVAL;
    vmrt_coro_t *co;
    int err = vmrt__coro_alloc(&co, stack);
    if (err)
        return err;
    vmrt__coro_init(co, attr, fn, arg);
    *out = co;
    return 0;
}

int vmrt_coro_destroy(vmrt_coro_t *co)
{
    if (!co)
        return 0;
    if (atomic_load_explicit(&co->state, memory_order_acquire) == VMRT_CORO_RUNNING)
        return VMRT_ESTATE;
    vmrt__stack_free(&co->stack);
#ifdef VMRT_TSAN
    if (co->tsan_fiber)
        __tsan_destroy_fiber(co->tsan_fiber);
#endif
    free(co);
    return 0;
}

vmrt_coro_state_t vmrt_coro_state(const vmrt_coro_t *co)
{
    return (vmrt_coro_state_t)atomic_load_explicit(&co->state, memory_order_acquire);
}

const char *vmrt_coro_state_name(vmrt_coro_state_t state)
{
    switch (state) {
    case VMRT_CORO_READY:
        return "ready";
    case VMRT_CORO_RUNNING:
        return "running";
    case VMRT_CORO_BLOCKED:
        return "blocked";
    case VMRT_CORO_SUSPENDED:
        return "suspended";
    case VMRT_CORO_TERMINATED:
        return "terminated";
    default:
        return "invalid";
    }
}

const char *vmrt_coro_name(const vmrt_coro_t *co)
{
    return co->name;
}
uint64_t vmrt_coro_id(const vmrt_coro_t *co)
{
    return co->id;
}
int vmrt_coro_set_priority(vmrt_coro_t *co, vmrt_prio_t prio)
{
    if (!co || (unsigned)prio > VMRT_PRIO_LOW)
        return -EINVAL;
    atomic_store_explicit(&co->priority, (int)prio, memory_order_relaxed);
    return 0;
}

vmrt_prio_t vmrt_coro_priority(const vmrt_coro_t *co)
{
    return (vmrt_prio_t)atomic_load_explicit(&co->priority, memory_order_relaxed);
}
void *vmrt_coro_result(const vmrt_coro_t *co)
{
    return co->result;
}
void *vmrt_coro_userdata(const vmrt_coro_t *co)
{
    return co->userdata;
}
void vmrt_coro_set_userdata(vmrt_coro_t *co, void *data)
{
    co->userdata = data;
}
size_t vmrt_coro_stack_size(const vmrt_coro_t *co)
{
    return vmrt__stack_usable(&co->stack);
}
