/* vmrt exec — run a native command inside a SandboxedVm. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_exec(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        puts("Usage: vmrt exec [OPTIONS] -- CMD [ARGS]\n\nNot implemented yet (see the README "
             "status table).");
        return VMRT_EXIT_OK;
    }
    die("exec: the sandbox is not implemented yet (see the README status table)");
}
