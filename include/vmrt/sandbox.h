/* vmrt — sandbox (API under construction; see docs/architecture.md). */
#ifndef VMRT_SANDBOX_H
#define VMRT_SANDBOX_H

#include <vmrt/common.h>

#endif
