/* Sync primitives: mutex, condition variable, semaphore, channels (buffered,
 * unbuffered, close, select with timeout), wait group, blocking offload; on
 * coroutines and across plain threads. */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <vmrt/vmrt.h>

VT_DEFINE_GLOBALS;

static vmrt_sched_t *make(unsigned vcpus)
{
    vmrt_sched_config_t cfg;
    vmrt_sched_config_init(&cfg);
    cfg.vcpus = vcpus;
    vmrt_sched_t *s;
    ASSERT_OK(vmrt_sched_new(&s, &cfg));
    ASSERT_OK(vmrt_sched_start(s));
    return s;
}

/* ---- mutex: many coroutines increment a shared counter ---- */
static vmrt_mutex_t *mtx;
static long counter;

static void *incr(void *arg)
{
    for (int i = 0; i < 1000; i++) {
        ASSERT_OK(vmrt_mutex_lock(mtx));
        long v = counter;
        if (i % 100 == 0)
            vmrt_yield(); /* hold the lock across a yield */
        counter = v + 1;
        ASSERT_OK(vmrt_mutex_unlock(mtx));
    }
    return arg;
}

static void test_mutex(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(2);
    ASSERT_OK(vmrt_mutex_new(&mtx));
    counter = 0;
    vmrt_coro_t *co[16];
    for (int i = 0; i < 16; i++)
        ASSERT_OK(vmrt_sched_spawn(s, &co[i], NULL, incr, NULL));
    incr(NULL); /* and a plain thread too */
    for (int i = 0; i < 16; i++)
        ASSERT_OK(vmrt_sched_join(co[i], NULL));
    ASSERT_EQ(counter, 17000);
    ASSERT_EQ(vmrt_mutex_trylock(mtx), 0);
    ASSERT_EQ(vmrt_mutex_trylock(mtx), -EBUSY);
    uint64_t t0 = vmrt_now_ns();
    ASSERT_EQ(vmrt_mutex_timedlock(mtx, 2000000), VMRT_ETIMEOUT);
    ASSERT_TRUE(vmrt_now_ns() - t0 >= 2000000);
    ASSERT_EQ(vmrt_mutex_timedlock(mtx, VMRT_NOWAIT), VMRT_ETIMEOUT);
    ASSERT_EQ(vmrt_mutex_destroy(mtx), -EBUSY);
    ASSERT_OK(vmrt_mutex_unlock(mtx));
    ASSERT_EQ(vmrt_mutex_unlock(mtx), VMRT_ESTATE);
    ASSERT_OK(vmrt_mutex_destroy(mtx));
    vmrt_sched_destroy(s);
}

/* ---- mutex fairness: unlock leaves the lock free for whoever comes first
 * (barging), but a waiter that keeps losing gets it handed over: two
 * coroutines relocking in a tight loop cannot keep a third one out. ---- */
static atomic_bool victim_done;
static atomic_int hog_capped, hogs_started;

static void *hog(void *arg)
{
    uint64_t cap = vmrt_now_ns() + 5000000000ull; /* 5 s: only if starvation */
    bool started = false;
    while (!atomic_load(&victim_done)) {
        ASSERT_OK(vmrt_mutex_lock(mtx));
        if (!started) {
            started = true;
            atomic_fetch_add(&hogs_started, 1);
        }
        uint64_t until = vmrt_now_ns() + 2000; /* hold it for 2 µs */
        while (vmrt_now_ns() < until)
            counter++;
        ASSERT_OK(vmrt_mutex_unlock(mtx));
        if (vmrt_now_ns() > cap) {
            atomic_fetch_add(&hog_capped, 1);
            break;
        }
    }
    return arg;
}

static void *victim(void *arg)
{
    /* let the hogs get going: both have held the lock (a fixed 5 ms sleep was
     * not always enough on a loaded host, and the victim then met no hog) */
    uint64_t t0 = vmrt_now_ns();
    while (atomic_load(&hogs_started) < 2 && vmrt_now_ns() - t0 < 10000000000ull)
        vmrt_sleep_ns(1000000);
    ASSERT_EQ(atomic_load(&hogs_started), 2);
    vmrt_sleep_ns(2000000);
    for (int i = 0; i < 50; i++) {
        ASSERT_OK(vmrt_mutex_lock(mtx));
        ASSERT_OK(vmrt_mutex_unlock(mtx));
    }
    atomic_store(&victim_done, true);
    return arg;
}

