"""Whether operations record the graph that ``backward`` walks.

Inside ``with minidl.no_grad():`` no graph is built: results have ``requires_grad=False``
and keep no references to their inputs, which is what evaluation and optimiser updates want.
"""

import contextlib

_enabled = True


def is_grad_enabled():
    """True when new operations record the graph (the default)."""
    return _enabled


@contextlib.contextmanager
def _grad_mode(enabled):
    global _enabled
    previous = _enabled
    _enabled = enabled
    try:
        yield
    finally:
        _enabled = previous


def no_grad():
    """Context manager in which no graph is recorded (evaluation, parameter updates)."""
    return _grad_mode(False)


def enable_grad():
    """Context manager that turns graph recording back on inside a ``no_grad`` block."""
    return _grad_mode(True)
