/* Shared by the C fixtures: the kernel's own view of SIGHUP, and the small
 * protocol every fixture speaks with the Rust harness.
 *
 * The kernel's view is read with an inline system call instruction, never
 * through libc: libnohup.so hooks sigaction() and syscall() too, and both
 * answer from its shadow. /proc/self/status is the second witness.
 *
 * Protocol (stdout, one line each, flushed at once):
 *   "preloaded: yes|no"             first line, from fixture_start()
 *   "FAIL: ..."                     a check failed; the fixture exits 2
 *   "survived kill(getpid(), SIGHUP)"
 *   "ready"                         serve() waits for stdin lines
 *   "ping" on stdin -> "pong"       printed only by a live process
 *   EOF on stdin -> "bye", exit 0
 * A fixture whose SIGHUP handler runs prints "FAIL: SIGHUP handler ran"
 * and exits 3.
 */
#ifndef HUPSAFE_FIXTURE_H
#define HUPSAFE_FIXTURE_H

#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- raw system calls (libc's syscall() is hooked) ---------------------- */

static inline long raw_syscall4(long n, long a, long b, long c, long d)
{
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
#else
#error "fixtures support x86_64 and aarch64 only"
#endif
}

/* glibc adds it to every action it hands the kernel; its headers hide it. */
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

/* The kernel's struct sigaction (rt_sigaction's layout). */
struct ksigaction {
    unsigned long handler;
    unsigned long flags;
    unsigned long restorer;
    unsigned long mask;
};

/* What the kernel really holds for `sig` (handler, flags, mask). */
static inline struct ksigaction kernel_action(int sig)
{
    struct ksigaction k;
    memset(&k, 0, sizeof k);
    long r = raw_syscall4(SYS_rt_sigaction, sig, 0, (long)&k, 8);
    if (r != 0) {
        printf("FAIL: raw rt_sigaction(%d) query returned %ld\n", sig, r);
        exit(2);
    }
    return k;
}

/* The calling thread's signal mask as the kernel holds it. */
static inline unsigned long kernel_blocked(void)
{
    unsigned long old = 0;
    long r = raw_syscall4(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&old, 8);
    if (r != 0) {
        printf("FAIL: raw rt_sigprocmask query returned %ld\n", r);
        exit(2);
    }
    return old;
}

static inline unsigned long sigbit(int sig) { return 1UL << (sig - 1); }

/* A hex mask field ("SigIgn", "SigBlk", ...) of /proc/thread-self/status. */
static inline unsigned long long status_mask(const char *field)
{
    FILE *f = fopen("/proc/thread-self/status", "r");
    char line[256];
    size_t n = strlen(field);
    unsigned long long v = 0;
    if (!f) {
        printf("FAIL: cannot open /proc/thread-self/status\n");
        exit(2);
    }
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtoull(line + n + 1, NULL, 16);
            break;
        }
    fclose(f);
    return v;
}

static inline const char *disposition_name(unsigned long h)
{
    if (h == (unsigned long)SIG_DFL)
        return "SIG_DFL";
    if (h == (unsigned long)SIG_IGN)
        return "SIG_IGN";
    return "a handler";
}

/* ---- checks ---------------------------------------------------------------- */

static inline void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
    exit(2);
}

/* Exits 2 unless the kernel ignores SIGHUP and does not block it in the
 * calling thread: the one thing the shim must guarantee. */
static inline void expect_kernel_ignores_hup(const char *when)
{
    struct ksigaction k = kernel_action(SIGHUP);
    if (k.handler != (unsigned long)SIG_IGN)
        fail("%s: the kernel's SIGHUP disposition is %s, not SIG_IGN", when,
             disposition_name(k.handler));
    if (!(status_mask("SigIgn") & sigbit(SIGHUP)))
        fail("%s: /proc/thread-self/status SigIgn lacks SIGHUP", when);
    if (kernel_blocked() & sigbit(SIGHUP))
        fail("%s: the kernel blocks SIGHUP in this thread", when);
    if (status_mask("SigBlk") & sigbit(SIGHUP))
        fail("%s: /proc/thread-self/status SigBlk has SIGHUP", when);
    printf("kernel ignores SIGHUP %s\n", when);
}

