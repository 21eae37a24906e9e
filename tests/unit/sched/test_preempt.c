/* Preemption and priorities: time slices at safepoints, the High fast path,
 * the starvation bound, fairness, signal preemption of a coroutine that
 * never polls, stopping the world and the stack enumeration for the GC.
 * Timing bounds are generous: the host is shared and noisy. */
#include "harness.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmrt/vmrt.h>

VT_DEFINE_GLOBALS;

int vmrt__signal_preempt_init(void);

#if defined(__SANITIZE_THREAD__)
#define NO_SIGNAL_PREEMPT                                                                          \
    "signal preemption is off under TSan: it defers asynchronous signals to the next "             \
    "intercepted call, which a coroutine without safepoints never makes (preempt.c)"
#else
#define NO_SIGNAL_PREEMPT "signal preemption needs x86-64 or AArch64 (and no TSan)"
#endif

static vmrt_sched_t *make(unsigned vcpus, uint64_t slice)
{
    vmrt_sched_config_t cfg;
    vmrt_sched_config_init(&cfg);
    cfg.vcpus = vcpus;
    cfg.time_slice_ns = slice;
    vmrt_sched_t *s;
    ASSERT_OK(vmrt_sched_new(&s, &cfg));
    ASSERT_OK(vmrt_sched_start(s));
    return s;
}

static bool slow_config(void)
{
    const char *c = getenv("VMRT_TEST_CONFIG");
    return c && strcmp(c, "native") != 0;
}

static atomic_bool stop_spin;

static void *spinner(void *arg)
{
    atomic_uint_fast64_t *count = arg;
    while (!atomic_load_explicit(&stop_spin, memory_order_relaxed)) {
        if (count)
            atomic_fetch_add_explicit(count, 1, memory_order_relaxed);
        vmrt_safepoint();
    }
    return NULL;
}

static void *stamp(void *arg)
{
    *(uint64_t *)arg = vmrt_now_ns();
    return NULL;
}

/* Saturating Low load: LOW_SPINNERS Low coroutines spinning with safepoints
 * (two per vCPU of make(2, ...)), until low_load_stop. */
#define LOW_SPINNERS 4
static void low_load_start(vmrt_sched_t *s, vmrt_coro_t *sp[LOW_SPINNERS])
{
    atomic_store(&stop_spin, false);
    vmrt_coro_attr_t low;
    vmrt_coro_attr_init(&low);
    low.priority = VMRT_PRIO_LOW;
    for (int i = 0; i < LOW_SPINNERS; i++)
        ASSERT_OK(vmrt_sched_spawn(s, &sp[i], &low, spinner, NULL));
}

static void low_load_stop(vmrt_coro_t *sp[LOW_SPINNERS])
{
    atomic_store(&stop_spin, true);
    for (int i = 0; i < LOW_SPINNERS; i++)
        ASSERT_OK(vmrt_sched_join(sp[i], NULL));
}

/* A spinner with safepoints on the only vCPU cannot keep another coroutine
 * of its level from running beyond about a time slice. */
static void test_time_slice(void **state)
{
    (void)state;
    atomic_store(&stop_spin, false);
    vmrt_sched_t *s = make(1, 2000000);
    vmrt_coro_t *sp, *st;
    ASSERT_OK(vmrt_sched_spawn(s, &sp, NULL, spinner, NULL));
    usleep(5000);
    uint64_t t0 = vmrt_now_ns(), ran = 0;
    ASSERT_OK(vmrt_sched_spawn(s, &st, NULL, stamp, &ran));
    ASSERT_OK(vmrt_sched_join(st, NULL));
    uint64_t delay = ran - t0;
    atomic_store(&stop_spin, true);
    ASSERT_OK(vmrt_sched_join(sp, NULL));
    ASSERT_TRUE(delay < 200000000); /* slice 2 ms; bound 200 ms for noise */
    vmrt_sched_stats_t stats;
    ASSERT_OK(vmrt_sched_stats(s, &stats));
    ASSERT_TRUE(stats.preempt_coop >= 1);
    vmrt_sched_destroy(s);
}

