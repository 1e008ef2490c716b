"""Layer modules: shapes, gradient checks (inputs and parameters, float64) and parity with torch.nn.

Parity tests load the torch module's state dict into ours (which checks that names and shapes
map across), then compare the forward pass and the gradients of the input and of every
parameter, with atol 1e-5 in float32 and 1e-10 in float64, scaled by the size of the values
compared (a sum of many float32 terms carries a proportionally larger rounding error).
"""

from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import nn
from minidl.gradcheck import gradcheck

ATOL = {np.float32: 1e-5, np.float64: 1e-10}


@pytest.fixture(autouse=True)
def seeded():
    md.manual_seed(0)


def assert_close(ours, expected, dtype, what=""):
    expected = np.asarray(expected)
    assert ours.dtype == dtype, what
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(ours, expected, rtol=0, atol=ATOL[dtype] * scale, err_msg=what)


def load_from_torch(ours, theirs):
    """Copy the torch module's state into ours through load_state_dict (strict: same keys and shapes)."""
    state = {key: value.detach().numpy() for key, value in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state)
    ours.load_state_dict(state)


def compare_with_torch(ours, theirs, x, dtype, rng):
    """Same weights, same input, same upstream gradient: same output and same gradients."""
    torch = pytest.importorskip("torch")
    theirs.to(torch.float32 if dtype == np.float32 else torch.float64)
    ours.to(dtype)
    load_from_torch(ours, theirs)
    x = x.astype(dtype)
    x_ours = md.tensor(x, requires_grad=True)
    x_theirs = torch.tensor(x, requires_grad=True)
    out_ours, out_theirs = ours(x_ours), theirs(x_theirs)
    assert_close(out_ours.numpy(), out_theirs.detach().numpy(), dtype, "output")
    upstream = rng.standard_normal(out_ours.shape).astype(dtype)
    out_ours.backward(upstream)
    out_theirs.backward(torch.from_numpy(upstream))
    assert_close(x_ours.grad, x_theirs.grad.numpy(), dtype, "input gradient")
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.grad, q.grad.numpy(), dtype, f"gradient of {name}")
    for (name, b), (_, c) in zip(ours.named_buffers(), theirs.named_buffers()):
        np.testing.assert_allclose(b.numpy(), c.numpy(), rtol=0, atol=ATOL[dtype] * 10, err_msg=name)


def torch_separable(tnn, c, f, k, **conv):
    return tnn.Sequential(OrderedDict(depthwise=tnn.Conv2d(c, c, k, groups=c, **conv), pointwise=tnn.Conv2d(c, f, 1)))


