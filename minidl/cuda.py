"""``minidl.cuda``: there is no GPU in minidl, and code written for one runs unchanged.

    device = minidl.device("cuda" if minidl.cuda.is_available() else "cpu")   # -> cpu
"""


def is_available():
    """False: minidl computes on the CPU."""
    return False


def device_count():
    return 0


def manual_seed(seed):
    """Nothing to seed on a GPU that is not there (``minidl.manual_seed`` seeds minidl)."""


manual_seed_all = manual_seed
