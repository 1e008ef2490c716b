"""minidl's random number generator, shared by initialisers, dropout, shuffling and augmentation.

One generator makes runs reproducible with a single call, as ``torch.manual_seed`` does:

    minidl.manual_seed(0)   # same initial weights, same dropout masks, same batches
"""

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed):
    """Reseed minidl's generator; everything random in minidl draws from it."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def get_generator():
    """The ``np.random.Generator`` that minidl draws from (reseeded by ``manual_seed``)."""
    return _generator
