"""What machine a measurement was made on: the CPU's name, vendor, family and vector extensions.

Results files record it with every figure, because the same code runs at different speeds (and
takes different kernel paths) on an AMD CPU with AVX2 and an Intel one with AVX-512. On virtual
machines the model string alone can be as vague as "Intel(R) Xeon(R) Processor", so the vendor,
the family and model numbers and the vector extensions are read too.

    from minidl.machine import describe_cpu, machine_kind
    describe_cpu()   # 'AMD EPYC (AuthenticAMD family 25 model 1; AVX2, FMA; 2 cores)'
    machine_kind()   # 'AMD family 25 model 1, AVX2'
"""

import os
import platform
from pathlib import Path

__all__ = ["cpu_info", "describe_cpu", "machine_kind"]

# The vector extensions that decide which kernels a CPU runs well (OpenBLAS, oneDNN and Numba's
# LLVM all choose by them): /proc/cpuinfo's flag -> the name vendors use, in the order printed.
EXTENSIONS = {
    "avx2": "AVX2", "fma": "FMA", "avx512f": "AVX-512F", "avx512bw": "AVX-512BW", "avx512vl": "AVX-512VL",
    "avx512_vnni": "AVX-512 VNNI", "avx512_bf16": "AVX-512 BF16", "avx512_fp16": "AVX-512 FP16",
    "avx_vnni": "AVX-VNNI", "amx_tile": "AMX", "amx_bf16": "AMX-BF16", "amx_int8": "AMX-INT8",
}


def cpu_info(cpuinfo="/proc/cpuinfo"):
    """A dict: ``model``, ``vendor``, ``family``, ``model_number``, ``extensions`` (a list, in
    ``EXTENSIONS``' order) and ``cores``, read from the first processor's entry of ``cpuinfo``.

    Fields a system without /proc/cpuinfo does not give are None, or [] for the extensions.
    """
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        text = ""
    fields = {}
    for line in text.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    return {"model": fields.get("model name") or platform.processor() or platform.machine(),
            "vendor": fields.get("vendor_id"), "family": fields.get("cpu family"), "model_number": fields.get("model"),
            "extensions": [name for flag, name in EXTENSIONS.items() if flag in flags],
            "cores": text.count("processor\t:") or os.cpu_count()}


def describe_cpu(cpuinfo="/proc/cpuinfo"):
    """One line naming the CPU, e.g. ``Intel(R) Xeon(R) Processor (GenuineIntel family 6 model 143; AVX2,
    FMA, AVX-512F, AMX; 2 cores)``."""
    info = cpu_info(cpuinfo)
    where = f"{info['vendor']} family {info['family']} model {info['model_number']}; " if info["vendor"] else ""
    extensions = ", ".join(info["extensions"]) or "no AVX2"
    return f"{info['model']} ({where}{extensions}; {info['cores']} cores)"


def machine_kind(cpuinfo="/proc/cpuinfo"):
    """The short name of a kind of machine, e.g. ``Intel family 6 model 106, AVX-512``: vendor,
    family and model numbers, and the widest vector extension (what kernels are chosen by).
    Benchmark results are kept one table per kind."""
    info = cpu_info(cpuinfo)
    vendor = {"AuthenticAMD": "AMD", "GenuineIntel": "Intel"}.get(info["vendor"], info["vendor"] or info["model"])
    widest = ("AVX-512" if "AVX-512F" in info["extensions"] else "AVX2" if "AVX2" in info["extensions"]
              else "no AVX2")
    return f"{vendor} family {info['family']} model {info['model_number']}, {widest}"
