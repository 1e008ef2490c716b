"""The hidden tests' inputs and expected values: instructor-only data computed from fixed seeds.

As in CMU's needle, a hidden test does not compute its expected answer: it reads it. Each
assignment's ``hidden/cases.py`` defines

    def cases():
        \"\"\"{name: ndarray}: deterministic inputs and the answer keys' outputs for them.\"\"\"

computed with minidl's own reference code (the answer keys) from seeded inputs, and
``minidl assignment expected hw1`` stores them in ``hidden/expected.npz``. The hidden tests load
that file. Neither file is ever released: students see neither the cases nor their answers,
and the stored values stay checkable (``stale_cases`` recomputes them).
"""

import importlib.util
import os
import sys

import numpy as np

from minidl.files import atomic_write
from minidl.homework.assignment import HIDDEN_FOLDER, load_assignment

__all__ = ["CASES_FILE", "EXPECTED_FILE", "compute_cases", "write_expected", "stale_cases"]

CASES_FILE, EXPECTED_FILE = "cases.py", "expected.npz"


def compute_cases(folder):
    """Run ``folder/hidden/cases.py``'s ``cases()``; the assignment folder is importable meanwhile
    (so that cases may use the reference solutions)."""
    path = os.path.join(folder, HIDDEN_FOLDER, CASES_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"compute_cases: {path} does not exist; an assignment's hidden cases live there")
    spec = importlib.util.spec_from_file_location(f"_hidden_cases_{os.path.basename(folder)}", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.abspath(folder))
    try:
        spec.loader.exec_module(module)
        cases = module.cases()
    finally:
        sys.path.remove(os.path.abspath(folder))
    bad = [name for name, value in cases.items() if not isinstance(value, np.ndarray | np.generic | int | float)]
    if bad:
        raise TypeError(f"compute_cases: {path}: cases()[{bad[0]!r}] is a {type(cases[bad[0]]).__name__}; "
                        "expected an array or a number")
    return {name: np.asarray(value) for name, value in cases.items()}


def write_expected(name, source="assignments"):
    """Compute assignment ``name``'s hidden cases and store them in ``hidden/expected.npz``; returns the path."""
    folder = load_assignment(source, name).folder
    cases = compute_cases(folder)
    path = os.path.join(folder, HIDDEN_FOLDER, EXPECTED_FILE)
    with atomic_write(path) as file:
        np.savez(file, **cases)
    return path


def stale_cases(name, source="assignments"):
    """The names whose stored value differs from a fresh computation (or exists on one side only).

    Values agree within a thousand rounding units of their dtype (relative to the largest
    magnitude): a case whose definition changed differs by far more, while the last bits of a
    float32 sum may change with the number of threads that computed it.
    """
    folder = load_assignment(source, name).folder
    fresh = compute_cases(folder)
    with np.load(os.path.join(folder, HIDDEN_FOLDER, EXPECTED_FILE), allow_pickle=False) as stored:
        names = sorted(set(fresh) | set(stored.files))
        return [key for key in names if key not in fresh or key not in stored.files or
                not _agree(fresh[key], stored[key])]


def _agree(fresh, stored):
    if fresh.shape != stored.shape or fresh.dtype.kind != stored.dtype.kind:
        return False
    if fresh.dtype.kind != "f":
        return np.array_equal(fresh, stored)
    tolerance = 1000 * np.finfo(fresh.dtype).eps
    scale = max(1.0, float(np.abs(stored).max(initial=0.0)))
    return np.allclose(fresh, stored, rtol=tolerance, atol=tolerance * scale, equal_nan=True)
