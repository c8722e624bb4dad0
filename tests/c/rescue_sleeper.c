/* For `hupsafe rescue` killed mid-injection: ticks every 100 ms through a
 * raw nanosleep system call and checks what it returns. 0, or -1 with EINTR
 * (a signal), is a sleep; anything else means it resumed on registers that
 * were not its own (a rescuer died while the process ran its system calls)
 * and it says so and exits 3. SIGUSR1 makes it print `answer`. SIGHUP at its
 * default. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t asked;

static void on_usr1(int sig) {
    (void)sig;
    asked = 1;
}

int main(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGHUP, SIG_DFL);
    for (long i = 0;; i++) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        long r = syscall(SYS_nanosleep, &ts, NULL);
        if (r != 0 && !(r == -1 && errno == EINTR)) {
            printf("broken: nanosleep returned %ld\n", r);
            return 3;
        }
        if (asked) {
            asked = 0;
            printf("answer\n");
        }
        printf("tick %ld\n", i);
        fflush(stdout);
    }
}
