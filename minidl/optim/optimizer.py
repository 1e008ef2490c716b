"""``Optimizer``: the bookkeeping every update rule shares (PyTorch's ``torch.optim.Optimizer``).

An optimiser owns a list of *parameter groups*. Each group is a dict holding a list of
parameters under ``"params"`` and its own hyperparameters (``lr``, ``weight_decay``, ...), so one
model can train different layers at different rates:

    optim.SGD([{"params": backbone.parameters(), "lr": 1e-4},   # pretrained: move gently
               {"params": head.parameters()}],                  # new layer: the default lr
              lr=1e-2, momentum=0.9)

``step()`` visits every parameter that has a gradient and hands it, with its group's
hyperparameters and its own ``state`` dict (momentum buffers, moment estimates, step counts),
to the subclass's ``_update``, which changes the parameter's array in place. Parameters whose
``grad`` is ``None`` (frozen, or unused in this forward pass) are left untouched and get no state.

The update works on the ndarrays directly, so it records no graph: the parameters stay leaves.
Each update counts as an in-place change of the parameter (its version goes up), so a
``backward`` through a graph recorded before the step is refused instead of silently
differentiating the old weights.
"""

import copy
import numbers
from collections import defaultdict

import numpy as np

from minidl.grad_mode import enable_grad
from minidl.tensor import Tensor


