"""``minidl.accelerator``: PyTorch's device-neutral check; minidl has no accelerator."""


def is_available():
    """False: minidl computes on the CPU."""
    return False


def current_accelerator():
    return None


def device_count():
    return 0
