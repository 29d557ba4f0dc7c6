/* See mbi_cpu.h. */
#include "mbi_cpu.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define MBI_X86 1
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_SHA2
#define HWCAP_SHA2 (1 << 6)
#endif
#endif

static const struct { const char *name; uint32_t bit; } NAMES[] = {
    {"sse4_1", MBI_CPU_SSE41},     {"ssse3", MBI_CPU_SSSE3},
    {"sha_ni", MBI_CPU_SHA_NI},    {"avx2", MBI_CPU_AVX2},
    {"bmi2", MBI_CPU_BMI2},        {"adx", MBI_CPU_ADX},
    {"avx512f", MBI_CPU_AVX512F},  {"avx512vl", MBI_CPU_AVX512VL},
    {"avx512bw", MBI_CPU_AVX512BW},{"avx512dq", MBI_CPU_AVX512DQ},
    {"avx512ifma", MBI_CPU_AVX512IFMA}, {"arm_sha2", MBI_CPU_ARM_SHA2},
    {"neon", MBI_CPU_ARM_NEON},
};

#ifdef MBI_X86
static uint64_t xgetbv0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}
#endif

static uint32_t detect(void) {
    uint32_t f = 0;
#ifdef MBI_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (c & bit_SSE4_1) f |= MBI_CPU_SSE41;
    if (c & bit_SSSE3) f |= MBI_CPU_SSSE3;
    int osxsave = (c >> 27) & 1;
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    int ymm_ok = (xcr0 & 0x6) == 0x6;             /* SSE + AVX state */
    int zmm_ok = ymm_ok && (xcr0 & 0xe0) == 0xe0; /* opmask + ZMM_Hi256 + Hi16_ZMM */
    unsigned maxleaf = __get_cpuid_max(0, 0);
    if (maxleaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        if (b & (1u << 29)) f |= MBI_CPU_SHA_NI;
        if (b & (1u << 8)) f |= MBI_CPU_BMI2;
        if (b & (1u << 19)) f |= MBI_CPU_ADX;
        if (ymm_ok && (b & (1u << 5))) f |= MBI_CPU_AVX2;
        if (zmm_ok) {
            if (b & (1u << 16)) f |= MBI_CPU_AVX512F;
            if (b & (1u << 31)) f |= MBI_CPU_AVX512VL;
            if (b & (1u << 30)) f |= MBI_CPU_AVX512BW;
            if (b & (1u << 17)) f |= MBI_CPU_AVX512DQ;
            if (b & (1u << 21)) f |= MBI_CPU_AVX512IFMA;
        }
    }
#elif defined(__aarch64__)
    f |= MBI_CPU_ARM_NEON;
#if defined(__linux__)
    if (getauxval(AT_HWCAP) & HWCAP_SHA2) f |= MBI_CPU_ARM_SHA2;
#elif defined(__APPLE__)
    f |= MBI_CPU_ARM_SHA2;
#endif
#endif
    return f;
}

static uint32_t env_mask(void) {
    const char *p = getenv("MBI_FORCE_PORTABLE");
    if (p && *p && strcmp(p, "0") != 0) return 0xffffffffu;
    uint32_t m = 0;
    const char *list = getenv("MBI_CPU_DISABLE");
    if (!list) return 0;
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
        const char *s = list;
        size_t n = strlen(NAMES[i].name);
        while ((s = strstr(s, NAMES[i].name)) != NULL) {
            int start_ok = (s == list) || s[-1] == ',' || s[-1] == ' ';
            int end_ok = s[n] == '\0' || s[n] == ',' || s[n] == ' ';
            if (start_ok && end_ok) { m |= NAMES[i].bit; break; }
            s += n;
        }
    }
    return m;
}

/* Benign race: every thread computes the same value. */
static volatile int cached = 0;
static volatile uint32_t raw_features, features;

static void init(void) {
    if (cached) return;
    uint32_t r = detect();
    raw_features = r;
    features = r & ~env_mask();
    __sync_synchronize();
    cached = 1;
}

uint32_t mbi_cpu_features(void) { init(); return features; }
uint32_t mbi_cpu_features_raw(void) { init(); return raw_features; }

int mbi_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}
