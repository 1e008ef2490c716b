"""``Function``: one differentiable operation with a hand-written forward and backward.

A Function works on plain ndarrays. ``apply`` unwraps the Tensor arguments, runs ``forward``,
wraps the result in a Tensor and, when gradients are needed, records a ``Context`` on it so that
``Tensor.backward`` can later call ``backward``:

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = np.exp(x)
            ctx.save_for_backward(y)        # the "cache" of a layers.py forward
            return y

        @staticmethod
        def backward(ctx, dy):
            (y,) = ctx.saved_tensors
            return dy * y                   # d exp(x)/dx = exp(x)

Rules of the contract:
- every positional argument of ``apply`` is an input; Tensors are unwrapped to ndarrays and
  other values (None, numbers) pass through unchanged. Keyword arguments are options
  (stride, padding, ...) and are never differentiated.
- ``backward`` returns one gradient per positional input, in order (``None`` where there is none),
  each with its input's shape.
- ``forward`` returns the output ndarray, or a tuple ``(output, *extras)`` where the extras are
  results that carry no gradient (e.g. max-pool switches); ``apply`` then returns
  ``(Tensor, *extras-as-Tensors)``.

``LayerFunction`` turns a ``layers/`` pair ``forward(x, ...) -> (out, cache)`` and
``backward(dout, cache) -> grads`` into such a Function, so the reference implementations
students read are exactly the code that runs.
"""

import numpy as np

from minidl.grad_mode import is_grad_enabled
from minidl.tensor import Tensor


class Context:
    """What a Function remembers between forward and backward (the ``grad_fn`` of its output).

    Attributes:
        function: the Function class that made the output.
        inputs: the positional arguments of ``apply`` (Tensors or plain values).
        needs_input_grad: one bool per input, True where that input requires a gradient and the
            graph is being recorded (all False under ``no_grad``, so forward can skip its cache).
        saved_tensors: arrays stored with ``save_for_backward``.
    Any other attribute (``ctx.cache = ...``) may be set by ``forward`` for ``backward``.

    ``backward`` calls ``release`` once it has used the context: inputs, saved arrays and cache
    are dropped, so the memory of a step is freed even when its loss Tensor is kept (the classic
    ``losses.append(loss)``), and a second backward through it is a clear error.
    """

    def __init__(self, function, inputs):
        self.function = function
        self.inputs = inputs
        recording = is_grad_enabled()
        self.needs_input_grad = tuple(recording and isinstance(a, Tensor) and a.requires_grad for a in inputs)
        self.saved_tensors = ()
        # The version of each input when it was used: an in-place change after this point means
        # backward would differentiate numbers other than those the forward pass saw.
        self.input_versions = tuple(a._version.value if isinstance(a, Tensor) else None for a in inputs)
        self.output_version = 0
        self.released = False

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays

    def name(self):
        return f"{self.function.__name__}Backward"

    def __repr__(self):
        return f"<{self.name()}>"

    def check_versions(self, output):
        """Refuse to differentiate when an input or the output was changed in place since forward."""
        changed = [(f"input {i} (shape {tuple(a.shape)})", saved, a._version.value)
                   for i, (a, saved) in enumerate(zip(self.inputs, self.input_versions))
                   if isinstance(a, Tensor) and a._version.value != saved]
        if output._version.value != self.output_version:
            changed.append((f"its output (shape {tuple(output.shape)})", self.output_version, output._version.value))
        if changed:
            what, saved, now = changed[0]
            raise RuntimeError(
                f"backward: {what} of {self.function.__name__} was modified by an in-place operation "
                f"after the forward pass (version {saved} then, {now} now): an optimizer.step(), "
                "zero_(), copy_(), fill_() or a write through .data between forward and backward. "
                "The gradient would belong to other numbers; call optimizer.step() after "
                "loss.backward(), or compute the forward pass again."
            )

    def check_not_released(self):
        if self.released:
            raise RuntimeError(
                f"backward: trying to backward through the graph a second time (the arrays that "
                f"{self.function.__name__} saved were freed by the first backward). Compute the "
                "forward pass again, or call backward(retain_graph=True) the first time."
            )

    def release(self):
        """Drop everything backward needed; keep only what names the operation."""
        function = self.function
        self.__dict__.clear()
        self.function, self.released = function, True


class Function:
    """Base class of every differentiable operation; subclasses define ``forward`` and ``backward``."""

    @staticmethod
    def forward(ctx, *args, **options):
        raise NotImplementedError("a Function subclass must define forward")

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError("a Function subclass must define backward")

    @classmethod
    def apply(cls, *args, **options):
        ctx = Context(cls, args)
        arrays = [a._data if isinstance(a, Tensor) else a for a in args]
        result = cls.forward(ctx, *arrays, **options)
        output, extras = (result[0], result[1:]) if isinstance(result, tuple) else (result, ())
        out = Tensor(output)
        _share_version_with_base(out, args)
        ctx.output_version = out._version.value
        # Only floating point results carry gradients: casting to an integer type cuts the graph.
        if any(ctx.needs_input_grad) and out.dtype.kind == "f":
            out.requires_grad = True
            out._ctx = ctx
        if extras:
            return (out, *(Tensor(e) for e in extras))
        return out


def _share_version_with_base(out, args):
    """A view (``w[0]``, ``w.view(-1)``, a transpose) counts its in-place changes with its base.

    NumPy returns views for reshapes, transposes and basic indexing; a change through one is a
    change of the tensor it looks into, so both keep one version counter (as PyTorch's views do)
    and ``backward`` sees ``w[0].zero_()`` as a change of ``w``.
    """
    if out._data.base is None:
        return
    for a in args:
        if isinstance(a, Tensor) and np.may_share_memory(out._data, a._data):
            out._version = a._version
            return


class LayerFunction(Function):
    """A Function built from a ``layers/`` forward/backward pair (see ``from_pair``)."""

    layer_forward = None
    layer_backward = None
    skips_input_grad = False        # layer_backward takes input_grad=False (see from_pair)

    @classmethod
    def forward(cls, ctx, *arrays, **options):
        out, ctx.cache = cls.layer_forward(*arrays, **options)
        return out

    @classmethod
    def backward(cls, ctx, dout):
        if cls.skips_input_grad and not ctx.needs_input_grad[0]:
            grads = cls.layer_backward(dout, ctx.cache, input_grad=False)
        else:
            grads = cls.layer_backward(dout, ctx.cache)
        return grads if isinstance(grads, tuple) else (grads,)


def from_pair(name, forward, backward, skips_input_grad=False):
    """Make a ``LayerFunction`` subclass called ``name`` from a ``layers/`` forward/backward pair.

    ``forward(*arrays, **options) -> (out, cache)`` and ``backward(dout, cache) -> grads``, with
    one gradient per array argument of forward, in order. With ``skips_input_grad``, backward
    also takes ``input_grad=False``, passed when the first argument needs no gradient (a
    network's input images), and then returns None for it without computing it.
    """
    return type(
        name,
        (LayerFunction,),
        {"layer_forward": staticmethod(forward), "layer_backward": staticmethod(backward),
         "skips_input_grad": skips_input_grad,
         "__doc__": f"Autograd wrapper of ``{forward.__module__}.{forward.__name__}`` "
                    f"and ``{backward.__name__}``."},
    )
