/* Run-time CPU feature detection shared by every core_ext kernel.
 *
 * Each extension module links its own copy of cpu.c; the answer is computed once per
 * module and cached. MBI_FORCE_PORTABLE=1 in the environment masks every feature, and
 * MBI_CPU_DISABLE=sha_ni,avx512f,... masks the named ones, so tests can drive every code
 * path on one machine (set them before importing core_ext). */
#ifndef MBI_CPU_H
#define MBI_CPU_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    MBI_CPU_SSE41      = 1u << 0,
    MBI_CPU_SSSE3      = 1u << 1,
    MBI_CPU_SHA_NI     = 1u << 2,
    MBI_CPU_AVX2       = 1u << 3,
    MBI_CPU_BMI2       = 1u << 4,
    MBI_CPU_ADX        = 1u << 5,
    MBI_CPU_AVX512F    = 1u << 6,
    MBI_CPU_AVX512VL   = 1u << 7,
    MBI_CPU_AVX512BW   = 1u << 8,
    MBI_CPU_AVX512DQ   = 1u << 9,
    MBI_CPU_AVX512IFMA = 1u << 10,
    MBI_CPU_ARM_SHA2   = 1u << 11,
    MBI_CPU_ARM_NEON   = 1u << 12,
};

/* Features present on this CPU, usable by the OS (XSAVE state enabled), minus any masked
 * through the environment. */
uint32_t mbi_cpu_features(void);
/* Features present before masking (what the hardware reports). */
uint32_t mbi_cpu_features_raw(void);
/* Number of online CPUs (>= 1). */
int mbi_cpu_count(void);

#define MBI_CPU_HAS(f) ((mbi_cpu_features() & (f)) == (f))
#define MBI_CPU_AVX512_BASE (MBI_CPU_AVX512F | MBI_CPU_AVX512VL | MBI_CPU_AVX512BW | MBI_CPU_AVX512DQ)

#ifdef __cplusplus
}
#endif
#endif
