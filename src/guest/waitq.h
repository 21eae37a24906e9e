/* Wait queues of the host adapters' channels: FIFO lists of waiting guest
 * threads, with O(1) removal from the middle (a select waiter is linked into
 * several queues at once and leaves all of them when one completes it).
 * Each adapter defines `struct vg_waiter` (with at least `bool done`). */
#ifndef VMRT_GUEST_WAITQ_H
#define VMRT_GUEST_WAITQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vg_waiter;

typedef struct wnode {
    struct wnode *prev, *next;
    struct vg_waiter *w;
    uint32_t index; /* select: which of the waiter's channels this node is for */
    bool linked;
} wnode;

typedef struct wqueue {
    wnode *head, *tail;
} wqueue;

static inline void q_push(wqueue *q, wnode *n)
{
    n->next = NULL;
    n->prev = q->tail;
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    n->linked = true;
}

static inline void q_unlink(wqueue *q, wnode *n)
{
    if (!n->linked)
        return;
    if (n->prev)
        n->prev->next = n->next;
    else
        q->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        q->tail = n->prev;
    n->linked = false;
}

#endif
