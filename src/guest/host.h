/* The host adapter: the ONE interface through which the guest engine talks
 * to the runtime underneath it.
 *
 * The engine (assembler, verifier, interpreter, translation tier) knows
 * nothing about coroutines, schedulers or collectors; everything it needs
 * from a runtime is an operation below. Two adapters are planned:
 *   - host_local.c (exists): guest threads are vmrt coroutines driven
 *     round-robin by a small loop on the calling OS thread; objects come from
 *     malloc and are freed when the run ends (it never collects); channels,
 *     timers, the I/O poller and the translation task live in the adapter.
 *   - host_runtime.c (to come, with vmrt_runtime): guest threads are
 *     Medium-priority coroutines on the M:N scheduler, translation tasks are
 *     High-priority, I/O Low-priority; objects live in the GC heap.
 *
 * Contract for a moving, precise collector ([VG-MOVE] in value.h):
 *   - Roots are: every guest thread's register stack, t->stack[0 .. t->sp)
 *     (read with vg_thread_roots(); the adapter learns of each thread at
 *     thread_start, which is the thread's root registration), each thread's
 *     result slot (t->result), and every value the adapter itself holds
 *     (channel buffers, values in flight in send/recv/select). The engine
 *     has no other roots: its temporaries live in registers. The collector
 *     may update any root in place while the thread is stopped in one of
 *     the calls below marked (GC).
 *   - The engine never keeps a raw object pointer in a C local across a (GC)
 *     call; it reloads from a root.
 *   - Before every store of a value into a traced slot of a heap object
 *     (record field, array slot) the engine calls vg_host_barrier(): the hook
 *     sees the holder, the slot (still holding the old value) and the new
 *     value — enough for an incremental (SATB or Dijkstra) or generational
 *     barrier. Stores into registers (roots) have no barrier.
 *
 * Threading: every operation except create/run/destroy is called from a
 * guest thread (the coroutine running vg_thread_body()) or from a
 * translation task. The adapter may run guest threads on several OS threads
 * at once; the engine's shared state (thread table, translation queue state,
 * error slot) is protected for that.
 */
#ifndef VMRT_GUEST_HOST_H
#define VMRT_GUEST_HOST_H

#include <stdint.h>

#include "guest/value.h"

struct vg_engine;
struct vg_thread;
typedef struct vg_host vg_host;
typedef struct vg_chan vg_chan; /* adapter-defined */

/* Guest priorities map to the runtime's: 0 High, 1 Medium (default), 2 Low. */
enum { VG_PRIO_HIGH = 0, VG_PRIO_MEDIUM = 1, VG_PRIO_LOW = 2 };

/* I/O requests. The adapter runs them (on a Low-priority I/O coroutine where
 * it has one) while the requesting guest thread is blocked. Buffers are
 * malloc'ed by the engine, never pointers into the heap (objects may move). */
typedef enum vg_io_op {
    VG_IO_OPEN,    /* path, flags (open(2) flags; O_CLOEXEC|O_NONBLOCK added) → fd */
    VG_IO_READ,    /* fd, buf, len → bytes read (0 = end of file) */
    VG_IO_WRITE,   /* fd, buf, len → bytes written (all of them, unless error) */
    VG_IO_CLOSE,   /* fd → 0 */
    VG_IO_LISTEN,  /* port (0 = any) on 127.0.0.1 → listening fd */
    VG_IO_ACCEPT,  /* fd → connected fd */
    VG_IO_CONNECT, /* port on 127.0.0.1 → connected fd */
    VG_IO_PORT,    /* fd → local port */
} vg_io_op;

typedef struct vg_io_req {
    vg_io_op op;
    int fd;
    int flags;
    int port;
    const char *path;
    void *buf;
    size_t len;
    int64_t result; /* ≥ 0, or -errno */
} vg_io_req;

/* Stats every adapter can fill (those it does not track stay 0). */
typedef struct vg_host_stats {
    uint64_t switches;     /* guest thread resumptions */
    uint64_t preemptions;  /* yields forced at safepoints */
    uint64_t objects;      /* objects allocated */
    uint64_t bytes;        /* bytes allocated */
    uint64_t barriers;     /* write-barrier calls */
    uint64_t jit_tasks;    /* translation tasks run */
    uint64_t io_requests;  /* I/O requests run */
    uint64_t peak_threads; /* most guest threads alive at once */
} vg_host_stats;