# (ours, theirs given torch.nn, input shape): small, so that the float64 gradient checks are quick.
LAYERS = {
    "linear": (lambda: nn.Linear(5, 3), lambda tnn: tnn.Linear(5, 3), (4, 5)),
    "linear_3d_no_bias": (lambda: nn.Linear(5, 3, bias=False), lambda tnn: tnn.Linear(5, 3, bias=False), (2, 3, 5)),
    "conv": (lambda: nn.Conv2d(3, 4, 3), lambda tnn: tnn.Conv2d(3, 4, 3), (2, 3, 5, 5)),
    "conv_strided_grouped": (
        lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
        lambda tnn: tnn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
        (2, 4, 5, 6)),
    "conv_same_even_kernel": (lambda: nn.Conv2d(2, 3, 4, padding="same"),
                              lambda tnn: tnn.Conv2d(2, 3, 4, padding="same"), (1, 2, 5, 6)),
    "conv_valid_no_bias": (lambda: nn.Conv2d(2, 3, 3, padding="valid", bias=False),
                           lambda tnn: tnn.Conv2d(2, 3, 3, padding="valid", bias=False), (2, 2, 4, 4)),
    "conv_transpose": (
        lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
        lambda tnn: tnn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
        (2, 4, 3, 3)),
    "conv_transpose_dilated": (lambda: nn.ConvTranspose2d(2, 3, (2, 3), dilation=2, bias=False),
                               lambda tnn: tnn.ConvTranspose2d(2, 3, (2, 3), dilation=2, bias=False), (1, 2, 3, 3)),
    "separable": (lambda: nn.DepthwiseSeparableConv2d(3, 5, 3, padding=1),
                  lambda tnn: torch_separable(tnn, 3, 5, 3, padding=1), (2, 3, 4, 4)),
    "separable_strided": (lambda: nn.DepthwiseSeparableConv2d(2, 4, 3, stride=2, dilation=2),
                          lambda tnn: torch_separable(tnn, 2, 4, 3, stride=2, dilation=2), (1, 2, 7, 7)),
    "max_pool": (lambda: nn.MaxPool2d(2), lambda tnn: tnn.MaxPool2d(2), (2, 3, 4, 6)),
    "max_pool_overlapping": (lambda: nn.MaxPool2d(3, stride=2, padding=1), lambda tnn: tnn.MaxPool2d(3, 2, 1),
                             (2, 2, 5, 5)),
    "max_pool_dilated": (lambda: nn.MaxPool2d(2, stride=1, dilation=2),
                         lambda tnn: tnn.MaxPool2d(2, stride=1, dilation=2), (1, 2, 5, 5)),
    "avg_pool": (lambda: nn.AvgPool2d(2), lambda tnn: tnn.AvgPool2d(2), (2, 3, 4, 4)),
    "avg_pool_padded_excluded": (lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
                                 lambda tnn: tnn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
                                 (2, 2, 5, 5)),
    "adaptive_avg_pool": (lambda: nn.AdaptiveAvgPool2d((2, 3)), lambda tnn: tnn.AdaptiveAvgPool2d((2, 3)),
                          (2, 2, 5, 7)),
    "global_avg_pool": (lambda: nn.GlobalAvgPool2d(), lambda tnn: tnn.AdaptiveAvgPool2d(1), (2, 3, 3, 4)),
    "batch_norm_1d": (lambda: nn.BatchNorm1d(3), lambda tnn: tnn.BatchNorm1d(3), (6, 3)),
    "batch_norm_1d_sequence": (lambda: nn.BatchNorm1d(3, momentum=0.3), lambda tnn: tnn.BatchNorm1d(3, momentum=0.3),
                               (4, 3, 5)),
    "batch_norm_2d": (lambda: nn.BatchNorm2d(3), lambda tnn: tnn.BatchNorm2d(3), (4, 3, 3, 3)),
    "batch_norm_2d_not_affine": (lambda: nn.BatchNorm2d(2, affine=False), lambda tnn: tnn.BatchNorm2d(2, affine=False),
                                 (3, 2, 2, 3)),
    "batch_norm_2d_no_tracking": (lambda: nn.BatchNorm2d(2, track_running_stats=False),
                                  lambda tnn: tnn.BatchNorm2d(2, track_running_stats=False), (3, 2, 2, 3)),
    "relu": (lambda: nn.ReLU(), lambda tnn: tnn.ReLU(), (3, 4)),
    "leaky_relu": (lambda: nn.LeakyReLU(0.2), lambda tnn: tnn.LeakyReLU(0.2), (2, 3, 2, 2)),
    "sigmoid": (lambda: nn.Sigmoid(), lambda tnn: tnn.Sigmoid(), (3, 4)),
    "tanh": (lambda: nn.Tanh(), lambda tnn: tnn.Tanh(), (3, 4)),
    "softmax": (lambda: nn.Softmax(dim=1), lambda tnn: tnn.Softmax(dim=1), (3, 4)),
    "log_softmax": (lambda: nn.LogSoftmax(dim=-1), lambda tnn: tnn.LogSoftmax(dim=-1), (2, 3, 4)),
    "flatten": (lambda: nn.Flatten(), lambda tnn: tnn.Flatten(), (2, 3, 2, 2)),
    "flatten_range": (lambda: nn.Flatten(0, 2), lambda tnn: tnn.Flatten(0, 2), (2, 3, 2, 2)),
    "identity": (lambda: nn.Identity(7, unused=True), lambda tnn: tnn.Identity(7, unused=True), (2, 3)),
    "dropout_eval": (lambda: nn.Dropout(0.3).eval(), lambda tnn: tnn.Dropout(0.3).eval(), (4, 5)),
    "batch_norm_2d_eval": (lambda: nn.BatchNorm2d(3).eval(), lambda tnn: tnn.BatchNorm2d(3).eval(), (2, 3, 2, 2)),
}


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_matches_torch(name, dtype, rng):
    torch = pytest.importorskip("torch")
    make_ours, make_theirs, shape = LAYERS[name]
    theirs = make_theirs(torch.nn)
    if name.endswith("_eval"):  # meaningful running statistics to normalise with
        for buffer_name, buffer in theirs.named_buffers():
            if buffer_name in ("running_mean", "running_var"):
                buffer.uniform_(0.5, 2.0)
    compare_with_torch(make_ours(), theirs, rng.standard_normal(shape), dtype, rng)


