"""``Module``: the base class of every layer and model, as in PyTorch.

A Module owns three kinds of named state, found by *assigning attributes* in ``__init__``:

    class TwoLayerNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 100)      # a sub-module        -> _modules["fc1"]
            self.scale = nn.Parameter(ones(1))  # a learnable tensor  -> _parameters["scale"]
            self.register_buffer("steps", np.zeros((), np.int64))  # saved, not learned

        def forward(self, x):
            return self.fc1(x) * self.scale

``__setattr__`` sorts the values into those dictionaries, and everything else follows from
walking the tree of sub-modules: ``named_parameters()`` gives dotted names (``fc1.weight``), the
same names key ``state_dict()``, ``train()``/``eval()`` reach every layer, and so on.

Calling a module (``model(x)``, never ``model.forward(x)``) also runs its hooks: functions that
observe or replace the inputs, the output and, during backward, the gradients of the module.
"""

import re
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from minidl.function import Function
from minidl.grad_mode import is_grad_enabled, no_grad
from minidl.nn.parameter import Parameter
from minidl.tensor import Tensor, _np_dtype, _parse_to, _RemovableHandle, device


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict(..., strict=False)`` skipped: keys the model has but the dict lacks,
    and keys the dict has but the model lacks."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


class Module:
    """Base class of all layers and models.

    Subclasses call ``super().__init__()`` first, assign parameters, buffers and sub-modules as
    attributes, and define ``forward(*inputs)``. ``training`` (True after construction) tells
    layers such as Dropout and BatchNorm which behaviour to use; set it with ``train()``/``eval()``.
    """

    def __init__(self):
        # object.__setattr__ bypasses our own __setattr__, which needs these dictionaries to exist.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", [])
        object.__setattr__(self, "_forward_hooks", [])
        object.__setattr__(self, "_backward_hooks", [])

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} is missing the required forward() method")

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        parameters = self.__dict__.get("_parameters")
        if parameters is None:  # before Module.__init__ only plain attributes can be set
            if isinstance(value, Parameter | Module):
                raise AttributeError(
                    f"cannot assign {type(value).__name__} {name!r} before Module.__init__() call; "
                    f"call super().__init__() first in {type(self).__name__}.__init__"
                )
            object.__setattr__(self, name, value)
        elif isinstance(value, Parameter):
            self._forget(name, keep=parameters)
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            self._forget(name, keep=self._modules)
            self._modules[name] = value
        elif name in parameters:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} of "
                    f"{type(self).__name__} (a Parameter or None is expected; wrap it: nn.Parameter(...))"
                )
            parameters[name] = None
        elif name in self._modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as sub-module {name!r} of "
                    f"{type(self).__name__} (a Module or None is expected)"
                )
            self._modules[name] = None
        elif name in self._buffers:
            self._buffers[name] = _as_buffer(value, name)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Only called when normal lookup fails, i.e. for registered parameters, buffers and modules.
        for store in ("_parameters", "_buffers", "_modules"):
            values = self.__dict__.get(store)
            if values is not None and name in values:
                return values[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def _forget(self, name, keep):
        """Drop ``name`` from the instance dict and every registry but ``keep``, where it is about
        to be (re)assigned: reassigning keeps its place in the order of ``keep``."""
        for store in (self.__dict__, self._parameters, self._buffers, self._modules):
            if store is not keep:
                store.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def _check_new_name(self, name, kind, store):
        """``name`` may be (re)registered in ``store`` unless some other attribute already has it."""
        if not isinstance(name, str):
            raise TypeError(f"{kind} name must be a string, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f"{kind} name must be non-empty and contain no '.', got {name!r}")
        if hasattr(self, name) and name not in store:
            raise KeyError(f"attribute {name!r} already exists on {type(self).__name__}")

    def register_parameter(self, name, param):
        """Add a Parameter (or None, for an optional one such as a disabled bias) under ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_new_name(name, "parameter", self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign {type(param).__name__} as parameter {name!r} "
                f"(a Parameter or None is expected; wrap it: nn.Parameter(...))"
            )
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add state that is saved and moved with the module but not learned (e.g. running means).

        ``tensor`` may be an ndarray, a Tensor or None; it is kept as a Tensor that does not
        require a gradient. ``persistent=False`` keeps it out of ``state_dict()``.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_new_name(name, "buffer", self._buffers)
        self._buffers[name] = _as_buffer(tensor, name)
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name, module):
        """Add a sub-module (or None) under ``name``; the same as ``setattr(self, name, module)``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module")
        self._check_new_name(name, "module", self._modules)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        """The sub-module at a dotted path such as ``"features.3"`` ("" is the module itself)."""
        module = self
        if target == "":
            return module
        for name in target.split("."):
            if name not in module._modules or module._modules[name] is None:
                raise AttributeError(f"{type(module).__name__} has no sub-module {name!r} (looking up {target!r})")
            module = module._modules[name]
        return module

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix=""):
        """Yield ``(dotted name, module)`` for this module ("") and every descendant, each once."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """Yield ``(name, module)`` for the direct sub-modules."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, store, recurse):
        """``(dotted name, value)`` from ``store`` of every module, each value once (shared weights)."""
        modules = self.named_modules() if recurse else [("", self)]
        seen = set()
        for prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{prefix}.{name}" if prefix else name), value

    def named_parameters(self, recurse=True):
        """Yield ``(dotted name, Parameter)``: this module's own first, then each child's, in
        registration order (the names and order of PyTorch, e.g. ``features.0.weight``)."""
        yield from self._named_members("_parameters", recurse)

    def parameters(self, recurse=True):
        for _, param in self.named_parameters(recurse):
            yield param

    def named_buffers(self, recurse=True):
        yield from self._named_members("_buffers", recurse)

    def buffers(self, recurse=True):
        for _, buffer in self.named_buffers(recurse):
            yield buffer

    # ------------------------------------------------------------------ modes and bulk changes
    def train(self, mode=True):
        """Set training mode (``mode=True``) or evaluation mode on this module and all descendants."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        """Evaluation mode: Dropout passes inputs through, BatchNorm uses its running statistics."""
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Reset every parameter's gradient before the next backward, which adds to ``grad``.

        ``set_to_none=True`` (PyTorch's default) forgets the gradients (``grad`` becomes None,
        and an optimiser skips the parameter until a new one arrives); ``False`` fills the
        existing gradient tensors with zeros in place.
        """
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.zero_()

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze (True) every parameter: frozen ones get no gradient, so an
        optimiser leaves them where they are. Returns self, e.g. ``model.features.requires_grad_(False)``."""
        if not isinstance(requires_grad, bool):  # requires_grad_("False") would unfreeze
            raise TypeError(
                f"{type(self).__name__}.requires_grad_: requires_grad must be a bool, got {requires_grad!r}"
            )
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module (children first) and then on self; e.g. custom init."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def to(self, *args, **kwargs):
        """Convert parameters (and their gradients) and floating point buffers to a dtype, in place.

        Accepts PyTorch's forms: ``to(dtype)`` (``minidl.float64``, ``np.float64``,
        ``"float64"``), ``to(device)``, ``to(device, dtype)``, ``to(tensor)`` (its dtype) and the
        keywords ``device=`` and ``dtype=``. A device is ``"cpu"``, ``minidl.device("cpu")`` or any
        object whose ``str`` is "cpu" (e.g. ``torch.device("cpu")``): minidl computes on the CPU
        only, so code written for a device runs unchanged, and ``to("cuda")`` is a clear error.
        ``to(None)`` and ``to("cpu")`` change nothing.

        The Parameter objects stay the same (an optimiser holding them keeps working); integer
        buffers such as BatchNorm's ``num_batches_tracked`` are left alone. Returns self.
        """
        where = f"{type(self).__name__}.to"
        try:
            _, dtype = _parse_to(where, _device_names(args), kwargs)
        except TypeError as error:
            if str(error).startswith(where):
                raise
            raise TypeError(f"{where}: {error} (expected a floating point dtype, a device or a Tensor)") from None
        if dtype is None:
            return self
        if dtype.kind != "f":
            raise TypeError(f"{where}: only floating point dtypes are supported, got {dtype}")
        return self._convert(dtype)

    def type(self, dst_type):
        """Convert to ``dst_type`` (a floating point dtype or its name), as ``to(dst_type)``.

        PyTorch's ``Module.type`` also casts integer buffers; minidl keeps counters such as
        ``num_batches_tracked`` integers, so that a state dict saved afterwards still loads.
        """
        where = f"{type(self).__name__}.type"
        if dst_type is None:  # np.dtype(None) would quietly be float64
            raise TypeError(f"{where}: dst_type must be a floating point dtype, got None")
        try:
            dtype = _np_dtype(dst_type)
        except TypeError as error:
            raise TypeError(f"{where}: {error} (expected a floating point dtype)") from None
        if dtype.kind != "f":
            raise TypeError(f"{where}: only floating point dtypes are supported, got {dtype}")
        return self._convert(dtype)

    def float(self):
        """Convert to float32, the working precision."""
        return self._convert(np.dtype(np.float32))

    def double(self):
        """Convert to float64 (what gradient checks need)."""
        return self._convert(np.dtype(np.float64))

    def cpu(self):
        """The module itself: minidl computes on the CPU."""
        return self

    def cuda(self, device=None):
        raise RuntimeError(
            f"{type(self).__name__}.cuda(): minidl runs on the CPU only; minidl.cuda.is_available() is False"
        )

    def _convert(self, dtype):
        """Cast parameters, their gradients and floating point buffers to ``dtype`` in place;
        a tensor already of ``dtype`` is not touched (its version does not change)."""
        floating_buffers = [buffer for buffer in self.buffers() if buffer.dtype.kind == "f"]
        for tensor in [*self.parameters(), *floating_buffers]:
            if tensor.dtype != dtype:
                tensor.data = tensor.numpy().astype(dtype)
            if tensor.grad is not None and tensor.grad.dtype != dtype:
                tensor.grad = tensor.grad.numpy().astype(dtype)
        return self

    # ------------------------------------------------------------------ saving and loading
    def _named_state(self):
        """``(key, Tensor)`` for everything ``state_dict`` saves: per module, in tree order, its
        parameters then its persistent buffers (PyTorch's order)."""
        for prefix, module in self.named_modules():
            dot = f"{prefix}." if prefix else ""
            for name, param in module._parameters.items():
                if param is not None:
                    yield dot + name, param
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent_buffers:
                    yield dot + name, buffer

    def state_dict(self):
        """An ``OrderedDict`` mapping dotted names to copies of the parameter and buffer arrays.

        The keys are PyTorch's (``features.0.weight``, ``bn1.running_mean``, ...), so a PyTorch
        state dict loads into the same architecture here, and this one into PyTorch's.
        """
        return OrderedDict((key, tensor.numpy().copy()) for key, tensor in self._named_state())

    def _in_loading_order(self, keys):
        """``keys`` in the order PyTorch reports unexpected keys: grouped by the deepest module
        their dotted prefix names, modules in tree order, each group in the state dict's order."""
        position = {name: i for i, (name, _) in enumerate(self.named_modules())}

        def owner(key):
            path = ""
            for part in key.split(".")[:-1]:
                inner = f"{path}.{part}" if path else part
                if inner not in position:
                    break
                path = inner
            return position[path]

        return sorted(keys, key=owner)

    def load_state_dict(self, state_dict, strict=True):
        """Copy the values of ``state_dict`` into this module's parameters and buffers, in place.

        Every value is checked before anything changes, so a load changes all or nothing, and
        every problem is reported at once, in one ``RuntimeError`` worded as PyTorch's:

        - keys the model has but the dict lacks ("Missing key(s) in state_dict") and keys the
          model does not have ("Unexpected key(s) in state_dict"); ``strict=False`` allows both;
        - values whose shape differs from the model's ("size mismatch for ..."), always an error;
        - values that are not arrays of numbers of a kind the model's dtype holds: float64 loads
          into float32 and integers into floats, as in PyTorch, but strings, complex numbers,
          fractions into an integer buffer, None or other objects are refused.

        Values may be ndarrays, Tensors (minidl's or PyTorch's) or lists of numbers. Whoever
        holds a Parameter (an optimiser) sees the new values; a graph recorded before the load
        refuses a later backward, as after any in-place change.

        Returns ``IncompatibleKeys(missing_keys, unexpected_keys)``, PyTorch's named tuple.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict of {type(self).__name__}: expected state_dict to be dict-like, "
                f"got {type(state_dict).__name__}"
            )
        own = OrderedDict(self._named_state())
        missing = [key for key in own if key not in state_dict]
        unexpected = self._in_loading_order([key for key in state_dict if key not in own])
        problems = []
        if strict and missing:
            problems.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if strict and unexpected:
            problems.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        arrays = {}
        for key, tensor in own.items():
            if key in state_dict:
                array, problem = _loadable(key, state_dict[key], tensor)
                if problem is None:
                    arrays[key] = array
                else:
                    problems.append(problem)
        if problems:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__} (nothing was changed):\n\t"
                + "\n\t".join(problems)
            )
        with no_grad():  # an in-place change of Parameters, as an optimiser's step
            for key, array in arrays.items():
                own[key].copy_(array)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ hooks and calling
    def register_forward_pre_hook(self, hook):
        """Call ``hook(module, inputs)`` before ``forward``; ``inputs`` is the tuple of positional
        arguments. A non-None result replaces them (a single value is wrapped in a tuple).
        Returns a handle whose ``remove()`` unregisters the hook."""
        self._forward_pre_hooks.append(hook)
        return _RemovableHandle(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook):
        """Call ``hook(module, inputs, output)`` after ``forward``; a non-None result replaces the
        output (e.g. to record activations for visualisation). Returns a removable handle."""
        self._forward_hooks.append(hook)
        return _RemovableHandle(self._forward_hooks, hook)

    def register_full_backward_hook(self, hook):
        """Call ``hook(module, grad_input, grad_output)`` when the gradients of this module's
        inputs have been computed during backward.

        ``grad_output`` holds dL/d(output), one Tensor per output of the call (None for an
        output that is not a Tensor requiring grad); ``grad_input`` holds dL/d(input), one entry
        per positional argument of the call (None where no gradient flows). Both are tuples of
        Tensors, as in PyTorch, even for a single-input, single-output module such as ReLU:
        ``grad_input[0]``, ``grad_output[0]``. If the hook returns a tuple of the same length (of
        Tensors, ndarrays or None), it replaces ``grad_input``: that is what reaches the layers
        below. Guided backpropagation, for example, registers on every ReLU::

            lambda module, grad_in, grad_out: (grad_in[0].clip(min=0),)

        When no input requires a gradient (the first layer of a network fed plain data), the
        hook is still called, with ``grad_input`` all None, and must return None.
        Returns a handle whose ``remove()`` unregisters the hook.
        """
        self._backward_hooks.append(hook)
        return _RemovableHandle(self._backward_hooks, hook)

    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        backward_call = None
        if self._backward_hooks and is_grad_enabled():
            backward_call = _BackwardHookCall(self, list(self._backward_hooks), args)
            args = backward_call.tap_inputs(args)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks):
            result = hook(self, args, output)
            if result is not None:
                output = result
        if backward_call is not None:
            output = backward_call.tap_outputs(output)
        return output

    # ------------------------------------------------------------------ printing
    def extra_repr(self):
        """The module's own settings for ``repr``, e.g. ``"in_features=3, out_features=4"``."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _indent(repr(module), 2) for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{type(self).__name__}({body})"


def _indent(text, spaces):
    """Indent every line of ``text`` but the first (nested module reprs)."""
    return text.replace("\n", "\n" + " " * spaces)


def _device_names(args):
    """The positional arguments of ``Module.to`` with each device object of another library
    (``torch.device("cpu")``) replaced by its name, the form ``_parse_to`` reads as a device."""
    return tuple(str(arg) if _is_foreign_device(arg) else arg for arg in args)


def _is_foreign_device(arg):
    if arg is None or isinstance(arg, Tensor | str | device | np.dtype | type):
        return False
    return re.fullmatch(r"[a-z]+(:\d+)?", str(arg)) is not None


def _loadable(key, value, target):
    """``(array, None)``: ``value`` as an ndarray that ``load_state_dict`` may copy into the
    Tensor ``target``; or ``(None, reason)`` when it may not."""
    copying = f'While copying the parameter named "{key}"'
    try:
        array = np.asarray(value)
    except (TypeError, ValueError, RuntimeError) as error:  # ragged lists, tensors that refuse
        return None, (
            f"{copying}, expected an ndarray or Tensor from state_dict but received "
            f"{type(value).__name__} ({error})."
        )
    if array.dtype.kind not in "biufc":  # complex numbers are numbers, refused by the cast below
        return None, (
            f"{copying}, expected an ndarray or Tensor of numbers from state_dict but received "
            f"{type(value).__name__} of dtype {array.dtype}."
        )
    if array.shape != target.shape:
        return None, (
            f"size mismatch for {key}: copying a param with shape {array.shape} from state_dict, "
            f"the shape in current model is {tuple(target.shape)}."
        )
    # PyTorch's copy_ would cast anything; "same_kind" allows what loses nothing but precision
    # (float64 into float32, integers into floats) and refuses fractions into an integer buffer.
    if not np.can_cast(array.dtype, target.dtype, casting="same_kind"):
        return None, (
            f"{copying}, its dtype {array.dtype} in state_dict cannot be cast to the model's {target.dtype}."
        )
    if not target.numpy().flags.writeable:
        return None, f"{copying}, the model's array is read-only (it shares memory with a read-only array)."
    return array, None


def _as_buffer(value, name):
    if value is None or isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray | np.generic | int | float):
        return Tensor(value)
    raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} (an ndarray, Tensor or None is expected)")


