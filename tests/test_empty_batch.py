"""An empty batch (N = 0) flows through every layer and every zoo model, as in PyTorch.

A data loader's last batch, a filtered batch or a sampler can hand a model zero images; PyTorch
returns outputs with zero rows (and zero gradients for the parameters), and so does minidl.
"""

import numpy as np
import pytest
from twins import assert_forward_and_backward_agree

import minidl as md
from minidl import functional as F
from minidl import kernels, nn
from minidl.zoo import MODELS

BACKENDS = ["numba", "numpy"]

# name -> (a builder called with minidl.nn or torch.nn, the shape of one example, train mode).
# The builders are written once for both libraries: the modules share PyTorch's names.
LAYERS = {
    "conv2d": (lambda tnn: tnn.Conv2d(3, 4, 3, stride=2, padding=1, dilation=2), (3, 9, 9), True),
    "conv2d 1x1": (lambda tnn: tnn.Conv2d(3, 4, 1), (3, 5, 5), True),
    "conv2d grouped": (lambda tnn: tnn.Conv2d(4, 6, 3, groups=2, bias=False), (4, 6, 6), True),
    "conv2d depthwise": (lambda tnn: tnn.Conv2d(4, 4, 3, padding=1, groups=4), (4, 6, 6), True),
    "conv2d winograd": (lambda tnn: tnn.Conv2d(16, 16, 3, padding=1), (16, 6, 6), True),
    "conv2d same, even kernel": (lambda tnn: tnn.Conv2d(3, 4, (2, 3), padding="same"), (3, 5, 5), True),
    "conv_transpose2d": (lambda tnn: tnn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1),
                         (3, 4, 4), True),
    "conv_transpose2d grouped": (lambda tnn: tnn.ConvTranspose2d(4, 6, 3, groups=2), (4, 4, 4), True),
    "max_pool2d": (lambda tnn: tnn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (3, 6, 6), True),
    "max_pool2d dilated": (lambda tnn: tnn.MaxPool2d(2, dilation=2), (3, 7, 7), True),
    "avg_pool2d": (lambda tnn: tnn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
                   (3, 6, 6), True),
    "adaptive_avg_pool2d": (lambda tnn: tnn.AdaptiveAvgPool2d((3, 2)), (3, 7, 5), True),
    "linear": (lambda tnn: tnn.Linear(5, 3), (5,), True),
    "linear on sequences": (lambda tnn: tnn.Linear(5, 3), (2, 5), True),
    "flatten": (lambda tnn: tnn.Flatten(), (3, 2, 2), True),
    "dropout": (lambda tnn: tnn.Dropout(0.5), (3, 4), True),
    "batch_norm1d": (lambda tnn: tnn.BatchNorm1d(3), (3, 4), False),
    "batch_norm2d": (lambda tnn: tnn.BatchNorm2d(3), (3, 4, 4), False),
    # Training: no statistics to take, the running ones untouched, the counter still counts (as PyTorch).
    "batch_norm2d training": (lambda tnn: tnn.BatchNorm2d(3), (3, 4, 4), True),
    "batch_norm1d training": (lambda tnn: tnn.BatchNorm1d(3), (3,), True),
    "group_norm": (lambda tnn: tnn.GroupNorm(2, 4), (4, 3, 3), True),
    "layer_norm": (lambda tnn: tnn.LayerNorm((3, 3)), (2, 3, 3), True),
    "gelu": (lambda tnn: tnn.GELU(), (3, 4), True),
    "upsample bilinear": (lambda tnn: tnn.Upsample(scale_factor=2, mode="bilinear"), (2, 3, 3), True),
    "a small network": (lambda tnn: tnn.Sequential(tnn.Conv2d(1, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.ReLU(),
                                                   tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(4 * 3 * 3, 2)),
                        (1, 6, 6), False),
}


@pytest.fixture(autouse=True)
def seeded():
    md.manual_seed(0)