/* A High coroutine made ready while Low spinners (with safepoints) hold
 * every vCPU runs at once, not after a slice. */
static uint64_t high_latency_worst(void)
{
    vmrt_sched_t *s = make(2, 50000000); /* 50 ms slices: only the fast path helps */
    vmrt_coro_attr_t high;
    vmrt_coro_attr_init(&high);
    high.priority = VMRT_PRIO_HIGH;
    vmrt_coro_t *sp[LOW_SPINNERS];
    low_load_start(s, sp);
    usleep(10000);
    uint64_t worst = 0;
    for (int i = 0; i < 20; i++) {
        uint64_t t0 = vmrt_now_ns(), ran = 0;
        vmrt_coro_t *h;
        ASSERT_OK(vmrt_sched_spawn(s, &h, &high, stamp, &ran));
        ASSERT_OK(vmrt_sched_join(h, NULL));
        if (ran - t0 > worst)
            worst = ran - t0;
        usleep(1000);
    }
    low_load_stop(sp);
    vmrt_sched_destroy(s);
    return worst;
}

/* Runs measure() up to three times until it returns less than bound (ns): a
 * host that takes a vCPU thread off its core that long (seen under qemu with
 * other tests running) gets two more tries; a scheduler that misses the
 * bound fails all three. Returns the last measurement. */
static uint64_t within_bound(uint64_t (*measure)(void), uint64_t bound, const char *what)
{
    uint64_t worst = 0;
    for (int attempt = 0; attempt < 3 && (worst = measure()) >= bound; attempt++)
        fprintf(stderr, "attempt %d: %s %.1f ms\n", attempt + 1, what, worst / 1e6);
    return worst;
}

static void test_high_priority_latency(void **state)
{
    (void)state;
    /* Well under one 50 ms slice: without the fast path every try waits for
     * a slice. */
    ASSERT_TRUE(within_bound(high_latency_worst, 40000000, "High ran after") < 40000000);
}

/* A Medium coroutine whose sleeps end while Low spinners (with safepoints)
 * hold every vCPU runs within about a monitor tick (1 ms), not at the end of
 * a Low slice (200 ms here): the monitor asks a vCPU running a lower level to
 * yield as soon as higher work is ready. Returns the worst lateness of 10
 * sleeps of 2 ms. */
static void *medium_sleeper(void *arg)
{
    (void)arg;
    uint64_t worst = 0;
    for (int i = 0; i < 10; i++) {
        uint64_t t0 = vmrt_now_ns();
        ASSERT_OK(vmrt_sleep_ns(2000000));
        uint64_t late = vmrt_now_ns() - t0 - 2000000;
        if (late > worst)
            worst = late;
    }
    return (void *)(uintptr_t)worst;
}

static uint64_t medium_over_low_worst(void)
{
    vmrt_sched_t *s = make(2, 200000000);
    vmrt_coro_t *sp[LOW_SPINNERS], *m;
    low_load_start(s, sp);
    usleep(5000);
    ASSERT_OK(vmrt_sched_spawn(s, &m, NULL, medium_sleeper, NULL));
    void *worst;
    ASSERT_OK(vmrt_sched_join(m, &worst));
    low_load_stop(sp);
    vmrt_sched_destroy(s);
    return (uint64_t)(uintptr_t)worst;
}

static void test_medium_preempts_low(void **state)
{
    (void)state;
    /* Without the check every sleep waits up to a 200 ms slice; 50 ms is
     * the bound for a noisy host. */
    ASSERT_TRUE(within_bound(medium_over_low_worst, 50000000, "a sleep ended late by") < 50000000);
}

/* The same with the waker a Medium coroutine (its own vCPU takes the High
 * one as soon as the waker blocks). */
