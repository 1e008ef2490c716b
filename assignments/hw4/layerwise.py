"""Task 4.2: layer-wise learning rates (discriminative fine-tuning).

The early layers of a pretrained network compute generic features (edges, colours) that the
target needs too; the late ones are specific to the source's classes. So fine-tuning moves the
late layers fast and the early ones slowly: with the layers cut into groups from the input to the
head, the head trains at the base rate and every group before it ``factor`` times slower than
the next:

    lr_k = base_lr / factor^(K - 1 - k)      for groups k = 0 (the input side) .. K - 1 (the head)

An optimiser takes such groups as a list of dicts, ``optim.SGD([{"params": [...], "lr": ...},
...], lr=base_lr, momentum=0.9)``. Frozen parameters (``requires_grad`` False) belong to no group.
"""


def layerwise_groups(model, groups, base_lr, factor):
    """Parameter groups with learning rates shrinking by ``factor`` per group towards the input.

    Args:
        model: the network.
        groups: a list, from the input to the head, of lists of module names of
            ``model.named_modules()``; every trainable parameter lies in exactly one group's modules.
        base_lr: the head's learning rate; factor: the ratio between neighbouring groups' rates.
    Returns:
        a list with one ``{"params": [trainable parameters], "lr": rate}`` dict per group, input first.
    """
    ### BEGIN SOLUTION
    modules = dict(model.named_modules())
    result = []
    for k, names in enumerate(groups):
        params = [p for name in names for p in modules[name].parameters() if p.requires_grad]
        result.append({"params": params, "lr": base_lr / factor ** (len(groups) - 1 - k)})
    return result
    ### END SOLUTION
