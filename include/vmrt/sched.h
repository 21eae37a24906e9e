/* vmrt — sched (API under construction; see docs/architecture.md). */
#ifndef VMRT_SCHED_H
#define VMRT_SCHED_H

#include <vmrt/common.h>

#endif
