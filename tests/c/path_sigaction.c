/* sigaction(SIGHUP, ...): SIG_DFL then a handler that exits. */
#include "hup.h"

static void set(void (*h)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGHUP, &sa, NULL) != 0)
        fail("sigaction(SIGHUP) failed: %s", strerror(errno));
}

int main(void)
{
    fixture_start();
    expect_kernel_ignores_hup("at start");
    set(SIG_DFL);
    expect_kernel_ignores_hup("after sigaction(SIGHUP, SIG_DFL)");
    set(die_on_hup);
    expect_kernel_ignores_hup("after sigaction(SIGHUP, handler)");
    expect_program_sees(die_on_hup, "after sigaction(SIGHUP, handler)");
    survive_self_hup();
    serve();
}
