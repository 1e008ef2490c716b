"""Whether operations record the graph that ``backward`` walks.

Inside ``with minidl.no_grad():`` no graph is built: results have ``requires_grad=False``
and keep no references to their inputs, which is what evaluation and optimiser updates want.
As in PyTorch, each mode is a context manager and a decorator (``@no_grad`` or ``@no_grad()``):

    @minidl.no_grad
    def evaluate(model, x): ...

    with minidl.set_grad_enabled(is_training): ...
"""

import functools

_enabled = True


def is_grad_enabled():
    """True when new operations record the graph (the default)."""
    return _enabled


def _set_enabled(enabled):
    global _enabled
    _enabled = bool(enabled)


class _GradMode:
    """Sets the recording mode for a ``with`` block or for every call of a decorated function."""

    enabled = True

    def __new__(cls, *args, **kwargs):
        # ``@no_grad`` without parentheses passes the function itself.
        if len(args) == 1 and not kwargs and callable(args[0]) and not isinstance(args[0], bool):
            return cls()(args[0])
        return super().__new__(cls)

    def __enter__(self):
        self._previous = is_grad_enabled()
        _set_enabled(self.enabled)
        return self

    def __exit__(self, *exc):
        _set_enabled(self._previous)
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def wrapped(*args, **kwargs):
            with type(self)(*self._arguments()):
                return function(*args, **kwargs)
        return wrapped

    def _arguments(self):
        return ()


class no_grad(_GradMode):
    """No graph is recorded (evaluation, parameter updates)."""

    enabled = False


class enable_grad(_GradMode):
    """Turns graph recording back on inside a ``no_grad`` block."""

    enabled = True


class inference_mode(_GradMode):
    """PyTorch's faster ``no_grad`` for inference; in minidl the two are the same.

    ``inference_mode(False)`` leaves the current mode as it is, as PyTorch's does.
    """

    def __init__(self, mode=True):
        self.mode = bool(mode)

    def __enter__(self):
        self._previous = is_grad_enabled()
        if self.mode:
            _set_enabled(False)
        return self

    def _arguments(self):
        return (self.mode,)


class set_grad_enabled(_GradMode):
    """Switch recording on or off: at once when called, and back when its ``with`` block ends."""

    def __new__(cls, mode):
        return object.__new__(cls)

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled: mode must be a bool, got {type(mode).__name__}")
        self._previous = is_grad_enabled()
        self.enabled = mode
        _set_enabled(mode)

    def __enter__(self):
        return self

    def _arguments(self):
        return (self.enabled,)

    def __call__(self, function):
        # Used as a decorator the constructor already switched the mode: restore it first.
        _set_enabled(self._previous)
        return super().__call__(function)