static void test_mutex_no_starvation(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(2);
    ASSERT_OK(vmrt_mutex_new(&mtx));
    counter = 0;
    atomic_store(&victim_done, false);
    atomic_store(&hog_capped, 0);
    atomic_store(&hogs_started, 0);
    vmrt_coro_t *h1, *h2, *v = NULL;
    ASSERT_OK(vmrt_sched_spawn(s, &h1, NULL, hog, NULL));
    ASSERT_OK(vmrt_sched_spawn(s, &h2, NULL, hog, NULL));
    (void)v;
    victim(NULL); /* a plain thread: parks on a futex, woken without the lock */
    ASSERT_OK(vmrt_sched_join(h1, NULL));
    ASSERT_OK(vmrt_sched_join(h2, NULL));
    ASSERT_EQ(atomic_load(&hog_capped), 0); /* the victim got in 50 times first */
    ASSERT_TRUE(counter > 0);
    ASSERT_OK(vmrt_mutex_destroy(mtx));
    vmrt_sched_destroy(s);
}

/* ---- producer/consumer over a buffered channel ---- */
static vmrt_chan_t *ch;

static void *producer(void *arg)
{
    int base = (int)(intptr_t)arg;
    for (int i = 0; i < 1000; i++) {
        int v = base + i;
        ASSERT_OK(vmrt_chan_send(ch, &v, 0));
    }
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    long sum = 0;
    int v;
    int r;
    while ((r = vmrt_chan_recv(ch, &v, 0)) == 0)
        sum += v;
    ASSERT_EQ(r, VMRT_ECLOSED);
    return (void *)sum;
}

static void run_prodcons(size_t cap)
{
    vmrt_sched_t *s = make(2);
    ASSERT_OK(vmrt_chan_new(&ch, sizeof(int), cap));
    vmrt_coro_t *p[4], *c[3];
    for (int i = 0; i < 3; i++)
        ASSERT_OK(vmrt_sched_spawn(s, &c[i], NULL, consumer, NULL));
    for (int i = 0; i < 4; i++)
        ASSERT_OK(vmrt_sched_spawn(s, &p[i], NULL, producer, (void *)(intptr_t)(i * 1000)));
    for (int i = 0; i < 4; i++)
        ASSERT_OK(vmrt_sched_join(p[i], NULL));
    ASSERT_OK(vmrt_chan_close(ch));
    ASSERT_EQ(vmrt_chan_close(ch), VMRT_ECLOSED);
    long total = 0;
    for (int i = 0; i < 3; i++) {
        void *r;
        ASSERT_OK(vmrt_sched_join(c[i], &r));
        total += (long)r;
    }
    ASSERT_EQ(total, 3999L * 4000 / 2);
    int v = 1;
    ASSERT_EQ(vmrt_chan_send(ch, &v, 0), VMRT_ECLOSED);
    ASSERT_OK(vmrt_chan_destroy(ch));
    vmrt_sched_destroy(s);
}

static void test_chan_buffered(void **state)
{
    (void)state;
    run_prodcons(16);
}

static void test_chan_unbuffered(void **state)
{
    (void)state;
    run_prodcons(0);
}

static void test_chan_buffer_drains_after_close(void **state)
{
    (void)state;
    ASSERT_OK(vmrt_chan_new(&ch, sizeof(int), 4));
    for (int i = 0; i < 3; i++)
        ASSERT_OK(vmrt_chan_send(ch, &i, VMRT_NOWAIT));
    ASSERT_EQ(vmrt_chan_len(ch), 3);
    ASSERT_OK(vmrt_chan_close(ch));
    int v;
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(vmrt_chan_recv(ch, &v, VMRT_NOWAIT));
        ASSERT_EQ(v, i);
    }
    ASSERT_EQ(vmrt_chan_recv(ch, &v, VMRT_NOWAIT), VMRT_ECLOSED);
    ASSERT_OK(vmrt_chan_destroy(ch));
    /* unbuffered, nobody waiting: nowait send fails, timed recv times out */
    ASSERT_OK(vmrt_chan_new(&ch, sizeof(int), 0));
    ASSERT_EQ(vmrt_chan_send(ch, &v, VMRT_NOWAIT), VMRT_ETIMEOUT);
    uint64_t t0 = vmrt_now_ns();
    ASSERT_EQ(vmrt_chan_recv(ch, &v, 2000000), VMRT_ETIMEOUT);
    ASSERT_TRUE(vmrt_now_ns() - t0 >= 2000000);
    ASSERT_OK(vmrt_chan_destroy(ch));
}

