/* sigset(SIGHUP, SIG_HOLD) blocks SIGHUP. A blocked signal is queued even
 * when ignored (docs/HANGUPS.md, "Blocked SIGHUP is queued"), so the hold
 * must stay in the program's view only; releasing it later must deliver
 * nothing. */
#include "hup.h"

static void release(void)
{
    if (sigrelse(SIGHUP) != 0)
        fail("sigrelse(SIGHUP) failed: %s", strerror(errno));
    expect_program_blocks_hup(0, "after sigrelse(SIGHUP)");
    printf("released SIGHUP\n");
}

int main(void)
{
    fixture_start();
    expect_kernel_ignores_hup("at start");
    if (sigset(SIGHUP, die_on_hup) == SIG_ERR)
        fail("sigset(SIGHUP, handler) returned SIG_ERR");
    if (sigset(SIGHUP, SIG_HOLD) != die_on_hup)
        fail("sigset(SIGHUP, SIG_HOLD) did not return the handler it replaced");
    expect_program_blocks_hup(1, "after sigset(SIGHUP, SIG_HOLD)");
    expect_kernel_ignores_hup("after sigset(SIGHUP, SIG_HOLD)");
    survive_self_hup();
    serve_at_eof = release;
    serve();
}
