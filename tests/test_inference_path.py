"""Inference as a path of its own: under ``minidl.no_grad()`` the layers compute their outputs
only, nothing that a backward pass would need, and those outputs are the training forward's,
bit for bit.

What a forward pass computes only for backward: max pooling's switches (where each maximum
came from) and batch norm's normalised input xhat. Convolution keeps a reference to its input,
not a copy, and builds its columns again in backward, so it has nothing to skip; the checks
here make sure it keeps nothing either once the forward pass returns.
"""

import tracemalloc

import numpy as np
import pytest

import minidl as md
from minidl import functional as F
from minidl import kernels, nn
from minidl.kernels import pool as pool_kernels
from minidl.zoo import lenet5, resnet20, small_vgg


def random(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.fixture(params=["numba", "numpy"])
def backend(request):
    with kernels.use_backend(request.param):
        yield request.param


def both_modes(function, *arrays):
    """function(*Tensors) with gradients recorded (inputs requiring them) and under no_grad:
    the two outputs as ndarrays, and the no_grad output Tensor itself."""
    recorded = function(*(md.tensor(a, requires_grad=True) for a in arrays))
    with md.no_grad():
        inferred = function(*(md.tensor(a) for a in arrays))
    return recorded.detach().numpy(), inferred.numpy(), inferred


# ---------------------------------------------------------------------------- the same numbers

LAYERS = {
    "conv im2col": (lambda x, w: F.conv2d(x, w, stride=2, padding=1), [(2, 3, 9, 8), (5, 3, 3, 3)]),
    "conv winograd": (lambda x, w: F.conv2d(x, w, padding=1), [(2, 16, 8, 8), (16, 16, 3, 3)]),
    "conv depthwise": (lambda x, w: F.conv2d(x, w, padding=1, groups=4), [(2, 4, 7, 7), (8, 1, 3, 3)]),
    "conv pointwise": (lambda x, w: F.conv2d(x, w), [(2, 6, 5, 5), (4, 6, 1, 1)]),
    "max pool 2x2": (lambda x: F.max_pool2d(x, 2), [(2, 3, 8, 9)]),
    "max pool 3x3 s2 p1 ceil": (lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), [(2, 3, 9, 8)]),
    "max pool dilated": (lambda x: F.max_pool2d(x, 2, 1, dilation=2), [(1, 2, 7, 6)]),
    "avg pool": (lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), [(2, 3, 9, 8)]),
    "adaptive avg pool": (lambda x: F.adaptive_avg_pool2d(x, (3, 2)), [(2, 3, 7, 5)]),
}


@pytest.mark.parametrize("name", LAYERS)
def test_layers_give_the_training_forward_bit_for_bit(backend, name):
    function, shapes = LAYERS[name]
    recorded, inferred, out = both_modes(function, *(random(s, seed=k) for k, s in enumerate(shapes)))
    np.testing.assert_array_equal(inferred, recorded)
    assert out.grad_fn is None and not out.requires_grad


@pytest.mark.parametrize("training", [True, False], ids=["batch statistics", "running statistics"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "no affine"])
def test_batch_norm_gives_the_training_forward_and_running_statistics(backend, training, affine):
    x = random((4, 3, 5, 5)) * 3 + 1
    gamma, beta = (random(3, seed=1), random(3, seed=2)) if affine else (None, None)
    stats = {mode: (np.linspace(-1, 1, 3, dtype=np.float32), np.linspace(0.5, 2, 3, dtype=np.float32))
             for mode in ("recorded", "inferred")}

    def bn(mode):
        return lambda x, *params: F.batch_norm(x, *stats[mode], *params, training=training)

    recorded = bn("recorded")(md.tensor(x, requires_grad=True),
                              *(md.tensor(p, requires_grad=True) for p in (gamma, beta) if p is not None))
    with md.no_grad():
        inferred = bn("inferred")(md.tensor(x), *(md.tensor(p) for p in (gamma, beta) if p is not None))
    np.testing.assert_array_equal(inferred.numpy(), recorded.detach().numpy())
    # In training mode the running statistics move the same way whether or not gradients are recorded.
    for a, b in zip(stats["inferred"], stats["recorded"]):
        np.testing.assert_array_equal(a, b)


