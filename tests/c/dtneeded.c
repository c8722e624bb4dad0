/* Linked against libhupctor.so, whose constructor called signal() and
 * sigaction() on SIGHUP and SIGUSR1 before the shim's constructor ran. */
#include "hup.h"

unsigned long hupctor_kernel_hup_before(void);
int hupctor_failures(void);
int hupctor_usr1_count(void);
void hupctor_usr1_handler_address(void (**h)(int));
void hupctor_sigaction_handler(int);

int main(void)
{
    void (*usr1)(int);
    struct ksigaction k;
    fixture_start();
    printf("library constructor found SIGHUP at %s\n", disposition_name(hupctor_kernel_hup_before()));
    if (hupctor_failures())
        fail("a signal call in the library's constructor failed");
    expect_kernel_ignores_hup("in main");
    expect_program_sees(hupctor_sigaction_handler, "in main, after the library's constructor");

    /* SIGUSR1 is not ours to touch: the constructor's handler is in the
     * kernel and runs. */
    hupctor_usr1_handler_address(&usr1);
    k = kernel_action(SIGUSR1);
    if (k.handler != (unsigned long)usr1 || !(k.flags & SA_RESTART))
        fail("the constructor's SIGUSR1 handler is not what the kernel holds");
    raise(SIGUSR1);
    if (hupctor_usr1_count() != 1)
        fail("the constructor's SIGUSR1 handler did not run");
    printf("SIGUSR1 handler from the constructor ran\n");
    survive_self_hup();
    serve();
}