static void *medium_waker(void *arg)
{
    vmrt_coro_attr_t *high = arg;
    uint64_t worst = 0;
    for (int i = 0; i < 20; i++) {
        uint64_t t0 = vmrt_now_ns(), ran = 0;
        vmrt_coro_t *h;
        ASSERT_OK(vmrt_sched_spawn(vmrt_sched_current(), &h, high, stamp, &ran));
        ASSERT_OK(vmrt_sched_join(h, NULL));
        if (ran - t0 > worst)
            worst = ran - t0;
        ASSERT_OK(vmrt_sleep_ns(500000));
    }
    return (void *)(uintptr_t)worst;
}

static void test_high_priority_latency_coroutine_waker(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(2, 50000000);
    vmrt_coro_attr_t high;
    vmrt_coro_attr_init(&high);
    high.priority = VMRT_PRIO_HIGH;
    vmrt_coro_t *sp[LOW_SPINNERS], *w;
    low_load_start(s, sp);
    ASSERT_OK(vmrt_sched_spawn(s, &w, NULL, medium_waker, &high));
    void *worst;
    ASSERT_OK(vmrt_sched_join(w, &worst));
    low_load_stop(sp);
    ASSERT_TRUE((uintptr_t)worst < 40000000); /* well under one 50 ms slice */
    vmrt_sched_destroy(s);
}

/* A channel send that readies a High receiver is a scheduling point: on the
 * only vCPU, the Medium sender yields inside the send and the High receiver
 * runs before the statement after the send (no safepoint in between). */
static vmrt_chan_t *hand_ch;
static atomic_int after_send;

static void *high_recv(void *arg)
{
    int *seen = arg;
    for (int i = 0; i < 10; i++) {
        int x;
        ASSERT_OK(vmrt_chan_recv(hand_ch, &x, 0));
        ASSERT_EQ(x, i);
        seen[i] = atomic_load(&after_send);
    }
    return NULL;
}

static void *medium_send(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++) {
        while (vmrt_chan_len(hand_ch) != 0 || atomic_load(&after_send) != i)
            vmrt_yield();
        ASSERT_OK(vmrt_sleep_ns(100000)); /* the receiver is blocked by now */
        ASSERT_OK(vmrt_chan_send(hand_ch, &i, 0));
        atomic_store(&after_send, i + 1);
    }
    return NULL;
}

static void test_high_runs_at_channel_send(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(1, 50000000);
    ASSERT_OK(vmrt_chan_new(&hand_ch, sizeof(int), 0));
    atomic_store(&after_send, 0);
    vmrt_coro_attr_t high;
    vmrt_coro_attr_init(&high);
    high.priority = VMRT_PRIO_HIGH;
    int seen[10];
    memset(seen, -1, sizeof seen);
    vmrt_coro_t *h, *m;
    ASSERT_OK(vmrt_sched_spawn(s, &h, &high, high_recv, seen));
    ASSERT_OK(vmrt_sched_spawn(s, &m, NULL, medium_send, NULL));
    ASSERT_OK(vmrt_sched_join(m, NULL));
    ASSERT_OK(vmrt_sched_join(h, NULL));
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(seen[i], i); /* the sender had not gone past send i */
    vmrt_sched_stats_t st;
    ASSERT_OK(vmrt_sched_stats(s, &st));
    ASSERT_TRUE(st.preempt_coop >= 10);
    ASSERT_OK(vmrt_chan_destroy(hand_ch));
    vmrt_sched_destroy(s);
}

/* [SCHED-STARVE] a ready Low coroutine runs even while High spinners
 * saturate every vCPU. */
