/* libFuzzer target: Docker/OCI seccomp profile files (src/sandbox/oci.c) on
 * arbitrary bytes, through the public API (vmrt_sandbox_new builds the
 * filter; nothing is started).
 *
 * Checked beyond "no crash, no leak, no hang": a rejected profile gives
 * -EINVAL (or -ENOMEM) and a message naming the file; an accepted one gives
 * a sandbox that can be freed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmrt/sandbox.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/vmrt-fuzz-profile-%d.json", (int)getpid());
    FILE *f = fopen(path, "we");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    vmrt_sandbox_config_t c;
    vmrt_sandbox_config_init(&c);
    c.isolation_level = VMRT_ISOLATION_PROCESS;
    c.enable_cgroups = false;
    c.filter.profile = path;
    vmrt_sandbox_t *sb = NULL;
    int err = vmrt_sandbox_new(&sb, &c, NULL);
    if (err) {
        if ((err != -EINVAL && err != -ENOMEM && err != VMRT_EUNSUPPORTED) ||
            !strstr(vmrt_sandbox_error(), path))
            abort();
        return 0;
    }
    vmrt_sandbox_free(sb);
    return 0;
}
