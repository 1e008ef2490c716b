"""minidl.explain: the math of each attribution method on models whose answers are known by hand,
the target and input rules they share, and the model's state before and after."""

import re

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import functional as F
from minidl import nn
from minidl.explain import (Deconvolution, GuidedBackprop, GuidedGradCam, InputXGradient, IntegratedGradients,
                            LayerAttribution, LayerGradCam, NoiseTunnel, Occlusion, Saliency, explain,
                            input_gradient, last_conv_layer, saliency_map)
from minidl.explain.integrated_gradients import QUADRATURE_METHODS, quadrature
from minidl.explain.methods import METHODS, occlusion_window
from minidl.relu_rules import relu_rule
from minidl.zoo import lenet5


@pytest.fixture(autouse=True)
def seeded():
    md.manual_seed(0)


def linear(weight, bias=None):
    """nn.Linear holding the given (out, in) weights, float64."""
    weight = np.asarray(weight, dtype=np.float64)
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None).double()
    layer.weight.data = weight
    if bias is not None:
        layer.bias.data = np.asarray(bias, dtype=np.float64)
    return layer


def small_cnn(classes=4, channels=2):
    """conv -> ReLU -> max pool -> conv -> ReLU -> flatten -> linear, float64, for 8x8 images."""
    return nn.Sequential(nn.Conv2d(channels, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(3, 4, 3),
                         nn.ReLU(), nn.Flatten(), nn.Linear(4 * 2 * 2, classes)).double()


# ---------------------------------------------------------------------- the three ReLU rules
# x -> ReLU -> Linear with S = w . relu(x): dS/d relu(x) = w, and the three rules send w back as
#   backprop  w * [x > 0]           = [1, 0, -2, 0, 3]
#   deconvnet max(w, 0)             = [1, 0,  0, 2, 3]
#   guided    max(w, 0) * [x > 0]   = [1, 0,  0, 0, 3]
X = np.array([[1.0, -2.0, 3.0, -4.0, 5.0]])
W = np.array([[1.0, -1.0, -2.0, 2.0, 3.0]])
TEXTBOOK = {"backprop": [1, 0, -2, 0, 3], "deconvnet": [1, 0, 0, 2, 3], "guided": [1, 0, 0, 0, 3]}


class FunctionalReLU(nn.Module):
    def __init__(self, how):
        super().__init__()
        self.how, self.fc = how, linear(W)

    def forward(self, x):
        return self.fc(F.relu(x) if self.how == "F.relu" else x.relu())


def rule_results(model):
    return {"backprop": Saliency(model).attribute(X, target=0, abs=False).numpy(),
            "deconvnet": Deconvolution(model).attribute(X, target=0).numpy(),
            "guided": GuidedBackprop(model).attribute(X, target=0).numpy()}


@pytest.mark.parametrize("model", [nn.Sequential(nn.ReLU(), linear(W)), FunctionalReLU("F.relu"),
                                   FunctionalReLU("Tensor.relu")], ids=["nn.ReLU", "F.relu", "Tensor.relu"])
def test_the_three_relu_rules_give_the_textbook_results(model):
    results = rule_results(model)
    for rule, expected in TEXTBOOK.items():
        np.testing.assert_array_equal(results[rule], [expected], err_msg=rule)


class SharedReLU(nn.Module):
    """x -> relu -> fc1 -> the same relu -> fc2: one ReLU module used twice."""

    def __init__(self, rng):
        super().__init__()
        self.relu = nn.ReLU()
        self.fc1, self.fc2 = linear(rng.standard_normal((6, 5))), linear(rng.standard_normal((1, 6)))

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(self.relu(x))))


