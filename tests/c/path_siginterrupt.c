/* siginterrupt(SIGHUP, ...) rewrites SIGHUP's action (SA_RESTART on or
 * off). Harmless under plain nohup (it writes back what it read), but the
 * shim must not let it reach the kernel with anything but SIG_IGN. */
#include "hup.h"

int main(void)
{
    fixture_start();
    expect_kernel_ignores_hup("at start");
    if (siginterrupt(SIGHUP, 1) != 0)
        fail("siginterrupt(SIGHUP, 1) failed: %s", strerror(errno));
    expect_kernel_ignores_hup("after siginterrupt(SIGHUP, 1)");
    if (siginterrupt(SIGHUP, 0) != 0)
        fail("siginterrupt(SIGHUP, 0) failed: %s", strerror(errno));
    expect_kernel_ignores_hup("after siginterrupt(SIGHUP, 0)");
    expect_program_sees(SIG_IGN, "after siginterrupt(SIGHUP, 0)");
    survive_self_hup();
    serve();
}