typedef struct vg_host_ops {
    const char *name;

    /* -- lifecycle (called by the engine's run function, not by guest threads) -- */
    /* Runs the program whose main thread is main (already set up) until main
     * finishes, vg_host_stop() is called, or no thread can ever run again
     * (then it calls vg_engine_deadlock()). Before returning it calls
     * vg_engine_halt() and lets every guest thread still alive unwind: blocked
     * ones are woken (their blocking call returns VMRT_ECANCELED), runnable
     * ones resumed; each returns from vg_thread_body() at once. Returns 0 or
     * a negative error of the adapter itself (not of the guest). */
    int (*run)(vg_host *h, struct vg_thread *main);
    void (*destroy)(vg_host *h);
    void (*stats)(vg_host *h, vg_host_stats *out);

    /* -- guest threads -- */
    /* Makes t runnable; the adapter will call vg_thread_body(t) on a fresh
     * execution context (a coroutine) at t->prio. -ENOMEM/VMRT_ELIMIT if it
     * cannot. */
    int (*thread_start)(vg_host *h, struct vg_thread *t);
    /* Blocks the calling thread until target has finished. (GC) */
    int (*thread_join)(vg_host *h, struct vg_thread *self, struct vg_thread *target);
    void (*yield)(vg_host *h, struct vg_thread *self);             /* (GC) */
    int (*sleep)(vg_host *h, struct vg_thread *self, uint64_t ns); /* (GC) */
    void (*set_priority)(vg_host *h, struct vg_thread *t, int prio);
    /* Slow path of the safepoint poll, reached every h->poll_interval polls
     * (back-edges and calls). May yield, stop the thread for a collection,
     * or preempt it. (GC) */
    void (*safepoint)(vg_host *h, struct vg_thread *self);
    /* Ends the run soon: no thread is resumed after the caller yields/returns. */
    void (*stop)(vg_host *h);

    /* -- heap -- */
    /* A new object of kind with len elements, payload zeroed (nil/0), header
     * filled. NULL: out of memory (after a last collection). (GC) */
    vg_obj *(*alloc)(vg_host *h, struct vg_thread *self, vg_kind kind, uint32_t len);
    /* Write barrier (may be NULL: no barrier needed). See above. */
    void (*barrier)(vg_host *h, vg_obj *holder, vg_value *slot, vg_value v);

    /* -- channels --
     * A guest channel is a heap object of kind VG_KIND_CHAN whose payload is
     * the adapter's vg_chan pointer (not a value, never traced). A collecting
     * adapter frees the vg_chan from that object's finalizer and roots the
     * values buffered in it; the local adapter frees all channels at the end. */
    int (*chan_new)(vg_host *h, uint32_t cap, vg_chan **out);
    /* 0, or VMRT_ECLOSED if the channel is or becomes closed. (GC) */
    int (*chan_send)(vg_host *h, struct vg_thread *self, vg_chan *c, vg_value v);
    /* 0 and *out = value, or VMRT_ECLOSED (closed and drained). (GC) */
    int (*chan_recv)(vg_host *h, struct vg_thread *self, vg_chan *c, vg_value *out);
    /* 0, or VMRT_ECLOSED if already closed. */
    int (*chan_close)(vg_host *h, vg_chan *c);
    /* Receives from the first of chans[0..n) that is ready; waits at most
     * timeout_ns (< 0: forever). 0 with *index and *out set, VMRT_ECLOSED
     * with *index set (that channel is closed and drained), or
     * VMRT_ETIMEOUT. (GC) */
    int (*chan_select)(vg_host *h, struct vg_thread *self, vg_chan *const *chans, uint32_t n,
                       int64_t timeout_ns, uint32_t *index, vg_value *out);

    /* -- I/O -- */
    /* Runs req while self is blocked; sets req->result. (GC) */
    void (*io)(vg_host *h, struct vg_thread *self, vg_io_req *req);

    /* -- translation tier -- */
    /* Runs task(arg) soon as a High-priority task (the spec's JIT compile
     * task); it must not block. Every accepted task runs exactly once, at the
     * latest when the adapter is destroyed. 0 or a negative error (then the
     * engine does not translate that function). */
    int (*jit_submit)(vg_host *h, void (*task)(void *arg), void *arg);
} vg_host_ops;

struct vg_host {
    const vg_host_ops *ops;
    struct vg_engine *eng;
    int32_t poll_interval; /* polls between calls to ops->safepoint (≥ 1) */
};

/* Creates an adapter for eng. The engine picks one through
 * vmrt_guest_options.host_new (NULL → vg_host_local_new). */
typedef int (*vg_host_new_fn)(vg_host **out, struct vg_engine *eng);

int vg_host_local_new(vg_host **out, struct vg_engine *eng);

/* Inline fast path of the barrier hook. */
static inline void vg_host_barrier(vg_host *h, vg_obj *holder, vg_value *slot, vg_value v)
{
    if (h->ops->barrier)
        h->ops->barrier(h, holder, slot, v);
}

#endif
