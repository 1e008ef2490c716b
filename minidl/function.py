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

from minidl.grad_mode import is_grad_enabled
from minidl.tensor import Tensor


class Context:
    """What a Function remembers between forward and backward.

    Attributes:
        function: the Function class that made the output.
        inputs: the positional arguments of ``apply`` (Tensors or plain values).
        needs_input_grad: one bool per input, True where that input requires a gradient and the
            graph is being recorded (all False under ``no_grad``, so forward can skip its cache).
        saved_tensors: arrays stored with ``save_for_backward``.
    Any other attribute (``ctx.cache = ...``) may be set by ``forward`` for ``backward``.
    """

    def __init__(self, function, inputs):
        self.function = function
        self.inputs = inputs
        recording = is_grad_enabled()
        self.needs_input_grad = tuple(recording and isinstance(a, Tensor) and a.requires_grad for a in inputs)
        self.saved_tensors = ()

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays


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
        arrays = [a.data if isinstance(a, Tensor) else a for a in args]
        result = cls.forward(ctx, *arrays, **options)
        output, extras = (result[0], result[1:]) if isinstance(result, tuple) else (result, ())
        out = Tensor(output)
        # Only floating point results carry gradients: casting to an integer type cuts the graph.
        if any(ctx.needs_input_grad) and out.dtype.kind == "f":
            out.requires_grad = True
            out._ctx = ctx
        if extras:
            return (out, *(Tensor(e) for e in extras))
        return out


class LayerFunction(Function):
    """A Function built from a ``layers/`` forward/backward pair (see ``from_pair``)."""

    layer_forward = None
    layer_backward = None

    @classmethod
    def forward(cls, ctx, *arrays, **options):
        out, ctx.cache = cls.layer_forward(*arrays, **options)
        return out

    @classmethod
    def backward(cls, ctx, dout):
        grads = cls.layer_backward(dout, ctx.cache)
        return grads if isinstance(grads, tuple) else (grads,)


def from_pair(name, forward, backward):
    """Make a ``LayerFunction`` subclass called ``name`` from a ``layers/`` forward/backward pair.

    ``forward(*arrays, **options) -> (out, cache)`` and ``backward(dout, cache) -> grads``, with
    one gradient per array argument of forward, in order.
    """
    return type(
        name,
        (LayerFunction,),
        {"layer_forward": staticmethod(forward), "layer_backward": staticmethod(backward),
         "__doc__": f"Autograd wrapper of ``{forward.__module__}.{forward.__name__}`` "
                    f"and ``{backward.__name__}``."},
    )
