/* vmrt — gc (API under construction; see docs/architecture.md). */
#ifndef VMRT_GC_H
#define VMRT_GC_H

#include <vmrt/common.h>

#endif
