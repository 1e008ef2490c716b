"""Freezing: which parameters train, and which stay as the source task left them.

A frozen parameter has ``requires_grad=False``: backward gives it no gradient, so an optimiser
leaves it exactly where it was. ``freeze(model, until="layer2")`` freezes every module from the
first up to and including ``layer2``, in ``named_modules`` order (the order in which the model
lists them, which for the zoo's models is the order the image flows through them).

Batch norm needs one more thing. ``fit`` calls ``model.train()`` every epoch, and a batch-norm
layer in training mode normalises with the statistics of the current batch and updates its
running mean and variance, even when its scale and shift are frozen. A frozen feature extractor
would then drift towards the target data's statistics and its frozen weights would no longer
see the inputs they were trained on. So ``freeze`` also marks the frozen batch-norm layers
(``keep_statistics=True``, the default): they normalise with their running statistics and leave
them unchanged in both modes, as in evaluation.
"""

from minidl.nn.module import Module
from minidl.nn.norm import _BatchNorm

__all__ = ["freeze", "unfreeze", "modules_until", "trainable_summary"]


def modules_until(model, until, where="freeze"):
    """(name, module) pairs of ``model.named_modules()`` from the first up to and including ``until``.

    ``until=None`` means all of them. An unknown name is an error listing the model's layers.
    """
    if not isinstance(model, Module):
        raise TypeError(f"{where}: expected a Module, got {type(model).__name__}")
    named = list(model.named_modules())
    if until is None:
        return named
    names = [name for name, _ in named]
    if until not in names:
        top = ", ".join(name for name, _ in model.named_children())
        raise KeyError(f"{where}: {type(model).__name__} has no module named {until!r}; its top-level modules "
                       f"are {top} (list them all with [name for name, _ in model.named_modules()])")
    return named[:names.index(until) + 1]


def _set(model, until, trainable, keep_statistics, where):
    if until is None:
        modules_until(model, None, where)  # checks the type
        params, layers = model.parameters(), model.modules()
    else:
        *before, (_, last) = modules_until(model, until, where)
        # Modules listed before ``until`` change their own parameters only: their children listed
        # after ``until`` are outside the range. ``until`` itself changes whole.
        params = [p for _, m in before for p in m.parameters(recurse=False)] + list(last.parameters())
        layers = [m for _, m in before] + list(last.modules())
    for param in params:
        param.requires_grad_(trainable)
    for layer in layers:
        if isinstance(layer, _BatchNorm):
            layer.statistics_frozen = (not trainable) and keep_statistics
    return model


def freeze(model, until=None, keep_statistics=True):
    """Freeze every parameter of ``model``, or of its modules up to and including ``until``.

    Args:
        model: any Module.
        until: a module name from ``model.named_modules()`` (e.g. ``"features.conv2"``, ``"layer3"``)
            or None for the whole model.
        keep_statistics: frozen batch-norm layers normalise with, and keep, their running statistics
            even in training mode (see the module docstring).
    Returns the model.
    """
    return _set(model, until, False, keep_statistics, "freeze")


def unfreeze(model, until=None):
    """Make trainable again what ``freeze(model, until)`` froze (batch norm statistics included)."""
    return _set(model, until, True, False, "unfreeze")


def trainable_summary(model):
    """A table of what trains: each top-level module with its trainable and frozen parameter counts."""
    rows = []
    for name, module in [("(own)", None)] + list(model.named_children()):
        params = list(model.parameters(recurse=False) if module is None else module.parameters())
        if not params:
            continue
        trainable = sum(p.numel() for p in params if p.requires_grad)
        rows.append((name, trainable, sum(p.numel() for p in params) - trainable))
    width = max([len(name) for name, _, _ in rows] + [6])
    lines = [f"{'module':<{width}}  {'trainable':>12}  {'frozen':>12}"]
    lines += [f"{name:<{width}}  {t:>12,}  {f:>12,}" for name, t, f in rows]
    total_t, total_f = sum(r[1] for r in rows), sum(r[2] for r in rows)
    lines.append(f"{'total':<{width}}  {total_t:>12,}  {total_f:>12,}")
    return "\n".join(lines)
