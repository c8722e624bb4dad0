/* A child started by another fixture (posix_spawn, exec after vfork),
 * often without LD_PRELOAD: it reports what it inherited, checks the kernel
 * still ignores SIGHUP, survives its own SIGHUP, then serves. argv[1] is a
 * tag for the harness to find it by. */
#include "hup.h"

int main(int argc, char **argv)
{
    const char *preload = getenv("LD_PRELOAD");
    fixture_start();
    printf("child %d tag %s LD_PRELOAD %s\n", (int)getpid(), argc > 1 ? argv[1] : "-",
           preload ? "set" : "unset");
    expect_kernel_ignores_hup("in the child at start");
    survive_self_hup();
    if (argc > 2 && strcmp(argv[2], "serve") == 0)
        serve();
    return 0;
}
