/* sigset(sig, SIG_ERR): glibc 2.36's sigset() does not reject SIG_ERR (it
 * installs it like any handler and returns the previous one). Differential,
 * SIGUSR1 (real libc) against SIGHUP (the shim).
 * Output: "<USR1|HUP>\t<step>\t<report>" */
#include "hup.h"

static void h1(int s) { (void)s; }

static const char *name_of(__sighandler_t h)
{
    if (h == SIG_ERR) return "SIG_ERR";
    if (h == SIG_DFL) return "SIG_DFL";
    if (h == SIG_IGN) return "SIG_IGN";
    if (h == h1) return "h1";
    return "other";
}

int main(void)
{
    const int sigs[] = {SIGUSR1, SIGHUP};
    fixture_start();
    for (int i = 0; i < 2; i++) {
        int sig = sigs[i];
        const char *label = sig == SIGHUP ? "HUP" : "USR1";
        struct sigaction q;
        sigset(sig, h1);
        errno = 0;
        __sighandler_t r = sigset(sig, SIG_ERR);
        printf("%s\tsigset SIG_ERR\tret=%s errno=%d\n", label, name_of(r), errno);
        sigaction(sig, NULL, &q);
        printf("%s\tquery\thandler=%s\n", label, name_of(q.sa_handler));
        sigset(sig, SIG_IGN);
    }
    return 0;
}
