/* cli_loop: times launchers of /bin/true against each other, interleaved
 * round-robin (the order rotating every round), so drift in the machine's
 * speed hits every variant alike. Each run is posix_spawn + wait4 with
 * stdin/stdout/stderr on /dev/null, as `hyperfine -N` does, and records
 * ru_maxrss: the kernel keeps the peak across exec, so it is the larger of
 * the launcher's peak before exec and /bin/true's own.
 *
 * Usage: cli_loop RUNS WARMUP NAME PROGRAM [ARGS...] -- NAME PROGRAM ... --
 * Output, one line per variant: NAME median_ns mean_ns min_ns maxrss_kib
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { MAXVAR = 8 };

struct variant {
    const char *name;
    char **argv;
    double *ns;
    long *rss;
};

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: cli_loop RUNS WARMUP NAME PROGRAM [ARGS...] -- ...\n");
        return 2;
    }
    int runs = atoi(argv[1]), warmup = atoi(argv[2]);
    struct variant v[MAXVAR];
    int n = 0;
    for (int i = 3; i < argc && n < MAXVAR;) {
        v[n].name = argv[i++];
        v[n].argv = &argv[i];
        while (i < argc && strcmp(argv[i], "--") != 0) i++;
        if (i < argc) argv[i++] = NULL;
        v[n].ns = calloc((size_t)runs, sizeof(double));
        v[n].rss = calloc((size_t)runs, sizeof(long));
        if (!v[n].ns || !v[n].rss || !v[n].argv[0]) { fprintf(stderr, "bad variant\n"); return 2; }
        n++;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    for (int fd = 0; fd < 3; fd++)
        posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", O_RDWR, 0);
    for (int r = 0; r < warmup + runs; r++) {
        for (int k = 0; k < n; k++) {
            struct variant *x = &v[(k + r) % n];
            pid_t pid;
            int status;
            struct rusage ru;
            double t0 = now_ns();
            int err = posix_spawn(&pid, x->argv[0], &fa, NULL, x->argv, environ);
            if (err) { fprintf(stderr, "posix_spawn %s: %s\n", x->argv[0], strerror(err)); return 1; }
            if (wait4(pid, &status, 0, &ru) < 0) { perror("wait4"); return 1; }
            double t = now_ns() - t0;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "%s did not exit 0 (status %#x)\n", x->name, status);
                return 1;
            }
            if (r >= warmup) {
                x->ns[r - warmup] = t;
                x->rss[r - warmup] = ru.ru_maxrss;
            }
        }
    }
    for (int k = 0; k < n; k++) {
        double sum = 0;
        for (int i = 0; i < runs; i++) sum += v[k].ns[i];
        qsort(v[k].ns, (size_t)runs, sizeof(double), cmp_double);
        qsort(v[k].rss, (size_t)runs, sizeof(long), cmp_long);
        printf("%s %.0f %.0f %.0f %ld\n", v[k].name, v[k].ns[runs / 2], sum / runs, v[k].ns[0],
               v[k].rss[runs / 2]);
    }
    return 0;
}
