/* strict_loop: times CALLS getppid() calls and CALLS sigaction(SIGUSR1)
 * calls, best of REPS repetitions each (alternating).
 *
 * bench/strict.sh runs it under `hupsafe run --no-relay` with and without
 * --strict and compares the figures: a ratio, never a timed assertion.
 *
 * Output, one line each:
 *   seccomp 0|2            prctl(PR_GET_SECCOMP): 2 = a filter is applied
 *   getppid <best ns per call>
 *   sigaction <best ns per call>
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static void on_signal(int sig) { (void)sig; }

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long calls = argc > 1 ? atol(argv[1]) : 1000000;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    double best_ppid = 1e30, best_sa = 1e30;
    volatile pid_t sink = 0;
    struct sigaction act;

    memset(&act, 0, sizeof act);
    act.sa_handler = on_signal;
    for (int r = 0; r < reps; r++) {
        double t0 = now_ns();
        for (long i = 0; i < calls; i++)
            sink += getppid();
        double t1 = now_ns();
        for (long i = 0; i < calls; i++)
            if (sigaction(SIGUSR1, &act, NULL) != 0)
                return 1;
        double t2 = now_ns();
        if ((t1 - t0) / calls < best_ppid)
            best_ppid = (t1 - t0) / calls;
        if ((t2 - t1) / calls < best_sa)
            best_sa = (t2 - t1) / calls;
    }
    printf("seccomp %d\n", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    printf("getppid %.1f\n", best_ppid);
    printf("sigaction %.1f\n", best_sa);
    return 0;
}