def check_range(owner, name, value, low, high=None):
    """Refuse a hyperparameter that is not a real number in ``[low, high)`` (``>= low`` without high).

    ``owner`` names the optimiser or scheduler in the message, e.g. ``"SGD: lr must be >= 0, got -1"``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    # Written as "not inside" so that NaN, which fails every comparison, is refused too.
    if high is None and not value >= low:
        raise ValueError(f"{owner}: {name} must be >= {low}, got {value}")
    if high is not None and not low <= value < high:
        raise ValueError(f"{owner}: {name} must be in [{low}, {high}), got {value}")


class Optimizer:
    """Base class of the optimisers: parameter groups, per-parameter state, saving and loading.

    Args:
        params: an iterable of Tensors (one group using ``defaults``), or an iterable of dicts,
            each with ``"params"`` and any hyperparameters that differ from ``defaults``.
        defaults: the hyperparameters a group gets when it does not set them.

    Attributes:
        param_groups: list of dicts, each with ``"params"`` (a list of Tensors) and every key
            of ``defaults``.
        state: dict from parameter Tensor to that parameter's state dict (filled by ``step``).

    Subclasses implement ``_update(param, grad, state, group)`` for one parameter and may
    override ``_check_hyperparameters(group)`` to validate a group's values.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        self._check_hyperparameters(defaults)
        if isinstance(params, Tensor):
            raise TypeError(
                f"{self._name}: params must be an iterable of Tensors or of dicts (parameter "
                f"groups), got a single Tensor of shape {params.shape}; wrap it in a list"
            )
        param_groups = self._ordered(params)
        if len(param_groups) == 0:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    @property
    def _name(self):
        return type(self).__name__

    def __repr__(self):
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        lines.append(")")
        return "\n".join(lines)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        """Append a parameter group; missing hyperparameters are taken from ``defaults``.

        Useful when fine-tuning: unfreeze earlier layers later and add them at their own rate.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a parameter group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{self._name}: a parameter group needs a 'params' entry, got keys {list(param_group)}")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else self._ordered(params)
        for p in params:
            self._check_parameter(p)
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{self._name}: a parameter group lists the same parameter twice")
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError(f"{self._name}: some parameters appear in more than one parameter group")

        group = dict(param_group, params=params)
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        self._check_hyperparameters(group)
        self.param_groups.append(group)

    def _ordered(self, params):
        if isinstance(params, set):
            raise TypeError(
                f"{self._name}: parameters must be in an ordered collection such as a list; a set's "
                "order changes between runs, which would scramble saved optimiser state"
            )
        return list(params)

    def _check_parameter(self, p):
        if isinstance(p, tuple):
            raise TypeError(
                f"{self._name}: got a (name, tensor) pair; pass model.parameters(), not model.named_parameters()"
            )
        if not isinstance(p, Tensor):
            raise TypeError(f"{self._name}: can only optimize Tensors, but one of the params is {type(p).__name__}")
        if not p.is_leaf:
            raise ValueError(
                f"{self._name}: can't optimize a non-leaf Tensor (one computed by a recorded operation); "
                "optimise the leaf it came from, or detach() it"
            )
        if p.dtype.kind != "f":
            raise TypeError(f"{self._name}: can only optimize floating point Tensors, got dtype {p.dtype}")

    def _check_hyperparameters(self, group):
        """Raise if a group's hyperparameters are invalid; subclasses check their own."""

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none=True):
        """Forget the gradients before the next backward pass (``backward`` adds to ``grad``).

        ``set_to_none=True`` drops the arrays (``grad`` becomes None, so ``step`` skips the
        parameter until a new gradient arrives); ``False`` fills the existing arrays with zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.numpy().fill(0)

    def step(self, closure=None):
        """Update every parameter that has a gradient; return ``closure()``'s loss when given.

        ``closure`` re-evaluates the model and returns the loss (it runs with the graph recorded,
        and is expected to call ``zero_grad`` and ``backward`` itself).
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                self._update(p.numpy(), self._gradient(p), self.state[p], group)
                p._version.value += 1
        return loss

    def _gradient(self, p):
        """``p.grad`` as an ndarray in the parameter's dtype, so the update never changes dtype."""
        grad = np.asarray(p.grad)
        if grad.shape != p.shape:
            raise ValueError(f"{self._name}: a parameter of shape {p.shape} has a gradient of shape {grad.shape}")
        return grad.astype(p.dtype, copy=False)

    def _update(self, param, grad, state, group):
        """Change ``param`` (the parameter's ndarray) in place from ``grad``, ``state`` and ``group``.

        Must not modify ``grad``: it may be the parameter's own ``grad`` array.
        """
        raise NotImplementedError(f"{self._name} does not implement _update")

    # ------------------------------------------------------------------ saving
    def state_dict(self):
        """A copy of the optimiser's state in PyTorch's layout.

        Parameters are numbered in the order the groups list them, so the dict does not depend
        on object identities and can be loaded into a freshly built optimiser::

            {"state": {index: {"momentum_buffer": ndarray, ...}, ...},
             "param_groups": [{"lr": ..., ..., "params": [0, 1]}, {..., "params": [2]}]}
        """
        index = {}
        param_groups = []
        for group in self.param_groups:
            packed = {key: copy.deepcopy(value) for key, value in group.items() if key != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            param_groups.append(packed)
        state = {index[id(p)]: copy.deepcopy(s) for p, s in self.state.items()}
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict):
        """Restore a state saved by ``state_dict`` (into an optimiser built on the same parameters).

        The groups must match in number and size, and the saved arrays in shape; arrays are
        copied and cast to their parameter's dtype. Nothing changes if any check fails.
        """
        where = f"{self._name}.load_state_dict"
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(f"{where}: expected a dict with keys 'state' and 'param_groups', got {_describe(state_dict)}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{where}: the saved state has {len(saved_groups)} parameter groups but this "
                f"optimizer has {len(self.param_groups)}"
            )
        index_to_param = {}
        param_groups = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{where}: parameter group {i} holds {len(saved['params'])} parameters in the "
                    f"saved state but {len(group['params'])} in this optimizer"
                )
            missing = sorted(set(self.defaults) - set(saved))
            if missing:
                raise ValueError(
                    f"{where}: saved parameter group {i} lacks {missing}; was it saved by another kind of optimizer?"
                )
            index_to_param.update(zip(saved["params"], group["params"]))
            restored = {key: copy.deepcopy(value) for key, value in saved.items() if key != "params"}
            restored["params"] = group["params"]
            self._check_hyperparameters(restored)
            param_groups.append(restored)

        state = defaultdict(dict)
        for index, saved in state_dict["state"].items():
            if index not in index_to_param:
                raise ValueError(f"{where}: the saved state refers to parameter {index}, which no group lists")
            param = index_to_param[index]
            state[param] = {key: self._restore_value(param, index, key, value) for key, value in saved.items()}
        self.param_groups = param_groups
        self.state = state

    def _restore_value(self, param, index, key, value):
        if not isinstance(value, np.ndarray):
            return copy.deepcopy(value)
        if value.shape != param.shape:
            raise ValueError(
                f"{self._name}.load_state_dict: saved state '{key}' of parameter {index} has shape "
                f"{value.shape} but the parameter has shape {param.shape}"
            )
        return value.astype(param.dtype, copy=True)


def _describe(value):
    return f"keys {list(value)}" if isinstance(value, dict) else type(value).__name__
