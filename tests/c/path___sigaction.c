/* __sigaction(SIGHUP, ...), glibc's other name for sigaction. */
#include "hup.h"

extern int __sigaction(int, const struct sigaction *, struct sigaction *);

static void set(void (*h)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sigemptyset(&sa.sa_mask);
    if (__sigaction(SIGHUP, &sa, NULL) != 0)
        fail("__sigaction(SIGHUP) failed: %s", strerror(errno));
}

int main(void)
{
    fixture_start();
    expect_kernel_ignores_hup("at start");
    set(SIG_DFL);
    expect_kernel_ignores_hup("after __sigaction(SIGHUP, SIG_DFL)");
    set(die_on_hup);
    expect_kernel_ignores_hup("after __sigaction(SIGHUP, handler)");
    expect_program_sees(die_on_hup, "after __sigaction(SIGHUP, handler)");
    survive_self_hup();
    serve();
}