@pytest.mark.parametrize("name", list(LAYERS))
def test_gradcheck_module_inputs_and_parameters(name, rng):
    make_ours, _, shape = LAYERS[name]
    module = make_ours().double()
    assert gradcheck(module, [rng.standard_normal(shape)])


def test_output_dtype_follows_the_module(rng):
    for dtype in (np.float32, np.float64):
        model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 2))
        model.to(dtype)
        x = md.tensor(rng.standard_normal((2, 2, 4, 4)).astype(dtype), requires_grad=True)
        out = model(x)
        out.sum().backward()
        assert out.dtype == dtype and x.grad.dtype == dtype
        assert all(p.grad.dtype == dtype for p in model.parameters())


# ---------------------------------------------------------------------- shapes
@settings(max_examples=20)
@given(n=st.integers(1, 2), groups=st.integers(1, 2), c=st.integers(1, 2), f=st.integers(1, 2),
       h=st.integers(4, 8), w=st.integers(4, 8), k=st.integers(1, 3), s=st.integers(1, 3), p=st.integers(0, 2),
       d=st.integers(1, 2))
def test_conv_output_shapes(n, groups, c, f, h, w, k, s, p, d):
    conv = nn.Conv2d(c * groups, f * groups, k, stride=s, padding=p, dilation=d, groups=groups)
    out = conv(md.tensor(np.zeros((n, c * groups, h, w), dtype=np.float32)))
    size = lambda x: (x + 2 * p - d * (k - 1) - 1) // s + 1  # noqa: E731
    assert out.shape == (n, f * groups, size(h), size(w))
    assert conv.weight.shape == (f * groups, c, k, k)

    up = nn.ConvTranspose2d(f * groups, c * groups, k, stride=s, padding=min(p, d * (k - 1) // 2), dilation=d,
                            groups=groups)
    back = up(out)
    pt = up.padding[0]
    inverse = lambda x: (x - 1) * s - 2 * pt + d * (k - 1) + 1  # noqa: E731
    assert back.shape == (n, c * groups, inverse(size(h)), inverse(size(w)))
    assert up.weight.shape == (f * groups, c, k, k)


def test_conv_transpose_output_size_undoes_a_strided_conv(rng):
    torch = pytest.importorskip("torch")
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1)
    up = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    theirs = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    load_from_torch(up, theirs)
    for size in [(7, 8), (8, 7)]:
        x = md.tensor(rng.standard_normal((1, 2) + size).astype(np.float32))
        y = conv(x)
        assert y.shape == (1, 3, 4, 4)
        out = up(y, output_size=x.shape)
        assert out.shape == x.shape
        expected = theirs(torch.from_numpy(y.numpy()), output_size=list(size)).detach().numpy()
        assert_close(out.numpy(), expected, np.float32)
    with pytest.raises(ValueError, match="requested output height 9, but for an input height of 4 the valid "
                                         "sizes are 7 to 8"):
        up(y, output_size=(9, 8))
    with pytest.raises(ValueError, match=r"output_size must be \(H_out, W_out\) or \(N, C, H_out, W_out\)"):
        up(y, output_size=(2, 7, 8))


def test_separable_conv_structure_and_parameter_count():
    c, f, k = 6, 10, 3
    block = nn.DepthwiseSeparableConv2d(c, f, k, padding=1)
    assert [name for name, _ in block.named_parameters()] == [
        "depthwise.weight", "depthwise.bias", "pointwise.weight", "pointwise.bias"]
    assert block.depthwise.groups == c and block.pointwise.kernel_size == (1, 1)
    assert sum(p.numel() for p in block.parameters()) == c * k * k + c + c * f + f
    no_bias = nn.DepthwiseSeparableConv2d(c, f, k, bias=False)
    assert sum(p.numel() for p in no_bias.parameters()) == c * k * k + c * f
    assert block(md.tensor(np.zeros((2, c, 5, 5), dtype=np.float32))).shape == (2, f, 5, 5)


