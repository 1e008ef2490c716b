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
ARRAY_BYTES_PER_PASS = 64 * 3 * 2**20


def page_faults_of_the_loop(keep):
    env = dict(os.environ, MINIDL_KEEP_FREED_MEMORY="1" if keep else "0")
    result = subprocess.run([sys.executable, "-c", LOOP], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[-1])


@linux_only
def test_importing_minidl_keeps_freed_memory_for_the_next_pass():
    pages_per_pass = ARRAY_BYTES_PER_PASS // os.sysconf("SC_PAGE_SIZE")
    # Returned to the system after each pass: every pass faults all its pages in again.
    assert page_faults_of_the_loop(keep=False) >= 4 * pages_per_pass * 0.9
    # Kept: the later passes reuse the pages of the first.
    assert page_faults_of_the_loop(keep=True) < pages_per_pass * 0.05


@linux_only
def test_keep_freed_memory_reports_whether_it_was_set(monkeypatch):
    monkeypatch.setenv("MINIDL_KEEP_FREED_MEMORY", "0")
    assert allocator.keep_freed_memory() is False
    monkeypatch.setenv("MINIDL_KEEP_FREED_MEMORY", "1")
    assert allocator.keep_freed_memory() is True


def test_elsewhere_it_does_nothing(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert allocator.keep_freed_memory() is False


class FakeMallopt:
    """A mallopt that accepts mmap thresholds up to ``limit`` (any other setting) and records its calls."""

    def __init__(self, limit):
        self.limit, self.calls = limit, []

    def __call__(self, parameter, value):
        self.calls.append((parameter, value))
        return int(parameter != allocator.M_MMAP_THRESHOLD or value <= self.limit)


class FakeLibc:
    def __init__(self, limit):
        self.mallopt = FakeMallopt(limit)


@linux_only
@pytest.mark.parametrize("limit, expected_threshold", [(2**31, 256 * 2**20), (32 * 2**20, 32 * 2**20)])
def test_an_older_glibc_gets_the_largest_threshold_it_accepts(monkeypatch, limit, expected_threshold):
    libc = FakeLibc(limit)
    monkeypatch.setenv("MINIDL_KEEP_FREED_MEMORY", "1")
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: libc)
    assert allocator.keep_freed_memory() is True
    calls = libc.mallopt.calls
    tried = [value for parameter, value in calls if parameter == allocator.M_MMAP_THRESHOLD]
    assert tried[-1] == expected_threshold                 # the first value it accepted
    assert (allocator.M_TRIM_THRESHOLD, allocator.TRIM_THRESHOLD_BYTES) in calls


@linux_only
def test_a_c_library_without_mallopt_is_left_alone(monkeypatch):
    monkeypatch.setenv("MINIDL_KEEP_FREED_MEMORY", "1")
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: object())
    assert allocator.keep_freed_memory() is False