def test_the_rules_hold_at_every_use_of_a_reused_relu(rng):
    model = SharedReLU(rng)
    w1, w2 = model.fc1.weight.numpy(), model.fc2.weight.numpy()[0]
    z = w1 @ np.maximum(X[0], 0)
    rules = {"backprop": lambda r, pre: r * (pre > 0), "deconvnet": lambda r, pre: np.maximum(r, 0),
             "guided": lambda r, pre: np.maximum(r, 0) * (pre > 0)}
    results = rule_results(model)
    for name, rule in rules.items():
        expected = rule(w1.T @ rule(w2, z), X[0])
        np.testing.assert_allclose(results[name][0], expected, rtol=1e-12, atol=1e-15, err_msg=name)


def test_the_rule_is_read_when_the_forward_pass_runs():
    x = md.tensor(X, requires_grad=True)
    with relu_rule("guided"):
        y = F.relu(x)
    (y * md.tensor(W)).sum().backward()    # backward outside the block still follows the guided rule
    np.testing.assert_array_equal(x.grad.numpy(), [TEXTBOOK["guided"]])
    with pytest.raises(ValueError, match="relu_rule: rule must be one of backprop, guided, deconvnet, got 'lrp'"):
        with relu_rule("lrp"):
            pass


# ---------------------------------------------------------------------- gradients of the logit
def autograd_gradient(model, x, targets):
    leaf = md.tensor(x, requires_grad=True)
    scores = model(leaf)
    scores[np.arange(len(x)), targets].sum().backward()
    return leaf.grad.numpy()


@settings(max_examples=5)
@given(seed=st.integers(0, 2 ** 16), target=st.integers(0, 3))
def test_saliency_is_the_gradient_of_the_logit(seed, target):
    rng = np.random.default_rng(seed)
    md.manual_seed(seed)
    model, x = small_cnn(), rng.standard_normal((3, 2, 8, 8))
    expected = autograd_gradient(model, x, [target] * 3)
    model.zero_grad()
    np.testing.assert_array_equal(Saliency(model).attribute(x, target=target, abs=False).numpy(), expected)
    np.testing.assert_array_equal(Saliency(model).attribute(x, target=target).numpy(), np.abs(expected))
    np.testing.assert_array_equal(input_gradient(model, x, target).numpy(), expected)
    np.testing.assert_array_equal(InputXGradient(model).attribute(x, target=target).numpy(), x * expected)
    np.testing.assert_array_equal(saliency_map(model, x, target).numpy(), np.abs(expected).max(axis=1))


def test_the_score_is_the_logit_not_the_softmax(rng):
    model, x = small_cnn(), rng.standard_normal((1, 2, 8, 8))
    leaf = md.tensor(x, requires_grad=True)
    F.softmax(model(leaf), dim=1)[0, 1].backward()
    logit_gradient = Saliency(model).attribute(x, target=1, abs=False).numpy()
    assert not np.allclose(leaf.grad.numpy(), logit_gradient)
    np.testing.assert_array_equal(logit_gradient, autograd_gradient(model, x, [1]))


def test_targets_one_for_all_one_per_example_or_a_tensor(rng):
    model, x = small_cnn(), rng.standard_normal((3, 2, 8, 8))
    per_example = autograd_gradient(model, x, [2, 0, 3])
    saliency = Saliency(model)
    for target in ([2, 0, 3], np.array([2, 0, 3]), md.tensor(np.array([2, 0, 3]))):
        np.testing.assert_array_equal(saliency.attribute(x, target=target, abs=False).numpy(), per_example)
    np.testing.assert_array_equal(saliency.attribute(x, target=md.tensor(np.array([1])), abs=False).numpy(),
                                  autograd_gradient(model, x, [1, 1, 1]))


def test_target_none_only_for_a_model_with_one_output(rng):
    x = rng.standard_normal((2, 3))
    single = linear([[1.0, -2.0, 0.5]])
    np.testing.assert_array_equal(Saliency(single).attribute(x, abs=False).numpy(), [[1, -2, 0.5]] * 2)
    with pytest.raises(ValueError, match="Saliency: target=None needs a model with one output, this one has 2 "
                                         "classes; pass target=CLASS"):
        Saliency(linear(np.ones((2, 3)))).attribute(x)