def test_max_pool_indices_and_unpool_match_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.uniform(0.1, 1.0, (2, 3, 5, 7))  # positive, so that the zeros of unpooling never win a max
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    out, indices = pool(md.tensor(x, requires_grad=True))
    t_out, t_indices = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(indices.numpy(), t_indices.numpy())
    assert_close(out.numpy(), t_out.numpy(), np.float64)

    restored = unpool(out, indices, output_size=x.shape)
    expected = torch.nn.MaxUnpool2d(2)(t_out, t_indices, output_size=x.shape)
    assert restored.shape == x.shape
    assert_close(restored.numpy(), expected.numpy(), np.float64)
    # Unpooling puts each maximum back where it was: pooling again finds the same values.
    assert_close(pool(restored)[0].numpy(), out.numpy(), np.float64)


def test_unpool_gradient(rng):
    x = rng.standard_normal((1, 2, 4, 4))
    _, indices = nn.MaxPool2d(2, return_indices=True)(md.tensor(x))
    unpool = nn.MaxUnpool2d(2)
    assert gradcheck(lambda v: unpool(v, indices), [rng.standard_normal((1, 2, 2, 2))])


# ---------------------------------------------------------------------- batch norm details
def test_batch_norm_running_statistics_match_torch_over_several_steps(rng):
    torch = pytest.importorskip("torch")
    for momentum in (0.1, None):  # None: cumulative average, momentum = 1 / batches seen
        ours, theirs = nn.BatchNorm2d(3, momentum=momentum), torch.nn.BatchNorm2d(3, momentum=momentum)
        for _ in range(3):
            x = rng.normal(1.0, 2.0, (4, 3, 2, 2)).astype(np.float32)
            ours(md.tensor(x))
            theirs(torch.from_numpy(x))
        for (name, b), c in zip(ours.named_buffers(), theirs.buffers()):
            np.testing.assert_allclose(b.numpy(), c.numpy(), rtol=1e-6, err_msg=f"{name}, momentum={momentum}")
        assert ours.num_batches_tracked.item() == 3


def test_batch_norm_without_bias_keyword():
    bn = nn.BatchNorm2d(4, bias=False)
    assert [name for name, _ in bn.named_parameters()] == ["weight"]
    assert gradcheck(bn.double(), [np.random.default_rng(1).standard_normal((3, 4, 2, 2))])


@pytest.mark.parametrize("layer, shape, match", [
    (nn.BatchNorm2d(3), (2, 3, 4), r"BatchNorm2d: expected input of shape \(N, C, H, W\), got 3-D input of shape"),
    (nn.BatchNorm1d(3), (2, 3, 4, 4), r"BatchNorm1d: expected input of shape \(N, C\) or \(N, C, L\), got 4-D"),
    (nn.BatchNorm1d(3), (4,), r"BatchNorm1d: expected input of shape \(N, C\) or \(N, C, L\), got 1-D"),
    (nn.BatchNorm1d(3), (4, 5), r"BatchNorm1d: expected C = num_features = 3 channels in dimension 1, got input "
                                r"of shape \(4, 5\)"),
    (nn.BatchNorm2d(3), (2, 4, 2, 2), r"BatchNorm2d: expected C = num_features = 3 channels"),
])
def test_batch_norm_input_errors(layer, shape, match):
    with pytest.raises(ValueError, match=match):
        layer(md.tensor(np.zeros(shape, dtype=np.float32)))


