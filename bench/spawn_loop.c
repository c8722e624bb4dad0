/* spawn_loop: the fallback for hyperfine. Times RUNS spawns of each of
 *   base   /bin/true                      (LD_PRELOAD removed)
 *   shim   /bin/true  with LD_PRELOAD=SO
 *   nohup  NOHUP /bin/true                (LD_PRELOAD removed)
 * interleaved round-robin, so drift in the machine's speed hits all three
 * alike. Each spawn is posix_spawn + waitpid with stdin/stdout/stderr on
 * /dev/null, as `hyperfine -N` does.
 *
 * Usage: spawn_loop SO NOHUP RUNS WARMUP
 * Output, one line per variant: NAME median_ns mean_ns min_ns
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { NVAR = 3 };

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* environ without LD_PRELOAD, plus `extra` when not NULL. */
static char **make_env(const char *extra) {
    size_t n = 0;
    while (environ[n]) n++;
    char **env = calloc(n + 2, sizeof *env);
    size_t k = 0;
    if (!env) { perror("calloc"); exit(1); }
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0) env[k++] = environ[i];
    if (extra) env[k++] = (char *)extra;
    env[k] = NULL;
    return env;
}

static double spawn_once(const char *path, char *const argv[], char *const envp[],
                         const posix_spawn_file_actions_t *fa) {
    pid_t pid;
    int status;
    double t0 = now_ns();
    int err = posix_spawn(&pid, path, fa, NULL, argv, envp);
    if (err) {
        fprintf(stderr, "posix_spawn %s: %s\n", path, strerror(err));
        exit(1);
    }
    if (waitpid(pid, &status, 0) < 0) { perror("waitpid"); exit(1); }
    double t = now_ns() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s did not exit 0 (status %#x)\n", path, status);
        exit(1);
    }
    return t;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s SO NOHUP RUNS WARMUP\n", argv[0]);
        return 2;
    }
    const char *so = argv[1], *nohup = argv[2];
    long runs = strtol(argv[3], NULL, 10), warmup = strtol(argv[4], NULL, 10);
    if (runs <= 0 || warmup < 0) { fprintf(stderr, "bad RUNS/WARMUP\n"); return 2; }

    size_t len = strlen(so) + sizeof "LD_PRELOAD=";
    char *preload = malloc(len);
    if (!preload) { perror("malloc"); return 1; }
    snprintf(preload, len, "LD_PRELOAD=%s", so);

    char *true_argv[] = {"/bin/true", NULL};
    char *nohup_argv[] = {(char *)nohup, "/bin/true", NULL};
    const char *names[NVAR] = {"base", "shim", "nohup"};
    const char *paths[NVAR] = {"/bin/true", "/bin/true", nohup};
    char **argvs[NVAR] = {true_argv, true_argv, nohup_argv};
    char **envs[NVAR] = {make_env(NULL), make_env(preload), make_env(NULL)};

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    for (int fd = 0; fd < 3; fd++)
        posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", fd ? O_WRONLY : O_RDONLY, 0);

    double *times[NVAR];
    for (int v = 0; v < NVAR; v++) {
        times[v] = malloc(sizeof(double) * (size_t)runs);
        if (!times[v]) { perror("malloc"); return 1; }
    }
    for (long i = 0; i < warmup; i++)
        for (int v = 0; v < NVAR; v++) spawn_once(paths[v], argvs[v], envs[v], &fa);
    for (long i = 0; i < runs; i++)
        for (int v = 0; v < NVAR; v++) times[v][i] = spawn_once(paths[v], argvs[v], envs[v], &fa);

    for (int v = 0; v < NVAR; v++) {
        double sum = 0;
        qsort(times[v], (size_t)runs, sizeof(double), cmp_double);
        for (long i = 0; i < runs; i++) sum += times[v][i];
        double median = runs % 2 ? times[v][runs / 2]
                                 : (times[v][runs / 2 - 1] + times[v][runs / 2]) / 2;
        printf("%s %.0f %.0f %.0f\n", names[v], median, sum / (double)runs, times[v][0]);
    }
    return 0;
}
