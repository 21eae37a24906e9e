/* vmrt — the runtime of a virtual machine. Umbrella header.
 *
 * Components (one header each):
 *   coro.h     stackful coroutines            pool.h     CoroutinePool
 *   sched.h    M:N scheduler, vCPU mapper     sync.h     coroutine sync primitives
 *   gc.h       garbage collector              sandbox.h  SandboxedVm
 *   runtime.h  the runtime object tying them together
 */
#ifndef VMRT_VMRT_H
#define VMRT_VMRT_H

#include <vmrt/common.h>
#include <vmrt/coro.h>
#include <vmrt/pool.h>
#include <vmrt/sched.h>
#include <vmrt/sync.h>
#include <vmrt/gc.h>
#include <vmrt/sandbox.h>
#include <vmrt/runtime.h>

#endif
