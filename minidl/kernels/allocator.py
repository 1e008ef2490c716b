"""Keep freed memory in the process, so that each training step does not fault it in again.

A training step allocates the same arrays every time: activations, caches, gradients, scratch
buffers, a few hundred MB for a ResNet on CIFAR-10 batches, nearly all freed when the step
ends. With its default settings the C library's allocator on Linux (glibc ``malloc``) hands
that memory back to the operating system once the step frees it, and the next step gets fresh
pages, each of which costs a page fault when first written. For ResNet-20 (batch 64) that was
45,000 faults and about 100-150 ms of kernel time per step, a third of the step.

``keep_freed_memory()`` tells glibc to keep freed memory for reuse instead (``mallopt``):

- M_MMAP_THRESHOLD: blocks up to 256 MB (32 MB where an older glibc allows no more) come from
  the heap, not from a mapping of their own (a mapping is returned to the system as soon as
  its block is freed);
- M_TRIM_THRESHOLD: up to 1 GB of free memory at the top of the heap is kept, not released.

The process's memory then stays near the largest amount it has used, as with PyTorch's caching
allocator on GPUs, and steps after the first fault almost never. It affects every allocation
in the process (PyTorch's too, when both run in one process). ``import minidl`` calls it on
Linux with glibc; elsewhere it does nothing. Set the environment variable
``MINIDL_KEEP_FREED_MEMORY=0`` before importing minidl to leave the allocator as it was.
"""

import ctypes
import ctypes.util
import os
import sys

# mallopt parameter numbers, from glibc's <malloc.h>
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

# Tried in this order: glibc before 2.35 or so refuses an mmap threshold above 32 MB.
MMAP_THRESHOLDS_BYTES = (256 * 2**20, 32 * 2**20)
TRIM_THRESHOLD_BYTES = 2**30


def keep_freed_memory():
    """Set glibc's allocator to keep freed memory; True if it was set, False where this is not
    Linux with glibc or ``MINIDL_KEEP_FREED_MEMORY=0``."""
    if os.environ.get("MINIDL_KEEP_FREED_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):          # another C library (e.g. musl) has no mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mallopt returns 1 on success and 0 when it refuses the value.
    mapped = any(mallopt(M_MMAP_THRESHOLD, size) for size in MMAP_THRESHOLDS_BYTES)
    trimmed = bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
    return mapped and trimmed
