"""What machine a measurement was made on: the CPU's name, vendor, family and vector extensions.

Results files record it with every figure, because the same code runs at different speeds (and
takes different kernel paths) on an AMD CPU with AVX2 and an Intel one with AVX-512. On virtual
machines the model string alone can be as vague as "Intel(R) Xeon(R) Processor", so the vendor,
the family and model numbers and the vector extensions are read too.

    from minidl.machine import describe_cpu
    describe_cpu()   # 'AMD EPYC (AuthenticAMD family 25 model 1; AVX2, FMA; 2 cores)'
"""

import os
import platform
from pathlib import Path

__all__ = ["cpu_info", "describe_cpu"]

# The vector extensions that decide which kernels a CPU runs well, as /proc/cpuinfo names them.
EXTENSIONS = {"avx2": "AVX2", "fma": "FMA", "avx512f": "AVX-512F", "avx512_vnni": "AVX-512 VNNI",
              "avx512_bf16": "AVX-512 BF16", "amx_tile": "AMX"}


def cpu_info(cpuinfo="/proc/cpuinfo"):
    """A dict: ``model``, ``vendor``, ``family``, ``model_number``, ``extensions`` (a list) and ``cores``.

    Fields /proc/cpuinfo does not give (other systems) are None, or [] for the extensions.
    """
    fields = {}
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())   # the first processor's entry
    except OSError:
        pass
    flags = set(fields.get("flags", "").split())
    return {"model": fields.get("model name") or platform.processor() or platform.machine(),
            "vendor": fields.get("vendor_id"), "family": fields.get("cpu family"), "model_number": fields.get("model"),
            "extensions": [name for flag, name in EXTENSIONS.items() if flag in flags],
            "cores": os.cpu_count()}


def describe_cpu(cpuinfo="/proc/cpuinfo"):
    """One line naming the CPU, e.g. ``Intel(R) Xeon(R) Processor (GenuineIntel family 6 model 143; AVX2,
    FMA, AVX-512F, AMX; 2 cores)``."""
    info = cpu_info(cpuinfo)
    where = f"{info['vendor']} family {info['family']} model {info['model_number']}; " if info["vendor"] else ""
    extensions = ", ".join(info["extensions"]) or "no AVX2"
    return f"{info['model']} ({where}{extensions}; {info['cores']} cores)"
