/* Bounded stress: at least 1,000,000 coroutines (native and TSan) doing
 * random spawn/join, detached spawns, channel traffic, sleeps and migration
 * across vCPUs, at all three priorities, with round trips through a High
 * echo coroutine (a lower-priority sender readies it: the High hand-off). Totals are checked
 * exactly. Counts shrink under ASan and qemu (VMRT_TEST_CONFIG) to keep each run well under a
 * minute. */
#include "harness.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <vmrt/vmrt.h>

VT_DEFINE_GLOBALS;

#define WORKERS 100

static long quota_per_worker;
static vmrt_chan_t *ch, *hi_in, *hi_out;
static atomic_long detached_done, sent_sum, recv_sum, spawned_total;
static unsigned nvcpus;

static void *leaf(void *arg)
{
    long v = (long)(intptr_t)arg;
    if (v % 7 == 0)
        vmrt_yield();
    return (void *)(intptr_t)(v * 2);
}

static void *detached(void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&detached_done, 1, memory_order_relaxed);
    return NULL;
}

/* High priority: echoes every value +1 until it receives -1. */
static void *high_echo(void *arg)
{
    long v, n = 0;
    while (vmrt_chan_recv(hi_in, &v, 0) == 0 && v >= 0) {
        v++;
        if (vmrt_chan_send(hi_out, &v, 0))
            return NULL;
        n++;
    }
    (void)arg;
    return (void *)(intptr_t)n;
}

static atomic_long echo_trips;

static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void *worker(void *arg)
{
    uint64_t rng = 0x9e3779b97f4a7c15ull * ((uint64_t)(intptr_t)arg + 1);
    vmrt_sched_t *s = vmrt_sched_current();
    long spawned = 0;
    while (spawned < quota_per_worker) {
        unsigned op = (unsigned)(next(&rng) % 100);
        if (op < 70) { /* spawn a batch and join it */
            vmrt_coro_t *c[8];
            long base = (long)(next(&rng) % 1000), want = 0;
            int n = 1 + (int)(next(&rng) % 8);
            for (int i = 0; i < n; i++) {
                ASSERT_OK(vmrt_sched_spawn(s, &c[i], NULL, leaf, (void *)(intptr_t)(base + i)));
                want += 2 * (base + i);
            }
            long got = 0;
            for (int i = 0; i < n; i++) {
                void *r;
                ASSERT_OK(vmrt_sched_join(c[i], &r));
                got += (long)(intptr_t)r;
            }
            ASSERT_EQ(got, want);
            spawned += n;
        } else if (op < 80) { /* a round trip through the High echo */
            long v = (long)(next(&rng) % 1000), w;
            ASSERT_OK(vmrt_chan_send(hi_in, &v, 0));
            ASSERT_OK(vmrt_chan_recv(hi_out, &w, 0));
            ASSERT_EQ(w, v + 1);
            atomic_fetch_add_explicit(&echo_trips, 1, memory_order_relaxed);
        } else if (op < 85) { /* channel traffic */
            long v = (long)(next(&rng) % 1000), w;
            ASSERT_OK(vmrt_chan_send(ch, &v, 0));
            atomic_fetch_add_explicit(&sent_sum, v, memory_order_relaxed);
            ASSERT_OK(vmrt_chan_recv(ch, &w, 0));
            atomic_fetch_add_explicit(&recv_sum, w, memory_order_relaxed);
        } else if (op < 88) {
            ASSERT_OK(vmrt_sleep_ns(next(&rng) % 50000));
        } else if (op < 92) {
            ASSERT_OK(vmrt_coro_migrate(vmrt_coro_self(), (unsigned)(next(&rng) % nvcpus)));
        } else {
            ASSERT_OK(vmrt_sched_spawn(s, NULL, NULL, detached, NULL));
            spawned++;
        }
    }
    atomic_fetch_add(&spawned_total, spawned);
    return NULL;
}