static void test_starvation_bound(void **state)
{
    (void)state;
    atomic_store(&stop_spin, false);
    vmrt_sched_t *s = make(1, 1000000); /* slice 1 ms, starvation bound 10 ms */
    vmrt_coro_attr_t high, low;
    vmrt_coro_attr_init(&high);
    high.priority = VMRT_PRIO_HIGH;
    vmrt_coro_attr_init(&low);
    low.priority = VMRT_PRIO_LOW;
    vmrt_coro_t *sp[2], *l;
    for (int i = 0; i < 2; i++)
        ASSERT_OK(vmrt_sched_spawn(s, &sp[i], &high, spinner, NULL));
    usleep(5000);
    uint64_t t0 = vmrt_now_ns(), ran = 0;
    ASSERT_OK(vmrt_sched_spawn(s, &l, &low, stamp, &ran));
    ASSERT_OK(vmrt_sched_join(l, NULL));
    atomic_store(&stop_spin, true);
    for (int i = 0; i < 2; i++)
        ASSERT_OK(vmrt_sched_join(sp[i], NULL));
    ASSERT_TRUE(ran - t0 < 500000000); /* documented ~11 ms; 0.5 s for noise */
    vmrt_sched_destroy(s);
}

/* Fairness: equal spinners get comparable CPU time. */
/* One measurement: the ratio of the most to the least CPU time (as spin
 * counts) among 6 equal spinners over 300 ms. */
static double fairness_ratio(void)
{
    atomic_store(&stop_spin, false);
    vmrt_sched_t *s = make(2, 1000000);
    static atomic_uint_fast64_t counts[6];
    vmrt_coro_t *sp[6];
    for (int i = 0; i < 6; i++) {
        atomic_store(&counts[i], 0);
        ASSERT_OK(vmrt_sched_spawn(s, &sp[i], NULL, spinner, (void *)&counts[i]));
    }
    usleep(300000);
    atomic_store(&stop_spin, true);
    for (int i = 0; i < 6; i++)
        ASSERT_OK(vmrt_sched_join(sp[i], NULL));
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < 6; i++) {
        uint64_t c = atomic_load(&counts[i]);
        lo = c < lo ? c : lo;
        hi = c > hi ? c : hi;
    }
    vmrt_sched_stats_t st;
    ASSERT_OK(vmrt_sched_stats(s, &st));
    vmrt_sched_destroy(s);
    return lo ? (double)hi / (double)lo : 1e9;
}

/* Each spinner gets a fair share, within 5×. A host that takes one vCPU
 * thread off its core for much of the window starves the coroutine running
 * there (seen 2 times in 20 under heavy parallel load): two more tries. */
static void test_fairness(void **state)
{
    (void)state;
    double r = 0;
    for (int attempt = 0; attempt < 3 && (r = fairness_ratio()) >= 5.0; attempt++)
        fprintf(stderr, "attempt %d: most/least = %.1f\n", attempt + 1, r);
    ASSERT_TRUE(r < 5.0);
}

/* A coroutine without safepoints, created with VMRT_CORO_SIGNAL_PREEMPT,
 * is preempted by signal so that another coroutine on its vCPU runs. */
static volatile int no_poll_stop;

static void *no_poll_spinner(void *arg)
{
    (void)arg;
    while (!no_poll_stop)
        __asm__ volatile("" ::: "memory");
    return (void *)1;
}

static void *set_stop(void *arg)
{
    (void)arg;
    no_poll_stop = 1;
    return NULL;
}

static void test_signal_preemption(void **state)
{
    (void)state;
    if (vmrt__signal_preempt_init() != 0)
        VT_SKIP(NO_SIGNAL_PREEMPT);
    no_poll_stop = 0;
    vmrt_sched_t *s = make(1, 1000000);
    vmrt_coro_attr_t a;
    vmrt_coro_attr_init(&a);
    a.flags = VMRT_CORO_SIGNAL_PREEMPT;
    vmrt_coro_t *sp, *st;
    ASSERT_OK(vmrt_sched_spawn(s, &sp, &a, no_poll_spinner, NULL));
    usleep(5000);
    ASSERT_OK(vmrt_sched_spawn(s, &st, NULL, set_stop, NULL));
    void *r;
    ASSERT_OK(vmrt_sched_join(st, NULL));
    ASSERT_OK(vmrt_sched_join(sp, &r));
    ASSERT_EQ((intptr_t)r, 1);
    vmrt_sched_stats_t stats;
    ASSERT_OK(vmrt_sched_stats(s, &stats));
    ASSERT_TRUE(stats.preempt_signal >= 1);
    vmrt_sched_destroy(s);
}

