/* Differential: the same sequence of calls on SIGUSR1 (which the shim
 * passes to the real libc and kernel) and on SIGHUP (which it answers from
 * its shadow). Every report must be identical once the signal's own number
 * is written SELF: handler, flags, mask, restorer, return value, errno.
 * After every SIGHUP step the kernel must still ignore SIGHUP.
 *
 * The harness starts this program with SIGUSR1 ignored, so that both
 * signals start where the shim leaves SIGHUP: SIG_IGN, as inherited.
 *
 * Output: "<USR1|HUP>\t<step>\t<report>" and "kernel\t<step>\t<ok|...>". */
#define HUP_COMPAT_SIGVEC
#include "hup.h"

#include <pthread.h>
#include <stdint.h>

extern __sighandler_t bsd_signal(int, __sighandler_t);
extern __sighandler_t __sysv_signal(int, __sighandler_t);

#define SV_ONSTACK 1
#define SV_INTERRUPT 2
#define SV_RESETHAND 4

/* Reported errno when a call leaves errno alone. */
#define UNTOUCHED 4242

static void h1(int s) { (void)s; }
static void h2(int s) { (void)s; }
static void hinfo(int s, siginfo_t *i, void *c) { (void)s; (void)i; (void)c; }

static int sig;          /* the signal being exercised */
static const char *name; /* "USR1" or "HUP" */
static int step_no;
static char step[128];

static const char *handler_name(uintptr_t h)
{
    static char buf[32];
    if (h == (uintptr_t)SIG_DFL) return "SIG_DFL";
    if (h == (uintptr_t)SIG_IGN) return "SIG_IGN";
    if (h == (uintptr_t)SIG_HOLD) return "SIG_HOLD";
    if (h == (uintptr_t)SIG_ERR) return "SIG_ERR";
    if (h == (uintptr_t)h1) return "h1";
    if (h == (uintptr_t)h2) return "h2";
    if (h == (uintptr_t)hinfo) return "hinfo";
    snprintf(buf, sizeof buf, "%#lx", (unsigned long)h);
    return buf;
}

static const char *restorer_name(uintptr_t r) { return r ? handler_name(r) : "none"; }

/* A kernel mask word as a list, with our signal written SELF. */
static const char *mask_name(unsigned long w)
{
    static char buf[512];
    size_t n = 0;
    buf[0] = 0;
    for (int s = 1; s <= 64; s++)
        if (w & sigbit(s)) {
            if (s == sig)
                n += snprintf(buf + n, sizeof buf - n, "%sSELF", n ? "," : "");
            else
                n += snprintf(buf + n, sizeof buf - n, "%s%d", n ? "," : "", s);
        }
    return n ? buf : "-";
}

static unsigned long first_word(const sigset_t *s)
{
    unsigned long w;
    memcpy(&w, s, sizeof w);
    return w;
}

static void begin(const char *what)
{
    snprintf(step, sizeof step, "%02d %s", ++step_no, what);
    errno = UNTOUCHED;
}

static void check_kernel(void)
{
    if (sig != SIGHUP)
        return;
    struct ksigaction k = kernel_action(SIGHUP);
    int blocked = (kernel_blocked() & sigbit(SIGHUP)) != 0;
    if (k.handler == (unsigned long)SIG_IGN && !blocked)
        printf("kernel\t%s\tok\n", step);
    else
        printf("kernel\t%s\thandler %s, %s\n", step, handler_name(k.handler),
               blocked ? "blocked" : "unblocked");
}

static void report(const char *fmt, ...)
{
    va_list ap;
    int err = errno;
    printf("%s\t%s\t", name, step);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(" errno=%d\n", err);
    check_kernel();
}

static void report_action(long ret, const struct sigaction *o)
{
    report("ret=%ld handler=%s flags=%#x mask=%s restorer=%s", ret,
           handler_name((uintptr_t)o->sa_handler), (unsigned)o->sa_flags,
           mask_name(first_word(&o->sa_mask)),
           restorer_name((uintptr_t)o->sa_restorer));
}

static void report_handler(__sighandler_t h) { report("ret=%s", handler_name((uintptr_t)h)); }

static void report_set(long ret, const sigset_t *s)
{
    report("ret=%ld SELF=%d USR2=%d", ret, sigismember(s, sig), sigismember(s, SIGUSR2));
}

static void query(const char *what)
{
    struct sigaction o;
    memset(&o, 0x5a, sizeof o);
    begin(what);
    long r = sigaction(sig, NULL, &o);
    report_action(r, &o);
}

static void blocked_now(const char *what)
{
    sigset_t cur;
    memset(&cur, 0x5a, sizeof cur);
    begin(what);
    long r = sigprocmask(SIG_BLOCK, NULL, &cur);
    report_set(r, &cur);
}

static void action(struct sigaction *a, void (*h)(int), int flags, const int *mask)
{
    memset(a, 0, sizeof *a);
    a->sa_handler = h;
    a->sa_flags = flags;
    sigemptyset(&a->sa_mask);
    for (; mask && *mask; mask++)
        sigaddset(&a->sa_mask, *mask == -1 ? sig : *mask);
}

