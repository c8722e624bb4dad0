/* A child that shares the parent's memory (vfork) changes SIGHUP before it
 * execs or exits. The parent's view must stay what the parent set, and the
 * kernel must keep ignoring SIGHUP in both.
 *
 * usage: vfork exit | vfork exec REPORT | vfork fork */
#include "hup.h"

#include <sys/wait.h>

static void parents(int s) { (void)s; }

static void child_takes_sighup_back(void)
{
    struct sigaction dfl;
    sigset_t hup;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    signal(SIGHUP, SIG_DFL);
    sigaction(SIGHUP, &dfl, NULL);
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    sigprocmask(SIG_BLOCK, &hup, NULL);
}

static int wait_for(pid_t pid)
{
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        fail("waitpid failed: %s", strerror(errno));
    return status;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "exit";
    struct sigaction mine, seen;
    pid_t pid;
    int status;

    fixture_start();
    expect_kernel_ignores_hup("at start");
    memset(&mine, 0, sizeof mine);
    mine.sa_handler = parents;
    mine.sa_flags = SA_RESTART | SA_NODEFER;
    sigemptyset(&mine.sa_mask);
    sigaddset(&mine.sa_mask, SIGUSR2);
    if (sigaction(SIGHUP, &mine, NULL) != 0)
        fail("sigaction(SIGHUP) failed: %s", strerror(errno));

    if (strcmp(mode, "exit") == 0) {
        pid = vfork();
        if (pid == 0) {
            child_takes_sighup_back();
            _exit(0);
        }
    } else if (strcmp(mode, "exec") == 0) {
        /* The exec'd child has no LD_PRELOAD: what it finds is what the
         * vfork child left in the kernel. */
        static char *env[] = {"PATH=/usr/bin:/bin", NULL};
        char *child_argv[] = {argv[2], "after-vfork", NULL};
        pid = vfork();
        if (pid == 0) {
            child_takes_sighup_back();
            execve(argv[2], child_argv, env);
            _exit(127);
        }
    } else if (strcmp(mode, "fork") == 0) {
        /* A forked child has its own copy: its changes are its own. */
        pid = fork();
        if (pid == 0) {
            child_takes_sighup_back();
            if (sigaction(SIGHUP, NULL, &seen) != 0 || seen.sa_handler != SIG_DFL)
                fail("fork child: its own sigaction(SIGHUP, SIG_DFL) is not what it sees");
            expect_program_blocks_hup(1, "fork child after blocking SIGHUP");
            expect_kernel_ignores_hup("in the fork child");
            fflush(stdout);
            _exit(0);
        }
    } else {
        fail("unknown mode %s", mode);
        return 2;
    }
    if (pid < 0)
        fail("%s failed: %s", mode, strerror(errno));
    status = wait_for(pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("the child did not exit 0 (status %#x)", status);

    memset(&seen, 0, sizeof seen);
    if (sigaction(SIGHUP, NULL, &seen) != 0)
        fail("sigaction(SIGHUP, NULL) failed");
    if (seen.sa_handler != parents)
        fail("after the %s child: the parent's view of SIGHUP is %s, not its own handler", mode,
             disposition_name((unsigned long)seen.sa_handler));
    if ((seen.sa_flags & ~SA_RESTORER) != (SA_RESTART | SA_NODEFER) ||
        sigismember(&seen.sa_mask, SIGUSR2) != 1)
        fail("after the %s child: the parent's SIGHUP flags or mask changed", mode);
    expect_program_blocks_hup(0, "parent after the child");
    printf("parent's view intact after the %s child\n", mode);
    expect_kernel_ignores_hup("in the parent after the child");
    signal(SIGHUP, die_on_hup);
    survive_self_hup();
    serve();
}
