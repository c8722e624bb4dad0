/* __sysv_signal(SIGHUP, ...): SIG_DFL then a handler that exits. */
#include "hup.h"

/* Declared by <signal.h> only as the target of a redirect. */
extern __sighandler_t __sysv_signal(int, __sighandler_t);

static void set(void (*h)(int), const char *what)
{
    if (__sysv_signal(SIGHUP, h) == SIG_ERR)
        fail("__sysv_signal(SIGHUP, %s) returned SIG_ERR: %s", what, strerror(errno));
}

int main(void)
{
    fixture_start();
    expect_kernel_ignores_hup("at start");
    set(SIG_DFL, "SIG_DFL");
    expect_kernel_ignores_hup("after __sysv_signal(SIGHUP, SIG_DFL)");
    set(die_on_hup, "handler");
    expect_kernel_ignores_hup("after __sysv_signal(SIGHUP, handler)");
    expect_program_sees(die_on_hup, "after __sysv_signal(SIGHUP, handler)");
    survive_self_hup();
    serve();
}