static void sequence(int which, const char *label)
{
    struct sigaction a, o, saved;
    struct old_sigvec v, ov;
    struct ksigaction k, ko;
    sigset_t set, old;
    unsigned long bits, oldbits;
    long r;
    const int wide_mask[] = {SIGUSR2, SIGTERM, 40, SIGKILL, SIGSTOP, -1 /* SELF */, 0};
    const int usr2[] = {SIGUSR2, 0};

    sig = which;
    name = label;
    step_no = 0;

    query("query at start");
    memset(&saved, 0x5a, sizeof saved);
    sigaction(sig, NULL, &saved);

    /* sigaction: save, set, query, restore */
    action(&a, h1, SA_RESTART, wide_mask);
    memset(&o, 0x5a, sizeof o);
    begin("sigaction h1 SA_RESTART wide mask");
    r = sigaction(sig, &a, &o);
    report_action(r, &o);
    query("query");

    action(&a, NULL, SA_SIGINFO | SA_NODEFER | SA_RESETHAND | SA_ONSTACK | 0x100 | 0x20000000, NULL);
    a.sa_sigaction = hinfo;
    memset(&o, 0x5a, sizeof o);
    begin("sigaction hinfo SIGINFO|NODEFER|RESETHAND|ONSTACK|unknown bits");
    r = sigaction(sig, &a, &o);
    report_action(r, &o);
    query("query");

    memset(&o, 0x5a, sizeof o);
    begin("sigaction restores the saved action");
    r = sigaction(sig, &saved, &o);
    report_action(r, &o);
    query("query");

    action(&a, h2, SA_RESTART, usr2);
    begin("sigaction with act == oldact");
    /* Declared restrict, but done by real programs: glibc copies act first. */
    struct sigaction *volatile same = &a;
    r = sigaction(sig, &a, same);
    report_action(r, &a);
    query("query");

    action(&a, h1, 0, NULL);
    begin("sigaction(act, NULL)");
    r = sigaction(sig, &a, NULL);
    report("ret=%ld", r);
    query("query");

    /* the signal() family */
    begin("signal h2");
    report_handler(signal(sig, h2));
    query("query");
    begin("signal SIG_DFL");
    report_handler(signal(sig, SIG_DFL));
    query("query");
    begin("signal SIG_ERR");
    report_handler(signal(sig, SIG_ERR));
    query("query");
    begin("bsd_signal h1");
    report_handler(bsd_signal(sig, h1));
    query("query");
    begin("ssignal h2");
    report_handler(ssignal(sig, h2));
    query("query");

    /* siginterrupt changes what signal() sets later */
    begin("siginterrupt 1");
    report("ret=%d", siginterrupt(sig, 1));
    query("query");
    begin("signal h1 after siginterrupt 1");
    report_handler(signal(sig, h1));
    query("query");
    begin("siginterrupt 0");
    report("ret=%d", siginterrupt(sig, 0));
    query("query");
    begin("signal h2 after siginterrupt 0");
    report_handler(signal(sig, h2));
    query("query");

    /* System V */
    begin("sysv_signal h1");
    report_handler(sysv_signal(sig, h1));
    query("query");
    begin("__sysv_signal h2");
    report_handler(__sysv_signal(sig, h2));
    query("query");
    begin("sysv_signal SIG_ERR");
    report_handler(sysv_signal(sig, SIG_ERR));
    query("query");

    begin("sigset h1");
    report_handler(sigset(sig, h1));
    query("query");
    blocked_now("mask");
    begin("sigset SIG_HOLD");
    report_handler(sigset(sig, SIG_HOLD));
    query("query");
    blocked_now("mask");
    begin("sigset SIG_HOLD again");
    report_handler(sigset(sig, SIG_HOLD));
    begin("sigset h2 while held");
    report_handler(sigset(sig, h2));
    query("query");
    blocked_now("mask");
    begin("sigset SIG_DFL");
    report_handler(sigset(sig, SIG_DFL));
    query("query");

    /* BSD sigvec, through the compat symbol */
    v.sv_handler = h2;
    v.sv_mask = (int)(sigbit(SIGUSR2) | sigbit(sig));
    v.sv_flags = SV_INTERRUPT | SV_RESETHAND | SV_ONSTACK;
    memset(&ov, 0x5a, sizeof ov);
    begin("sigvec h2 INTERRUPT|RESETHAND|ONSTACK");
    r = compat_sigvec(sig, &v, &ov);
    report("ret=%ld handler=%s mask=%s flags=%#x", r, handler_name((uintptr_t)ov.sv_handler),
           mask_name((unsigned)ov.sv_mask), (unsigned)ov.sv_flags);
    memset(&ov, 0x5a, sizeof ov);
    begin("sigvec query");
    r = compat_sigvec(sig, NULL, &ov);
    report("ret=%ld handler=%s mask=%s flags=%#x", r, handler_name((uintptr_t)ov.sv_handler),
           mask_name((unsigned)ov.sv_mask), (unsigned)ov.sv_flags);
    query("query");
    v.sv_handler = h1;
    v.sv_mask = 0;
    v.sv_flags = 0;
    memset(&ov, 0x5a, sizeof ov);
    begin("sigvec h1 no flags");
    r = compat_sigvec(sig, &v, &ov);
    report("ret=%ld handler=%s mask=%s flags=%#x", r, handler_name((uintptr_t)ov.sv_handler),
           mask_name((unsigned)ov.sv_mask), (unsigned)ov.sv_flags);
    query("query");

    begin("sigignore");
    report("ret=%d", sigignore(sig));
    query("query");

    /* masks: the program's view */
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigaddset(&set, SIGUSR2);
    memset(&old, 0x5a, sizeof old);
    begin("sigprocmask SIG_BLOCK {SELF, USR2}");
    r = sigprocmask(SIG_BLOCK, &set, &old);
    report_set(r, &old);
    blocked_now("mask");
    sigemptyset(&set);
    sigaddset(&set, sig);
    memset(&old, 0x5a, sizeof old);
    begin("sigprocmask SIG_UNBLOCK {SELF}");
    r = sigprocmask(SIG_UNBLOCK, &set, &old);
    report_set(r, &old);
    blocked_now("mask");
    memset(&old, 0x5a, sizeof old);
    begin("sigprocmask with a bad how");
    r = sigprocmask(99, &set, &old);
    report("ret=%ld", r);
    blocked_now("mask");
    memset(&old, 0x5a, sizeof old);
    begin("pthread_sigmask SIG_BLOCK {SELF}");
    r = pthread_sigmask(SIG_BLOCK, &set, &old);
    report_set(r, &old);
    blocked_now("mask");
    begin("pthread_sigmask SIG_SETMASK to the old mask");
    r = pthread_sigmask(SIG_SETMASK, &old, &set);
    report_set(r, &set);
    blocked_now("mask");
    begin("pthread_sigmask with a bad how");
    r = pthread_sigmask(99, &set, NULL);
    report("ret=%ld", r);
    begin("sigblock {SELF}");
    r = sigblock((int)sigbit(sig));
    report("ret=%s", mask_name((unsigned)r));
    begin("siggetmask");
    report("ret=%s", mask_name((unsigned)siggetmask()));
    begin("sigsetmask to the old mask");
    report("ret=%s", mask_name((unsigned)sigsetmask((int)r)));
    blocked_now("mask");
    begin("sighold");
    report("ret=%d", sighold(sig));
    blocked_now("mask");
    begin("sigrelse");
    report("ret=%d", sigrelse(sig));
    blocked_now("mask");
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_UNBLOCK, &set, NULL);

    /* the raw system calls through syscall() */
    k.handler = (unsigned long)h1;
    k.flags = SA_RESTART | SA_RESTORER | 0x100;
    k.restorer = (unsigned long)h2;
    k.mask = sigbit(SIGUSR2) | sigbit(sig) | sigbit(SIGKILL);
    memset(&ko, 0x5a, sizeof ko);
    begin("syscall rt_sigaction h1");
    r = syscall(SYS_rt_sigaction, sig, &k, &ko, 8);
    report("ret=%ld handler=%s flags=%#lx mask=%s restorer=%s", r, handler_name(ko.handler),
           ko.flags, mask_name(ko.mask), restorer_name(ko.restorer));
    memset(&ko, 0x5a, sizeof ko);
    begin("syscall rt_sigaction query");
    r = syscall(SYS_rt_sigaction, sig, NULL, &ko, 8);
    report("ret=%ld handler=%s flags=%#lx mask=%s restorer=%s", r, handler_name(ko.handler),
           ko.flags, mask_name(ko.mask), restorer_name(ko.restorer));
    begin("syscall rt_sigaction with a bad size");
    r = syscall(SYS_rt_sigaction, sig, NULL, &ko, 4);
    report("ret=%ld", r);
    query("query");
    bits = sigbit(sig);
    oldbits = 0x5a5a;
    begin("syscall rt_sigprocmask SIG_BLOCK {SELF}");
    r = syscall(SYS_rt_sigprocmask, SIG_BLOCK, &bits, &oldbits, 8);
    report("ret=%ld old=%s", r, mask_name(oldbits));
    oldbits = 0x5a5a;
    begin("syscall rt_sigprocmask query");
    r = syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &oldbits, 8);
    report("ret=%ld old=%s", r, mask_name(oldbits));
    blocked_now("mask");
    begin("syscall rt_sigprocmask SIG_UNBLOCK {SELF}");
    r = syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &bits, NULL, 8);
    report("ret=%ld", r);
    blocked_now("mask");

    memset(&o, 0x5a, sizeof o);
    begin("sigaction restores the saved action at the end");
    r = sigaction(sig, &saved, &o);
    report_action(r, &o);
    query("query at the end");
}

int main(void)
{
    fixture_start();
    sequence(SIGUSR1, "USR1");
    sequence(SIGHUP, "HUP");
    printf("done\n");
    return 0;
}