def batch_norm_state(bn):
    """Copies of the running statistics and counter, and their versions."""
    return [(name, b.numpy().copy(), b._version.value) for name, b in bn.named_buffers()]


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("layer, x, error, match", [
    (nn.BatchNorm2d, np.zeros((2, 4, 3, 3), np.float32), ValueError, "BatchNorm2d: expected C = num_features = 3"),
    (nn.BatchNorm2d, np.zeros((2, 3, 3), np.float32), ValueError, "BatchNorm2d: expected input of shape"),
    (nn.BatchNorm2d, np.zeros((2, 3, 3, 3)), TypeError, "batch_norm: weight has dtype float32 but the input"),
    (nn.BatchNorm1d, np.zeros((4, 3), np.int64), TypeError, "batch_norm: input must be a floating point"),
    (nn.BatchNorm1d, np.zeros((1, 3), np.float32), ValueError, "expected more than 1 value per channel"),
    (nn.BatchNorm2d, np.zeros((1, 3, 1, 1), np.float32), ValueError, "expected more than 1 value per channel"),
])
def test_a_refused_batch_leaves_the_running_statistics_and_the_counter_alone(momentum, layer, x, error, match, rng):
    bn = layer(3, momentum=momentum)
    accepted = (4, 3, 2, 2) if layer is nn.BatchNorm2d else (4, 3)
    bn(md.tensor(rng.standard_normal(accepted).astype(np.float32) + 1))  # statistics other than 0 and 1
    before = batch_norm_state(bn)
    assert bn.num_batches_tracked.item() == 1
    with pytest.raises(error, match=match):
        bn(md.tensor(x))
    for (name, value, version), (_, now, now_version) in zip(before, batch_norm_state(bn)):
        np.testing.assert_array_equal(now, value, err_msg=name)
        assert now_version == version, name


def test_batch_norm_after_a_refused_batch_matches_torch(rng):
    torch = pytest.importorskip("torch")
    ours, theirs = nn.BatchNorm2d(3, momentum=None), torch.nn.BatchNorm2d(3, momentum=None)
    batches = [rng.normal(1.0, 2.0, (4, 3, 2, 2)).astype(np.float32) for _ in range(2)]
    ours(md.tensor(batches[0]))
    with pytest.raises(ValueError):
        ours(md.tensor(batches[1][:, :2]))  # refused: the counter must not count it
    ours(md.tensor(batches[1]))
    for x in batches:
        theirs(torch.from_numpy(x))
    for (name, b), c in zip(ours.named_buffers(), theirs.buffers()):
        np.testing.assert_allclose(b.numpy(), c.numpy(), rtol=1e-6, err_msg=name)


# ---------------------------------------------------------------------- dropout
@pytest.mark.parametrize("call, error, match", [
    (lambda: nn.Dropout(0.5)(md.tensor(np.ones(4, np.int64))), TypeError, "dropout: input must be a floating"),
    (lambda: md.functional.dropout(md.tensor(np.ones(4)), p=1.5), ValueError, "dropout: probability p must be"),
    (lambda: md.functional.dropout(np.array(["a"]), p=0.5), TypeError, "tensor: cannot make a tensor from ndarray"),
])
def test_a_refused_dropout_call_draws_no_random_numbers(call, error, match):
    state = md.get_generator().bit_generator.state
    with pytest.raises(error, match=match):
        call()
    assert md.get_generator().bit_generator.state == state


def test_dropout_training_statistics_and_gradient():
    p, n = 0.3, 40000
    drop = nn.Dropout(p)
    x = md.tensor(np.ones(n, dtype=np.float32), requires_grad=True)
    out = drop(x)
    kept = out.numpy() != 0
    # The number dropped is Binomial(n, p): within 5 standard deviations of n p.
    assert abs((~kept).sum() - n * p) <= 5 * np.sqrt(n * p * (1 - p))
    np.testing.assert_allclose(out.numpy()[kept], 1 / (1 - p), rtol=1e-6)  # inverted dropout
    out.backward(np.ones(n, dtype=np.float32))
    np.testing.assert_allclose(x.grad, kept / (1 - p), rtol=1e-6)  # the same mask scales the gradient


def test_dropout_extremes_and_eval():
    x = md.tensor(np.arange(1, 7, dtype=np.float32))
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).numpy(), x.numpy())
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).numpy(), np.zeros(6))
    np.testing.assert_array_equal(nn.Dropout(0.9).eval()(x).numpy(), x.numpy())


@pytest.mark.parametrize("p", [1.5, -0.1, "0.5", True])
def test_dropout_probability_is_checked(p):
    with pytest.raises(ValueError, match="Dropout: probability p must be a number between 0 and 1"):
        nn.Dropout(p)


