/* For `hupsafe wrap`: resets SIGHUP to SIG_DFL itself (as a program that
 * undoes nohup would), says which build it is, then serves pings. */
#include "hup.h"

#ifndef WRAP_VERSION
#define WRAP_VERSION 1
#endif

int main(void)
{
    fixture_start();
    if (signal(SIGHUP, SIG_DFL) == SIG_ERR)
        fail("signal(SIGHUP, SIG_DFL) returned SIG_ERR: %s", strerror(errno));
    printf("version %d\n", WRAP_VERSION);
    printf("reset SIGHUP\n");
    serve();
}
