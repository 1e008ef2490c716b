"""What this CPU's vector registers hold, for minidl's compiled kernels and for the BLAS library.

Two numbers decide how fast the two ways of running a convolution's multiply-adds go:

- ``vector_bytes()``: the vector width of minidl's register tiles (``register_tile``), that of
  the CPU Numba compiles for: 64 bytes (16 float32) with AVX-512F, else 32 (8 float32, AVX2).
- ``blas_vector_bytes()``: the vector width of the kernel the BLAS library behind NumPy chose
  for its matrix products. OpenBLAS picks a kernel per CPU model at run time and says which
  (its "core type"); the one it picks can be narrower than the CPU allows (OpenBLAS 0.3.31
  runs its 256-bit Haswell kernel on AMD's AVX-512 Zen 4 and Zen 5 processors).

The convolution rules (``minidl.layers.conv.conv2d_algorithm``) compare the two: a matrix
product through BLAS is only worth its copies where BLAS runs vectors as wide as the tiles.
Both are read from the machine at run time, never assumed from its name.
"""

import functools

import numba
from numba.core.codegen import get_host_cpu_features
from threadpoolctl import threadpool_info

# OpenBLAS core types whose matrix-product kernels use 512-bit vectors.
OPENBLAS_AVX512_CORES = ("skylakex", "cooperlake", "sapphirerapids")


def cpu_features():
    """The CPU features Numba compiles for: NUMBA_CPU_FEATURES when set, else the host's
    (a string such as "+avx2,+fma,-avx512f,...")."""
    features = numba.config.CPU_FEATURES
    return _host_features() if features is None else features


@functools.cache
def _host_features():
    # Asked of LLVM once: each question costs about 0.25 ms, and a convolution's rules ask on
    # every call (3.5 ms of a ResNet-20 training step, measured).
    return get_host_cpu_features()


def vector_bytes():
    """Bytes in one vector register of the compiled kernels: 64 with AVX-512F, else 32."""
    return 64 if "+avx512f" in cpu_features().split(",") else 32


@functools.cache
def blas_vector_bytes():
    """Bytes in one vector of the BLAS library's matrix-product kernel.

    OpenBLAS: 64 for its AVX-512 core types (``OPENBLAS_AVX512_CORES``), 32 for the others
    (Haswell, Zen, ...). Any other BLAS (MKL, BLIS, Accelerate) is taken to use the widest
    vectors the CPU has, as those libraries do. Read once, on first use.
    """
    libraries = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    if not libraries or libraries[0].get("internal_api") != "openblas":
        return vector_bytes()
    core = str(libraries[0].get("architecture", "")).lower()
    return 64 if core in OPENBLAS_AVX512_CORES else 32