# ---------------------------------------------------------------------- backward hooks
class _GradientTap(Function):
    """The identity on a group of tensors; its backward hands the group's gradients to a callback.

    Backward hooks need every gradient of a module's inputs (or outputs) *at once*. A Function
    here has one differentiable output, so a group of several tensors is carried as one flat
    array, the concatenation of the flattened tensors, which ``_tap`` slices back into pieces;
    the backward of those slices scatters each piece's gradient into place, so this Function's
    backward receives the whole group's gradient in one ``dout``:

        forward:   out = x                              (one tensor: no copy)
                   out = concat(x1.ravel(), x2.ravel(), ...)
        backward:  (dx1, dx2, ...) = split(dout) reshaped to the inputs' shapes
                   return on_backward((dx1, dx2, ...))  (the hooks may replace them)
    """

    @staticmethod
    def forward(ctx, *arrays, on_backward=None):
        ctx.inputs_meta = [(a.shape, a.dtype) for a in arrays]
        ctx.on_backward = on_backward
        if len(arrays) == 1:
            return arrays[0]
        return np.concatenate([a.reshape(-1) for a in arrays])

    @staticmethod
    def backward(ctx, dout):
        offsets = np.cumsum([int(np.prod(shape)) for shape, _ in ctx.inputs_meta])[:-1]
        pieces = np.split(dout.reshape(-1), offsets)
        grads = tuple(
            piece.reshape(shape).astype(dtype, copy=False) for piece, (shape, dtype) in zip(pieces, ctx.inputs_meta)
        )
        return tuple(ctx.on_backward(grads))


