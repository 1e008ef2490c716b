"""Sanity checks for attribution maps (Adebayo et al., "Sanity Checks for Saliency Maps", 2018).

A map that explains the model must change when the model changes. Two tests:

- **Model randomisation, cascading**: re-initialise the model's layers one after another, from the
  output towards the input, and recompute the maps after each step. Once the top layers are
  random, the model computes something else; a method whose maps still look the same is showing
  the image (its edges, say), not the model.
- **Data randomisation**: train the same network on labels shuffled at random (it can only
  memorise them) and compare its maps with those of the network trained on the true labels.

Similarity is Spearman's rank correlation between the maps before and after, per image: of the
absolute maps (``scores.method_maps``) and, for methods with a sign, of the signed ones. A value
near 1 means the ranking of the pixels did not change.

    steps = randomization_order(model, x)                  # ["classifier.fc3", ..., "features.conv1"]
    result = cascading_randomization_scores(model, x, labels, methods=("saliency", "guided"))
    result["absolute"]["guided"]                           # (steps, N) rank correlations
"""

import contextlib
import copy

import numpy as np

from minidl.explain.attribution import find_layer, inspecting
from minidl.explain.methods import METHODS, explain
from minidl.explain.scores import SIGNED_METHODS, check_maps, method_maps
from minidl.grad_mode import no_grad
from minidl.nn import Module
from minidl.random import get_generator
from minidl.tensor import Tensor

__all__ = ["average_ranks", "spearman", "rank_correlations", "parameterised_modules", "randomization_order",
           "cascading_randomization", "cascading_randomization_scores"]


def average_ranks(values):
    """The ranks 1..P of the values (P,), ties given the mean of the ranks they share
    (scipy.stats.rankdata's "average"): [10, 30, 20, 20] -> [1, 4, 2.5, 2.5]."""
    values = np.asarray(values).ravel()
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.r_[True, ordered[1:] != ordered[:-1]]   # where each run of equal values begins
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(values)]             # one past each run's last position
    run = np.cumsum(new) - 1                          # the run of each sorted position
    # positions start..end-1 hold the ranks start+1..end, whose mean is (start + 1 + end) / 2
    ranks = np.empty(len(values))
    ranks[order] = ((starts + 1 + ends) / 2)[run]
    return ranks


def spearman(a, b):
    """Spearman's rank correlation of two arrays of P values each (flattened):

        rho = cov(r_a, r_b) / (std(r_a) std(r_b)),   r = ``average_ranks``,

    the Pearson correlation of the ranks (without ties, 1 - 6 sum_i d_i^2 / (P (P^2 - 1)), d_i the
    rank differences). NaN when either array is constant: it ranks nothing (as scipy.stats.spearmanr).
    """
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"spearman: expected two arrays of the same size (at least 2 values), "
                         f"got sizes {a.size} and {b.size}")
    ra, rb = average_ranks(a), average_ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    scale = np.sqrt((ra ** 2).sum() * (rb ** 2).sum())
    return float((ra * rb).sum() / scale) if scale > 0 else float("nan")


def rank_correlations(maps, other):
    """Spearman's rho between each pair of maps: (N, H, W) and (N, H, W) -> (N,), NaN for an image
    whose map is constant in either (a Grad-CAM rectified to zero everywhere, say)."""
    first = check_maps("rank_correlations", maps, nonnegative=False)
    second = check_maps("rank_correlations", other, nonnegative=False)
    if first.shape != second.shape:
        raise ValueError(f"rank_correlations: expected maps of the same shape, got {first.shape} and {second.shape}")
    return np.array([spearman(a, b) for a, b in zip(first, second)])


def parameterised_modules(module):
    """The modules inside ``module`` (itself included) that hold parameters of their own."""
    return [m for m in module.modules() if any(True for _ in m.named_parameters(recurse=False))]


def randomization_order(model, x):
    """The names of the model's parameterised layers from the output towards the input: the order
    of cascading randomisation. The order is the one in which a forward pass of ``x`` (N, C, H, W)
    calls the layers, reversed; a layer the pass never calls (an auxiliary head in evaluation mode)
    does not change the output and is left out.

    For LeNet-5: classifier.fc3, classifier.fc2, classifier.fc1, features.conv2, features.conv1.
    """
    names = {id(m): name for name, m in model.named_modules()}
    called = []

    def record(module, args, output):
        if module not in called:
            called.append(module)

    handles = [m.register_forward_hook(record) for m in parameterised_modules(model)]
    try:
        with inspecting(model), no_grad():
            model(Tensor(np.asarray(x.numpy() if isinstance(x, Tensor) else x)))
    finally:
        for handle in handles:
            handle.remove()
    return [names[id(m)] for m in reversed(called)]


