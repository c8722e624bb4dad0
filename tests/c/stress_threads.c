/* Eight threads hammer sigaction() and signal() on SIGHUP at once. Every
 * record a thread reads back (old or current) must be one some thread
 * wrote, whole: same handler, flags and mask as written together. The
 * kernel must ignore SIGHUP throughout, and no handler may ever run. */
#include "hup.h"

#include <pthread.h>
#include <stdint.h>

#define THREADS 8
#define ROUNDS 100000

static volatile sig_atomic_t handler_ran;
#define HANDLER(n)                                                                         \
    static void by_sigaction_##n(int s) { (void)s; handler_ran = 1; }                      \
    static void by_signal_##n(int s) { (void)s; handler_ran = 1; }
HANDLER(0) HANDLER(1) HANDLER(2) HANDLER(3) HANDLER(4) HANDLER(5) HANDLER(6) HANDLER(7)

static void (*const by_sigaction[THREADS])(int) = {
    by_sigaction_0, by_sigaction_1, by_sigaction_2, by_sigaction_3,
    by_sigaction_4, by_sigaction_5, by_sigaction_6, by_sigaction_7,
};
static void (*const by_signal[THREADS])(int) = {
    by_signal_0, by_signal_1, by_signal_2, by_signal_3,
    by_signal_4, by_signal_5, by_signal_6, by_signal_7,
};

/* Thread t's sigaction() record: flags and a mask unique to t. */
static int flags_of(int t) { return SA_RESTART | (t & 1 ? SA_NODEFER : 0) | (t & 2 ? SA_ONSTACK : 0); }
static int mask_signal_of(int t) { return SIGRTMIN + t; }

static volatile int torn;
static char torn_what[256];

static int first_word_has(const sigset_t *s, int sig) { return sigismember(s, sig) == 1; }

/* Whether `a` is a record some thread wrote whole (or the initial one). */
static int whole(const struct sigaction *a)
{
    int f = a->sa_flags & ~SA_RESTORER;
    if (a->sa_handler == SIG_IGN)
        return 1; /* the initial record, or one from before the first write */
    for (int t = 0; t < THREADS; t++) {
        if (a->sa_handler == by_sigaction[t])
            return f == flags_of(t) && first_word_has(&a->sa_mask, mask_signal_of(t)) &&
                   !first_word_has(&a->sa_mask, SIGHUP);
        if (a->sa_handler == by_signal[t])
            return f == SA_RESTART && first_word_has(&a->sa_mask, SIGHUP);
    }
    return 0;
}

static void check(const struct sigaction *a, const char *what, int t, int round)
{
    if (!whole(a) && !torn) {
        torn = 1;
        snprintf(torn_what, sizeof torn_what, "thread %d round %d: %s read a torn record (flags %#x)",
                 t, round, what, a->sa_flags);
    }
}

static void *hammer(void *arg)
{
    int t = (int)(intptr_t)arg;
    struct sigaction mine, old, now;
    memset(&mine, 0, sizeof mine);
    mine.sa_handler = by_sigaction[t];
    mine.sa_flags = flags_of(t);
    sigemptyset(&mine.sa_mask);
    sigaddset(&mine.sa_mask, mask_signal_of(t));
    for (int round = 0; round < ROUNDS && !torn; round++) {
        if (sigaction(SIGHUP, &mine, &old) != 0)
            fail("thread %d: sigaction(SIGHUP) failed: %s", t, strerror(errno));
        check(&old, "sigaction's old action", t, round);
        void (*prev)(int) = signal(SIGHUP, by_signal[t]);
        if (prev == SIG_ERR)
            fail("thread %d: signal(SIGHUP) returned SIG_ERR", t);
        if (sigaction(SIGHUP, NULL, &now) != 0)
            fail("thread %d: sigaction(SIGHUP, NULL) failed", t);
        check(&now, "a query", t, round);
        if (round % 1024 == 0) {
            if (kernel_action(SIGHUP).handler != (unsigned long)SIG_IGN)
                fail("thread %d round %d: the kernel no longer ignores SIGHUP", t, round);
            kill(getpid(), SIGHUP);
        }
    }
    return NULL;
}

int main(void)
{
    pthread_t threads[THREADS];
    fixture_start();
    expect_kernel_ignores_hup("at start");
    for (int t = 0; t < THREADS; t++)
        if (pthread_create(&threads[t], NULL, hammer, (void *)(intptr_t)t) != 0)
            fail("pthread_create failed");
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    if (torn)
        fail("%s", torn_what);
    if (handler_ran)
        fail("a SIGHUP handler ran");
    printf("%d threads x %d rounds: every record whole\n", THREADS, ROUNDS);
    expect_kernel_ignores_hup("after the threads");
    signal(SIGHUP, die_on_hup);
    survive_self_hup();
    serve();
}
