# cython: language_level=3
"""Run-time CPU feature detection (see core_ext/include/mbi_cpu.h)."""
from libc.stdint cimport uint32_t

cdef extern from "mbi_cpu.h":
    uint32_t mbi_cpu_features() nogil
    uint32_t mbi_cpu_features_raw() nogil
    int mbi_cpu_count() nogil

# Bit order mirrors the enum in mbi_cpu.h.
FEATURE_NAMES = (
    "sse4_1", "ssse3", "sha_ni", "avx2", "bmi2", "adx", "avx512f", "avx512vl",
    "avx512bw", "avx512dq", "avx512ifma", "arm_sha2", "neon",
)


def _names(uint32_t mask):
    return [n for i, n in enumerate(FEATURE_NAMES) if mask & (1u << i)]


def features():
    """Features usable now: present, enabled by the OS, not masked by the environment."""
    return _names(mbi_cpu_features())


def features_raw():
    """Features the hardware reports, before MBI_FORCE_PORTABLE / MBI_CPU_DISABLE."""
    return _names(mbi_cpu_features_raw())


def cpu_count():
    return mbi_cpu_count()