@pytest.mark.parametrize("call, message", [
    (lambda m, x: Saliency(m).attribute(x, target=4),
     "Saliency: target 4 is out of range for a model with 4 output classes (0 to 3)"),
    (lambda m, x: GuidedBackprop(m).attribute(x, target=[0, -1]),
     "GuidedBackprop: target -1 is out of range for a model with 4 output classes (0 to 3)"),
    (lambda m, x: Occlusion(m).attribute(x, (2, 2, 2), target=[0, 1, 2]),
     "Occlusion: expected one target for each of the 2 examples, got 3"),
    (lambda m, x: IntegratedGradients(m).attribute(x, target=1.5),
     "IntegratedGradients: target must be a class index (an int) or one per example, got 1.5"),
    (lambda m, x: LayerGradCam(m, "9"),
     "LayerGradCam: the model has no layer '9'; its layers are 0, 1, 2, 3, 4, 5, 6 (model.named_modules() lists"),
    (lambda m, x: LayerGradCam(lenet5(), "features.conv9"),
     "LayerGradCam: the model has no layer 'features.conv9'; did you mean features.conv2 or features.conv1 or "),
    (lambda m, x: Deconvolution(m).attribute(x[:, :1], target=0),
     "Deconvolution: the model's first convolution (0) takes 2-channel images, got inputs of shape (2, 1, 8, 8)"),
    (lambda m, x: Saliency(m).attribute(x[0], target=0),
     "Saliency: expected a batch of images (N, C, H, W), got inputs of shape (2, 8, 8)"),
    (lambda m, x: Saliency(m).attribute(np.zeros((2, 2, 10, 10)), target=0),
     "Saliency: linear: "),
])
def test_bad_input_is_a_one_line_error_naming_the_method(rng, call, message):
    model, x = small_cnn(), rng.standard_normal((2, 2, 8, 8))
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        call(model, x)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("method", [lambda m: LayerGradCam(m, "features.conv2"), lambda m: Occlusion(m)])
def test_an_image_of_the_wrong_size_for_lenet_names_the_method_and_the_size(method):
    attribution = method(lenet5())
    options = {"sliding_window_shapes": (1, 4, 4)} if isinstance(attribution, Occlusion) else {}
    with pytest.raises(ValueError, match=rf"{attribution.name}: LeNet5: expected images of shape \(N, 1, 28, 28\) "
                                         r"\(the size its fully connected layers were built for\), got shape"):
        attribution.attribute(np.zeros((1, 1, 32, 32), np.float32), target=0, **options)


# ---------------------------------------------------------------------- the model and the inputs are left as they were
def test_the_model_runs_in_evaluation_mode_and_keeps_its_modes_and_gradients(rng):
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Dropout(0.5), nn.Flatten(),
                          nn.Linear(3 * 6 * 6, 4)).double()
    model.train()
    model[1].eval()                       # a mixed state must come back as it was
    model[0].weight.grad = np.full(model[0].weight.shape, 7.0)
    model[5].weight.requires_grad = False
    x = md.tensor(rng.standard_normal((2, 2, 8, 8)))
    first = GuidedBackprop(model).attribute(x, target=1).numpy()
    second = GuidedBackprop(model).attribute(x, target=1).numpy()
    np.testing.assert_array_equal(first, second)          # dropout off: the same map twice
    assert [m.training for m in model.modules()] == [True, True, False, True, True, True, True]
    np.testing.assert_array_equal(model[0].weight.grad.numpy(), 7.0)
    assert model[0].bias.grad is None and model[5].bias.grad is None
    assert model[5].weight.requires_grad is False and model[5].bias.requires_grad is True
    assert x.requires_grad is False and x.grad is None
    leaf = md.tensor(x.numpy(), requires_grad=True)
    Saliency(model).attribute(leaf, target=0)
    assert leaf.requires_grad is True and leaf.grad is None