# ---------------------------------------------------------------------- kernels
X = np.zeros((0, 4, 6, 6), np.float32)
DOUT = np.zeros((0, 4, 6, 6), np.float32)
WEIGHT = np.ones((4, 1, 3, 3), np.float32)
ONE, TILES = (1, 1), kernels.winograd_tiles((6, 6), (1, 1))
KERNEL_CALLS = {  # kernel -> its arguments for an empty batch of 4-channel 6x6 images, 3x3 windows
    "im2col": (X, (3, 3), ONE, ONE, ONE, (6, 6)),
    "col2im": (np.zeros((0, 36, 36), np.float32), X.shape, (3, 3), ONE, ONE, ONE, (6, 6)),
    "depthwise_conv2d": (X, WEIGHT, None, ONE, ONE, ONE, (6, 6)),
    "direct_conv2d": (X, np.ones((5, 4, 3, 3), np.float32), None, ONE, ONE, ONE, (6, 6)),
    "direct_conv2d_weight_grad": (np.zeros((0, 5, 6, 6), np.float32), X, (5, 4, 3, 3), ONE, ONE, ONE),
    "depthwise_conv2d_input_grad": (DOUT, WEIGHT, X.shape, ONE, ONE, ONE),
    "depthwise_conv2d_weight_grad": (DOUT, X, WEIGHT.shape, ONE, ONE, ONE),
    "winograd_input": (X, ONE, ONE, TILES),
    "winograd_output": (np.zeros((16, 4, 0), np.float32), (6, 6), ONE),
    "winograd_output_grad": (DOUT, ONE),
    "winograd_input_grad": (np.zeros((16, 4, 0), np.float32), X.shape, ONE, ONE, TILES),
    "channel_moments": (X,),
    "channel_sum": (X,),
    "channel_sums": (X, X),
    "channel_affine": (X, np.zeros(4), np.ones(4), np.zeros(4)),
    "relu": (X,),
    "relu_grad": (DOUT, X),
    "add": (DOUT, X),
}


@pytest.mark.filterwarnings("ignore:Mean of empty slice", "ignore:Degrees of freedom",
                            "ignore:invalid value encountered")
@pytest.mark.parametrize("name", list(KERNEL_CALLS))
def test_the_twins_of_every_kernel_agree_on_an_empty_batch(name):
    kernel = getattr(kernels, name)
    reference, fast = kernel.reference(*KERNEL_CALLS[name]), kernel.fast(*KERNEL_CALLS[name])
    for ours, expected in zip(fast if isinstance(fast, tuple) else (fast,),
                              reference if isinstance(reference, tuple) else (reference,)):
        assert ours.shape == expected.shape and ours.dtype == expected.dtype
        np.testing.assert_array_equal(ours, expected)  # zero weight gradients; NaN moments of nothing


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(LAYERS))
def test_an_empty_batch_through_a_layer_matches_torch(name, backend):
    torch = pytest.importorskip("torch")
    build, example_shape, training = LAYERS[name]
    twin = build(torch.nn).double().train(training)
    ours = build(nn).double().train(training)
    ours.load_state_dict(twin.state_dict())
    with md.use_backend(backend):
        x = assert_forward_and_backward_agree(torch, ours, twin, np.zeros((0, *example_shape)), seed=0)
        out = ours(md.tensor(np.zeros((0, *example_shape))))
    expected = twin(torch.zeros((0, *example_shape), dtype=torch.float64))
    assert out.shape == tuple(expected.shape) and out.dtype == np.float64
    assert x.grad.shape == (0, *example_shape)
    for param in ours.parameters():
        np.testing.assert_array_equal(param.grad.numpy(), np.zeros(param.shape))  # a sum over no examples


