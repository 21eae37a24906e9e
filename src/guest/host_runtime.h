/* The runtime host adapter (host_runtime.c): the guest engine on a
 * vmrt_runtime — scheduler coroutines, GC heap, Low-priority I/O coroutines,
 * High-priority translation tasks. */
#ifndef VMRT_GUEST_HOST_RUNTIME_H
#define VMRT_GUEST_HOST_RUNTIME_H

#include <vmrt/runtime.h>

#include "guest/host.h"

/* The runtime the next vg_host_runtime_new() uses (set before the run). */
void vg_host_runtime_use(vmrt_runtime_t *rt);

/* A vg_host_new_fn for vmrt_guest_options.host_new. -EINVAL without a runtime. */
int vg_host_runtime_new(vg_host **out, struct vg_engine *eng);

#endif
