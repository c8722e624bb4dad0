/* For `hupsafe rescue`: a multi-threaded program rescued while its main
 * thread is blocked in nanosleep() and then in read(). It reports how long
 * the sleep took and what it read, so the test can check that the rescue
 * changed neither (no lost data, no spurious EINTR: with no handler the
 * kernel restarts both calls after a stop). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static long ms_since(const struct timespec *a) {
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

static volatile int stop;
static int worker_bad;

static void *worker(void *arg) {
    (void)arg;
    struct timespec t = {0, 10 * 1000000};
    while (!stop)
        if (nanosleep(&t, NULL) != 0)
            worker_bad++;
    return NULL;
}

int main(void) {
    pthread_t th;
    pthread_create(&th, NULL, worker, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct timespec start, req = {1, 500 * 1000000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    printf("sleeping\n");
    int rc = nanosleep(&req, NULL);
    int err = rc ? errno : 0;
    printf("slept ms=%ld rc=%d errno=%d\n", ms_since(&start), rc, err);
    unsigned long sum = 0, bytes = 0;
    int eintr = 0;
    unsigned char buf[7];
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR) { eintr++; continue; }
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++) sum = sum * 31 + buf[i];
        bytes += n;
    }
    stop = 1;
    pthread_join(th, NULL);
    printf("read bytes=%lu sum=%lu eintr=%d worker_bad=%d\n", bytes, sum, eintr, worker_bad);
    return 0;
}
