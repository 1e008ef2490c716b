"""minidl.explain against Captum 0.8: the same weights give Captum's numbers for every shared method.

Needs torch and captum (``pip install captum==0.8.0``); skipped without them. Captum's guided and
deconvnet rules hook nn.ReLU modules only, so the twin networks use a module for every ReLU.
"""

import numpy as np
import pytest

import minidl as md
from minidl import nn
from minidl.explain import (Deconvolution, GuidedBackprop, GuidedGradCam, InputXGradient, IntegratedGradients,
                            LayerAttribution, LayerGradCam, NoiseTunnel, Occlusion, Saliency)
from minidl.explain.visualization import clip_value

torch = pytest.importorskip("torch")
captum = pytest.importorskip("captum.attr")

TARGETS = [1, 4, 0]

# Captum's notes that it set requires_grad on the inputs and hooked the ReLUs: expected here.
pytestmark = [pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients"),
              pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU activations")]


@pytest.fixture(scope="module")
def twins():
    """A minidl network, its PyTorch twin with the same float64 weights, and three 3x9x9 images."""
    md.manual_seed(3)
    ours = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=2),   # overlapping pools
                         nn.Conv2d(4, 6, 3, stride=1), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 2 * 2, 8), nn.ReLU(),
                         nn.Linear(8, 5)).double()
    theirs = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(3, stride=2),
                                 torch.nn.Conv2d(4, 6, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                 torch.nn.Linear(6 * 2 * 2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 5)).double()
    theirs.load_state_dict({name: torch.from_numpy(np.array(value)) for name, value in ours.state_dict().items()})
    theirs.eval()
    x = np.random.default_rng(0).standard_normal((3, 3, 9, 9))
    return ours, theirs, x


def captum_result(result):
    return result.detach().numpy() if isinstance(result, torch.Tensor) else tuple(r.detach().numpy() for r in result)


def as_torch(x):
    return torch.from_numpy(x.copy())


