/* Signals other than SIGHUP pass through the shim untouched.
 *
 * usage: other_signals usr1   SIGUSR1 handler with SA_RESTART and a mask:
 *                             the kernel holds exactly that, the handler
 *                             runs, and a read it interrupts is restarted
 *        other_signals usr2   SIGUSR2 blocked in the same call that blocks
 *                             SIGHUP: the kernel really blocks SIGUSR2 */
#include "hup.h"

static volatile sig_atomic_t usr1_count;
static void on_usr1(int s) { (void)s; usr1_count++; }

/* Reads lines from fd 0 with read(2) itself, so that an interrupted read
 * is seen (stdio would hide it). */
static void serve_raw(void)
{
    char buf[256];
    size_t used = 0;
    printf("ready\n");
    for (;;) {
        ssize_t n = read(0, buf + used, sizeof buf - 1 - used);
        if (n < 0 && errno == EINTR)
            fail("read(2) was interrupted: SA_RESTART did not reach the kernel");
        if (n <= 0)
            break;
        used += (size_t)n;
        buf[used] = 0;
        char *nl;
        while ((nl = strchr(buf, '\n'))) {
            *nl = 0;
            if (strcmp(buf, "ping") == 0)
                printf("pong usr1=%d\n", (int)usr1_count);
            used -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, used + 1);
        }
    }
    printf("bye\n");
    exit(0);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    fixture_start();
    if (strcmp(mode, "usr1") == 0) {
        struct sigaction a;
        struct ksigaction k;
        memset(&a, 0, sizeof a);
        a.sa_handler = on_usr1;
        a.sa_flags = SA_RESTART;
        sigemptyset(&a.sa_mask);
        sigaddset(&a.sa_mask, SIGUSR2);
        sigaddset(&a.sa_mask, SIGHUP);
        if (sigaction(SIGUSR1, &a, NULL) != 0)
            fail("sigaction(SIGUSR1) failed: %s", strerror(errno));
        k = kernel_action(SIGUSR1);
        if (k.handler != (unsigned long)on_usr1)
            fail("the kernel's SIGUSR1 handler is not the program's");
        if (!(k.flags & SA_RESTART))
            fail("the kernel's SIGUSR1 action lost SA_RESTART");
        if (!(k.mask & sigbit(SIGUSR2)) || !(k.mask & sigbit(SIGHUP)))
            fail("the kernel's SIGUSR1 action lost its mask");
        printf("kernel holds the SIGUSR1 handler with SA_RESTART and its mask\n");
        raise(SIGUSR1);
        if (usr1_count != 1)
            fail("the SIGUSR1 handler did not run");
        printf("SIGUSR1 handler ran\n");
        serve_raw();
    }
    if (strcmp(mode, "usr2") == 0) {
        sigset_t set, view;
        sigemptyset(&set);
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGUSR2);
        if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
            fail("sigprocmask failed: %s", strerror(errno));
        if (!(kernel_blocked() & sigbit(SIGUSR2)) || !(status_mask("SigBlk") & sigbit(SIGUSR2)))
            fail("the kernel does not block SIGUSR2");
        sigprocmask(SIG_BLOCK, NULL, &view);
        if (sigismember(&view, SIGUSR2) != 1)
            fail("sigprocmask does not report SIGUSR2 blocked");
        printf("kernel blocks SIGUSR2\n");
        serve_raw();
    }
    fail("usage: other_signals usr1|usr2");
}