static void test_stress(void **state)
{
    (void)state;
    const char *cfgname = getenv("VMRT_TEST_CONFIG");
    long total = 1000000; /* native and ThreadSanitizer (~30 s there): the size */
    if (cfgname && !strcmp(cfgname, "asan"))
        total = 100000;
    else if (cfgname && !strcmp(cfgname, "aarch64"))
        total = 20000; /* under qemu-user */
    quota_per_worker = total / WORKERS;
    vmrt_sched_config_t cfg;
    vmrt_sched_config_init(&cfg);
    cfg.vcpus = cfg.vcpus < 2 ? 2 : cfg.vcpus; /* always cross vCPUs */
    cfg.stack_size = 64 * 1024;
    nvcpus = cfg.vcpus;
    vmrt_sched_t *s;
    ASSERT_OK(vmrt_sched_new(&s, &cfg));
    ASSERT_OK(vmrt_sched_start(s));
    ASSERT_OK(vmrt_chan_new(&ch, sizeof(long), 64));
    ASSERT_OK(vmrt_chan_new(&hi_in, sizeof(long), 0));
    ASSERT_OK(vmrt_chan_new(&hi_out, sizeof(long), 0));
    vmrt_coro_attr_t high;
    vmrt_coro_attr_init(&high);
    high.priority = VMRT_PRIO_HIGH;
    vmrt_coro_t *echo;
    ASSERT_OK(vmrt_sched_spawn(s, &echo, &high, high_echo, NULL));
    vmrt_coro_t *w[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        vmrt_coro_attr_t a; /* a tenth of the workers Low, a tenth High */
        vmrt_coro_attr_init(&a);
        a.priority = i % 10 == 1 ? VMRT_PRIO_LOW : i % 10 == 2 ? VMRT_PRIO_HIGH : VMRT_PRIO_MEDIUM;
        ASSERT_OK(vmrt_sched_spawn(s, &w[i], &a, worker, (void *)(intptr_t)i));
    }
    for (int i = 0; i < WORKERS; i++)
        ASSERT_OK(vmrt_sched_join(w[i], NULL));
    long stop = -1;
    void *echoed;
    ASSERT_OK(vmrt_chan_send(hi_in, &stop, 0)); /* (from this thread) */
    ASSERT_OK(vmrt_sched_join(echo, &echoed));
    ASSERT_EQ((long)(intptr_t)echoed, atomic_load(&echo_trips));
    ASSERT_TRUE(atomic_load(&echo_trips) > 0);
    ASSERT_OK(vmrt_sched_stop(s, VMRT_SCHED_STOP_WAIT, 30000000000ull));
    vmrt_sched_stats_t st;
    ASSERT_OK(vmrt_sched_stats(s, &st));
    ASSERT_TRUE(atomic_load(&spawned_total) >= total);
    ASSERT_EQ(st.total_coroutines, (uint64_t)atomic_load(&spawned_total) + WORKERS + 1);
    ASSERT_EQ(st.active_coroutines, 0);
    ASSERT_EQ(atomic_load(&sent_sum), atomic_load(&recv_sum));
    ASSERT_EQ(vmrt_chan_len(ch), 0);
    ASSERT_TRUE(atomic_load(&detached_done) > 0);
    ASSERT_TRUE(st.migrations > 0);
    fprintf(stderr,
            "stress: %lu coroutines, %lu switches, %lu steals, %lu migrations, %ld High echoes\n",
            (unsigned long)st.total_coroutines, (unsigned long)st.context_switches,
            (unsigned long)st.steals, (unsigned long)st.migrations, atomic_load(&echo_trips));
    ASSERT_OK(vmrt_chan_destroy(ch));
    ASSERT_OK(vmrt_chan_destroy(hi_in));
    ASSERT_OK(vmrt_chan_destroy(hi_out));
    vmrt_sched_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_stress)};
    VT_RUN("stress", tests);
}
