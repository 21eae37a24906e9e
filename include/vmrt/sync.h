/* vmrt — synchronisation primitives for coroutines: mutex, condition
 * variable, semaphore, channel (buffered/unbuffered, close, select) and wait
 * group.
 *
 * A coroutine that waits is parked (the vCPU runs others); a plain thread
 * that waits blocks on a futex, so threads and coroutines may share them.
 * timeout_ns: 0 = wait without limit; VMRT_NOWAIT = do not wait. Waits return
 * 0, VMRT_ETIMEOUT, or VMRT_ECANCELED (the coroutine was cancelled).
 * Wake-ups are FIFO. Objects are opaque; _destroy with waiters is -EBUSY.
 */
#ifndef VMRT_SYNC_H
#define VMRT_SYNC_H

#include <vmrt/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMRT_NOWAIT UINT64_MAX

typedef struct vmrt_mutex vmrt_mutex_t;
typedef struct vmrt_cond vmrt_cond_t;
typedef struct vmrt_sem vmrt_sem_t;
typedef struct vmrt_chan vmrt_chan_t;
typedef struct vmrt_waitgroup vmrt_waitgroup_t;

/* Mutex: spins briefly, then parks; unlock hands the lock to the first waiter. */
VMRT_API int vmrt_mutex_new(vmrt_mutex_t **out);
VMRT_API int vmrt_mutex_destroy(vmrt_mutex_t *m);
VMRT_API int vmrt_mutex_lock(vmrt_mutex_t *m);
/* As lock, giving up after timeout_ns (VMRT_ETIMEOUT). */
VMRT_API int vmrt_mutex_timedlock(vmrt_mutex_t *m, uint64_t timeout_ns);
VMRT_API int vmrt_mutex_trylock(vmrt_mutex_t *m); /* 0 or -EBUSY */
VMRT_API int vmrt_mutex_unlock(vmrt_mutex_t *m);

/* Condition variable (Mesa semantics: re-check the predicate). */
VMRT_API int vmrt_cond_new(vmrt_cond_t **out);
VMRT_API int vmrt_cond_destroy(vmrt_cond_t *c);
/* Unlocks m, waits, relocks m (also after a timeout or cancel). */
VMRT_API int vmrt_cond_wait(vmrt_cond_t *c, vmrt_mutex_t *m, uint64_t timeout_ns);
VMRT_API int vmrt_cond_signal(vmrt_cond_t *c);
VMRT_API int vmrt_cond_broadcast(vmrt_cond_t *c);

/* Counting semaphore. */
VMRT_API int vmrt_sem_new(vmrt_sem_t **out, unsigned initial);
VMRT_API int vmrt_sem_destroy(vmrt_sem_t *s);
VMRT_API int vmrt_sem_wait(vmrt_sem_t *s, uint64_t timeout_ns);
VMRT_API int vmrt_sem_post(vmrt_sem_t *s);
VMRT_API unsigned vmrt_sem_value(vmrt_sem_t *s);

/* Channel of elem_size-byte values; capacity 0 = unbuffered (a send waits
 * for its receiver). After close, sends fail with VMRT_ECLOSED and receives
 * drain the buffer, then fail with VMRT_ECLOSED. */
VMRT_API int vmrt_chan_new(vmrt_chan_t **out, size_t elem_size, size_t capacity);
VMRT_API int vmrt_chan_destroy(vmrt_chan_t *ch);
VMRT_API int vmrt_chan_send(vmrt_chan_t *ch, const void *elem, uint64_t timeout_ns);
VMRT_API int vmrt_chan_recv(vmrt_chan_t *ch, void *elem, uint64_t timeout_ns);
VMRT_API int vmrt_chan_close(vmrt_chan_t *ch);
VMRT_API size_t vmrt_chan_len(vmrt_chan_t *ch);

typedef enum vmrt_select_op { VMRT_SELECT_RECV = 0, VMRT_SELECT_SEND = 1 } vmrt_select_op_t;
typedef struct vmrt_select_case {
    vmrt_chan_t *chan;
    vmrt_select_op_t op;
    void *elem; /* value to send / where to receive */
} vmrt_select_case_t;

/* Waits until one case can proceed and performs it; returns its index
 * (ready cases are chosen at random), VMRT_ETIMEOUT, VMRT_ECANCELED, or
 * VMRT_ECLOSED with *closed_index set when the chosen case's channel is
 * closed (closed_index may be NULL). n <= 64. */
VMRT_API int vmrt_chan_select(vmrt_select_case_t *cases, unsigned n, uint64_t timeout_ns,
                              int *closed_index);

/* Wait group: add(n) before starting work, done() when each ends, wait()
 * until the counter is zero. */
VMRT_API int vmrt_waitgroup_new(vmrt_waitgroup_t **out);
VMRT_API int vmrt_waitgroup_destroy(vmrt_waitgroup_t *wg);
VMRT_API int vmrt_waitgroup_add(vmrt_waitgroup_t *wg, int64_t delta);
VMRT_API int vmrt_waitgroup_done(vmrt_waitgroup_t *wg);
VMRT_API int vmrt_waitgroup_wait(vmrt_waitgroup_t *wg, uint64_t timeout_ns);

#ifdef __cplusplus
}
#endif
#endif
