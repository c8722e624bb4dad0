/* sigignore(SIGHUP) after the program set a handler: harmless under plain
 * nohup (it writes SIG_IGN), but it goes through the shim's shadow. */
#include "hup.h"

int main(void)
{
    fixture_start();
    expect_kernel_ignores_hup("at start");
    if (sigignore(SIGHUP) != 0)
        fail("sigignore(SIGHUP) failed: %s", strerror(errno));
    expect_kernel_ignores_hup("after sigignore(SIGHUP)");
    expect_program_sees(SIG_IGN, "after sigignore(SIGHUP)");
    survive_self_hup();
    serve();
}