/* ---- select ---- */
static vmrt_chan_t *ca, *cb;

static void *select_loop(void *arg)
{
    (void)arg;
    int got_a = 0, got_b = 0, timeouts = 0;
    for (;;) {
        int va, vb;
        vmrt_select_case_t cases[] = {{ca, VMRT_SELECT_RECV, &va}, {cb, VMRT_SELECT_RECV, &vb}};
        int closed = -1;
        int r = vmrt_chan_select(cases, 2, 20000000, &closed);
        if (r == 0) {
            ASSERT_EQ(va, 1);
            got_a++;
        } else if (r == 1) {
            ASSERT_EQ(vb, 2);
            got_b++;
        } else if (r == VMRT_ETIMEOUT) {
            timeouts++;
            if (got_a == 100 && got_b == 100)
                break;
        } else {
            ASSERT_EQ(r, VMRT_ECLOSED);
            ASSERT_TRUE(closed == 0 || closed == 1);
            break;
        }
    }
    ASSERT_EQ(got_a, 100);
    ASSERT_EQ(got_b, 100);
    return (void *)(intptr_t)timeouts;
}

static void *sender(void *arg)
{
    vmrt_chan_t *c = arg;
    int v = c == ca ? 1 : 2;
    for (int i = 0; i < 100; i++)
        ASSERT_OK(vmrt_chan_send(c, &v, 0));
    return NULL;
}

static void test_select(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(2);
    ASSERT_OK(vmrt_chan_new(&ca, sizeof(int), 0));
    ASSERT_OK(vmrt_chan_new(&cb, sizeof(int), 3));
    vmrt_coro_t *sel, *sa, *sb;
    ASSERT_OK(vmrt_sched_spawn(s, &sel, NULL, select_loop, NULL));
    ASSERT_OK(vmrt_sched_spawn(s, &sa, NULL, sender, ca));
    ASSERT_OK(vmrt_sched_spawn(s, &sb, NULL, sender, cb));
    ASSERT_OK(vmrt_sched_join(sa, NULL));
    ASSERT_OK(vmrt_sched_join(sb, NULL));
    void *r;
    ASSERT_OK(vmrt_sched_join(sel, &r));
    ASSERT_TRUE((intptr_t)r >= 1); /* it ended through a timeout */
    /* select with a send case and a timeout */
    int v = 5, out = 0;
    vmrt_select_case_t cases[] = {{ca, VMRT_SELECT_SEND, &v}, {cb, VMRT_SELECT_RECV, &out}};
    ASSERT_EQ(vmrt_chan_select(cases, 2, VMRT_NOWAIT, NULL), VMRT_ETIMEOUT);
    uint64_t t0 = vmrt_now_ns();
    ASSERT_EQ(vmrt_chan_select(cases, 2, 3000000, NULL), VMRT_ETIMEOUT);
    ASSERT_TRUE(vmrt_now_ns() - t0 >= 3000000);
    ASSERT_OK(vmrt_chan_close(cb));
    int closed = -1;
    ASSERT_EQ(vmrt_chan_select(cases, 2, 0, &closed), VMRT_ECLOSED);
    ASSERT_EQ(closed, 1);
    ASSERT_OK(vmrt_chan_destroy(ca));
    ASSERT_OK(vmrt_chan_destroy(cb));
    vmrt_sched_destroy(s);
}

/* ---- condition variable + semaphore + wait group ---- */
static vmrt_cond_t *cv;
static int ready_flag;

static void *cond_waiter(void *arg)
{
    (void)arg;
    ASSERT_OK(vmrt_mutex_lock(mtx));
    while (!ready_flag)
        ASSERT_OK(vmrt_cond_wait(cv, mtx, 0));
    ASSERT_OK(vmrt_mutex_unlock(mtx));
    return NULL;
}

