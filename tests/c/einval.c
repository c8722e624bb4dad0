/* Invalid requests fail exactly as libc makes them fail: the harness runs
 * this program with and without the shim and requires the same lines.
 * Signals 0, -1, 65 (out of range), 32 and 33 (glibc's own), SIGKILL and
 * SIGSTOP (cannot be caught), and SIGHUP with invalid arguments.
 * Output: "<call>\tret=<r> errno=<e>" */
#define HUP_COMPAT_SIGVEC
#include "hup.h"

extern __sighandler_t bsd_signal(int, __sighandler_t);
extern __sighandler_t __sysv_signal(int, __sighandler_t);
extern int __sigaction(int, const struct sigaction *, struct sigaction *);


#define UNTOUCHED 4242

static void h(int s) { (void)s; }

static void show(const char *call, int sig, long ret)
{
    printf("%s(%d)\tret=%ld errno=%d\n", call, sig, ret, errno);
}

static void show_handler(const char *call, int sig, __sighandler_t r)
{
    printf("%s(%d)\tret=%s errno=%d\n", call, sig,
           r == SIG_ERR ? "SIG_ERR" : r == SIG_DFL ? "SIG_DFL" : r == SIG_IGN ? "SIG_IGN" : "other",
           errno);
}

#define TRY(call, sig, expr) (errno = UNTOUCHED, show(call, sig, (long)(expr)))
#define TRY_HANDLER(call, sig, expr) (errno = UNTOUCHED, show_handler(call, sig, (expr)))

int main(void)
{
    const int bad[] = {0, -1, 65, 32, 33, SIGKILL, SIGSTOP};
    struct sigaction act, old;
    struct old_sigvec v = {h, 0, 0};
    struct ksigaction k = {(unsigned long)h, 0, 0, 0}, ko;
    sigset_t set;

    fixture_start();
    memset(&act, 0, sizeof act);
    act.sa_handler = h;
    sigemptyset(&act.sa_mask);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int sig = bad[i];
        TRY("sigaction set", sig, sigaction(sig, &act, &old));
        TRY("sigaction query", sig, sigaction(sig, NULL, &old));
        TRY("__sigaction set", sig, __sigaction(sig, &act, NULL));
        TRY_HANDLER("signal", sig, signal(sig, h));
        TRY_HANDLER("bsd_signal", sig, bsd_signal(sig, h));
        TRY_HANDLER("ssignal", sig, ssignal(sig, h));
        TRY_HANDLER("sysv_signal", sig, sysv_signal(sig, h));
        TRY_HANDLER("__sysv_signal", sig, __sysv_signal(sig, h));
        TRY_HANDLER("sigset handler", sig, sigset(sig, h));
        TRY_HANDLER("sigset SIG_HOLD", sig, sigset(sig, SIG_HOLD));
        TRY("sigvec", sig, compat_sigvec(sig, &v, NULL));
        TRY("siginterrupt", sig, siginterrupt(sig, 1));
        TRY("sigignore", sig, sigignore(sig));
        TRY("sighold", sig, sighold(sig));
        TRY("sigrelse", sig, sigrelse(sig));
        TRY("syscall rt_sigaction set", sig, syscall(SYS_rt_sigaction, sig, &k, NULL, 8));
        TRY("syscall rt_sigaction query", sig, syscall(SYS_rt_sigaction, sig, NULL, &ko, 8));
    }

    /* SIGHUP itself, with invalid arguments. */
    TRY_HANDLER("signal SIG_ERR", SIGHUP, signal(SIGHUP, SIG_ERR));
    TRY_HANDLER("bsd_signal SIG_ERR", SIGHUP, bsd_signal(SIGHUP, SIG_ERR));
    TRY_HANDLER("sysv_signal SIG_ERR", SIGHUP, sysv_signal(SIGHUP, SIG_ERR));
    TRY("syscall rt_sigaction size 4", SIGHUP, syscall(SYS_rt_sigaction, SIGHUP, NULL, &ko, 4));
    TRY("syscall rt_sigaction size 16", SIGHUP, syscall(SYS_rt_sigaction, SIGHUP, &k, NULL, 16));
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    TRY("sigprocmask how 42", SIGHUP, sigprocmask(42, &set, NULL));
    TRY("pthread_sigmask how 42", SIGHUP, pthread_sigmask(42, &set, NULL));
    TRY("syscall rt_sigprocmask how 42", SIGHUP, syscall(SYS_rt_sigprocmask, 42, &set, NULL, 8));
    TRY("syscall rt_sigprocmask size 4", SIGHUP, syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, 4));
    printf("done\n");
    return 0;
}