def test_max_pool_switches_asked_for_under_no_grad_are_the_recorded_ones(backend):
    x = random((2, 3, 9, 8))
    out, switches = F.max_pool2d(md.tensor(x, requires_grad=True), 3, 2, 1, return_indices=True)
    with md.no_grad():
        inferred, inferred_switches = F.max_pool2d(md.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(inferred.numpy(), out.detach().numpy())
    np.testing.assert_array_equal(inferred_switches.numpy(), switches.numpy())


MODELS = {
    "LeNet-5 ReLU max": (lambda: lenet5(), (4, 1, 28, 28)),
    "LeNet-5 tanh avg": (lambda: lenet5(activation="tanh", pool="avg"), (4, 1, 28, 28)),
    "ResNet-20": (lambda: resnet20(image_size=16), (2, 3, 16, 16)),
    "small VGG": (lambda: small_vgg(), (2, 1, 28, 28)),
}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_models_give_the_training_forward_bit_for_bit(name, mode):
    build, shape = MODELS[name]
    md.manual_seed(0)
    model = build()
    model.train(mode == "train")
    if mode == "train":  # dropout would draw different masks in the two runs
        for module in model.modules():
            if isinstance(module, nn.Dropout):
                module.p = 0.0
    state = {key: np.array(value) for key, value in model.state_dict().items()}
    x = random(shape)
    recorded = model(md.tensor(x, requires_grad=True)).detach().numpy()
    model.load_state_dict(state)          # batch norm's running statistics as before the first pass
    with md.no_grad():
        inferred = model(md.tensor(x))
    np.testing.assert_array_equal(inferred.numpy(), recorded)
    assert inferred.grad_fn is None


# ---------------------------------------------------------------------------- nothing for backward


def refuse(name):
    def kernel(*args, **kwargs):
        raise AssertionError(f"{name} ran, but nothing is to be differentiated")
    return kernel


@pytest.mark.parametrize("inputs", ["no_grad", "no input requires grad"])
def test_max_pool_looks_for_no_switches_when_nothing_is_differentiated(backend, monkeypatch, inputs):
    monkeypatch.setattr(pool_kernels, "max_pool2d", refuse("the max-pool kernel that finds switches"))
    x = md.tensor(random((2, 3, 8, 8)))
    if inputs == "no_grad":
        with md.no_grad():
            out = F.max_pool2d(md.tensor(random((2, 3, 8, 8)), requires_grad=True), 2)
    else:
        out = F.max_pool2d(x, 2)
    assert out.shape == (2, 3, 4, 4) and out.grad_fn is None


def test_batch_norm_makes_no_normalised_input_under_no_grad(monkeypatch):
    passes = []
    for name in ("channel_affine", "channel_affine_pair"):
        def counted(*args, kernel=getattr(kernels, name), name=name):
            passes.append(name)
            return kernel(*args)

        monkeypatch.setattr(kernels, name, counted)
    layer = nn.BatchNorm2d(3)
    x = random((4, 3, 5, 5))
    layer(md.tensor(x, requires_grad=True))
    assert passes == ["channel_affine_pair"]     # out, and xhat for backward
    passes.clear()
    with md.no_grad():
        layer(md.tensor(x))
    assert passes == ["channel_affine"]          # out alone


def traced_bytes(function):
    """(bytes still allocated when ``function`` returns, peak bytes while it ran), over what was
    allocated before; the result is kept alive until both are read."""
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = function()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return current - before, peak - before


def test_max_pool_under_no_grad_allocates_its_output_and_little_else():
    x = md.tensor(random((8, 16, 32, 32)))                      # output: 8*16*16*16 float32 = 128 KiB
    with md.no_grad():
        kept, peak = traced_bytes(lambda: F.max_pool2d(x, 2))
    out_bytes = 8 * 16 * 16 * 16 * 4
    # The int64 switches alone would be twice the output.
    assert out_bytes <= kept < out_bytes + 16 * 1024
    assert peak < out_bytes + 64 * 1024
    recorded_kept, _ = traced_bytes(lambda: F.max_pool2d(md.tensor(x.numpy(), requires_grad=True), 2))
    assert recorded_kept >= 3 * out_bytes                       # out and the switches kept for backward


@pytest.mark.parametrize("name", ["ResNet-20", "small VGG"])
def test_a_model_under_no_grad_keeps_only_its_output(name):
    build, shape = MODELS[name]
    model = build().eval()
    x = md.tensor(random(shape))
    with md.no_grad():
        model(x)                                                 # first call: lazy set-up outside the count
        kept, _ = traced_bytes(lambda: model(x))
    assert kept < 16 * 1024                                      # the (N, 10) scores and small change
    recorded_kept, _ = traced_bytes(lambda: model(md.tensor(x.numpy(), requires_grad=True)))
    assert recorded_kept > 100 * kept                            # the graph holds every activation