static void test_cond(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(2);
    ASSERT_OK(vmrt_mutex_new(&mtx));
    ASSERT_OK(vmrt_cond_new(&cv));
    ready_flag = 0;
    vmrt_coro_t *co[8];
    for (int i = 0; i < 8; i++)
        ASSERT_OK(vmrt_sched_spawn(s, &co[i], NULL, cond_waiter, NULL));
    usleep(5000);
    ASSERT_OK(vmrt_mutex_lock(mtx));
    ready_flag = 1;
    ASSERT_OK(vmrt_cond_broadcast(cv));
    ASSERT_OK(vmrt_mutex_unlock(mtx));
    for (int i = 0; i < 8; i++)
        ASSERT_OK(vmrt_sched_join(co[i], NULL));
    ASSERT_OK(vmrt_mutex_lock(mtx));
    ASSERT_EQ(vmrt_cond_wait(cv, mtx, 1000000), VMRT_ETIMEOUT);
    ASSERT_OK(vmrt_mutex_unlock(mtx));
    ASSERT_OK(vmrt_cond_destroy(cv));
    ASSERT_OK(vmrt_mutex_destroy(mtx));
    vmrt_sched_destroy(s);
}

static vmrt_sem_t *sem;
static atomic_int inside, max_inside;

static void *sem_user(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) {
        ASSERT_OK(vmrt_sem_wait(sem, 0));
        int n = atomic_fetch_add(&inside, 1) + 1;
        int m = atomic_load(&max_inside);
        while (n > m && !atomic_compare_exchange_weak(&max_inside, &m, n))
            ;
        vmrt_yield();
        atomic_fetch_sub(&inside, 1);
        ASSERT_OK(vmrt_sem_post(sem));
    }
    return NULL;
}

static vmrt_waitgroup_t *wg;

static void *wg_worker(void *arg)
{
    (void)arg;
    sem_user(NULL);
    ASSERT_OK(vmrt_waitgroup_done(wg));
    return NULL;
}

static void test_sem_waitgroup(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(2);
    ASSERT_OK(vmrt_sem_new(&sem, 3));
    ASSERT_OK(vmrt_waitgroup_new(&wg));
    ASSERT_OK(vmrt_waitgroup_add(wg, 10));
    for (int i = 0; i < 10; i++)
        ASSERT_OK(vmrt_sched_spawn(s, NULL, NULL, wg_worker, NULL));
    ASSERT_OK(vmrt_waitgroup_wait(wg, 0));
    ASSERT_TRUE(atomic_load(&max_inside) <= 3);
    ASSERT_TRUE(atomic_load(&max_inside) >= 1);
    ASSERT_EQ(vmrt_sem_value(sem), 3);
    ASSERT_EQ(vmrt_waitgroup_add(wg, -1), -EINVAL);
    ASSERT_OK(vmrt_waitgroup_add(wg, 1));
    ASSERT_EQ(vmrt_waitgroup_wait(wg, 1000000), VMRT_ETIMEOUT);
    ASSERT_OK(vmrt_waitgroup_done(wg));
    ASSERT_OK(vmrt_waitgroup_destroy(wg));
    ASSERT_OK(vmrt_sem_destroy(sem));
    vmrt_sched_destroy(s);
}

/* ---- blocking offload: a sleeping call does not hold the vCPU ---- */
static void *blocking_sleep(void *arg)
{
    usleep(50000);
    return arg;
}

static atomic_int ticks;

static void *offloader(void *arg)
{
    return vmrt_blocking(blocking_sleep, arg);
}

static void *ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) {
        atomic_fetch_add(&ticks, 1);
        vmrt_sleep_ns(1000000);
    }
    return NULL;
}

