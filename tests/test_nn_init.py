"""Initialisers: gains, fans, the distributions they draw from, and the layers' default init.

The statistical checks use ~10^5 samples from a seeded generator, with tolerances of 5 standard
errors: the standard error of a sample mean is std/sqrt(n) and that of a sample standard
deviation, relative to the true one, sqrt((kurtosis - 1) / (4n)) (kurtosis 9/5 for a uniform
distribution, 3 for a normal one).
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl as md
from minidl import nn
from minidl.nn import init

UNIFORM_KURTOSIS, NORMAL_KURTOSIS = 9 / 5, 3.0


@pytest.fixture(autouse=True)
def seeded():
    md.manual_seed(0)


def assert_distribution(values, std, kurtosis):
    """``values`` have mean 0 and standard deviation ``std``, to 5 standard errors."""
    n = values.size
    assert abs(values.mean()) <= 5 * std / math.sqrt(n)
    assert abs(values.std() / std - 1) <= 5 * math.sqrt((kurtosis - 1) / (4 * n))


def assert_uniform(values, bound):
    """U(-bound, bound): inside the bound, reaching it (the largest of n draws misses the bound
    by about bound/n), and with std = bound / sqrt(3)."""
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() >= bound * (1 - 20 / values.size)
    assert_distribution(values, bound / math.sqrt(3), UNIFORM_KURTOSIS)


def weight(*shape, dtype=np.float32):
    return nn.Parameter(np.zeros(shape, dtype=dtype))


# ---------------------------------------------------------------------- gains and fans
@pytest.mark.parametrize("nonlinearity, param, expected", [
    ("linear", None, 1.0), ("conv2d", None, 1.0), ("conv_transpose2d", None, 1.0), ("sigmoid", None, 1.0),
    ("tanh", None, 5 / 3), ("relu", None, math.sqrt(2)), ("selu", None, 3 / 4),
    ("leaky_relu", None, math.sqrt(2 / (1 + 0.01 ** 2))), ("leaky_relu", 0.2, math.sqrt(2 / (1 + 0.2 ** 2))),
    ("leaky_relu", math.sqrt(5), math.sqrt(1 / 3)), ("leaky_relu", 0, math.sqrt(2)),
])
def test_calculate_gain_formula_and_pytorch(nonlinearity, param, expected):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'gelu'"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope True is not a valid number"):
        init.calculate_gain("leaky_relu", True)


def test_fans_of_linear_and_grouped_conv_weights():
    assert init.calculate_fan_in_and_fan_out(weight(7, 5)) == (5, 7)  # Linear (out, in)
    # Conv2d(6, 9, (3, 5), groups=3): weight (9, 6/3, 3, 5); each output sees 2*3*5 inputs.
    conv = nn.Conv2d(6, 9, (3, 5), groups=3)
    assert init.calculate_fan_in_and_fan_out(conv.weight) == (2 * 3 * 5, 9 * 3 * 5)


@given(shape=st.lists(st.integers(1, 5), min_size=2, max_size=5))
def test_fans_match_pytorch(shape):
    torch = pytest.importorskip("torch")
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.calculate_fan_in_and_fan_out(np.zeros(shape, dtype=np.float32)) == expected


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(4,\)"):
        init.kaiming_uniform_(weight(4))


# ---------------------------------------------------------------------- distributions
@pytest.mark.parametrize("a, nonlinearity", [(0, "relu"), (0.2, "leaky_relu"), (math.sqrt(5), "leaky_relu")])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_uniform_bound(a, nonlinearity, mode):
    w = weight(100, 40, 3, 3)  # fan_in 360, fan_out 900
    fan = 40 * 9 if mode == "fan_in" else 100 * 9
    gain = init.calculate_gain(nonlinearity, a)
    assert init.kaiming_uniform_(w, a=a, mode=mode, nonlinearity=nonlinearity) is w
    assert_uniform(w.numpy(), math.sqrt(3) * gain / math.sqrt(fan))


@pytest.mark.parametrize("mode, fan", [("fan_in", 400), ("fan_out", 300)])
def test_kaiming_normal_std(mode, fan):
    w = weight(300, 400)
    init.kaiming_normal_(w, mode=mode, nonlinearity="relu")
    assert_distribution(w.numpy(), math.sqrt(2) / math.sqrt(fan), NORMAL_KURTOSIS)


@pytest.mark.parametrize("gain", [1.0, init.calculate_gain("tanh")])
def test_xavier_uniform_bound(gain):
    w = weight(64, 32, 5, 5)  # fan_in 800, fan_out 1600
    init.xavier_uniform_(w, gain=gain)
    assert_uniform(w.numpy(), math.sqrt(3) * gain * math.sqrt(2 / (800 + 1600)))


@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_xavier_normal_std(gain):
    w = weight(500, 250)
    init.xavier_normal_(w, gain=gain)
    assert_distribution(w.numpy(), gain * math.sqrt(2 / 750), NORMAL_KURTOSIS)


def test_uniform_and_normal_with_arguments():
    w = weight(400, 300)
    init.uniform_(w, -3.0, 5.0)
    assert w.numpy().min() >= -3 and w.numpy().max() <= 5
    assert_distribution(w.numpy() - 1.0, 8 / math.sqrt(12), UNIFORM_KURTOSIS)
    init.normal_(w, mean=2.0, std=0.5)
    assert_distribution(w.numpy() - 2.0, 0.5, NORMAL_KURTOSIS)


def test_constant_zeros_ones():
    w = weight(3, 4)
    np.testing.assert_array_equal(init.constant_(w, 0.25).numpy(), np.full((3, 4), 0.25))
    np.testing.assert_array_equal(init.ones_(w).numpy(), np.ones((3, 4)))
    np.testing.assert_array_equal(init.zeros_(w).numpy(), np.zeros((3, 4)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_initialisers_write_in_place_and_keep_the_dtype(dtype):
    w = weight(5, 6, dtype=dtype)
    array = w.numpy()
    for fill in (init.kaiming_uniform_, init.kaiming_normal_, init.xavier_uniform_, init.xavier_normal_,
                 init.uniform_, init.normal_, init.ones_):
        assert fill(w) is w
        assert w.numpy() is array and w.dtype == dtype
    raw = np.zeros((4, 4), dtype=dtype)
    assert init.normal_(raw) is raw and raw.any()  # plain ndarrays work too


def test_manual_seed_and_generator_make_init_reproducible():
    a, b, c, d = (weight(4, 5) for _ in range(4))
    md.manual_seed(7)
    init.kaiming_uniform_(a)
    md.manual_seed(7)
    init.kaiming_uniform_(b)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    init.xavier_normal_(c, generator=np.random.default_rng(3))
    init.xavier_normal_(d, generator=np.random.default_rng(3))
    np.testing.assert_array_equal(c.numpy(), d.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())


def test_init_errors():
    with pytest.raises(ValueError, match="kaiming_uniform_: mode must be 'fan_in' or 'fan_out', got 'fan_avg'"):
        init.kaiming_uniform_(weight(2, 2), mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.kaiming_normal_(weight(2, 2), nonlinearity="swish")
    with pytest.raises(TypeError, match="normal_: can only fill floating point arrays, got dtype int64"):
        init.normal_(md.tensor(np.zeros(3, dtype=np.int64)))
    with pytest.raises(TypeError, match="uniform_: expected a Tensor, Parameter or ndarray, got list"):
        init.uniform_([0.0, 1.0])


# ---------------------------------------------------------------------- default initialisation of layers
def test_linear_default_init_is_pytorchs():
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)  # kaiming_uniform_(a=sqrt(5)): sqrt(3) * sqrt(1/3) / sqrt(fan_in)
    assert_uniform(layer.weight.numpy(), bound)
    assert np.abs(layer.bias.numpy()).max() <= bound and np.abs(layer.bias.numpy()).max() > 0.9 * bound


@pytest.mark.parametrize("make, fan_in", [
    (lambda: nn.Conv2d(64, 128, 3, groups=2), 32 * 9),
    (lambda: nn.Conv2d(16, 256, (3, 5)), 16 * 15),
    # PyTorch's rule reads fan_in from weight.shape[1], which for a transposed convolution
    # (in, out/groups, kH, kW) is out/groups * kH * kW.
    (lambda: nn.ConvTranspose2d(128, 64, 3, groups=2), 32 * 9),
])
def test_conv_default_init_is_pytorchs(make, fan_in):
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    assert_uniform(layer.weight.numpy(), bound)
    assert np.abs(layer.bias.numpy()).max() <= bound


def test_default_bounds_equal_those_of_pytorch_layers():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    pairs = [(nn.Linear(50, 20), torch.nn.Linear(50, 20)),
             (nn.Conv2d(8, 16, 3, groups=4), torch.nn.Conv2d(8, 16, 3, groups=4)),
             (nn.ConvTranspose2d(8, 16, 3, groups=2), torch.nn.ConvTranspose2d(8, 16, 3, groups=2))]
    for ours, theirs in pairs:
        for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
            ours_max, theirs_max = np.abs(p.numpy()).max(), q.detach().abs().max().item()
            fan_in, _ = init.calculate_fan_in_and_fan_out(p if name == "weight" else ours.weight)
            bound = 1 / math.sqrt(fan_in)
            assert theirs_max <= bound + 1e-7 and ours_max <= bound, (type(ours).__name__, name)
            assert p.shape == tuple(q.shape)


def test_batch_norm_default_init():
    bn = nn.BatchNorm2d(5)
    np.testing.assert_array_equal(bn.weight.numpy(), np.ones(5))
    np.testing.assert_array_equal(bn.bias.numpy(), np.zeros(5))
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.zeros(5))
    np.testing.assert_array_equal(bn.running_var.numpy(), np.ones(5))
    assert bn.num_batches_tracked.item() == 0 and bn.num_batches_tracked.dtype == np.int64
    assert all(p.dtype == np.float32 for p in bn.parameters())
