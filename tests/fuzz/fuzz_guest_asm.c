/* libFuzzer target: the guest assembler and verifier on arbitrary bytes.
 *
 * Properties checked beyond "no crash, no leak, no hang" (ASan + libFuzzer):
 *   - a rejected input always comes with at least one diagnostic;
 *   - every diagnostic line has the form "fuzz.vasm:LINE:COL: message" with
 *     LINE within the input's line count;
 *   - an accepted program has a main function and passes verification
 *     deterministically (verifying twice gives the same answer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/prog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_diag(const vg_diag *d, size_t lines)
{
    if (!d->text)
        return;
    const char *p = d->text;
    while (*p) {
        unsigned line, col;
        int n = 0;
        if (sscanf(p, "fuzz.vasm:%u:%u: %n", &line, &col, &n) != 2 || n == 0 || line == 0 ||
            line > lines + 1 || col == 0) {
            fprintf(stderr, "malformed diagnostic: %.*s\n", (int)strcspn(p, "\n"), p);
            abort();
        }
        p += strcspn(p, "\n");
        if (*p)
            p++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    vg_diag d = {0};
    vg_program *p = NULL;
    int rc = vg_assemble("fuzz.vasm", (const char *)data, size, &p, &d);
    if (rc == -1 && d.count == 0)
        abort();
    if (rc == 0) {
        if (p->main_index >= p->nfuncs || strcmp(p->funcs[p->main_index].name, "main"))
            abort();
        int v1 = vg_verify(p, &d);
        vg_diag d2 = {0};
        int v2 = vg_verify(p, &d2);
        if (v1 != v2 || (v1 == -1 && d2.count == 0))
            abort();
        check_diag(&d2, lines);
        vg_diag_free(&d2);
        vg_program_free(p);
    }
    check_diag(&d, lines);
    vg_diag_free(&d);
    return 0;
}
