"""Build the native kernels of ``core_ext``.

Metadata lives in pyproject.toml; this file only declares the extension modules.

Fast paths (SHA-NI, AVX2, AVX-512) are C files compiled as separate objects with their
own target flags, so the rest of the module stays baseline x86-64 (or ARMv8) and one
build runs on any server. Which path runs is chosen at run time from CPUID
(``core_ext/src/cpu.c``).

``MBI_EXT=hashing,merkle`` builds only the named kernels (developer convenience while
another kernel is being worked on); unset, everything is built.
"""
from __future__ import annotations

import glob
import os
import platform

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

MACHINE = platform.machine().lower()
IS_X86 = MACHINE in ("x86_64", "amd64", "i686", "x86")
IS_ARM64 = MACHINE in ("aarch64", "arm64")

# MBI_EXTRA_CFLAGS goes last, so it can override the defaults (ci/sanitize.sh: -O1, which
# compiles the instrumented build several times faster).
BASE_CFLAGS = ["-O3", "-fno-strict-aliasing", "-Wall", "-Wno-unused-function", "-pthread"]
BASE_CFLAGS += os.environ.get("MBI_EXTRA_CFLAGS", "").split()
CXXFLAGS = ["-std=c++17"]

# Per-source target flags, keyed by architecture. A source listed here is compiled on
# every architecture; its body is guarded by #if for the ones it does not target.
X86_SHANI = ["-msse4.1", "-mssse3", "-msha"]
X86_AVX2 = ["-mavx2", "-mbmi2"]
X86_AVX512 = ["-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq", "-mbmi2"]
X86_AVX512IFMA = X86_AVX512 + ["-mavx512ifma"]
ARM_CRYPTO = ["-march=armv8-a+crypto"]

SRC = "core_ext/src"


def special(flags_x86: list[str] | None = None, flags_arm: list[str] | None = None) -> list[str]:
    if IS_X86:
        return flags_x86 or []
    if IS_ARM64:
        return flags_arm or []
    return []


# name -> (plain sources, {special source: flags}, language)
KERNELS: dict[str, tuple[list[str], dict[str, list[str]], str]] = {
    "_cpu": (["core_ext/_cpu.pyx", f"{SRC}/cpu.c"], {}, "c"),
    # The one worker pool every threaded kernel shares (bound through a capsule).
    "_pool": (["core_ext/_pool.pyx", f"{SRC}/pool/pool.c"], {}, "c"),
    "hashing": (
        ["core_ext/hashing.pyx", f"{SRC}/cpu.c", f"{SRC}/sha256.c", f"{SRC}/pool/client.c"],
        {
            f"{SRC}/sha256_shani.c": special(X86_SHANI, ARM_CRYPTO),
            f"{SRC}/sha256_avx512.c": special(X86_AVX512),
            f"{SRC}/sha256_avx2.c": special(X86_AVX2),
        },
        "c",
    ),
    "merkle": (
        ["core_ext/merkle.pyx", f"{SRC}/cpu.c", f"{SRC}/sha256.c", f"{SRC}/merkle.c",
         f"{SRC}/pool/client.c"],
        {
            f"{SRC}/sha256_shani.c": special(X86_SHANI, ARM_CRYPTO),
            f"{SRC}/sha256_avx512.c": special(X86_AVX512),
            f"{SRC}/sha256_avx2.c": special(X86_AVX2),
        },
        "c",
    ),
    "sigverify": (
        # layers, bottom up: group/scalar arithmetic, backends, batch engine, dispatch
        ["core_ext/sigverify.pyx", f"{SRC}/cpu.c", f"{SRC}/ed25519/sha512.c",
         f"{SRC}/ed25519/group.c", f"{SRC}/ed25519/scalar.c", f"{SRC}/ed25519/backend.c",
         f"{SRC}/ed25519/batch.c", f"{SRC}/ed25519/keycache.c", f"{SRC}/ed25519/ed25519.c", f"{SRC}/pool/client.c"],
        {f"{SRC}/ed25519/ed25519_ifma.c": special(X86_AVX512IFMA)},
        "c",
    ),
    "mempool": (["core_ext/mempool.pyx", f"{SRC}/mempool/pool.cpp"], {}, "c++"),
    # The common PAY_COIN transaction's fields in one pass, for the ledger's inline path.
    "txscan": (["core_ext/txscan.pyx", f"{SRC}/txscan/txscan.c"], {}, "c"),
    # The ledger's inline PAY_COIN loop (Executor.run_block), without the interpreter.
    "execpay": (["core_ext/execpay.pyx"], {}, "c"),
}


class BuildExt(build_ext):
    """Compile each extension's special sources with their own flags first."""

    def build_extension(self, ext: Extension) -> None:
        # Looked up by name: cythonize() returns new Extension objects, so an attribute
        # set on ours would not survive to here.
        specials: dict[str, list[str]] = KERNELS.get(ext.name.rsplit(".", 1)[-1], ([], {}, ""))[1]
        if specials:
            objects: list[str] = []
            for src, flags in specials.items():
                objects += self.compiler.compile(
                    [src],
                    output_dir=self.build_temp,
                    include_dirs=ext.include_dirs,
                    extra_postargs=BASE_CFLAGS + flags,
                    depends=ext.depends,
                )
            ext.extra_objects = list(ext.extra_objects or []) + objects
        super().build_extension(ext)


def make_extensions() -> list[Extension]:
    wanted = os.environ.get("MBI_EXT")
    names = [n.strip() for n in wanted.split(",")] if wanted else list(KERNELS)
    unknown = set(names) - set(KERNELS)
    if unknown:
        raise SystemExit(f"MBI_EXT names unknown kernels: {sorted(unknown)}; known: {sorted(KERNELS)}")
    exts = []
    for name in names:
        sources, specials, lang = KERNELS[name]
        if not os.path.exists(sources[0]):
            # A kernel whose Cython module is not in this tree yet (tree under construction).
            print(f"setup.py: skipping core_ext.{name}: {sources[0]} not present")
            continue
        ext = Extension(
            f"core_ext.{name}",
            sources=sources,
            include_dirs=["core_ext/include", SRC, np.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            extra_compile_args=BASE_CFLAGS + (CXXFLAGS if lang == "c++" else []),
            extra_link_args=["-pthread"],
            language=lang,
            # headers, and the parts a unit includes (core_ext/src/mempool/*.inc): a change to
            # one rebuilds the modules that use it
            depends=[os.path.join("core_ext/include", h) for h in os.listdir("core_ext/include")]
            + sorted(glob.glob(f"{SRC}/**/*.inc", recursive=True)),
        )
        exts.append(ext)
    return exts


setup(
    ext_modules=cythonize(
        make_extensions(),
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True,
                             "embedsignature": True},
    ),
    cmdclass={"build_ext": BuildExt},
)