# ---------------------------------------------------------------------- losses
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_cross_entropy_loss_matches_torch(reduction, label_smoothing, dtype, rng):
    torch = pytest.importorskip("torch")
    scores = (3 * rng.standard_normal((5, 4))).astype(dtype)
    labels = rng.integers(0, 4, 5)
    ours = nn.CrossEntropyLoss(reduction=reduction, label_smoothing=label_smoothing)
    theirs = torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=label_smoothing)
    s_ours, s_theirs = md.tensor(scores, requires_grad=True), torch.tensor(scores, requires_grad=True)
    loss_ours, loss_theirs = ours(s_ours, labels), theirs(s_theirs, torch.from_numpy(labels))
    assert_close(loss_ours.numpy(), loss_theirs.detach().numpy(), dtype)
    upstream = np.ones(loss_ours.shape, dtype=dtype)
    loss_ours.backward(upstream)
    loss_theirs.backward(torch.from_numpy(upstream))
    assert_close(s_ours.grad, s_theirs.grad.numpy(), dtype)
    assert gradcheck(ours, [scores.astype(np.float64), labels])


def test_log_softmax_and_nll_loss_make_cross_entropy(rng):
    scores, labels = rng.standard_normal((6, 3)), rng.integers(0, 3, 6)
    nll = nn.NLLLoss()(nn.LogSoftmax(dim=1)(md.tensor(scores)), labels)
    np.testing.assert_allclose(nll.item(), nn.CrossEntropyLoss()(md.tensor(scores), labels).item(), rtol=1e-12)
    expected = -np.mean(scores[np.arange(6), labels] - np.log(np.exp(scores).sum(axis=1)))
    np.testing.assert_allclose(nll.item(), expected, rtol=1e-12)
    assert gradcheck(nn.NLLLoss(reduction="sum"), [rng.standard_normal((4, 3)), rng.integers(0, 3, 4)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_matches_torch(reduction, rng):
    torch = pytest.importorskip("torch")
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    ours = nn.MSELoss(reduction=reduction)(md.tensor(x), y)
    theirs = torch.nn.MSELoss(reduction=reduction)(torch.tensor(x), torch.tensor(y))
    assert_close(ours.numpy(), theirs.numpy(), np.float64)
    assert gradcheck(lambda v: nn.MSELoss(reduction=reduction)(v, y), [x])


def test_loss_options_after_the_class_weight_are_keyword_only():
    with pytest.raises(TypeError, match="positional argument"):
        nn.CrossEntropyLoss(None, -100)  # PyTorch's second is the deprecated size_average
    assert repr(nn.CrossEntropyLoss(label_smoothing=0.1)) == "CrossEntropyLoss()"


# ---------------------------------------------------------------------- argument errors
@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.Conv2d(4, 6, 3, groups=4), ValueError, "Conv2d: groups=4 must divide out_channels=6"),
    (lambda: nn.Conv2d(3, 6, 3, groups=2), ValueError, "Conv2d: groups=2 must divide in_channels=3"),
    (lambda: nn.Conv2d(0, 6, 3), ValueError, "Conv2d: in_channels must be a positive int, got 0"),
    (lambda: nn.Conv2d(3, 6, 3, groups=0), ValueError, "Conv2d: groups must be a positive int, got 0"),
    (lambda: nn.Conv2d(3, 6, 0), ValueError, r"Conv2d: kernel_size must be positive, got \(0, 0\)"),
    (lambda: nn.Conv2d(3, 6, 3, stride=(1, 0)), ValueError, r"Conv2d: stride must be positive, got \(1, 0\)"),
    (lambda: nn.Conv2d(3, 6, 3, dilation=0), ValueError, r"Conv2d: dilation must be positive"),
    (lambda: nn.Conv2d(3, 6, 3, padding=-1), ValueError, r"Conv2d: padding must be non-negative, got \(-1, -1\)"),
    (lambda: nn.Conv2d(3, 6, 3, stride=2, padding="same"), ValueError,
     r"Conv2d: padding='same' needs stride 1, got stride=\(2, 2\)"),
    (lambda: nn.Conv2d(3, 6, 3, padding="full"), ValueError,
     "Conv2d: padding must be an int, a pair, 'same' or 'valid'"),
    (lambda: nn.Conv2d(3, 6, (3, 3, 3)), TypeError, "Conv2d: kernel_size must be an int or a pair of ints"),
    (lambda: nn.ConvTranspose2d(2, 2, 3, padding="same"), TypeError,
     "ConvTranspose2d: padding must be an int or a pair of ints, got 'same'"),
    (lambda: nn.ConvTranspose2d(4, 6, 3, groups=4), ValueError, "ConvTranspose2d: groups=4 must divide out_channels"),
    (lambda: nn.Conv2d(3, -1, 3), ValueError, "Conv2d: out_channels must be a positive int, got -1"),
    (lambda: nn.Conv2d(3.0, 6, 3), ValueError, "Conv2d: in_channels must be a positive int, got 3.0"),
    (lambda: nn.Conv2d(3, 6, -3), ValueError, r"Conv2d: kernel_size must be positive, got \(-3, -3\)"),
    (lambda: nn.Conv2d(3, 6, (3, -1)), ValueError, r"Conv2d: kernel_size must be positive, got \(3, -1\)"),
    (lambda: nn.Conv2d(3, 6, 2.5), TypeError,
     r"Conv2d: kernel_size must be an int or a pair of ints, got 2.5 \(float\)"),
    (lambda: nn.ConvTranspose2d(3, 6, -2), ValueError, r"ConvTranspose2d: kernel_size must be positive"),
    (lambda: nn.Linear(4, -2), ValueError, "Linear: out_features must be a non-negative int, got -2"),
    (lambda: nn.Linear(-1, 2), ValueError, "Linear: in_features must be a non-negative int, got -1"),
    (lambda: nn.Linear(4.0, 2), ValueError, "Linear: in_features must be a non-negative int, got 4.0"),
    (lambda: nn.Linear("4", 2), ValueError, "Linear: in_features must be a non-negative int, got '4'"),
    (lambda: nn.BatchNorm2d(-1), ValueError, "BatchNorm2d: num_features must be a positive int, got -1"),
    (lambda: nn.BatchNorm1d(0), ValueError, "BatchNorm1d: num_features must be a positive int, got 0"),
    (lambda: nn.BatchNorm1d(3, eps=-1e-5), ValueError, "BatchNorm1d: eps must be at least 0, got -1e-05"),
    (lambda: nn.BatchNorm1d(3, eps="1e-5"), TypeError, r"BatchNorm1d: eps must be a number, got '1e-5' \(str\)"),
    (lambda: nn.BatchNorm2d(3, momentum=2), ValueError, "BatchNorm2d: momentum must be a number between 0 and 1"),
    (lambda: nn.BatchNorm2d(3, momentum="0.1"), ValueError, "BatchNorm2d: momentum must be a number between 0"),
    (lambda: nn.Dropout(p=2), ValueError, "Dropout: probability p must be a number between 0 and 1, got 2"),
])
def test_construction_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("layer, x, error, match", [
    (nn.Conv2d(3, 4, 3), np.zeros((1, 2, 5, 5), np.float32), ValueError, "conv2d: input has 2 channels"),
    (nn.Conv2d(1, 1, 5), np.zeros((1, 1, 3, 3), np.float32), ValueError, "conv2d: the kernel does not fit"),
    (nn.Conv2d(1, 1, 3), np.zeros((1, 1, 3, 3), np.int64), TypeError, "conv2d: input must have a floating point"),
    (nn.Conv2d(1, 1, 3), np.zeros((1, 3, 3), np.float32), ValueError, r"conv2d: input must be 4-D \(N, C, H, W\)"),
    (nn.Linear(4, 2), np.zeros((3, 5), np.float32), ValueError, "linear: input of shape .* expects in_features=4"),
    (nn.MaxPool2d(2, stride=0), np.zeros((1, 1, 4, 4), np.float32), ValueError, "max_pool2d: stride must be positive"),
    (nn.Conv2d(1, 1, 3), np.zeros((1, 1, 3, 3), np.float64), TypeError,
     "conv2d: input has dtype float64 but weight has dtype float32"),
])
def test_layer_call_errors_name_the_function(layer, x, error, match):
    with pytest.raises(error, match=match):
        layer(md.tensor(x))


