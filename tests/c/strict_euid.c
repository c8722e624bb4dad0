/* --strict setuid fixture: prints its effective uid. The test copies it,
 * makes the copy setuid root, and runs it as another user: without
 * no_new_privs it prints euid=0, under --strict the user's own uid. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    printf("euid=%d\n", (int)geteuid());
    return 0;
}
