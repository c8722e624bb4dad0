/* A SIGALRM handler at a high rate re-enters the hooks (sigaction, signal,
 * sigprocmask on SIGHUP) while the main thread is inside the same hooks. A
 * hook that takes a lock deadlocks here (the harness then reports a hang);
 * one that is not re-entrant tears the records or the mask view. */
#include "hup.h"

#include <sys/time.h>
#include <time.h>

static volatile sig_atomic_t alarms, broken;

static void from_alarm(int s) { (void)s; }
static void from_main(int s) { (void)s; }

static int known(void (*h)(int)) { return h == SIG_IGN || h == from_alarm || h == from_main; }

static void on_alarm(int s)
{
    int saved = errno;
    struct sigaction a, old;
    sigset_t hup, before;
    (void)s;
    memset(&a, 0, sizeof a);
    a.sa_handler = from_alarm;
    sigemptyset(&a.sa_mask);
    if (sigaction(SIGHUP, &a, &old) != 0 || !known(old.sa_handler))
        broken = 1;
    if (signal(SIGHUP, from_alarm) == SIG_ERR)
        broken = 1;
    /* Block and restore: the view must be back where the main thread left it. */
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &hup, &before) != 0 || sigprocmask(SIG_SETMASK, &before, NULL) != 0)
        broken = 1;
    if (kernel_action(SIGHUP).handler != (unsigned long)SIG_IGN || (kernel_blocked() & sigbit(SIGHUP)))
        broken = 2;
    alarms++;
    errno = saved;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
    struct sigaction alrm, a, old;
    struct itimerval fast = {{0, 200}, {0, 200}}, off = {{0, 0}, {0, 0}};
    sigset_t hup, view;
    long rounds = 0;
    fixture_start();
    expect_kernel_ignores_hup("at start");

    memset(&alrm, 0, sizeof alrm);
    alrm.sa_handler = on_alarm;
    alrm.sa_flags = SA_RESTART;
    sigemptyset(&alrm.sa_mask);
    sigaction(SIGALRM, &alrm, NULL);
    memset(&a, 0, sizeof a);
    a.sa_handler = from_main;
    sigemptyset(&a.sa_mask);
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);

    setitimer(ITIMER_REAL, &fast, NULL);
    double start = now();
    while (alarms < 3000 && now() - start < 3.0 && !broken) {
        if (sigaction(SIGHUP, &a, &old) != 0 || !known(old.sa_handler))
            fail("main: sigaction(SIGHUP) reported an unknown old handler");
        if (signal(SIGHUP, from_main) == SIG_ERR)
            fail("main: signal(SIGHUP) returned SIG_ERR");
        sigprocmask(SIG_BLOCK, &hup, NULL);
        sigprocmask(SIG_BLOCK, NULL, &view);
        if (!sigismember(&view, SIGHUP))
            fail("main: SIGHUP not blocked in the program's view after SIG_BLOCK");
        sigprocmask(SIG_UNBLOCK, &hup, NULL);
        sigprocmask(SIG_BLOCK, NULL, &view);
        if (sigismember(&view, SIGHUP))
            fail("main: SIGHUP still blocked in the program's view after SIG_UNBLOCK");
        rounds++;
    }
    setitimer(ITIMER_REAL, &off, NULL);
    if (broken == 1)
        fail("a hook misbehaved when re-entered from the SIGALRM handler");
    if (broken == 2)
        fail("the kernel stopped ignoring SIGHUP (seen from the SIGALRM handler)");
    if (alarms < 100)
        fail("only %d SIGALRMs in 3 s: the stress did not happen", (int)alarms);
    printf("%d SIGALRM handlers re-entered the hooks during %ld main rounds\n", (int)alarms, rounds);
    expect_kernel_ignores_hup("after the alarms");
    signal(SIGHUP, die_on_hup);
    survive_self_hup();
    serve();
}
