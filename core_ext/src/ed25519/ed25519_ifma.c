/* AVX-512 IFMA backend (compiled with -mavx512ifma; empty elsewhere). */
#if defined(__x86_64__) && defined(__AVX512IFMA__)
typedef int mbi_ed25519_ifma_placeholder;
#else
typedef int mbi_ed25519_ifma_unused;
#endif
