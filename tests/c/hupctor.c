/* libhupctor.so: a DT_NEEDED library whose constructor changes SIGHUP and
 * SIGUSR1. Its constructor runs before a preloaded library's
 * (docs/HANGUPS.md, "Interposer rules"), so the shim's hooks are called
 * before the shim's own constructor. What it saw and got is kept for the
 * program to print. */
#include "hup.h"

static void ctor_signal_handler(int s) { (void)s; }
void hupctor_sigaction_handler(int s) { die_on_hup(s); }

static volatile sig_atomic_t usr1_count;
static void on_usr1(int s) { (void)s; usr1_count++; }

static unsigned long kernel_hup_before;
static int signal_failed, sigaction_failed, usr1_failed;

__attribute__((constructor)) static void hupctor_init(void)
{
    struct sigaction a;
    kernel_hup_before = kernel_action(SIGHUP).handler;

    signal_failed = signal(SIGHUP, ctor_signal_handler) == SIG_ERR;
    memset(&a, 0, sizeof a);
    a.sa_handler = hupctor_sigaction_handler;
    a.sa_flags = SA_RESTART;
    sigemptyset(&a.sa_mask);
    sigaction_failed = sigaction(SIGHUP, &a, NULL) != 0;

    usr1_failed = signal(SIGUSR1, SIG_DFL) == SIG_ERR;
    a.sa_handler = on_usr1;
    usr1_failed |= sigaction(SIGUSR1, &a, NULL) != 0;
}

/* The kernel's SIGHUP handler when the constructor started. */
unsigned long hupctor_kernel_hup_before(void) { return kernel_hup_before; }
int hupctor_failures(void) { return signal_failed + sigaction_failed + usr1_failed; }
int hupctor_usr1_count(void) { return usr1_count; }
void hupctor_usr1_handler_address(void (**h)(int)) { *h = on_usr1; }
