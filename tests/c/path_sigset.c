/* sigset(SIGHUP, ...) (System V): SIG_DFL then a handler that exits. */
#include "hup.h"

int main(void)
{
    fixture_start();
    expect_kernel_ignores_hup("at start");
    if (sigset(SIGHUP, SIG_DFL) == SIG_ERR)
        fail("sigset(SIGHUP, SIG_DFL) returned SIG_ERR");
    expect_kernel_ignores_hup("after sigset(SIGHUP, SIG_DFL)");
    if (sigset(SIGHUP, die_on_hup) == SIG_ERR)
        fail("sigset(SIGHUP, handler) returned SIG_ERR");
    expect_kernel_ignores_hup("after sigset(SIGHUP, handler)");
    expect_program_sees(die_on_hup, "after sigset(SIGHUP, handler)");
    survive_self_hup();
    serve();
}
