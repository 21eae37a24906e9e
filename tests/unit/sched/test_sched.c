/* Scheduler core: configuration, lifecycle, spawn/join, submit + run_one
 * (the spec's loop), yield, sleep, suspend/resume, cancel, stats. */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <vmrt/vmrt.h>

VT_DEFINE_GLOBALS;

double vmrt__cpu_quota_parse(const char *quota, const char *period);

static vmrt_sched_t *make(unsigned vcpus)
{
    vmrt_sched_config_t cfg;
    vmrt_sched_config_init(&cfg);
    cfg.vcpus = vcpus;
    vmrt_sched_t *s;
    ASSERT_OK(vmrt_sched_new(&s, &cfg));
    return s;
}

static void test_config(void **state)
{
    (void)state;
    vmrt_sched_config_t cfg;
    vmrt_sched_config_init(&cfg);
    ASSERT_TRUE(cfg.vcpus >= 1 && cfg.vcpus <= VMRT_SCHED_MAX_VCPUS);
    ASSERT_TRUE(cfg.vcpus <= (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
    ASSERT_TRUE(cfg.preemptive);
    vmrt_sched_t *s;
    vmrt_sched_config_t bad = cfg;
    bad.ready_queue_size = 100; /* not a power of 2 */
    ASSERT_EQ(vmrt_sched_new(&s, &bad), -EINVAL);
    bad = cfg;
    bad.time_slice_ns = 10;
    ASSERT_EQ(vmrt_sched_new(&s, &bad), -EINVAL);
    bad = cfg;
    bad.vcpus = VMRT_SCHED_MAX_VCPUS + 1;
    ASSERT_EQ(vmrt_sched_new(&s, &bad), -EINVAL);
    bad = cfg;
    bad.size = 3;
    ASSERT_EQ(vmrt_sched_new(&s, &bad), -EINVAL);
    bad = cfg;
    bad.starvation_ns = cfg.time_slice_ns / 2;
    ASSERT_EQ(vmrt_sched_new(&s, &bad), -EINVAL);
    ASSERT_OK(vmrt_sched_new(&s, NULL));
    vmrt_sched_destroy(s);
}

static void test_quota_parse(void **state)
{
    (void)state;
    ASSERT_TRUE(vmrt__cpu_quota_parse("max", "100000") == 0);
    ASSERT_TRUE(vmrt__cpu_quota_parse("150000", "100000") == 1.5);
    ASSERT_TRUE(vmrt__cpu_quota_parse("50000", "100000") == 0.5);
    ASSERT_TRUE(vmrt__cpu_quota_parse("-1", "100000") == 0);
    ASSERT_TRUE(vmrt__cpu_quota_parse("junk", "100000") == 0);
}

static void *add_one(void *arg)
{
    return (void *)((intptr_t)arg + 1);
}

static void test_spawn_join(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(2);
    ASSERT_OK(vmrt_sched_start(s));
    ASSERT_EQ(vmrt_sched_start(s), VMRT_ESTATE);
    vmrt_coro_t *co[100];
    for (int i = 0; i < 100; i++)
        ASSERT_OK(vmrt_sched_spawn(s, &co[i], NULL, add_one, (void *)(intptr_t)i));
    for (int i = 0; i < 100; i++) {
        void *r;
        ASSERT_OK(vmrt_sched_join(co[i], &r));
        ASSERT_EQ((intptr_t)r, i + 1);
    }
    vmrt_sched_stats_t st;
    ASSERT_OK(vmrt_sched_stats(s, &st));
    ASSERT_EQ(st.total_coroutines, 100);
    ASSERT_EQ(st.active_coroutines, 0);
    ASSERT_TRUE(st.context_switches >= 100);
    ASSERT_EQ(st.vcpus, 2);
    /* 1 ready in 64 per thread is timestamped: 100 spawns from here give one */
    ASSERT_TRUE(st.latency_samples >= 1);
    ASSERT_TRUE(st.latency_max_ns > 0);
    ASSERT_OK(vmrt_sched_stop(s, VMRT_SCHED_STOP_WAIT, 0));
    vmrt_sched_destroy(s);
}

/* The spec's example: schedule, then run_one until the coroutine ends. */
static void *stepper(void *arg)
{
    int *n = arg;
    for (int i = 0; i < 5; i++) {
        (*n)++;
        vmrt_yield();
    }
    return (void *)(intptr_t)7;
}

static void test_run_one_spec_loop(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(0);
    ASSERT_OK(vmrt_sched_start(s));
    int n = 0;
    vmrt_coro_t *co;
    ASSERT_OK(vmrt_coro_create(&co, NULL, stepper, &n));
    ASSERT_OK(vmrt_sched_submit(s, co));
    ASSERT_EQ(vmrt_sched_submit(s, co), VMRT_ESTATE);
    int steps = 0;
    while (vmrt_coro_state(co) != VMRT_CORO_TERMINATED) {
        ASSERT_TRUE(vmrt_sched_run_one(s) >= 0);
        steps++;
    }
    ASSERT_EQ(steps, 6);
    ASSERT_EQ(n, 5);
    ASSERT_EQ(vmrt_sched_run_one(s), 0);
    void *r;
    ASSERT_OK(vmrt_sched_join(co, &r));
    ASSERT_EQ((intptr_t)r, 7);
    ASSERT_OK(vmrt_coro_destroy(co));
    vmrt_sched_destroy(s);
}

/* Round-robin: three yielding coroutines on one vCPU interleave. */
static char order[64];
static atomic_int order_len;

static void *rr(void *arg)
{
    for (int i = 0; i < 4; i++) {
        order[atomic_fetch_add(&order_len, 1)] = (char)(intptr_t)arg;
        vmrt_yield();
    }
    return NULL;
}

static void test_round_robin(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(0);
    vmrt_coro_t *co[3];
    for (int i = 0; i < 3; i++)
        ASSERT_OK(vmrt_sched_spawn(s, &co[i], NULL, rr, (void *)(intptr_t)('a' + i)));
    while (vmrt_sched_run_one(s) > 0)
        ;
    ASSERT_EQ(order_len, 12);
    /* every window of 3 consecutive runs holds all three coroutines */
    for (int i = 0; i + 3 <= 12; i++) {
        ASSERT_NE(order[i], order[i + 1]);
        ASSERT_NE(order[i], order[i + 2]);
        ASSERT_NE(order[i + 1], order[i + 2]);
    }
    for (int i = 0; i < 3; i++)
        ASSERT_OK(vmrt_sched_join(co[i], NULL));
    vmrt_sched_destroy(s);
}

static void *sleeper(void *arg)
{
    uint64_t t0 = vmrt_now_ns();
    ASSERT_OK(vmrt_sleep_ns((uint64_t)(intptr_t)arg));
    return (void *)(uintptr_t)(vmrt_now_ns() - t0);
}

static void test_sleep(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(2);
    ASSERT_OK(vmrt_sched_start(s));
    vmrt_coro_t *co[20];
    for (int i = 0; i < 20; i++)
        ASSERT_OK(vmrt_sched_spawn(s, &co[i], NULL, sleeper, (void *)(intptr_t)(5000000)));
    for (int i = 0; i < 20; i++) {
        void *r;
        ASSERT_OK(vmrt_sched_join(co[i], &r));
        uint64_t slept = (uint64_t)(uintptr_t)r;
        ASSERT_TRUE(slept >= 5000000);
        ASSERT_TRUE(slept < 500000000); /* generous: noisy shared host */
    }
    vmrt_sched_destroy(s);
}

static atomic_int susp_progress;

static void *suspendee(void *arg)
{
    (void)arg;
    atomic_store(&susp_progress, 1);
    ASSERT_OK(vmrt_sched_suspend(vmrt_coro_self()));
    atomic_store(&susp_progress, 2);
    return NULL;
}

static void test_suspend_resume(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(1);
    ASSERT_OK(vmrt_sched_start(s));
    vmrt_coro_t *co;
    ASSERT_OK(vmrt_sched_spawn(s, &co, NULL, suspendee, NULL));
    while (vmrt_coro_state(co) != VMRT_CORO_SUSPENDED)
        usleep(100);
    ASSERT_EQ(atomic_load(&susp_progress), 1);
    usleep(10000);
    ASSERT_EQ(atomic_load(&susp_progress), 1);
    ASSERT_EQ(vmrt_coro_state(co), VMRT_CORO_SUSPENDED);
    ASSERT_OK(vmrt_sched_resume(co));
    ASSERT_OK(vmrt_sched_join(co, NULL));
    ASSERT_EQ(atomic_load(&susp_progress), 2);
    vmrt_sched_destroy(s);
}

static void *long_sleeper(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)vmrt_sleep_ns(60ull * 1000000000ull);
}

static void test_cancel(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(1);
    ASSERT_OK(vmrt_sched_start(s));
    vmrt_coro_t *co;
    ASSERT_OK(vmrt_sched_spawn(s, &co, NULL, long_sleeper, NULL));
    while (vmrt_coro_state(co) != VMRT_CORO_BLOCKED)
        usleep(100);
    ASSERT_OK(vmrt_sched_cancel(co));
    void *r;
    ASSERT_OK(vmrt_sched_join(co, &r));
    ASSERT_EQ((intptr_t)r, VMRT_ECANCELED);
    /* cancelled before it ever runs: join reports it */
    vmrt_sched_t *s0 = make(0);
    ASSERT_OK(vmrt_sched_spawn(s0, &co, NULL, add_one, NULL));
    ASSERT_OK(vmrt_sched_cancel(co));
    ASSERT_EQ(vmrt_sched_run_one(s0), 1);
    ASSERT_EQ(vmrt_sched_join(co, &r), VMRT_ECANCELED);
    vmrt_sched_destroy(s0);
    /* stop(CANCEL) ends a scheduler full of sleepers */
    for (int i = 0; i < 10; i++)
        ASSERT_OK(vmrt_sched_spawn(s, NULL, NULL, long_sleeper, NULL));
    ASSERT_OK(vmrt_sched_stop(s, VMRT_SCHED_STOP_CANCEL, 5000000000ull));
    vmrt_sched_destroy(s);
}

static void test_stop_timeout(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(1);
    ASSERT_OK(vmrt_sched_start(s));
    ASSERT_OK(vmrt_sched_spawn(s, NULL, NULL, long_sleeper, NULL));
    ASSERT_EQ(vmrt_sched_stop(s, VMRT_SCHED_STOP_WAIT, 20000000), VMRT_ETIMEOUT);
    vmrt_sched_destroy(s); /* cancels */
}

static void *spawner(void *arg)
{
    vmrt_sched_t *s = vmrt_sched_current();
    int depth = (int)(intptr_t)arg;
    if (depth == 0)
        return (void *)1;
    vmrt_coro_t *a, *b;
    ASSERT_OK(vmrt_sched_spawn(s, &a, NULL, spawner, (void *)(intptr_t)(depth - 1)));
    ASSERT_OK(vmrt_sched_spawn(s, &b, NULL, spawner, (void *)(intptr_t)(depth - 1)));
    void *ra, *rb;
    ASSERT_OK(vmrt_sched_join(a, &ra));
    ASSERT_OK(vmrt_sched_join(b, &rb));
    return (void *)((intptr_t)ra + (intptr_t)rb);
}

static void test_nested_spawn(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(2);
    ASSERT_OK(vmrt_sched_start(s));
    vmrt_coro_t *co;
    ASSERT_OK(vmrt_sched_spawn(s, &co, NULL, spawner, (void *)(intptr_t)12));
    void *r;
    ASSERT_OK(vmrt_sched_join(co, &r));
    ASSERT_EQ((intptr_t)r, 4096);
    vmrt_sched_stats_t st;
    ASSERT_OK(vmrt_sched_stats(s, &st));
    ASSERT_EQ(st.total_coroutines, 8191);
    ASSERT_TRUE(st.cpu_utilization >= 0.0 && st.cpu_utilization <= 1.0);
    vmrt_sched_destroy(s);
}

static void test_max_coroutines(void **state)
{
    (void)state;
    vmrt_sched_config_t cfg;
    vmrt_sched_config_init(&cfg);
    cfg.vcpus = 0;
    cfg.max_coroutines = 3;
    vmrt_sched_t *s;
    ASSERT_OK(vmrt_sched_new(&s, &cfg));
    for (int i = 0; i < 3; i++)
        ASSERT_OK(vmrt_sched_spawn(s, NULL, NULL, add_one, NULL));
    ASSERT_EQ(vmrt_sched_spawn(s, NULL, NULL, add_one, NULL), VMRT_ELIMIT);
    vmrt_sched_destroy(s);
}

/* A lone spawned coroutine is not stranded behind a parent that keeps the
 * vCPU busy without yielding (cooperative mode): an idle vCPU takes it. */
static atomic_int child_ran;

static void *set_child_ran(void *arg)
{
    (void)arg;
    atomic_store(&child_ran, 1);
    return NULL;
}

static void *busy_parent(void *arg)
{
    (void)arg;
    vmrt_coro_t *c;
    ASSERT_OK(vmrt_sched_spawn(vmrt_sched_current(), &c, NULL, set_child_ran, NULL));
    uint64_t t0 = vmrt_now_ns();
    while (!atomic_load(&child_ran) && vmrt_now_ns() - t0 < 5000000000ull)
        ; /* no safepoint, no yield */
    ASSERT_EQ(atomic_load(&child_ran), 1);
    ASSERT_OK(vmrt_sched_join(c, NULL));
    return NULL;
}

static void test_lone_child_not_stranded(void **state)
{
    (void)state;
    vmrt_sched_config_t cfg;
    vmrt_sched_config_init(&cfg);
    cfg.vcpus = 2;
    cfg.preemptive = false;
    vmrt_sched_t *s;
    ASSERT_OK(vmrt_sched_new(&s, &cfg));
    ASSERT_OK(vmrt_sched_start(s));
    vmrt_coro_t *p;
    ASSERT_OK(vmrt_sched_spawn(s, &p, NULL, busy_parent, NULL));
    ASSERT_OK(vmrt_sched_join(p, NULL));
    vmrt_sched_destroy(s);
}

/* vmrt_coro_set_priority from another thread while the coroutines are
 * queued, running and blocked (TSan checks the race-freedom; the field is
 * read by every vCPU). */
#define PRIO_COROS 24
static atomic_bool prio_stop, prio_workers_stop;
static atomic_long prio_seen[VMRT_PRIO_COUNT], prio_rounds;

static void *prio_worker(void *arg)
{
    (void)arg;
    vmrt_coro_t *self = vmrt_coro_self();
    for (long i = 0; !atomic_load_explicit(&prio_workers_stop, memory_order_relaxed); i++) {
        vmrt_prio_t p = vmrt_coro_priority(self);
        if ((unsigned)p >= VMRT_PRIO_COUNT)
            return (void *)(intptr_t)-1;
        atomic_fetch_add(&prio_seen[p], 1);
        if (i % 8 == 7)
            vmrt_sleep_ns(20000); /* blocked (timer) */
        else
            vmrt_yield(); /* queued */
        vmrt_safepoint();
    }
    return NULL;
}

typedef struct {
    vmrt_coro_t **co;
    long changes;
} prio_changer_t;

static void *prio_changer(void *arg)
{
    prio_changer_t *c = arg;
    unsigned x = 12345;
    while (!atomic_load(&prio_stop)) {
        for (int i = 0; i < PRIO_COROS; i++) {
            x = x * 1103515245u + 12345u;
            if (vmrt_coro_set_priority(c->co[i], (vmrt_prio_t)((x >> 16) % VMRT_PRIO_COUNT)) == 0)
                c->changes++;
        }
        atomic_fetch_add(&prio_rounds, 1);
        sched_yield();
    }
    return NULL;
}

static void test_set_priority_concurrent(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(2);
    ASSERT_OK(vmrt_sched_start(s));
    vmrt_coro_t *co[PRIO_COROS];
    for (int p = 0; p < VMRT_PRIO_COUNT; p++)
        atomic_store(&prio_seen[p], 0);
    atomic_store(&prio_rounds, 0);
    atomic_store(&prio_stop, false);
    atomic_store(&prio_workers_stop, false);
    for (int i = 0; i < PRIO_COROS; i++)
        ASSERT_OK(vmrt_sched_spawn(s, &co[i], NULL, prio_worker, NULL));
    prio_changer_t c = {.co = co, .changes = 0};
    pthread_t th;
    ASSERT_OK(pthread_create(&th, NULL, prio_changer, &c));
    /* run until the changer made 200 rounds and every level was seen by
     * the coroutines themselves (bounded: 10 s) */
    uint64_t t0 = vmrt_now_ns();
    for (;;) {
        bool all = atomic_load(&prio_rounds) >= 200;
        for (int p = 0; p < VMRT_PRIO_COUNT; p++)
            all = all && atomic_load(&prio_seen[p]) > 0;
        if (all || vmrt_now_ns() - t0 > 10000000000ull)
            break;
        usleep(1000);
    }
    atomic_store(&prio_workers_stop, true);
    for (int i = 0; i < PRIO_COROS; i++) {
        void *r;
        ASSERT_OK(vmrt_sched_join(co[i], &r));
        ASSERT_NULL(r); /* no coroutine ever read an invalid level */
    }
    atomic_store(&prio_stop, true);
    ASSERT_OK(pthread_join(th, NULL));
    ASSERT_TRUE(c.changes >= 200 * PRIO_COROS);
    for (int p = 0; p < VMRT_PRIO_COUNT; p++)
        ASSERT_TRUE(atomic_load(&prio_seen[p]) > 0);
    ASSERT_EQ(vmrt_coro_set_priority(NULL, VMRT_PRIO_LOW), -EINVAL);
    ASSERT_OK(vmrt_sched_stop(s, VMRT_SCHED_STOP_WAIT, 0));
    vmrt_sched_destroy(s);
}

/* A priority lowered by another thread takes effect when the coroutine next
 * becomes ready: after its next yield it waits behind Medium work. */
static char plog[64];
static int plog_len;

static void *plogger(void *arg)
{
    for (int i = 0; i < 4; i++) {
        plog[plog_len++] = (char)(intptr_t)arg;
        vmrt_yield();
    }
    return NULL;
}

static void *lower_prio(void *arg)
{
    return (void *)(intptr_t)vmrt_coro_set_priority(arg, VMRT_PRIO_LOW);
}

static void test_set_priority_applies(void **state)
{
    (void)state;
    vmrt_sched_config_t cfg;
    vmrt_sched_config_init(&cfg);
    cfg.vcpus = 0;                          /* driven by run_one: a deterministic order */
    cfg.starvation_ns = 10 * 1000000000ull; /* strict priority for this test's duration */
    vmrt_sched_t *s;
    ASSERT_OK(vmrt_sched_new(&s, &cfg));
    ASSERT_OK(vmrt_sched_start(s));
    plog_len = 0;
    vmrt_coro_t *a, *b;
    ASSERT_OK(vmrt_sched_spawn(s, &a, NULL, plogger, (void *)(intptr_t)'a'));
    ASSERT_OK(vmrt_sched_spawn(s, &b, NULL, plogger, (void *)(intptr_t)'b'));
    ASSERT_EQ(vmrt_sched_run_one(s), 1); /* a logs, yields */
    ASSERT_EQ(plog[0], 'a');
    pthread_t th;
    void *r;
    ASSERT_OK(pthread_create(&th, NULL, lower_prio, a));
    ASSERT_OK(pthread_join(th, &r));
    ASSERT_NULL(r);
    ASSERT_EQ(vmrt_coro_priority(a), VMRT_PRIO_LOW);
    while (vmrt_coro_state(a) != VMRT_CORO_TERMINATED || vmrt_coro_state(b) != VMRT_CORO_TERMINATED)
        ASSERT_EQ(vmrt_sched_run_one(s), 1);
    plog[plog_len] = 0;
    /* a was queued at Medium when lowered: it runs once more at Medium
     * (round-robin with b), then waits behind all of b's Medium work */
    int last_b = -1, a3 = -1, na = 0;
    for (int i = 0; i < plog_len; i++) {
        if (plog[i] == 'b')
            last_b = i;
        else if (++na == 3)
            a3 = i;
    }
    ASSERT_EQ(plog_len, 8);
    ASSERT_TRUE(a3 > last_b);
    ASSERT_OK(vmrt_sched_join(a, NULL));
    ASSERT_OK(vmrt_sched_join(b, NULL));
    vmrt_sched_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_quota_parse),
        cmocka_unit_test(test_spawn_join),
        cmocka_unit_test(test_run_one_spec_loop),
        cmocka_unit_test(test_round_robin),
        cmocka_unit_test(test_sleep),
        cmocka_unit_test(test_suspend_resume),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_stop_timeout),
        cmocka_unit_test(test_nested_spawn),
        cmocka_unit_test(test_max_coroutines),
        cmocka_unit_test(test_lone_child_not_stranded),
        cmocka_unit_test(test_set_priority_concurrent),
        cmocka_unit_test(test_set_priority_applies),
    };
    VT_RUN("sched", tests);
}
