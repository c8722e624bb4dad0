/* --strict fixture (built with -static: no loader, no shim). argv[1] says
 * how SIGHUP is reset to SIG_DFL: "raw" (an inline syscall instruction),
 * "libc" (signal()), or "none". The process then forks a child that execs
 * this program again with argv[2] = "child", which does the same.
 *
 * Each process prints, one line each on stdout:
 *   "<role> pid=N reset=R query=Q nnp=P seccomp=S"
 *     R: what the reset returned (0 = success), Q: what
 *     sigaction(SIGHUP, NULL, &old) returned, P and S: prctl's
 *     PR_GET_NO_NEW_PRIVS and PR_GET_SECCOMP. O: whether the raw reset's
 *     oldact was "filled" by the kernel or left "untouched" (the filter
 *     answers without running the call; "untouched" for other modes too).
 *   "usr1 <role> pid=N"  from its SIGUSR1 handler (proof it is alive and
 *     that other signals work), then it keeps waiting.
 * SIGTERM ends it. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *role = "parent";

struct ksig {
    unsigned long handler;
    unsigned long flags;
    unsigned long restorer;
    unsigned long mask;
};

/* The old action goes to `old`, which the caller fills with a sentinel. */
static long raw_reset(struct ksig *old)
{
    struct ksig k = {(unsigned long)SIG_DFL, 0, 0, 0};
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = 8;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"((long)SYS_rt_sigaction), "D"((long)SIGHUP), "S"(&k), "d"(old),
                       "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = SYS_rt_sigaction;
    register long x0 __asm__("x0") = SIGHUP;
    register long x1 __asm__("x1") = (long)&k;
    register long x2 __asm__("x2") = (long)old;
    register long x3 __asm__("x3") = 8;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
#else
#error "x86_64 or aarch64 only"
#endif
}

static void on_usr1(int sig)
{
    char buf[64];
    (void)sig;
    int n = snprintf(buf, sizeof buf, "usr1 %s pid=%d\n", role, (int)getpid());
    if (n > 0)
        (void)!write(1, buf, (size_t)n);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "none";
    int child = argc > 2 && strcmp(argv[2], "child") == 0;
    long reset = 0;
    struct ksig prev = {0xdead, 0, 0, 0};
    struct sigaction sa, old;

    if (child)
        role = "child";
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGUSR1, &sa, NULL) != 0)
        return 2;
    if (strcmp(mode, "raw") == 0)
        reset = raw_reset(&prev);
    else if (strcmp(mode, "libc") == 0)
        reset = signal(SIGHUP, SIG_DFL) == SIG_ERR ? -1 : 0;
    memset(&old, 0, sizeof old);
    int query = sigaction(SIGHUP, NULL, &old);
    printf("%s pid=%d reset=%ld query=%d nnp=%d seccomp=%d oldact=%s\n", role, (int)getpid(),
           reset, query, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), prctl(PR_GET_SECCOMP, 0, 0, 0, 0),
           prev.handler == 0xdead ? "untouched" : "filled");
    fflush(stdout);
    if (!child) {
        pid_t pid = fork();
        if (pid == 0) {
            execl("/proc/self/exe", argv[0], mode, "child", (char *)NULL);
            _exit(127);
        }
    }
    for (;;)
        pause();
}