def test_float32_in_float32_out_and_float64_in_float64_out(rng):
    model = small_cnn()
    for dtype in (np.float32, np.float64):
        model.to(dtype)
        x = rng.standard_normal((1, 2, 8, 8)).astype(dtype)
        for method in METHODS:
            assert explain(model, x, method, 0).dtype == dtype, method


# ---------------------------------------------------------------------- integrated gradients
class Smooth(nn.Module):
    """A smooth two-layer network (tanh), on which quadrature converges fast."""

    def __init__(self, rng):
        super().__init__()
        self.fc1, self.fc2 = linear(rng.standard_normal((8, 5)), rng.standard_normal(8)), linear(
            rng.standard_normal((3, 8)), rng.standard_normal(3))

    def forward(self, x):
        return self.fc2(F.tanh(self.fc1(x)))


@settings(max_examples=8)
@given(seed=st.integers(0, 2 ** 16), target=st.integers(0, 2))
def test_integrated_gradients_add_up_to_the_change_of_the_score(seed, target):
    rng = np.random.default_rng(seed)
    model, x, baseline = Smooth(rng), rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    attributions, delta = IntegratedGradients(model).attribute(x, baselines=baseline, target=target, n_steps=50,
                                                              return_convergence_delta=True)
    with md.no_grad():
        change = model(md.tensor(x)).numpy()[:, target] - model(md.tensor(baseline)).numpy()[:, target]
    np.testing.assert_allclose(attributions.numpy().sum(axis=1), change, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(delta.numpy(), attributions.numpy().sum(axis=1) - change, atol=1e-15)


@pytest.mark.parametrize("method", QUADRATURE_METHODS)
def test_every_quadrature_rule_integrates_a_constant_gradient_exactly(rng, method):
    # For S = w.x + b the integrand is constant: IG = (x - x') * w whatever the nodes, if the weights add to 1.
    w = rng.standard_normal((1, 6))
    x, baseline = rng.standard_normal((3, 6)), rng.standard_normal(6)
    got = IntegratedGradients(linear(w, [0.3])).attribute(x, baselines=baseline, n_steps=7, method=method)
    np.testing.assert_allclose(got.numpy(), (x - baseline) * w, rtol=1e-13, atol=1e-14)


def test_quadrature_nodes_and_weights():
    alphas, weights = quadrature("riemann_trapezoid", 5)
    np.testing.assert_allclose(alphas, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(weights, [0.125, 0.25, 0.25, 0.25, 0.125])
    np.testing.assert_allclose(quadrature("riemann_middle", 4)[0], [0.125, 0.375, 0.625, 0.875])
    np.testing.assert_allclose(quadrature("riemann_left", 4)[0], [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(quadrature("riemann_right", 4)[0], [0.25, 0.5, 0.75, 1])
    alphas, weights = quadrature("gausslegendre", 3)   # exact for polynomials of degree 5
    assert np.sum(weights * alphas ** 5) == pytest.approx(1 / 6, rel=1e-14)
    with pytest.raises(ValueError, match="IntegratedGradients: n_steps must be a positive int, got 0"):
        quadrature("gausslegendre", 0)
    with pytest.raises(ValueError, match="IntegratedGradients: method must be one of gausslegendre"):
        quadrature("simpson", 10)


def test_integrated_gradients_in_batches_give_the_same_result(rng):
    model, x = small_cnn(), rng.standard_normal((3, 2, 8, 8))
    whole = IntegratedGradients(model).attribute(x, target=[0, 1, 2], n_steps=6)
    batched = IntegratedGradients(model).attribute(x, target=[0, 1, 2], n_steps=6, internal_batch_size=4)
    np.testing.assert_allclose(batched.numpy(), whole.numpy(), rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------- occlusion
class Weighted(nn.Module):
    """S = sum_i w_i x_i over a (1, 1, 5) input: covering a window drops S by sum_window w_i (x_i - b)."""

    def __init__(self, w):
        super().__init__()
        self.w = md.tensor(np.asarray(w, dtype=np.float64))

    def forward(self, x):
        return (x * self.w).reshape(len(x), -1).sum(axis=1)


LINE = np.array([[[[1.0, 2.0, 3.0, 4.0, 5.0]]]])


@pytest.mark.parametrize("window, stride, expected", [
    # width 2, stride 2: windows at 0, 2, 4 (ceil(3/2) + 1 = 3), the last cut to one element
    (2, 2, [3, 3, 7, 7, 5]),
    # width 2, stride 1: windows at 0..3 dropping 3, 5, 7, 9; inner elements average two windows
    (2, 1, [3, 4, 6, 8, 9]),
    # width 3, stride 2: windows at 0 and 2 dropping 6 and 12; element 2 averages both
    (3, 2, [6, 6, 9, 12, 12]),
    # width 4, stride 3: windows at 0 and 3 (ceil(1/3) + 1 = 2), the second cut to [3, 5)
    (4, 3, [10, 10, 10, 9.5, 9]),
])
def test_occlusion_by_hand(window, stride, expected):
    model = Weighted(np.ones((1, 1, 5)))
    got = Occlusion(model).attribute(LINE, sliding_window_shapes=(1, 1, window), strides=(1, 1, stride))
    np.testing.assert_allclose(got.numpy(), [[[expected]]], rtol=1e-15)


def test_occlusion_with_a_baseline_weights_and_windows_in_one_pass():
    model = Weighted([[[2.0, -1.0, 0.0, 1.0, 3.0]]])
    # w_i (x_i - 1) = [0, -1, 0, 3, 12]: covering [i, i+2) with 1 drops -1, -1, 3, 15 (i = 0..3)
    expected = [[[[-1, -1, 1, 9, 15]]]]
    for per_eval in (1, 3, 10):
        got = Occlusion(model).attribute(LINE, (1, 1, 2), strides=1, baselines=1.0, perturbations_per_eval=per_eval)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-15)


def test_occlusion_of_images_covers_the_edges_and_matches_a_loop(rng):
    model, x = small_cnn(), rng.standard_normal((2, 2, 8, 8))
    got = Occlusion(model).attribute(x, (2, 3, 3), strides=(2, 2, 2), target=[1, 3], perturbations_per_eval=5)
    with md.no_grad():
        scores = lambda images: model(md.tensor(images)).numpy()[np.arange(2), [1, 3]]   # noqa: E731
        total, count = np.zeros_like(x), np.zeros(x.shape[1:])
        for i in (0, 2, 4, 6):                  # ceil((8 - 3)/2) + 1 = 4 places, the last cut at 8
            for j in (0, 2, 4, 6):
                covered = x.copy()
                covered[:, :, i:i + 3, j:j + 3] = 0
                total[:, :, i:i + 3, j:j + 3] += (scores(x) - scores(covered))[:, None, None, None]
                count[:, i:i + 3, j:j + 3] += 1
    np.testing.assert_allclose(got.numpy(), total / count, rtol=1e-12)


@settings(max_examples=12)
@given(size=st.integers(1, 9), window=st.integers(1, 9), stride=st.integers(1, 9), seed=st.integers(0, 2 ** 16))
def test_occlusion_is_the_mean_drop_of_the_windows_covering_each_element(size, window, stride, seed):
    assume(window <= size and (stride <= window or window == size))
    rng = np.random.default_rng(seed)
    w, x, baseline = rng.standard_normal((1, 1, size)), rng.standard_normal((1, 1, 1, size)), rng.standard_normal()
    total, count = np.zeros(size), np.zeros(size)
    start = 0
    while True:                          # windows move by the stride until one reaches the end
        drop = np.sum(w[0, 0, start:start + window] * (x[0, 0, 0, start:start + window] - baseline))
        total[start:start + window] += drop
        count[start:start + window] += 1
        if start + window >= size:
            break
        start += stride
    got = Occlusion(Weighted(w)).attribute(x, (1, 1, window), strides=(1, 1, stride), baselines=baseline)
    np.testing.assert_allclose(got.numpy()[0, 0, 0], total / count, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("window, stride, message", [
    ((1, 1, 6), 1, r"Occlusion: the sliding window \(1, 1, 6\) is larger than the inputs \(1, 1, 5\)"),
    ((1, 1, 2), (1, 1, 3), "Occlusion: stride 3 is larger than the sliding window's size 2 along an axis of size 5"),
    ((1, 2), 1, "Occlusion: sliding_window_shapes must give one size for each of the 3 axes"),
    ((1, 1, 0), 1, "Occlusion: each sliding window size must be a positive int, got 0"),
])
def test_occlusion_refuses_windows_it_cannot_slide(window, stride, message):
    with pytest.raises(ValueError, match=message):
        Occlusion(Weighted(np.ones((1, 1, 5)))).attribute(LINE, window, strides=stride)


def test_a_stride_larger_than_a_window_that_covers_the_whole_axis_is_allowed():
    got = Occlusion(Weighted(np.ones((1, 1, 5)))).attribute(LINE, (1, 1, 5), strides=(7, 7, 7))
    np.testing.assert_allclose(got.numpy(), np.full((1, 1, 1, 5), 15.0))


def test_occlusion_window_for_small_images():
    assert occlusion_window(28, 28) == (4, 2)
    assert occlusion_window(8, 8) == (2, 1)
    assert occlusion_window(224, 224) == (32, 16)


# ---------------------------------------------------------------------- noise tunnel
class HalfSquare(nn.Module):
    """S = sum_i x_i^2 / 2, whose gradient is x itself."""

    def forward(self, x):
        return (x * x).reshape(len(x), -1).sum(axis=1) / 2


def test_noise_tunnel_averages_the_method_over_the_noise_of_minidls_generator(rng):
    # The gradient at x + e is x + e, so every statistic is known from the noise drawn.
    model = HalfSquare()
    x = rng.standard_normal((2, 1, 3, 3))
    md.manual_seed(5)
    smooth = NoiseTunnel(Saliency(model)).attribute(x, nt_samples=6, nt_samples_batch_size=4, stdevs=0.3, abs=False)
    generator = np.random.default_rng(5)
    noisy = x + np.concatenate([generator.normal(0, 0.3, (4, *x.shape)), generator.normal(0, 0.3, (2, *x.shape))])
    np.testing.assert_allclose(smooth.numpy(), noisy.mean(axis=0), rtol=1e-12)
    md.manual_seed(5)
    variance = NoiseTunnel(Saliency(model)).attribute(x, nt_type="vargrad", nt_samples=6, nt_samples_batch_size=4,
                                                      stdevs=0.3, abs=False)
    np.testing.assert_allclose(variance.numpy(), noisy.var(axis=0), rtol=1e-9)
    md.manual_seed(5)
    squared = NoiseTunnel(Saliency(model)).attribute(x, nt_type="smoothgrad_sq", nt_samples=6,
                                                     nt_samples_batch_size=4, stdevs=0.3)
    np.testing.assert_allclose(squared.numpy(), (noisy ** 2).mean(axis=0), rtol=1e-12)


def test_noise_tunnel_passes_targets_per_example_and_refuses_other_types(rng):
    model, x = small_cnn(), rng.standard_normal((2, 2, 8, 8))
    without_noise = NoiseTunnel(GuidedBackprop(model)).attribute(x, nt_samples=3, stdevs=0.0, target=[3, 1])
    np.testing.assert_allclose(without_noise.numpy(), GuidedBackprop(model).attribute(x, target=[3, 1]).numpy(),
                               rtol=1e-13)
    with pytest.raises(ValueError, match="NoiseTunnel: nt_type must be one of smoothgrad, smoothgrad_sq, vargrad"):
        NoiseTunnel(Saliency(model)).attribute(x, nt_type="smooth", target=0)
    with pytest.raises(TypeError, match="NoiseTunnel: expected an attribution method such as Saliency"):
        NoiseTunnel(model)


# ---------------------------------------------------------------------- Grad-CAM
class CamNet(nn.Module):
    """conv (K maps) -> global average pool -> linear: S_c = sum_k w_ck mean(A^k) + b_c (CAM's network)."""

    def __init__(self, rng):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3).double()
        self.fc = linear(rng.standard_normal((4, 3)), rng.standard_normal(4))

    def forward(self, x):
        return self.fc(F.global_avg_pool2d(self.conv(x)).reshape(len(x), -1))


def test_grad_cam_of_a_linear_map_is_the_class_activation_map_over_z(rng):
    model, x = CamNet(rng), rng.standard_normal((2, 2, 7, 7))
    with md.no_grad():
        maps = model.conv(md.tensor(x)).numpy()                                       # (2, 3, 5, 5)
    w = model.fc.weight.numpy()
    expected = np.einsum("k,nkij->nij", w[2], maps)[:, None] / 25                     # alpha_k = w_ck / Z
    for layer in ("conv", model.conv):
        got = LayerGradCam(model, layer).attribute(x, target=2)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    rectified = LayerGradCam(model, "conv").attribute(x, target=2, relu_attributions=True)
    np.testing.assert_allclose(rectified.numpy(), np.maximum(expected, 0), rtol=1e-12)


def test_interpolation_is_a_separate_step_and_guided_grad_cam_multiplies(rng):
    model, x = CamNet(rng), rng.standard_normal((1, 2, 7, 7))
    cam = LayerGradCam(model, "conv").attribute(x, target=1, relu_attributions=True)
    up = LayerAttribution.interpolate(cam, (10, 10))
    np.testing.assert_array_equal(up.numpy()[0, 0], cam.numpy()[0, 0][np.arange(10) // 2][:, np.arange(10) // 2])
    guided = GuidedBackprop(model).attribute(x, target=1).numpy()
    both = GuidedGradCam(model, "conv").attribute(x, target=1).numpy()
    np.testing.assert_allclose(both, guided * LayerAttribution.interpolate(cam, (7, 7)).numpy(), rtol=1e-14)


def test_the_last_convolution_is_found():
    assert last_conv_layer(small_cnn()) == "3"
    with pytest.raises(ValueError, match="last_conv_layer: Linear has no Conv2d layer"):
        last_conv_layer(linear(np.ones((2, 2))))


# ---------------------------------------------------------------------- the methods by name
def test_every_method_by_name_keeps_the_input_resolution(rng):
    model, x = small_cnn(), rng.standard_normal((2, 2, 8, 8))
    for method in METHODS:
        shape = explain(model, x, method, [0, 3]).shape
        assert shape == ((2, 1, 8, 8) if method == "gradcam" else (2, 2, 8, 8)), method
    with pytest.raises(ValueError, match="explain: only gradcam takes a layer"):
        explain(model, x, "saliency", 0, layer="0")
    with pytest.raises(ValueError, match="explain: method must be one of saliency"):
        explain(model, x, "lime", 0)


def test_smoothgrad_noise_is_a_share_of_each_images_own_range(rng):
    # Smilkov et al.'s sigma is 15% of the image's max - min: an image's map must not change
    # when a brighter image shares its batch.
    from minidl.explain import explain

    model = small_cnn()
    x = rng.random((2, 2, 8, 8))
    x[1] *= 10
    md.manual_seed(3)
    together = explain(model, x, "smoothgrad", target=[2, 1]).numpy()
    md.manual_seed(3)
    alone = explain(model, x[:1], "smoothgrad", target=2).numpy()
    np.testing.assert_array_equal(together[0], alone[0])
    md.manual_seed(3)
    expected = NoiseTunnel(Saliency(model)).attribute(x[:1], nt_samples=25, stdevs=0.15 * np.ptp(x[0]), target=2)
    np.testing.assert_allclose(alone, expected.numpy(), rtol=1e-12)
