"""Layer-wise learning rates: later layers learn fast, earlier ones slowly.

Fine-tuning advice from the lectures: the new head at the base rate, and each earlier group of
layers at a rate 3-10x smaller than the group after it, since early features (edges, colour
blobs) transfer between tasks and late ones are task-specific.

    groups = layerwise_param_groups(model, base_lr=1e-2, factor=10)
    optimizer = optim.SGD(groups, momentum=0.9)      # any optimiser takes parameter groups

Group k from the end (k = 0 for the head) gets ``base_lr / factor**k``; ``head_lr`` sets the
head's rate on its own (e.g. 10x the body's when the head is new). By default the groups are
the model's top-level modules that hold parameters, in order; ``groups`` names them instead.
Frozen parameters are left out, so the same call works on a partly frozen model.
"""

import numbers

from minidl.nn.module import Module

__all__ = ["layerwise_param_groups", "default_groups"]


def default_groups(model):
    """The top-level modules that hold parameters, first to last, as lists of one name each."""
    return [[name] for name, module in model.named_children() if any(True for _ in module.parameters())]


def layerwise_param_groups(model, base_lr, factor=3.0, groups=None, head_lr=None):
    """Parameter groups with learning rates that shrink by ``factor`` per group towards the input.

    Args:
        model: the network.
        base_lr: the rate of the last group (the head).
        factor: the ratio between the rates of neighbouring groups (1 gives every group base_lr).
        groups: a list of groups from the input to the head, each a list of module names (or one
            name); None gives ``default_groups(model)``.
        head_lr: the head's rate, if it should differ from ``base_lr`` (the body keeps its rates).
    Returns a list of dicts ``{"params": [...], "lr": ..., "name": ...}`` for an optimiser.
    """
    if not isinstance(model, Module):
        raise TypeError(f"layerwise_param_groups: expected a Module, got {type(model).__name__}")
    for name, value in (("base_lr", base_lr), ("factor", factor)) + ((("head_lr", head_lr),) if head_lr else ()):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
            raise ValueError(f"layerwise_param_groups: {name} must be a number > 0, got {value!r}")
    groups = default_groups(model) if groups is None else [[g] if isinstance(g, str) else list(g) for g in groups]
    known = dict(model.named_modules())
    seen, result = set(), []
    for k, names in enumerate(reversed(groups)):
        params = []
        for name in names:
            if name not in known:
                top = ", ".join(n for n, _ in model.named_children())
                raise KeyError(f"layerwise_param_groups: {type(model).__name__} has no module named {name!r}; "
                               f"its top-level modules are {top}")
            for p in known[name].parameters():
                if p.requires_grad and id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        lr = head_lr if (k == 0 and head_lr) else base_lr / factor ** k
        if params:
            result.append({"params": params, "lr": lr, "name": "+".join(names)})
    left = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in seen]
    if left:
        raise ValueError(f"layerwise_param_groups: trainable parameters in no group: {left[:5]}"
                         f"{' ...' if len(left) > 5 else ''}; name their modules in groups or freeze them")
    if not result:
        raise ValueError("layerwise_param_groups: no trainable parameter in any group (is the model frozen?)")
    return list(reversed(result))