static void test_blocking(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(1);
    vmrt_coro_t *o[4], *t;
    for (int i = 0; i < 4; i++)
        ASSERT_OK(vmrt_sched_spawn(s, &o[i], NULL, offloader, (void *)(intptr_t)(i + 1)));
    ASSERT_OK(vmrt_sched_spawn(s, &t, NULL, ticker, NULL));
    ASSERT_OK(vmrt_sched_join(t, NULL));
    ASSERT_EQ(atomic_load(&ticks), 20);
    for (int i = 0; i < 4; i++) {
        void *r;
        ASSERT_OK(vmrt_sched_join(o[i], &r));
        ASSERT_EQ((intptr_t)r, i + 1);
    }
    ASSERT_EQ((intptr_t)vmrt_blocking(blocking_sleep, (void *)9), 9); /* plain thread */
    vmrt_sched_destroy(s);
}

/* ---- direct hand-off (vcpu.c): a blocked receiver readied by a sender that
 * then blocks is switched to without the vCPU loop ---- */
#define HRING 61
static vmrt_chan_t *hring[HRING];
static _Atomic long hring_seen[HRING];
static _Atomic int hring_last;

static void *hring_node(void *arg)
{
    int i = (int)(intptr_t)arg;
    long token;
    /* odd nodes wait with a timeout: a registered timer across the switch */
    while (vmrt_chan_recv(hring[i], &token, i % 2 ? 10000000000ull : 0) == 0) {
        atomic_fetch_add(&hring_seen[i], 1);
        if (token == 0) {
            atomic_store(&hring_last, i);
            continue;
        }
        token--;
        ASSERT_OK(vmrt_chan_send(hring[(i + 1) % HRING], &token, 0));
    }
    return NULL;
}

static void run_hring(unsigned vcpus, long passes)
{
    vmrt_sched_t *s = make(vcpus);
    vmrt_coro_t *co[HRING];
    for (int i = 0; i < HRING; i++) {
        ASSERT_OK(vmrt_chan_new(&hring[i], sizeof(long), 0));
        atomic_store(&hring_seen[i], 0);
    }
    atomic_store(&hring_last, -1);
    for (int i = 0; i < HRING; i++)
        ASSERT_OK(vmrt_sched_spawn(s, &co[i], NULL, hring_node, (void *)(intptr_t)i));
    vmrt_sched_stats_t st0, st1;
    ASSERT_OK(vmrt_sched_stats(s, &st0));
    ASSERT_OK(vmrt_chan_send(hring[0], &passes, 0)); /* from the plain thread */
    uint64_t t0 = vmrt_now_ns();
    while (atomic_load(&hring_last) < 0) {
        ASSERT_TRUE(vmrt_now_ns() - t0 < 20000000000ull);
        usleep(1000);
    }
    ASSERT_OK(vmrt_sched_stats(s, &st1));
    ASSERT_EQ(atomic_load(&hring_last), (int)(passes % HRING));
    long total = 0;
    for (int i = 0; i < HRING; i++) {
        long want = passes / HRING + (i <= passes % HRING ? 1 : 0);
        ASSERT_EQ(atomic_load(&hring_seen[i]), want);
        total += atomic_load(&hring_seen[i]);
    }
    ASSERT_EQ(total, passes + 1);
    /* every pass resumed a coroutine, through the loop or a hand-off */
    ASSERT_TRUE(st1.context_switches - st0.context_switches >= (uint64_t)passes);
    for (int i = 0; i < HRING; i++)
        ASSERT_OK(vmrt_chan_close(hring[i]));
    for (int i = 0; i < HRING; i++)
        ASSERT_OK(vmrt_sched_join(co[i], NULL));
    for (int i = 0; i < HRING; i++)
        ASSERT_OK(vmrt_chan_destroy(hring[i]));
    vmrt_sched_destroy(s);
}

static void test_chan_handoff_ring(void **state)
{
    (void)state;
    run_hring(1, 100000);
    run_hring(2, 100000);
}

/* A ping-pong pair that keeps handing off to each other must not starve
 * other ready work: a coroutine in the global queue (spawned by a plain
 * thread; it must run within a few dozen rounds of the pair) and a Low
 * coroutine on the same vCPU (anti-starvation bound) both run while the pair
 * keeps going; each of them stops the pair. */
static vmrt_chan_t *hp_a, *hp_b;
static _Atomic int hp_stop, hp_rounds_ok;
static _Atomic long hp_rounds;

