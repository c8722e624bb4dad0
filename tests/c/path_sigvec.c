/* sigvec(SIGHUP, ...): glibc keeps it only as a compat symbol, which a new
 * link cannot name; .symver binds our reference to that version, as an old
 * binary's would be. */
#define HUP_COMPAT_SIGVEC
#include "hup.h"


static void set(void (*h)(int), const char *what)
{
    struct old_sigvec v = {h, 0, 0};
    if (compat_sigvec(SIGHUP, &v, NULL) != 0)
        fail("sigvec(SIGHUP, %s) failed: %s", what, strerror(errno));
}

int main(void)
{
    struct old_sigvec q;
    fixture_start();
    expect_kernel_ignores_hup("at start");
    set(SIG_DFL, "SIG_DFL");
    expect_kernel_ignores_hup("after sigvec(SIGHUP, SIG_DFL)");
    set(die_on_hup, "handler");
    expect_kernel_ignores_hup("after sigvec(SIGHUP, handler)");
    if (compat_sigvec(SIGHUP, NULL, &q) != 0 || q.sv_handler != die_on_hup)
        fail("sigvec(SIGHUP, NULL, &old) does not report the handler the program set");
    expect_program_sees(die_on_hup, "after sigvec(SIGHUP, handler)");
    survive_self_hup();
    serve();
}
