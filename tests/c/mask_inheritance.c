/* Does a signal blocked in the program's view stay blocked where the
 * kernel would carry the mask over: into a new thread, and across exec?
 * Differential, SIGUSR1 (real kernel) against SIGHUP (the shim's view).
 *
 * usage: mask_inheritance thread
 *        mask_inheritance exec SELF   (SELF: this program's path)
 *        mask_inheritance show SIG    (internal: after exec)
 * Output: "<USR1|HUP>\t<what>\tblocked=<0|1>" */
#include "hup.h"

#include <pthread.h>
#include <sys/wait.h>

static void *in_thread(void *out)
{
    sigprocmask(SIG_BLOCK, NULL, (sigset_t *)out);
    return NULL;
}

static const char *label(int sig) { return sig == SIGHUP ? "HUP" : "USR1"; }

static void block(int sig)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        fail("sigprocmask failed");
}

static void unblock(int sig)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

int main(int argc, char **argv)
{
    const int sigs[] = {SIGUSR1, SIGHUP};
    const char *mode = argc > 1 ? argv[1] : "";
    sigset_t seen;
    if (strcmp(mode, "show") == 0 && argc == 3) {
        int sig = atoi(argv[2]);
        sigprocmask(SIG_BLOCK, NULL, &seen);
        printf("%s\tafter exec\tblocked=%d\n", label(sig), sigismember(&seen, sig));
        return 0;
    }
    fixture_start();
    for (int i = 0; i < 2; i++) {
        int sig = sigs[i];
        block(sig);
        if (strcmp(mode, "thread") == 0) {
            pthread_t t;
            sigemptyset(&seen);
            if (pthread_create(&t, NULL, in_thread, &seen) != 0 || pthread_join(t, NULL) != 0)
                fail("pthread_create failed");
            printf("%s\tin a new thread\tblocked=%d\n", label(sig), sigismember(&seen, sig));
        } else if (strcmp(mode, "exec") == 0 && argc == 3) {
            char num[8];
            snprintf(num, sizeof num, "%d", sig);
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                execl(argv[2], argv[2], "show", num, (char *)NULL);
                _exit(127);
            }
            int status;
            waitpid(pid, &status, 0);
        } else {
            fail("usage: mask_inheritance thread | exec SELF");
        }
        unblock(sig);
    }
    return 0;
}