def _tap(tensors, on_backward):
    """Pass ``tensors`` through a ``_GradientTap``; returns the tapped tensors, same shapes and dtypes."""
    joined = _GradientTap.apply(*tensors, on_backward=on_backward)
    if len(tensors) == 1:
        return [joined]
    pieces, start = [], 0
    for t in tensors:
        piece = joined[start:start + t.numel()].reshape(t.shape)
        pieces.append(piece if piece.dtype == t.dtype else piece.astype(t.dtype))
        start += t.numel()
    return pieces


class _BackwardHookCall:
    """The backward-hook bookkeeping of one call of a module.

    A tap on the output records grad_output when backward reaches the module; a tap on the
    inputs then receives grad_input (backward visits the module's output before its inputs)
    and calls the hooks with both.
    """

    def __init__(self, module, hooks, args):
        self.module, self.hooks = module, hooks
        self.n_inputs = len(args)
        self.input_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        self.input_meta = {i: (args[i].shape, args[i].dtype) for i in self.input_positions}
        self.n_outputs, self.output_positions = 0, []  # known once forward has run
        self.grad_output = None

    def tap_inputs(self, args):
        if not self.input_positions:
            return args
        tapped = _tap([args[i] for i in self.input_positions], self._on_input_grads)
        args = list(args)
        for i, t in zip(self.input_positions, tapped):
            args[i] = t
        return tuple(args)

    def tap_outputs(self, output):
        outputs = output if isinstance(output, tuple) else (output,)
        self.n_outputs = len(outputs)
        self.output_positions = [i for i, o in enumerate(outputs) if isinstance(o, Tensor) and o.requires_grad]
        if not self.output_positions:
            return output
        tapped = _tap([outputs[i] for i in self.output_positions], self._on_output_grads)
        outputs = list(outputs)
        for i, t in zip(self.output_positions, tapped):
            outputs[i] = t
        if not isinstance(output, tuple):
            return outputs[0]
        # a namedtuple (GoogLeNet's outputs) keeps its type and field names
        return type(output)(*outputs) if hasattr(output, "_fields") else tuple(outputs)

    @staticmethod
    def _spread(grads, positions, length):
        """One entry per argument: the gradients at ``positions``, None elsewhere."""
        spread = [None] * length
        for i, g in zip(positions, grads):
            spread[i] = g
        return tuple(spread)

    def _on_output_grads(self, grads):
        self.grad_output = self._spread([Tensor(g) for g in grads], self.output_positions, self.n_outputs)
        if not self.input_positions:
            # No tap on the inputs will report: call the hooks now, with nothing to replace.
            for hook in self.hooks:
                result = hook(self.module, (None,) * self.n_inputs, self.grad_output)
                if result is not None and any(g is not None for g in result):
                    raise RuntimeError(
                        f"backward hook of {type(self.module).__name__}: no input of this call requires "
                        f"a gradient, so the hook must return None, not new gradients"
                    )
        return grads

    def _on_input_grads(self, grads):
        grad_input = self._spread([Tensor(g) for g in grads], self.input_positions, self.n_inputs)
        for hook in self.hooks:
            result = hook(self.module, grad_input, self.grad_output)
            if result is not None:
                grad_input = self._checked_replacement(result)
        return tuple(None if grad_input[i] is None else grad_input[i].numpy() for i in self.input_positions)

    def _checked_replacement(self, result):
        name = type(self.module).__name__
        if not isinstance(result, tuple | list) or len(result) != self.n_inputs:
            raise TypeError(
                f"backward hook of {name}: must return None or a tuple of {self.n_inputs} gradient(s), "
                f"one per input, got {result!r:.80}"
            )
        replaced = []
        for i, g in enumerate(result):
            if g is None:
                replaced.append(None)
                continue
            if i not in self.input_meta:
                raise ValueError(
                    f"backward hook of {name}: returned a gradient for input {i}, which does not require one"
                )
            g = np.asarray(g)
            shape, dtype = self.input_meta[i]
            if g.shape != shape:
                raise ValueError(
                    f"backward hook of {name}: returned gradient {i} has shape {g.shape}, "
                    f"but input {i} has shape {shape}"
                )
            replaced.append(Tensor(g.astype(dtype, copy=False)))
        return tuple(replaced)
