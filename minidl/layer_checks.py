"""Gradient checks of every built-in layer over random configurations (``minidl gradcheck``).

Each entry of ``LAYER_CHECKS`` draws one random configuration of its layer with a NumPy
generator and returns ``(description, fn, inputs)``: a function of Tensors and the float64
inputs to check it at. ``run_checks`` runs ``gradcheck`` on each and collects the outcome as
rows of a table.

Two details make finite differences valid for every layer:
- max-pooling inputs hold distinct values spaced far wider than the step h, so nudging one
  element never changes which element is the maximum (at a tie the function has a kink);
- dropout reseeds its generator on every call, so each evaluation uses the same mask.
"""

from dataclasses import dataclass

import numpy as np

from minidl import functional as F
from minidl.tensor import Tensor
from minidl.gradcheck import compare_gradients
from minidl.random import manual_seed


def _randn(rng, *shape):
    return rng.standard_normal(shape)


def _distinct(rng, *shape):
    """Values 0.01 apart in random order: no ties, and no tie created by a step of 1e-6."""
    return rng.permutation(np.arange(int(np.prod(shape)))).reshape(shape) * 0.01


def _conv2d(rng):
    groups = int(rng.choice([1, 2]))
    c_in, c_out = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    kh, kw = (int(k) for k in rng.integers(1, 4, size=2))
    stride, dilation = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    padding = "same" if stride == 1 and rng.random() < 0.3 else int(rng.integers(0, 2))
    h = (kh - 1) * dilation + int(rng.integers(1, 4))
    w = (kw - 1) * dilation + int(rng.integers(1, 4))
    x, weight = _randn(rng, 1 + int(rng.integers(0, 2)), c_in, h, w), _randn(rng, c_out, c_in // groups, kh, kw)
    bias = _randn(rng, c_out)
    desc = (f"x {x.shape}, w {weight.shape}, stride {stride}, padding {padding!r}, "
            f"dilation {dilation}, groups {groups}")
    return desc, lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups), [x, weight, bias]


def _depthwise_conv2d(rng):
    c, k = int(rng.integers(2, 4)), int(rng.choice([3, 5]))
    x, weight = _randn(rng, 1, c, k + 1, k + 2), _randn(rng, c, 1, k, k)
    desc = f"x {x.shape}, w {weight.shape}, padding 'same', groups {c} (depthwise)"
    return desc, lambda x, w: F.conv2d(x, w, padding="same", groups=c), [x, weight]


def _conv_transpose2d(rng):
    c_in, c_out = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    k, stride = int(rng.integers(1, 4)), int(rng.integers(1, 3))
    padding = int(rng.integers(0, k))
    output_padding = int(rng.integers(0, stride))
    x, weight, bias = _randn(rng, 1, c_in, 3, 4), _randn(rng, c_in, c_out, k, k), _randn(rng, c_out)
    desc = f"x {x.shape}, w {weight.shape}, stride {stride}, padding {padding}, output_padding {output_padding}"

    def fn(x, w, b):
        return F.conv_transpose2d(x, w, b, stride=stride, padding=padding, output_padding=output_padding)

    return desc, fn, [x, weight, bias]