/* A SIGHUP handler that must never run. Async-signal-safe. */
static inline void die_on_hup(int sig)
{
    static const char msg[] = "FAIL: SIGHUP handler ran\n";
    (void)sig;
    (void)!write(1, msg, sizeof msg - 1);
    _exit(3);
}

/* ---- the protocol -------------------------------------------------------------- */

/* Whether libnohup.so is mapped into this process. */
static inline int shim_loaded(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    int found = 0;
    if (!f)
        return 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, "/libnohup.so") != NULL;
    fclose(f);
    return found;
}

/* First call of every fixture. The harness sets HUPSAFE_EXPECT_PRELOAD=1
 * when it preloads the shim: a shim that silently failed to load must not
 * make a test pass (or fail) for the wrong reason. */
static inline void fixture_start(void)
{
    const char *expect = getenv("HUPSAFE_EXPECT_PRELOAD");
    int loaded = shim_loaded();
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("preloaded: %s\n", loaded ? "yes" : "no");
    if (expect && strcmp(expect, "1") == 0 && !loaded)
        fail("the harness preloaded libnohup.so but it is not mapped");
}

static inline void survive_self_hup(void)
{
    kill(getpid(), SIGHUP);
    printf("survived kill(getpid(), SIGHUP)\n");
}

/* Run by serve() at EOF, before "bye" (e.g. to release a held SIGHUP). */
static void (*serve_at_eof)(void);

/* Answers "ping" with "pong" (after re-checking the kernel) until EOF. */
static inline void serve(void)
{
    char line[256];
    printf("ready\n");
    while (fgets(line, sizeof line, stdin)) {
        if (strncmp(line, "ping", 4) == 0) {
            expect_kernel_ignores_hup("after the hangup");
            printf("pong\n");
        }
    }
    if (serve_at_eof)
        serve_at_eof();
    printf("bye\n");
    exit(0);
}

/* Exits 2 unless sigaction(SIGHUP, NULL, &old) reports handler `h`: the
 * program is told what it set, not what the kernel holds. */
static inline void expect_program_sees(void (*h)(int), const char *when)
{
    struct sigaction q;
    memset(&q, 0, sizeof q);
    if (sigaction(SIGHUP, NULL, &q) != 0)
        fail("%s: sigaction(SIGHUP, NULL, &old) failed: %s", when, strerror(errno));
    if (q.sa_handler != h)
        fail("%s: sigaction(SIGHUP, NULL, &old) reports %s, not what the program set", when,
             disposition_name((unsigned long)q.sa_handler));
}

/* Exits 2 unless the program's own view of its mask has SIGHUP blocked
 * (`blocked`) or not. */
static inline void expect_program_blocks_hup(int blocked, const char *when)
{
    sigset_t cur;
    sigemptyset(&cur);
    if (sigprocmask(SIG_BLOCK, NULL, &cur) != 0)
        fail("%s: sigprocmask query failed: %s", when, strerror(errno));
    if (sigismember(&cur, SIGHUP) != blocked)
        fail("%s: sigprocmask reports SIGHUP %s", when, blocked ? "unblocked" : "blocked");
}

#ifdef HUP_COMPAT_SIGVEC
/* sigvec exists in glibc only as a compat symbol (no header, no default
 * version): bind to it by version. Opt-in, so that fixtures built -static
 * never reference it. */
struct old_sigvec {
    void (*sv_handler)(int);
    int sv_mask;
    int sv_flags;
};
extern int compat_sigvec(int, const struct old_sigvec *, struct old_sigvec *);
#if defined(__x86_64__)
__asm__(".symver compat_sigvec,sigvec@GLIBC_2.2.5");
#else
__asm__(".symver compat_sigvec,sigvec@GLIBC_2.17");
#endif
#endif

#endif