@pytest.mark.parametrize("backend", BACKENDS)
def test_max_pool_switches_and_unpooling_of_an_empty_batch_match_torch(backend):
    torch = pytest.importorskip("torch")
    x = md.tensor(np.zeros((0, 3, 7, 6)), requires_grad=True)
    x_torch = torch.zeros((0, 3, 7, 6), dtype=torch.float64, requires_grad=True)
    with md.use_backend(backend):
        pooled, indices = nn.MaxPool2d(2, return_indices=True)(x)
        out = nn.MaxUnpool2d(2)(pooled, indices, output_size=x.shape)
        out.sum().backward()
    pooled_torch, indices_torch = torch.nn.MaxPool2d(2, return_indices=True)(x_torch)
    out_torch = torch.nn.MaxUnpool2d(2)(pooled_torch, indices_torch, output_size=x_torch.shape)
    out_torch.sum().backward()
    assert pooled.shape == tuple(pooled_torch.shape) == (0, 3, 3, 3)
    assert indices.shape == tuple(indices_torch.shape) and indices.dtype == np.int64
    assert out.shape == tuple(out_torch.shape) == (0, 3, 7, 6)
    assert x.grad.shape == tuple(x_torch.grad.shape)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_of_an_empty_batch_matches_torch(reduction):
    torch = pytest.importorskip("torch")
    scores = md.tensor(np.zeros((0, 4)), requires_grad=True)
    scores_torch = torch.zeros((0, 4), dtype=torch.float64, requires_grad=True)
    labels = np.zeros(0, dtype=np.int64)
    loss = F.cross_entropy(scores, labels, reduction=reduction)
    expected = torch.nn.functional.cross_entropy(scores_torch, torch.from_numpy(labels), reduction=reduction)
    np.testing.assert_array_equal(loss.numpy(), expected.detach().numpy())  # the mean of nothing is nan
    loss.sum().backward()
    expected.sum().backward()
    assert scores.grad.shape == tuple(scores_torch.grad.shape) == (0, 4)


# ---------------------------------------------------------------------- every zoo model
def at_smallest_size(build, **kwargs):
    """``(image_size, model)``: the model built for the smallest image its builder accepts
    (a builder refuses a size that its layers cannot take before it makes any weight)."""
    for size in range(1, 257):
        try:
            return size, build(image_size=size, **kwargs)
        except ValueError:
            continue
    raise AssertionError(f"{build.__name__} accepts no image size up to 256")


@pytest.mark.parametrize("name", list(MODELS))
def test_an_empty_batch_through_every_zoo_model(name):
    size, model = at_smallest_size(MODELS[name], num_classes=5, in_channels=3)
    model.eval()
    with md.no_grad():
        out = model(md.zeros(0, 3, size, size))
    assert isinstance(out, md.Tensor) and out.shape == (0, 5) and out.dtype == np.float32


@pytest.mark.parametrize("name", ["lenet5", "all_cnn_c", "resnet20", "googlenet", "mobilenet_v1"])
def test_an_empty_batch_backward_through_a_zoo_model(name, rng):
    size, model = at_smallest_size(MODELS[name], num_classes=5, in_channels=3)
    model.eval()
    # The parameters one image reaches (not GoogLeNet's auxiliary heads, off in eval mode) get a
    # gradient from an empty batch too: zeros.
    model(md.tensor(rng.standard_normal((1, 3, size, size)).astype(np.float32))).sum().backward()
    reached = {param_name for param_name, param in model.named_parameters() if param.grad is not None}
    model.zero_grad()
    x = md.zeros(0, 3, size, size, requires_grad=True)
    out = model(x)
    assert out.shape == (0, 5)
    out.sum().backward()
    assert x.grad.shape == (0, 3, size, size)
    parameters = dict(model.named_parameters())
    assert {param_name for param_name, param in parameters.items() if param.grad is not None} == reached
    for param_name in reached:
        grad = parameters[param_name].grad
        np.testing.assert_array_equal(grad.numpy(), np.zeros(grad.shape), err_msg=param_name)


def test_batch_norm_training_on_an_empty_batch_keeps_its_statistics_as_pytorch():
    torch = pytest.importorskip("torch")
    ours, twin = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    ours.train(), twin.train()
    out = ours(md.zeros(0, 3, 4, 4))
    twin(torch.zeros(0, 3, 4, 4))
    assert out.shape == (0, 3, 4, 4)
    np.testing.assert_array_equal(ours.running_mean.numpy(), twin.running_mean.numpy())
    np.testing.assert_array_equal(ours.running_var.numpy(), twin.running_var.numpy())
    assert ours.num_batches_tracked.item() == twin.num_batches_tracked.item() == 1
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        ours(md.zeros(1, 3, 1, 1))  # one value per channel: no variance, refused as in PyTorch
