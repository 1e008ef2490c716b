"""Which implementation of each kernel runs: the readable NumPy twin or the fast Numba one.

Every kernel exists twice. ``dispatch(reference, fast)`` makes the function the layers call;
at each call it runs ``fast`` under the "numba" backend (the default) and ``reference`` under
"numpy". Switching to "numpy" is how a student steps through the math in a debugger, and how
the tests prove the two equal:

    minidl.set_backend("numpy")          # everything on the NumPy twins from now on
    with minidl.use_backend("numpy"):    # or only inside this block
        ...

The environment variable ``MINIDL_BACKEND`` (numpy or numba) sets the starting backend.
"""

import contextlib
import functools
import os

BACKENDS = ("numba", "numpy")


def _initial_backend():
    name = os.environ.get("MINIDL_BACKEND", "numba").strip().lower()
    if name not in BACKENDS:
        raise ValueError(f"MINIDL_BACKEND must be one of {BACKENDS}, got {name!r}")
    return name


_backend = _initial_backend()


def get_backend():
    """The name of the backend in use: "numba" or "numpy"."""
    return _backend


def set_backend(name):
    """Run every kernel on ``name``'s implementation: "numba" (fast) or "numpy" (reference)."""
    global _backend
    if name not in BACKENDS:
        raise ValueError(f"set_backend: backend must be one of {BACKENDS}, got {name!r}")
    _backend = name


@contextlib.contextmanager
def use_backend(name):
    """Context manager: run kernels on ``name``'s implementation inside the block."""
    previous = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


def dispatch(reference, fast):
    """The kernel the layers call: ``fast`` under the numba backend, ``reference`` under numpy.

    Both must take the same arguments and return the same result; the returned function keeps
    them as ``.reference`` and ``.fast`` so tests can call each directly.
    """

    @functools.wraps(reference)
    def kernel(*args, **kwargs):
        return (fast if _backend == "numba" else reference)(*args, **kwargs)

    kernel.reference, kernel.fast = reference, fast
    return kernel