@pytest.mark.parametrize("output_size, error, match", [
    (7, TypeError, "ConvTranspose2d: output_size must be a tuple or list of ints"),
    ((7.0, 7), TypeError, "ConvTranspose2d: output_size must be a tuple or list of ints"),
    ((1, 7, 7), ValueError, r"ConvTranspose2d: output_size must be \(H_out, W_out\) or \(N, C, H_out, W_out\)"),
])
def test_conv_transpose_output_size_errors(output_size, error, match):
    up = nn.ConvTranspose2d(2, 2, 3, stride=2)
    with pytest.raises(error, match=match):
        up(md.zeros(1, 2, 3, 3), output_size=output_size)


def test_numpy_integers_count_as_ints_as_in_pytorch(rng):
    torch = pytest.importorskip("torch")
    i = np.int64
    ours = nn.Conv2d(i(3), i(4), i(3), stride=(i(2), 1), padding=i(1))
    theirs = torch.nn.Conv2d(np.int64(3), np.int64(4), np.int64(3), stride=(np.int64(2), 1), padding=np.int64(1))
    assert (ours.in_channels, ours.kernel_size, ours.stride) == (3, (3, 3), (2, 1))
    assert all(type(v) is int for v in (ours.in_channels, ours.out_channels, *ours.kernel_size, *ours.stride))
    load_from_torch(ours, theirs)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    assert_close(ours(md.tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(), np.float32)
    pooled = md.functional.adaptive_avg_pool2d(md.tensor(x), (i(2), None))
    assert pooled.shape == (2, 3, 2, 6)
    assert nn.Linear(i(4), i(2)).weight.shape == (2, 4)


@pytest.mark.parametrize("in_features, out_features", [(0, 3), (4, 0)])
def test_linear_with_no_features_is_pytorchs(in_features, out_features, rng):
    torch = pytest.importorskip("torch")
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        ours = nn.Linear(in_features, out_features)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):  # PyTorch's own
        theirs = torch.nn.Linear(in_features, out_features)
    load_from_torch(ours, theirs)
    x = rng.standard_normal((2, in_features)).astype(np.float32)
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    assert_close(ours(md.tensor(x)).numpy(), expected, np.float32)
    assert expected.shape == (2, out_features)


