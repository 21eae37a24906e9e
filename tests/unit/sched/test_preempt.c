#include "harness.h"
VT_DEFINE_GLOBALS;
static void t(void **s)
{
    (void)s;
    VT_SKIP("todo");
}
int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(t)};
    VT_RUN("x", tests);
}