@pytest.mark.parametrize("ours, theirs, options", [
    (Saliency, captum.Saliency, {}),
    (Saliency, captum.Saliency, {"abs": False}),
    (InputXGradient, captum.InputXGradient, {}),
    (GuidedBackprop, captum.GuidedBackprop, {}),
    (Deconvolution, captum.Deconvolution, {}),
], ids=["saliency", "saliency-signed", "input-x-gradient", "guided", "deconvolution"])
def test_gradient_methods_match_captum(twins, ours, theirs, options):
    model, twin, x = twins
    expected = captum_result(theirs(twin).attribute(as_torch(x), target=TARGETS, **options))
    np.testing.assert_allclose(ours(model).attribute(x, target=TARGETS, **options).numpy(), expected,
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_left", "riemann_right", "riemann_middle"])
def test_integrated_gradients_and_their_delta_match_captum(twins, method):
    model, twin, x = twins
    baseline = np.full_like(x, 0.25)
    expected, expected_delta = captum_result(captum.IntegratedGradients(twin).attribute(
        as_torch(x), baselines=as_torch(baseline), target=TARGETS, n_steps=20, method=method,
        return_convergence_delta=True))
    got, delta = IntegratedGradients(model).attribute(x, baselines=baseline, target=TARGETS, n_steps=20,
                                                      method=method, return_convergence_delta=True)
    # Captum builds the Riemann nodes in float32 (torch.linspace): they differ from ours by ~1e-8.
    rtol = 1e-12 if method == "gausslegendre" else 1e-6
    np.testing.assert_allclose(got.numpy(), expected, rtol=rtol, atol=1e-9)
    np.testing.assert_allclose(delta.numpy(), expected_delta, rtol=rtol, atol=1e-8)


def test_trapezoid_differs_from_captums_by_its_weights_only(twins):
    # Captum's trapezoid weights are 1/n (halved at the ends) for nodes 1/(n - 1) apart; ours 1/(n - 1).
    model, twin, x = twins
    n = 20
    expected = captum_result(captum.IntegratedGradients(twin).attribute(
        as_torch(x), target=TARGETS, n_steps=n, method="riemann_trapezoid"))
    got = IntegratedGradients(model).attribute(x, target=TARGETS, n_steps=n, method="riemann_trapezoid").numpy()
    np.testing.assert_allclose(got * (n - 1) / n, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("window, strides, baselines", [
    ((3, 2, 2), 1, None),
    ((3, 4, 4), (3, 2, 2), 0.5),           # the last windows cut at the edge (9 = 0, 2, 4, 6, 8)
    ((1, 3, 2), (1, 2, 1), "image"),
    ((3, 9, 9), (5, 5, 5), None),          # a window as large as the input, any stride
])
def test_occlusion_matches_captum(twins, window, strides, baselines):
    model, twin, x = twins
    if isinstance(baselines, str):
        baselines = np.random.default_rng(1).standard_normal(x.shape[1:])
    captums_baselines = as_torch(np.broadcast_to(baselines, x.shape)) if isinstance(baselines, np.ndarray) \
        else baselines
    expected = captum_result(captum.Occlusion(twin).attribute(
        as_torch(x), sliding_window_shapes=window, strides=strides, baselines=captums_baselines, target=TARGETS))
    got = Occlusion(model).attribute(x, sliding_window_shapes=window, strides=strides, baselines=baselines,
                                     target=TARGETS, perturbations_per_eval=4)
    # Captum divides in float32 (``single_attrib.float() / weight``).
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("relu_attributions", [False, True])
@pytest.mark.parametrize("layer", [0, 3, 4])
def test_grad_cam_matches_captum(twins, layer, relu_attributions):
    model, twin, x = twins
    expected = captum_result(captum.LayerGradCam(twin, twin[layer]).attribute(
        as_torch(x), target=TARGETS, relu_attributions=relu_attributions))
    got = LayerGradCam(model, str(layer)).attribute(x, target=TARGETS, relu_attributions=relu_attributions)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_interpolation_and_guided_grad_cam_match_captum(twins, mode):
    model, twin, x = twins
    cam = np.random.default_rng(2).standard_normal((3, 1, 3, 3))
    np.testing.assert_allclose(LayerAttribution.interpolate(cam, (9, 9), mode).numpy(),
                               captum_result(captum.LayerAttribution.interpolate(as_torch(cam), (9, 9), mode)),
                               rtol=1e-12, atol=1e-15)
    expected = captum_result(captum.GuidedGradCam(twin, twin[3]).attribute(as_torch(x), target=TARGETS,
                                                                           interpolate_mode=mode))
    got = GuidedGradCam(model, "3").attribute(x, target=TARGETS, interpolate_mode=mode)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("nt_type", ["smoothgrad", "smoothgrad_sq", "vargrad"])
def test_noise_tunnel_matches_captum_given_the_same_noise(twins, monkeypatch, nt_type):
    model, twin, x = twins
    samples, sigma = 4, 0.2
    md.manual_seed(7)
    got = NoiseTunnel(Saliency(model)).attribute(x, nt_type=nt_type, nt_samples=samples, stdevs=sigma,
                                                 target=TARGETS, abs=False)
    noise = np.random.default_rng(7).normal(0, sigma, (samples, *x.shape))   # what minidl's generator drew
    # Captum repeats each input nt_samples times in a row (repeat_interleave): copy k of input i at i * M + k.
    captums_noise = as_torch(noise.transpose(1, 0, 2, 3, 4).reshape(-1, *x.shape[1:]))
    monkeypatch.setattr(captum.NoiseTunnel, "_add_noise_to_input",
                        staticmethod(lambda inputs, stdev, m: inputs.repeat_interleave(m, dim=0) + captums_noise))
    expected = captum_result(captum.NoiseTunnel(captum.Saliency(twin)).attribute(
        as_torch(x), nt_type=nt_type, nt_samples=samples, stdevs=sigma, target=TARGETS, abs=False))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-13)


def test_the_clip_value_is_captums_cumulative_threshold():
    from captum.attr._utils.visualization import _cumulative_sum_threshold
    values = np.abs(np.random.default_rng(4).standard_normal((12, 12))) ** 3
    for outlier_perc in (0, 2, 10, 50):
        assert clip_value([values], outlier_perc) == _cumulative_sum_threshold(values, 100 - outlier_perc)
