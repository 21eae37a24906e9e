/* vmrt — runtime (API under construction; see docs/architecture.md). */
#ifndef VMRT_RUNTIME_H
#define VMRT_RUNTIME_H

#include <vmrt/common.h>

#endif