# ---------------------------------------------------------------------- initialisers: argument errors
@pytest.mark.parametrize("call, error, match", [
    (lambda w: nn.init.uniform_(w, 1.0, 0.0), ValueError, r"uniform_: expects a range \[a, b\) with a <= b, got a=1.0"),
    (lambda w: nn.init.uniform_(w, "0", 1), TypeError, r"uniform_: a must be a number, got '0' \(str\)"),
    (lambda w: nn.init.normal_(w, 0.0, -1.0), ValueError, "normal_: std must be at least 0, got -1.0"),
    (lambda w: nn.init.normal_(w, 0.0, float("nan")), ValueError, "normal_: std must be at least 0, got nan"),
    (lambda w: nn.init.normal_(w, None), TypeError, "normal_: mean must be a number, got None"),
    (lambda w: nn.init.constant_(w, "x"), TypeError, r"constant_: val must be a number, got 'x' \(str\)"),
])
def test_initialiser_arguments_are_checked_before_anything_is_drawn_or_filled(call, error, match):
    weight = nn.Parameter(np.ones((3, 2), dtype=np.float32))
    state = md.get_generator().bit_generator.state
    with pytest.raises(error, match=match):
        call(weight)
    np.testing.assert_array_equal(weight.numpy(), np.ones((3, 2)))
    assert weight._version.value == 0 and md.get_generator().bit_generator.state == state


@pytest.mark.parametrize("initialiser", [nn.init.kaiming_uniform_, nn.init.kaiming_normal_, nn.init.xavier_uniform_,
                                         nn.init.xavier_normal_])
def test_initialising_a_zero_element_tensor_does_nothing_and_says_so(initialiser):
    weight = nn.Parameter(np.empty((0, 3), dtype=np.float32))
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        assert initialiser(weight) is weight
    assert weight._version.value == 0
