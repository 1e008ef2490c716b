"""Transfer strategies as one function: from a linear probe to fine-tuning everything.

    result = finetune(model, train_data, test_data, strategy="fine-tune-all", num_classes=5)
    result["test_accuracy"]

The strategies, in the order of how much of the source network they change:

- ``linear-probe``: the source network is fixed; a linear classifier (``linear_probe``) is
  trained on the features its head receives. Nothing of the network moves.
- ``feature-extractor``: the body frozen (batch norm statistics too), a new head trained by SGD
  on the images, so the training goes through the augmentation and the data loader.
- ``fine-tune-last-k``: a new head, and the last ``k`` layer groups trainable (the others
  frozen), each earlier group ``layer_lr_factor`` times slower than the one after it.
- ``fine-tune-all``: a new head, every group trainable, with the same layer-wise rates; with
  ``unfreeze_every=E`` the groups are unfrozen gradually, the head first and one more group
  every E epochs (``GradualUnfreezing``).
- ``from-scratch``: the same architecture re-initialised at random, trained at one rate: what
  the source's weights are compared against.

The lectures' advice: little target data -> freeze (probe or feature extractor); more data ->
fine-tune, the earlier layers slowly; a source unlike the target -> fine-tune more of it.
"""

import copy
import time

from minidl import functional as F
from minidl import optim
from minidl.data import DataLoader
from minidl.train import evaluate, fit
from minidl.transfer.features import extract_features
from minidl.transfer.freeze import freeze, unfreeze
from minidl.transfer.heads import find_head, replace_head
from minidl.transfer.layerwise import default_groups, layerwise_param_groups
from minidl.transfer.probe import linear_probe
from minidl.transfer.unfreezing import GradualUnfreezing

__all__ = ["finetune", "STRATEGIES", "reinitialise"]

STRATEGIES = ("linear-probe", "feature-extractor", "fine-tune-last-k", "fine-tune-all", "from-scratch")


def reinitialise(model):
    """The model with fresh random weights (its own ``reset_parameters`` if it has one, else each layer's)."""
    if hasattr(model, "reset_parameters"):
        model.reset_parameters()
    else:
        for module in model.modules():
            if module is not model and hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return model


def finetune(model, train_data, test_data, strategy="fine-tune-all", num_classes=None, epochs=5, lr=0.01,
             layer_lr_factor=3.0, head_lr=None, last_k=1, unfreeze_every=None, groups=None, batch_size=64,
             transform=None, train_transform=None,
             momentum=0.9, weight_decay=5e-4, loss_fn=F.cross_entropy, val_data=None, progress=False, log=None):
    """Adapt ``model`` (a pretrained network, changed in place) to a new task and measure it.

    Args:
        model: the source network (a zoo model, trained on the source task).
        train_data, test_data: target datasets of ``(image, label)`` pairs.
        strategy: one of ``STRATEGIES`` (see the module docstring).
        num_classes: the target's classes (default: ``len(train_data.classes)``).
        epochs, lr, momentum, weight_decay, batch_size: SGD's schedule (cosine-annealed ``lr``).
        layer_lr_factor: each earlier layer group trains this many times slower (fine-tune strategies).
        head_lr: the new head's rate, if it should differ from ``lr``.
        last_k: how many of the last layer groups ``fine-tune-last-k`` trains (the head counts as one).
        groups: the layer groups of the fine-tune strategies, from the input to the head, each a
            list of module names (default ``default_groups(model)``: the top-level modules).
        unfreeze_every: ``fine-tune-all`` only: unfreeze one more group, from the head down, every
            this many epochs (None: every group trains from the first epoch).
        transform: the normalisation the source model expects, applied to every batch.
        train_transform: the transform for training batches (augmentation + normalisation);
            default ``transform``.
        loss_fn: the training loss (``minidl.zoo.googlenet_loss`` for GoogLeNet's auxiliary heads).
        val_data: scored after every epoch, into the history's ``val_loss`` and ``val_acc`` (e.g.
            to see how fast a strategy converges).
    Returns a dict: ``strategy``, ``test_accuracy``, ``train_size``, ``seconds``, ``history`` (None
    for the probe), ``trainable`` (the number of trained parameters) and ``model``.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"finetune: strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if unfreeze_every is not None and strategy != "fine-tune-all":
        raise ValueError(f"finetune: unfreeze_every applies to the fine-tune-all strategy, not {strategy}")
    if num_classes is None:
        num_classes = len(getattr(train_data, "classes", None) or getattr(train_data.dataset, "classes"))
    start = time.perf_counter()
    if strategy == "linear-probe":
        head = find_head(model)[0]
        features = [extract_features(model, data, head, transform=transform, capture="input", progress=progress)
                    for data in (train_data, test_data)]
        result = linear_probe(*features[0], *features[1], num_classes=num_classes)
        trainable = result.classifier.weight.numel() + result.classifier.bias.numel()
        return {"strategy": strategy, "test_accuracy": result.test_accuracy, "train_size": len(train_data),
                "seconds": time.perf_counter() - start, "history": None, "trainable": trainable, "model": model}

    if strategy == "from-scratch":
        model = reinitialise(copy.deepcopy(model))
    replace_head(model, num_classes)
    callbacks = []
    if strategy == "feature-extractor":
        freeze(model)
        for name in find_head(model):
            unfreeze(model.get_submodule(name))
        param_groups = [{"params": [p for p in model.parameters() if p.requires_grad], "lr": head_lr or lr}]
    elif strategy == "fine-tune-last-k":
        names = default_groups(model) if groups is None else [[g] if isinstance(g, str) else list(g)
                                                              for g in groups]
        if not 1 <= last_k <= len(names):
            raise ValueError(f"finetune: last_k must be between 1 and {len(names)} (the model's layer groups "
                             f"{['+'.join(n) for n in names]}), got {last_k}")
        freeze(model)
        for name in (name for group in names[-last_k:] for name in group):
            unfreeze(model.get_submodule(name))
        param_groups = layerwise_param_groups(model, lr, layer_lr_factor, groups=names[-last_k:], head_lr=head_lr)
    elif strategy == "fine-tune-all":
        param_groups = layerwise_param_groups(model, lr, layer_lr_factor, groups=groups, head_lr=head_lr)
        if unfreeze_every is not None:
            callbacks = [GradualUnfreezing(model, groups=groups, every=unfreeze_every)]
    else:
        param_groups = [{"params": list(model.parameters()), "lr": lr}]
    optimizer = optim.SGD(param_groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    train_loader = DataLoader(train_data, batch_size=batch_size, shuffle=True,
                              transform=train_transform if train_transform is not None else transform)
    test_loader = DataLoader(test_data, batch_size=256, transform=transform)
    val_loader = None if val_data is None else DataLoader(val_data, batch_size=256, transform=transform)
    history = fit(model, optimizer, train_loader, epochs, val_loader=val_loader, loss_fn=loss_fn, scheduler=scheduler,
                  progress=progress, log=log, callbacks=callbacks)
    _, accuracy, _ = evaluate(model, test_loader)
    trainable = sum(p.numel() for group in param_groups for p in group["params"])
    return {"strategy": strategy, "test_accuracy": accuracy, "train_size": len(train_data),
            "seconds": time.perf_counter() - start, "history": history, "trainable": trainable, "model": model}
