/* syscall(SYS_rt_sigprocmask, SIG_BLOCK, {SIGHUP}): the block must stay in
 * the program's view; unblocking later must deliver nothing. */
#include "hup.h"

static unsigned long program_mask(void)
{
    unsigned long cur = 0;
    if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &cur, 8) != 0)
        fail("syscall(SYS_rt_sigprocmask) query failed: %s", strerror(errno));
    return cur;
}

static void unblock(void)
{
    unsigned long set = sigbit(SIGHUP);
    if (syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &set, NULL, 8) != 0)
        fail("syscall(SYS_rt_sigprocmask, SIG_UNBLOCK) failed: %s", strerror(errno));
    if (program_mask() & sigbit(SIGHUP))
        fail("SIGHUP still blocked in the program's view after SIG_UNBLOCK");
    printf("unblocked SIGHUP\n");
}

int main(void)
{
    unsigned long set = sigbit(SIGHUP), old = ~0UL;
    fixture_start();
    expect_kernel_ignores_hup("at start");
    if (signal(SIGHUP, die_on_hup) == SIG_ERR)
        fail("signal(SIGHUP, handler) returned SIG_ERR");
    if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, 8) != 0)
        fail("syscall(SYS_rt_sigprocmask, SIG_BLOCK) failed: %s", strerror(errno));
    if (old & sigbit(SIGHUP))
        fail("the old mask reports SIGHUP blocked before it was");
    if (!(program_mask() & sigbit(SIGHUP)))
        fail("the program's view does not show SIGHUP blocked");
    expect_kernel_ignores_hup("after syscall(SYS_rt_sigprocmask, SIG_BLOCK, {SIGHUP})");
    survive_self_hup();
    serve_at_eof = unblock;
    serve();
}
