/* ssignal(SIGHUP, ...): SIG_DFL then a handler that exits. */
#include "hup.h"

static void set(void (*h)(int), const char *what)
{
    if (ssignal(SIGHUP, h) == SIG_ERR)
        fail("ssignal(SIGHUP, %s) returned SIG_ERR: %s", what, strerror(errno));
}

int main(void)
{
    fixture_start();
    expect_kernel_ignores_hup("at start");
    set(SIG_DFL, "SIG_DFL");
    expect_kernel_ignores_hup("after ssignal(SIGHUP, SIG_DFL)");
    set(die_on_hup, "handler");
    expect_kernel_ignores_hup("after ssignal(SIGHUP, handler)");
    expect_program_sees(die_on_hup, "after ssignal(SIGHUP, handler)");
    survive_self_hup();
    serve();
}
