"""Freed memory stays in the process: a loop that allocates and frees the same arrays stops
page-faulting after its first pass."""

import os
import subprocess
import sys
import textwrap

import pytest

from minidl.kernels import allocator

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's (Linux)")

# Like a training step: many activation-sized arrays (3 MB, below the size at which NumPy
# asks for huge pages) alive at once, then all freed. Prints the page faults of passes 2-5.
LOOP = textwrap.dedent("""
    import resource
    import numpy as np
    import minidl

    def faults():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    def step():
        arrays = [np.ones(3 * 2**18, dtype=np.float32) for _ in range(64)]
        del arrays

    step()                                          # first pass: the memory is new anyway
    before = faults()
    for _ in range(4):
        step()
    print(faults() - before)
""")
PAGES_PER_PASS = 64 * 3 * 2**20 // os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 0


def page_faults_of_the_loop(keep):
    env = dict(os.environ, MINIDL_KEEP_FREED_MEMORY="1" if keep else "0")
    result = subprocess.run([sys.executable, "-c", LOOP], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[-1])


@linux_only
def test_importing_minidl_keeps_freed_memory_for_the_next_pass():
    # Returned to the system after each pass: every pass faults all its pages in again.
    assert page_faults_of_the_loop(keep=False) >= 4 * PAGES_PER_PASS * 0.9
    # Kept: the later passes reuse the pages of the first.
    assert page_faults_of_the_loop(keep=True) < PAGES_PER_PASS * 0.05


@linux_only
def test_keep_freed_memory_reports_whether_it_was_set(monkeypatch):
    monkeypatch.setenv("MINIDL_KEEP_FREED_MEMORY", "0")
    assert allocator.keep_freed_memory() is False
    monkeypatch.setenv("MINIDL_KEEP_FREED_MEMORY", "1")
    assert allocator.keep_freed_memory() is True


def test_elsewhere_it_does_nothing(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert allocator.keep_freed_memory() is False