/* Signal preemption keeps every register: a preempted computation that
 * lives in registers (integer and vector) gives the right result. */
static void *regs_spinner(void *arg)
{
    uint64_t n = (uint64_t)(uintptr_t)arg;
    uint64_t x = 1;
    double d = 1.0;
    for (uint64_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        d = d * 1.0000001 + 1e-9;
    }
    uint64_t y = 1;
    double e = 1.0;
    for (uint64_t i = 0; i < n; i++) {
        y = y * 6364136223846793005ull + 1442695040888963407ull;
        e = e * 1.0000001 + 1e-9;
    }
    return (void *)(intptr_t)(x == y && d == e);
}

static void test_signal_preemption_registers(void **state)
{
    (void)state;
    if (vmrt__signal_preempt_init() != 0)
        VT_SKIP(NO_SIGNAL_PREEMPT);
    /* under qemu (the aarch64 configuration) 1/15 of the work still spans
     * many 200 us slices */
    uintptr_t n = slow_config() ? 20000000u : 300000000u;
    vmrt_sched_t *s = make(1, 200000);
    vmrt_coro_attr_t a;
    vmrt_coro_attr_init(&a);
    a.flags = VMRT_CORO_SIGNAL_PREEMPT;
    vmrt_coro_t *c[2];
    for (int i = 0; i < 2; i++)
        ASSERT_OK(vmrt_sched_spawn(s, &c[i], &a, regs_spinner, (void *)n));
    for (int i = 0; i < 2; i++) {
        void *r;
        ASSERT_OK(vmrt_sched_join(c[i], &r));
        ASSERT_EQ((intptr_t)r, 1);
    }
    vmrt_sched_stats_t stats;
    ASSERT_OK(vmrt_sched_stats(s, &stats));
    ASSERT_TRUE(stats.preempt_signal >= 2);
    vmrt_sched_destroy(s);
}

#if defined(__aarch64__)
/* AArch64: x16/x17 (free temporaries at any instruction, so a trampoline
 * could not have used them to jump back), the flags and a SIMD register hold
 * values across a long loop without calls while signals preempt it. */
static void *asm_regs_spinner(void *arg)
{
    uint64_t n = (uint64_t)(uintptr_t)arg, ok;
    __asm__ volatile("movz x16, #0x1234\n"
                     "movk x16, #0xdead, lsl #48\n"
                     "movz x17, #0x5678\n"
                     "movk x17, #0xbeef, lsl #32\n"
                     "fmov d31, x17\n"
                     "cmp x16, x17\n" /* flags: ne, hi (x16 > x17 unsigned) */
                     "1: subs %[n], %[n], #1\n"
                     "b.ne 1b\n"
                     "cmp x16, x17\n"
                     "cset %[ok], hi\n"
                     "movz x9, #0x1234\n"
                     "movk x9, #0xdead, lsl #48\n"
                     "cmp x16, x9\n"
                     "csel %[ok], %[ok], xzr, eq\n"
                     "fmov x9, d31\n"
                     "cmp x17, x9\n"
                     "csel %[ok], %[ok], xzr, eq\n"
                     : [n] "+r"(n), [ok] "=&r"(ok)
                     :
                     : "x9", "x16", "x17", "v31", "cc");
    return (void *)(uintptr_t)ok;
}

