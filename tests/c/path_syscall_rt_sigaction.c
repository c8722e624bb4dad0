/* syscall(SYS_rt_sigaction, SIGHUP, ...): the variadic syscall() is an
 * entry point of its own. */
#include "hup.h"

static void set(void (*h)(int), const char *what)
{
    /* die_on_hup never returns, so no SA_RESTORER trampoline is needed. */
    struct ksigaction k = {(unsigned long)h, 0, 0, 0};
    if (syscall(SYS_rt_sigaction, SIGHUP, &k, NULL, 8) != 0)
        fail("syscall(SYS_rt_sigaction, SIGHUP, %s) failed: %s", what, strerror(errno));
}

int main(void)
{
    struct ksigaction q;
    fixture_start();
    expect_kernel_ignores_hup("at start");
    set(SIG_DFL, "SIG_DFL");
    expect_kernel_ignores_hup("after syscall(SYS_rt_sigaction, SIGHUP, SIG_DFL)");
    set(die_on_hup, "handler");
    expect_kernel_ignores_hup("after syscall(SYS_rt_sigaction, SIGHUP, handler)");
    memset(&q, 0, sizeof q);
    if (syscall(SYS_rt_sigaction, SIGHUP, NULL, &q, 8) != 0 ||
        q.handler != (unsigned long)die_on_hup)
        fail("syscall(SYS_rt_sigaction, SIGHUP, NULL, &old) does not report the handler set");
    survive_self_hup();
    serve();
}
