/* A musl-linked program that takes SIGHUP back (a handler that exits, then
 * the default), then speaks the fixture protocol: "ready", "pong" for each
 * "ping", exit 0 at end of input. Built with musl-gcc: it runs under musl's
 * loader, which must be able to load the shim (it depends on libc.so.6
 * only, which musl's loader takes as itself). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(int sig) { (void)sig; _Exit(3); }

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = die;
    if (sigaction(SIGHUP, &sa, NULL) != 0)
        return 10;
    if (signal(SIGHUP, SIG_DFL) == SIG_ERR)
        return 11;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready\n");
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
        if (strcmp(line, "ping\n") == 0)
            printf("pong\n");
    }
    return 0;
}