static void *hp_pinger(void *arg)
{
    (void)arg;
    long v = 0, w;
    while (!atomic_load(&hp_stop)) {
        ASSERT_OK(vmrt_chan_send(hp_a, &v, 0));
        ASSERT_OK(vmrt_chan_recv(hp_b, &w, 0));
        ASSERT_EQ(w, v + 1);
        v = w + 1;
        atomic_fetch_add_explicit(&hp_rounds, 1, memory_order_relaxed);
    }
    v = -1;
    ASSERT_OK(vmrt_chan_send(hp_a, &v, 0));
    atomic_store(&hp_rounds_ok, 1);
    return NULL;
}

static void *hp_ponger(void *arg)
{
    (void)arg;
    long v;
    for (;;) {
        ASSERT_OK(vmrt_chan_recv(hp_a, &v, 0));
        if (v < 0)
            return NULL;
        v++;
        ASSERT_OK(vmrt_chan_send(hp_b, &v, 0));
    }
}

static void *hp_stopper(void *arg)
{
    (void)arg;
    atomic_store(&hp_stop, 1);
    return NULL;
}

static void *hp_spawn_low_stopper(void *arg)
{
    (void)arg;
    vmrt_coro_attr_t a;
    vmrt_coro_attr_init(&a);
    a.priority = VMRT_PRIO_LOW;
    ASSERT_OK(vmrt_sched_spawn(vmrt_sched_current(), NULL, &a, hp_stopper, NULL));
    return hp_pinger(NULL);
}

static void run_handoff_fair(bool low)
{
    vmrt_sched_config_t cfg;
    vmrt_sched_config_init(&cfg);
    cfg.vcpus = 1;
    cfg.time_slice_ns = 1000000; /* starvation bound 10 ms */
    vmrt_sched_t *s;
    ASSERT_OK(vmrt_sched_new(&s, &cfg));
    ASSERT_OK(vmrt_sched_start(s));
    ASSERT_OK(vmrt_chan_new(&hp_a, sizeof(long), 0));
    ASSERT_OK(vmrt_chan_new(&hp_b, sizeof(long), 0));
    atomic_store(&hp_stop, 0);
    atomic_store(&hp_rounds_ok, 0);
    atomic_store(&hp_rounds, 0);
    long at_spawn = 0;
    vmrt_coro_t *x, *y;
    ASSERT_OK(vmrt_sched_spawn(s, &y, NULL, hp_ponger, NULL));
    ASSERT_OK(vmrt_sched_spawn(s, &x, NULL, low ? hp_spawn_low_stopper : hp_pinger, NULL));
    if (!low) {
        usleep(20000); /* let the pair run */
        at_spawn = atomic_load(&hp_rounds);
        ASSERT_OK(vmrt_sched_spawn(s, NULL, NULL, hp_stopper, NULL)); /* global queue */
    }
    uint64_t t0 = vmrt_now_ns();
    while (!atomic_load(&hp_rounds_ok)) {
        ASSERT_TRUE(vmrt_now_ns() - t0 < 10000000000ull); /* starved: the pair never stops */
        usleep(1000);
    }
    /* Through the global queue it must not wait for a time slice or longer:
     * the loop's fair pick comes every 61 switches, hand-offs included (a
     * count, not a time: it does not depend on the host's speed). */
    if (!low)
        ASSERT_TRUE(atomic_load(&hp_rounds) - at_spawn < 10000);
    ASSERT_OK(vmrt_sched_join(x, NULL));
    ASSERT_OK(vmrt_sched_join(y, NULL));
    ASSERT_OK(vmrt_chan_destroy(hp_a));
    ASSERT_OK(vmrt_chan_destroy(hp_b));
    vmrt_sched_destroy(s);
}

static void test_chan_handoff_fair(void **state)
{
    (void)state;
    run_handoff_fair(false);
    run_handoff_fair(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutex),
        cmocka_unit_test(test_mutex_no_starvation),
        cmocka_unit_test(test_chan_buffered),
        cmocka_unit_test(test_chan_unbuffered),
        cmocka_unit_test(test_chan_buffer_drains_after_close),
        cmocka_unit_test(test_chan_handoff_ring),
        cmocka_unit_test(test_chan_handoff_fair),
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_cond),
        cmocka_unit_test(test_sem_waitgroup),
        cmocka_unit_test(test_blocking),
    };
    VT_RUN("sync", tests);
}
