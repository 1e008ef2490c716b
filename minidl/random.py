"""minidl's random number generator, shared by initialisers, dropout, shuffling and augmentation.

One generator makes runs reproducible with a single call, as ``torch.manual_seed`` does:

    minidl.manual_seed(0)   # same initial weights, same dropout masks, same batches
"""

import numbers

import numpy as np

_generator = np.random.default_rng()

# The seeds PyTorch takes: any 64-bit integer, signed or unsigned.
SEED_RANGE = (-(2 ** 63), 2 ** 64 - 1)


def manual_seed(seed):
    """Reseed minidl's generator; everything random in minidl draws from it.

    ``seed`` is an integer in PyTorch's range, -2**63 to 2**64 - 1; a negative seed stands for
    2**64 + seed, as in PyTorch. Anything else (a float, a string, a bool) is refused rather than
    rounded or converted. Returns the new ``np.random.Generator``.
    """
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"manual_seed: seed must be an int, got {seed!r} ({type(seed).__name__})")
    low, high = SEED_RANGE
    if not low <= seed <= high:
        raise ValueError(f"manual_seed: seed must lie between {low} and {high} (64 bits), got {seed}")
    _generator = np.random.default_rng(int(seed) % 2 ** 64)
    return _generator


def get_generator():
    """The ``np.random.Generator`` that minidl draws from (reseeded by ``manual_seed``)."""
    return _generator