static void test_signal_preemption_aarch64_regs(void **state)
{
    (void)state;
    if (vmrt__signal_preempt_init() != 0)
        VT_SKIP(NO_SIGNAL_PREEMPT);
    vmrt_sched_t *s = make(1, 200000);
    vmrt_coro_attr_t a;
    vmrt_coro_attr_init(&a);
    a.flags = VMRT_CORO_SIGNAL_PREEMPT;
    uintptr_t n = slow_config() ? 50000000u : 1000000000u;
    vmrt_coro_t *c[2];
    for (int i = 0; i < 2; i++)
        ASSERT_OK(vmrt_sched_spawn(s, &c[i], &a, asm_regs_spinner, (void *)n));
    for (int i = 0; i < 2; i++) {
        void *r;
        ASSERT_OK(vmrt_sched_join(c[i], &r));
        ASSERT_EQ((intptr_t)r, 1);
    }
    vmrt_sched_stats_t stats;
    ASSERT_OK(vmrt_sched_stats(s, &stats));
    ASSERT_TRUE(stats.preempt_signal >= 2);
    vmrt_sched_destroy(s);
}
#endif

/* Stop the world: spinners stop at safepoints; the stacks can be walked. */
struct visit {
    size_t n;
    bool bounds_ok;
};

static void visit(vmrt_coro_t *co, const void *lo, const void *hi, const void *sp, void *arg)
{
    (void)co;
    struct visit *v = arg;
    v->n++;
    if (!((const char *)lo < (const char *)sp && (const char *)sp <= (const char *)hi))
        v->bounds_ok = false;
}

static void test_stop_world(void **state)
{
    (void)state;
    atomic_store(&stop_spin, false);
    vmrt_sched_t *s = make(2, 1000000);
    static atomic_uint_fast64_t counts[3];
    vmrt_coro_t *sp[3];
    for (int i = 0; i < 3; i++)
        ASSERT_OK(vmrt_sched_spawn(s, &sp[i], NULL, spinner, (void *)&counts[i]));
    for (int i = 0; i < 3; i++) /* every spinner has started (slices rotate them) */
        while (!atomic_load(&counts[i]))
            usleep(1000);
    for (int round = 0; round < 3; round++) {
        ASSERT_OK(vmrt_sched_stop_world(s));
        uint64_t before[3];
        for (int i = 0; i < 3; i++)
            before[i] = atomic_load(&counts[i]);
        usleep(5000);
        for (int i = 0; i < 3; i++)
            ASSERT_EQ(atomic_load(&counts[i]), before[i]);
        struct visit v = {0, true};
        ASSERT_EQ(vmrt_sched_for_each_stack(s, visit, &v), 3);
        ASSERT_EQ(v.n, 3);
        ASSERT_TRUE(v.bounds_ok);
        ASSERT_OK(vmrt_sched_start_world(s));
        usleep(5000);
    }
    uint64_t mid = atomic_load(&counts[0]) + atomic_load(&counts[1]) + atomic_load(&counts[2]);
    usleep(20000);
    ASSERT_TRUE(atomic_load(&counts[0]) + atomic_load(&counts[1]) + atomic_load(&counts[2]) > mid);
    ASSERT_EQ(vmrt_sched_start_world(s), VMRT_ESTATE);
    atomic_store(&stop_spin, true);
    for (int i = 0; i < 3; i++)
        ASSERT_OK(vmrt_sched_join(sp[i], NULL));
    vmrt_sched_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_slice),
        cmocka_unit_test(test_high_priority_latency),
        cmocka_unit_test(test_high_priority_latency_coroutine_waker),
        cmocka_unit_test(test_high_runs_at_channel_send),
        cmocka_unit_test(test_medium_preempts_low),
        cmocka_unit_test(test_starvation_bound),
        cmocka_unit_test(test_fairness),
        cmocka_unit_test(test_signal_preemption),
        cmocka_unit_test(test_signal_preemption_registers),
#if defined(__aarch64__)
        cmocka_unit_test(test_signal_preemption_aarch64_regs),
#endif
        cmocka_unit_test(test_stop_world),
    };
    VT_RUN("preempt", tests);
}
