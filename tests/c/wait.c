/* Blocks SIGHUP and SIGUSR1, then waits for a signal. A blocked SIGHUP is
 * queued even when ignored (docs/HANGUPS.md, "Blocked SIGHUP is queued"),
 * so under plain nohup the waiter receives the harness's SIGHUP; under the
 * shim it must receive the SIGUSR1 sent after it.
 *
 * usage: wait BLOCK WAIT
 *   BLOCK: sigprocmask pthread_sigmask sigblock sigsetmask sighold
 *          sigset_hold raw_rt_sigprocmask
 *   WAIT:  signalfd sigwait sigwaitinfo sigtimedwait raw_rt_sigtimedwait
 *          raw_signalfd4 */
#include "hup.h"

#include <pthread.h>
#include <sys/signalfd.h>
#include <time.h>

static void block(const char *how)
{
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, SIGHUP);
    sigaddset(&both, SIGUSR1);
    int r;
    if (strcmp(how, "sigprocmask") == 0)
        r = sigprocmask(SIG_BLOCK, &both, NULL);
    else if (strcmp(how, "pthread_sigmask") == 0)
        r = pthread_sigmask(SIG_BLOCK, &both, NULL);
    else if (strcmp(how, "sigblock") == 0)
        r = sigblock((int)(sigbit(SIGHUP) | sigbit(SIGUSR1))) == -1;
    else if (strcmp(how, "sigsetmask") == 0)
        r = sigsetmask(siggetmask() | (int)(sigbit(SIGHUP) | sigbit(SIGUSR1))) == -1;
    else if (strcmp(how, "sighold") == 0)
        r = sighold(SIGHUP) | sighold(SIGUSR1);
    else if (strcmp(how, "sigset_hold") == 0)
        r = (sigset(SIGHUP, SIG_HOLD) == SIG_ERR) | (sigset(SIGUSR1, SIG_HOLD) == SIG_ERR);
    else if (strcmp(how, "raw_rt_sigprocmask") == 0) {
        unsigned long bits = sigbit(SIGHUP) | sigbit(SIGUSR1);
        r = syscall(SYS_rt_sigprocmask, SIG_BLOCK, &bits, NULL, 8);
    } else
        fail("unknown way to block: %s", how);
    if (r != 0)
        fail("%s failed", how);
    expect_program_blocks_hup(1, how);
    printf("kernel blocks SIGHUP: %s\n", kernel_blocked() & sigbit(SIGHUP) ? "yes" : "no");
}

static int wait_for_signal(const char *how, const sigset_t *set)
{
    if (strcmp(how, "signalfd") == 0 || strcmp(how, "raw_signalfd4") == 0) {
        struct signalfd_siginfo si;
        unsigned long bits = sigbit(SIGHUP) | sigbit(SIGUSR1);
        int fd = how[0] == 's' ? signalfd(-1, set, 0) : (int)syscall(SYS_signalfd4, -1, &bits, 8, 0);
        if (fd < 0)
            fail("%s failed: %s", how, strerror(errno));
        printf("ready\n");
        if (read(fd, &si, sizeof si) != (ssize_t)sizeof si)
            fail("read from the signalfd failed: %s", strerror(errno));
        close(fd);
        return (int)si.ssi_signo;
    }
    printf("ready\n");
    if (strcmp(how, "sigwait") == 0) {
        int sig = 0, r = sigwait(set, &sig);
        if (r != 0)
            fail("sigwait failed: %s", strerror(r));
        return sig;
    }
    if (strcmp(how, "sigwaitinfo") == 0) {
        siginfo_t info;
        int sig = sigwaitinfo(set, &info);
        if (sig < 0)
            fail("sigwaitinfo failed: %s", strerror(errno));
        return sig;
    }
    if (strcmp(how, "sigtimedwait") == 0 || strcmp(how, "raw_rt_sigtimedwait") == 0) {
        unsigned long bits = sigbit(SIGHUP) | sigbit(SIGUSR1);
        for (;;) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            siginfo_t info;
            int sig = how[0] == 's' ? sigtimedwait(set, &info, &ts)
                                    : (int)syscall(SYS_rt_sigtimedwait, &bits, &info, &ts, 8);
            if (sig > 0)
                return sig;
            if (errno != EAGAIN && errno != EINTR)
                fail("%s failed: %s", how, strerror(errno));
        }
    }
    fail("unknown way to wait: %s", how);
    return 0;
}

int main(int argc, char **argv)
{
    sigset_t set;
    int sig;
    if (argc != 3)
        fail("usage: wait BLOCK WAIT");
    fixture_start();
    block(argv[1]);
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sig = wait_for_signal(argv[2], &set);
    printf("received %s\n", sig == SIGHUP ? "SIGHUP" : sig == SIGUSR1 ? "SIGUSR1" : "another signal");
    if (sig != SIGUSR1)
        exit(4);
    expect_kernel_ignores_hup("after the wait");
    survive_self_hup();
    /* serve() prints a second "ready"; the harness waits for "pong". */
    serve();
}