def _reinitialise(method, layer, name):
    """Give every parameterised module inside ``layer`` fresh weights: its own ``reset_parameters``
    (PyTorch's initialisation: uniform for convolutions and linear layers, ones and zeros and fresh
    running statistics for batch norm), drawn from minidl's generator."""
    modules = parameterised_modules(layer)
    if not modules:
        raise ValueError(f"{method}: the layer {name!r} has no parameters to randomise")
    for module in modules:
        if not hasattr(module, "reset_parameters"):
            raise ValueError(f"{method}: {type(module).__name__} in {name!r} has no reset_parameters to "
                             "re-initialise its weights with")
        module.reset_parameters()


def cascading_randomization(model, layers):
    """Re-initialise ``layers`` one after another in a copy of ``model`` (the model is untouched).

    Args:
        layers: names (or modules) of the model, in the order to randomise them: from the output
            towards the input (``randomization_order``) for Adebayo et al.'s cascade. A layer that
            is a block re-initialises every parameterised module inside it.
    Yields:
        (name, copy) after each step: the copy with layers[0..k] re-initialised. It is the same copy
        each time, changed in place by the next step: use it before asking for the next one.
    """
    if isinstance(layers, str | Module):
        raise ValueError(f"cascading_randomization: expected a list of layers, got {layers!r}")
    known = {id(m): name for name, m in model.named_modules()}
    names = [known[id(find_layer("cascading_randomization", model, layer))] for layer in layers]
    randomised = copy.deepcopy(model)
    modules = dict(randomised.named_modules())
    for name in names:
        _reinitialise("cascading_randomization", modules[name], name)
        yield name, randomised


@contextlib.contextmanager
def _fixed_draws(seed):
    """Within the block minidl's generator draws as if seeded with ``seed``; afterwards it goes on
    from where it was, as if the block had drawn nothing."""
    generator = get_generator()
    saved = generator.bit_generator.state
    generator.bit_generator.state = np.random.default_rng(seed).bit_generator.state
    try:
        yield
    finally:
        generator.bit_generator.state = saved


def cascading_randomization_scores(model, x, target, methods=METHODS, layers=None, attribute=explain, seed=0):
    """Adebayo et al.'s cascading randomisation: the maps of every method after each step, and
    their rank correlations with the trained model's maps.

    Args:
        x: (N, C, H, W) images, normalised as the model expects; target: the class(es) to explain,
            the same at every step (the trained model's labels or predictions, not the random one's).
        methods: names of ``minidl.explain.METHODS``.
        layers: the steps (default ``randomization_order(model, x)``, each parameterised layer).
        attribute: ``attribute(model, x, method, target) -> (N, C, H, W)`` attributions (``explain``).
        seed: every map is computed with minidl's generator seeded with it (then put back), so that
            SmoothGrad's noise is the same at every step and only the weights differ. The new
            weights come from minidl's generator (``minidl.manual_seed`` fixes them).
    Returns:
        {"steps": ["trained", layer, ...] (S + 1 names),
         "maps": {method: (S + 1, N, H, W) absolute maps (``method_maps``)},
         "signed_maps": {method: (S + 1, N, H, W)} for methods in ``SIGNED_METHODS``,
         "absolute": {method: (S, N) Spearman rho of each step's absolute maps with the trained model's},
         "signed": {method: (S, N)} the same for the signed maps, signed methods only}
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"cascading_randomization_scores: methods must be names among {', '.join(METHODS)}, "
                         f"got {list(methods)}")
    layers = randomization_order(model, x) if layers is None else layers
    maps = {method: [] for method in methods}
    signed = {method: [] for method in methods if method in SIGNED_METHODS}

    def add_maps(network):
        for method in methods:
            with _fixed_draws(seed):
                attributions = attribute(network, x, method, target)
            maps[method].append(method_maps(attributions, method))
            if method in signed:
                signed[method].append(method_maps(attributions, method, signed=True))

    add_maps(model)
    steps = ["trained"]
    for name, randomised in cascading_randomization(model, layers):
        add_maps(randomised)
        steps.append(name)
    maps = {method: np.stack(values) for method, values in maps.items()}
    signed = {method: np.stack(values) for method, values in signed.items()}

    def correlations(stack):
        return np.stack([rank_correlations(stack[0], step) for step in stack[1:]])

    return {"steps": steps, "maps": maps, "signed_maps": signed,
            "absolute": {method: correlations(stack) for method, stack in maps.items()},
            "signed": {method: correlations(stack) for method, stack in signed.items()}}
