/* Per-thread storage for the shim, in C because stable Rust offers thread
 * locals only through std. The initial-exec model keeps access to one
 * %fs-relative load: no __tls_get_addr call, no allocation, safe in signal
 * handlers. A preloaded library lives in the static TLS block. */
__attribute__((tls_model("initial-exec"), visibility("hidden")))
__thread unsigned char hupsafe_hup_blocked;

__attribute__((visibility("hidden")))
unsigned char *hupsafe_hup_blocked_slot(void) {
    return &hupsafe_hup_blocked;
}