def _max_pool2d(rng):
    k, stride = int(rng.choice([2, 3])), int(rng.choice([1, 2]))
    padding = int(rng.integers(0, k // 2 + 1))
    x = _distinct(rng, 2, 2, 5 + int(rng.integers(0, 3)), 6)
    desc = f"x {x.shape}, kernel {k}, stride {stride}, padding {padding}" + (" (overlapping)" if stride < k else "")
    return desc, lambda x: F.max_pool2d(x, k, stride, padding), [x]


def _max_unpool2d(rng):
    x = _distinct(rng, 1, 2, 6, 6)
    values = _randn(rng, 1, 2, 3, 3)
    _, indices = F.max_pool2d(Tensor(x), 2, return_indices=True)
    return "values (1, 2, 3, 3) at 2x2 pool switches of (1, 2, 6, 6)", \
        lambda v: F.max_unpool2d(v, indices, 2), [values]


def _avg_pool2d(rng):
    k, stride = int(rng.choice([2, 3])), int(rng.choice([1, 2]))
    padding, include = int(rng.integers(0, k // 2 + 1)), bool(rng.random() < 0.5)
    x = _randn(rng, 2, 2, 5, 7)
    desc = f"x {x.shape}, kernel {k}, stride {stride}, padding {padding}, count_include_pad {include}"
    return desc, lambda x: F.avg_pool2d(x, k, stride, padding, count_include_pad=include), [x]


def _adaptive_avg_pool2d(rng):
    out = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    x = _randn(rng, 1, 2, 5, 7)
    return f"x {x.shape} -> {out}", lambda x: F.adaptive_avg_pool2d(x, out), [x]


def _global_avg_pool2d(rng):
    x = _randn(rng, 2, 3, 4, 5)
    return f"x {x.shape}", F.global_avg_pool2d, [x]


def _interpolate(mode):
    def check(rng):
        x = _randn(rng, 1, 2, int(rng.integers(2, 5)), int(rng.integers(2, 5)))  # scale 0.5 keeps >= 1 pixel
        if rng.random() < 0.5:
            resize = {"size": tuple(int(s) for s in rng.integers(1, 8, size=2))}
        else:
            resize = {"scale_factor": float(rng.choice([0.5, 1.5, 2.0, 2.5]))}
        options = dict(resize, mode=mode)
        if mode == "bilinear":
            options["align_corners"] = bool(rng.random() < 0.5)
        desc = f"x {x.shape}, " + ", ".join(f"{k} {v}" for k, v in options.items() if k != "mode")
        return desc, lambda x: F.interpolate(x, **options), [x]

    check.__name__ = f"interpolate_{mode}"
    return check


def _pad(mode):
    def check(rng):
        # Amounts of -1 (crop) to 2 on axes of 3 to 5: reflect's stay below the axis size.
        x = _randn(rng, 2, 2, int(rng.integers(3, 6)), int(rng.integers(3, 6)))
        widths = tuple(int(p) for p in rng.integers(-1, 3, size=4))
        return f"x {x.shape}, pad {widths}", lambda x: F.pad(x, widths, mode=mode), [x]

    check.__name__ = f"pad_{mode}"
    return check


def _batch_norm(rng):
    training = bool(rng.random() < 0.7)
    shape = (4, 3, 3, 2) if rng.random() < 0.5 else (5, 3)
    x, gamma, beta = _randn(rng, *shape), _randn(rng, 3), _randn(rng, 3)
    mean, var = _randn(rng, 3), rng.random(3) + 0.5

    def fn(x, g, b):
        # Fresh copies: in training the running statistics are updated in place on every call.
        return F.batch_norm(x, mean.copy(), var.copy(), g, b, training=training)

    return f"x {shape}, {'train' if training else 'eval'}", fn, [x, gamma, beta]


def _group_norm(rng):
    groups = int(rng.choice([1, 2, 3]))
    channels = groups * int(rng.integers(1, 3))
    spatial = tuple(int(d) for d in rng.integers(1, 4, size=int(rng.integers(0, 3))))
    shape = (int(rng.integers(2, 4)), channels) + spatial  # N >= 2: PyTorch refuses one example of one-value groups
    x, gamma, beta = _randn(rng, *shape), _randn(rng, channels), _randn(rng, channels)
    eps = float(rng.choice([1e-5, 0.1]))
    return f"x {shape}, num_groups {groups}, eps {eps}", \
        lambda x, g, b: F.group_norm(x, groups, g, b, eps), [x, gamma, beta]


def _layer_norm(rng):
    shape = tuple(int(d) for d in rng.integers(1, 4, size=3))
    normalized_shape = shape[int(rng.integers(1, 3)):]
    x, gamma, beta = _randn(rng, *shape), _randn(rng, *normalized_shape), _randn(rng, *normalized_shape)
    return f"x {shape}, normalized_shape {normalized_shape}", \
        lambda x, g, b: F.layer_norm(x, normalized_shape, g, b), [x, gamma, beta]


def _dropout(rng):
    p, seed = float(rng.choice([0.2, 0.5])), int(rng.integers(1 << 30))
    x = _randn(rng, 3, 4)

    def fn(x):
        manual_seed(seed)  # the same mask on every evaluation
        return F.dropout(x, p, training=True)

    return f"x {x.shape}, p {p}", fn, [x]


def _elementwise(name, fn):
    def check(rng):
        x = _randn(rng, 2, 3, 4)
        return f"x {x.shape}", fn, [x]

    check.__name__ = name
    return check


def _softmax(fn):
    def check(rng):
        dim = int(rng.integers(0, 3))
        x = _randn(rng, 2, 3, 4) * 3
        return f"x {x.shape}, dim {dim}", lambda x: fn(x, dim), [x]

    return check


def _class_targets(rng, n, c):
    """n targets in [0, c), the first kept and the others ignored (-100) with probability 1/4,
    and class weights or None."""
    target = rng.integers(0, c, size=n)
    target[1:][rng.random(n - 1) < 0.25] = -100
    weight = rng.uniform(0.5, 2.0, c) if rng.random() < 0.5 else None
    return target, weight


def _cross_entropy(rng):
    n, c = int(rng.integers(1, 5)), int(rng.integers(2, 6))
    smoothing = float(rng.choice([0.0, 0.1]))
    logits, (target, weight) = _randn(rng, n, c) * 2, _class_targets(rng, n, c)
    desc = (f"logits {logits.shape}, target {target.tolist()}, weighted {weight is not None}, "
            f"label_smoothing {smoothing}")
    return desc, lambda z: F.cross_entropy(z, target, weight, label_smoothing=smoothing), [logits]


def _nll_loss(rng):
    n, c = 3, 4
    log_probs, (target, weight) = _randn(rng, n, c), _class_targets(rng, n, c)
    desc = f"input {log_probs.shape}, target {target.tolist()}, weighted {weight is not None}"
    return desc, lambda z: F.nll_loss(z, target, weight), [log_probs]


def _mse_loss(rng):
    a, b = _randn(rng, 3, 4), _randn(rng, 3, 4)
    return "input (3, 4), target (3, 4)", F.mse_loss, [a, b]


def _linear(rng):
    n_in, n_out = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    x, w, b = _randn(rng, 3, n_in), _randn(rng, n_out, n_in), _randn(rng, n_out)
    return f"x {x.shape}, w {w.shape}", F.linear, [x, w, b]


def _flatten(rng):
    x = _randn(rng, 2, 3, 2, 2)
    return f"x {x.shape}, start_dim 1", lambda x: F.flatten(x, 1), [x]


LAYER_CHECKS = {
    "conv2d": _conv2d,
    "depthwise_conv2d": _depthwise_conv2d,
    "conv_transpose2d": _conv_transpose2d,
    "max_pool2d": _max_pool2d,
    "max_unpool2d": _max_unpool2d,
    "avg_pool2d": _avg_pool2d,
    "adaptive_avg_pool2d": _adaptive_avg_pool2d,
    "global_avg_pool2d": _global_avg_pool2d,
    "interpolate_nearest": _interpolate("nearest"),
    "interpolate_bilinear": _interpolate("bilinear"),
    "pad_constant": _pad("constant"),
    "pad_reflect": _pad("reflect"),
    "pad_replicate": _pad("replicate"),
    "batch_norm": _batch_norm,
    "group_norm": _group_norm,
    "layer_norm": _layer_norm,
    "dropout": _dropout,
    "relu": _elementwise("relu", F.relu),
    "leaky_relu": _elementwise("leaky_relu", lambda x: F.leaky_relu(x, 0.1)),
    "gelu": _elementwise("gelu", F.gelu),
    "gelu_tanh": _elementwise("gelu_tanh", lambda x: F.gelu(x, approximate="tanh")),
    "sigmoid": _elementwise("sigmoid", F.sigmoid),
    "tanh": _elementwise("tanh", F.tanh),
    "softmax": _softmax(F.softmax),
    "log_softmax": _softmax(F.log_softmax),
    "cross_entropy": _cross_entropy,
    "nll_loss": _nll_loss,
    "mse_loss": _mse_loss,
    "linear": _linear,
    "flatten": _flatten,
}


@dataclass
class CheckRow:
    """One line of the ``minidl gradcheck`` table."""

    layer: str
    config: str
    max_rel_error: float
    passed: bool
    detail: str = ""


def run_checks(layers=None, configs=3, seed=0, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Gradient-check ``layers`` (default: all) at ``configs`` random configurations each."""
    names = list(LAYER_CHECKS) if layers is None else list(layers)
    unknown = [n for n in names if n not in LAYER_CHECKS]
    if unknown:
        raise ValueError(f"gradcheck: unknown layer(s) {unknown}; known: {', '.join(LAYER_CHECKS)}")
    rng = np.random.default_rng(seed)
    rows = []
    for name in names:
        for _ in range(configs):
            desc, fn, inputs = LAYER_CHECKS[name](rng)
            results = compare_gradients(fn, inputs, eps=eps, atol=atol, rtol=rtol)
            failed = [r for r in results if not r.passed]
            rows.append(CheckRow(
                layer=name,
                config=desc,
                max_rel_error=max(r.max_rel_error for r in results),
                passed=not failed,
                detail=failed[0].describe_worst() if failed else "",
            ))
    return rows


def format_table(rows):
    """The rows as an aligned text table, failures explained underneath."""
    header = ("layer", "config", "max rel error", "result")
    lines = [(r.layer, r.config, f"{r.max_rel_error:.2e}", "pass" if r.passed else "FAIL") for r in rows]
    widths = [max(len(str(v)) for v in column) for column in zip(header, *lines)]
    out = ["  ".join(str(v).ljust(w) for v, w in zip(header, widths)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(v).ljust(w) for v, w in zip(line, widths)) for line in lines]
    passed = sum(r.passed for r in rows)
    out.append(f"\n{passed} passed, {len(rows) - passed} failed")
    out += [f"  {r.detail}" for r in rows if not r.passed]
    return "\n".join(out)
