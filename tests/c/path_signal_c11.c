/* signal() in a strict ISO C build (-std=c11, no _DEFAULT_SOURCE): glibc's
 * <signal.h> redirects it to __sysv_signal, a different entry point. */
#define _POSIX_C_SOURCE 200809L
#include "hup.h"

int main(void)
{
    fixture_start();
    expect_kernel_ignores_hup("at start");
    if (signal(SIGHUP, SIG_DFL) == SIG_ERR)
        fail("signal(SIGHUP, SIG_DFL) returned SIG_ERR");
    expect_kernel_ignores_hup("after signal(SIGHUP, SIG_DFL) as __sysv_signal");
    if (signal(SIGHUP, die_on_hup) == SIG_ERR)
        fail("signal(SIGHUP, handler) returned SIG_ERR");
    expect_kernel_ignores_hup("after signal(SIGHUP, handler) as __sysv_signal");
    expect_program_sees(die_on_hup, "after signal(SIGHUP, handler) as __sysv_signal");
    survive_self_hup();
    serve();
}
