/* posix_spawn / posix_spawnp with SIGHUP in POSIX_SPAWN_SETSIGDEF (and in
 * POSIX_SPAWN_SETSIGMASK), and an environment without LD_PRELOAD: glibc
 * resets the child's SIGHUP through an internal call no hook sees. The
 * child must still start with SIGHUP ignored and unblocked.
 *
 * usage: spawn posix_spawn|posix_spawnp CHILD TAG
 * CHILD is the report fixture; it gets TAG and "serve", and inherits our
 * stdin and stdout. */
#include "hup.h"

#include <spawn.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
    posix_spawnattr_t attr;
    sigset_t set;
    pid_t pid;
    int status, r;
    char *env[] = {"PATH=/usr/bin:/bin", NULL};
    if (argc != 4)
        fail("usage: spawn posix_spawn|posix_spawnp CHILD TAG");
    char *child_argv[] = {argv[2], argv[3], "serve", NULL};
    fixture_start();
    expect_kernel_ignores_hup("in the parent at start");

    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    posix_spawnattr_setsigdefault(&attr, &set);
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    posix_spawnattr_setsigmask(&attr, &set);
    if (strcmp(argv[1], "posix_spawnp") == 0)
        r = posix_spawnp(&pid, argv[2], NULL, &attr, child_argv, env);
    else
        r = posix_spawn(&pid, argv[2], NULL, &attr, child_argv, env);
    posix_spawnattr_destroy(&attr);
    if (r != 0)
        fail("%s failed: %s", argv[1], strerror(r));
    printf("spawned %d\n", (int)pid);
    if (waitpid(pid, &status, 0) != pid)
        fail("waitpid failed: %s", strerror(errno));
    printf("child exited %d\n", status);
    return status == 0 ? 0 : 1;
}
