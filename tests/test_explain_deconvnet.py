"""deconv_reconstruct (Zeiler and Fergus's projection of one activation) against the deconvnet rule
of Deconvolution started at that unit, and by hand."""

import numpy as np
import pytest

import minidl as md
from minidl import nn
from minidl.explain import Deconvolution, deconv_reconstruct
from minidl.zoo import load_pretrained, resnet20, small_vgg


class UpTo(nn.Module):
    """The activations of ``layer`` of ``model``, flattened to (N, C*h*w): its units as scores."""

    def __init__(self, model, layer):
        super().__init__()
        self.model, self.layer = model, layer

    def forward(self, x):
        seen = []
        handle = self.model.get_submodule(self.layer).register_forward_hook(lambda m, a, out: seen.append(out))
        self.model(x)
        handle.remove()
        return seen[-1].reshape(len(x), -1)


def layer_output(model, layer, x):
    """The output of ``layer`` for ``x`` in evaluation mode: (N, C, h, w) or (N, F)."""
    model.eval()
    found = []
    handle = model.get_submodule(layer).register_forward_hook(lambda m, a, out: found.append(out.numpy()))
    with md.no_grad():
        model(md.tensor(x))
    handle.remove()
    return found[-1]


def assert_equals_the_rule_from_the_unit(model, layer, x, channel, position=None):
    """deconv_reconstruct == A_unit * Deconvolution(model up to layer) with the unit as target."""
    got = deconv_reconstruct(model, x, layer, channel, position).numpy()
    output = layer_output(model, layer, x)
    units, size = output.reshape(len(x), -1), int(np.prod(output.shape[2:]))   # size 1 for (N, F)
    if position is None:
        within = units[:, channel * size:(channel + 1) * size].argmax(axis=1)
    else:
        within = np.full(len(x), position[0] * output.shape[3] + position[1])
    targets = channel * size + within
    value = units[np.arange(len(x)), targets]
    rule = Deconvolution(UpTo(model, layer)).attribute(x, target=targets).numpy()
    np.testing.assert_allclose(got, value[:, None, None, None] * rule, rtol=1e-12, atol=1e-14)
    return got, value


def zf_like():
    """Strided conv with padding and a size the floor shrinks, overlapping 3x3 pools of stride 2,
    a dilated conv, then fully connected layers: every kind of step of the deconvnet."""
    md.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(3, 5, 5, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=2),
        nn.Conv2d(5, 6, 3, padding=2, dilation=2), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.3),
        nn.Flatten(), nn.Linear(6, 7), nn.ReLU(), nn.Linear(7, 3)).double()


@pytest.mark.parametrize("layer, channel, position", [
    ("1", 2, None), ("2", 4, None), ("2", 1, (1, 2)), ("3", 0, None), ("4", 5, None), ("5", 3, None),
    ("9", 4, None), ("0", 1, (0, 3)),
])
def test_reconstruction_equals_the_deconvnet_rule_from_that_unit(layer, channel, position):
    x = np.random.default_rng(int(layer)).standard_normal((2, 3, 18, 18))
    got, value = assert_equals_the_rule_from_the_unit(zf_like(), layer, x, channel, position)
    assert np.abs(got).max() > 0 and np.all(value != 0)      # a live unit: the check compares something


def test_batch_norm_networks_and_a_shipped_model():
    md.manual_seed(0)
    vgg = small_vgg(num_classes=3, in_channels=1, image_size=8).double()
    for module in vgg.modules():                            # running statistics other than 0 and 1
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.data = np.random.default_rng(1).standard_normal(module.num_features)
            module.running_var.data = np.random.default_rng(2).uniform(0.5, 2.0, module.num_features)
    x = np.random.default_rng(3).standard_normal((2, 1, 8, 8))
    got, value = assert_equals_the_rule_from_the_unit(vgg, "features.relu2b", x, 6)
    assert np.abs(got).max() > 0 and np.all(value != 0)
    lenet = load_pretrained("lenet5-mnist").double()
    digits = np.random.default_rng(4).uniform(0, 1, (2, 1, 28, 28))
    got, value = assert_equals_the_rule_from_the_unit(lenet, "features.pool2", digits, 9)
    assert np.abs(got).max() > 0 and np.all(value != 0)


def test_zeiler_and_fergus_by_hand():
    # x = [[1, 3], [2, 0]], conv 1x1 weight 2, bias -1: A = [[1, 5], [3, -1]], ReLU, 2x2 max pool: 5 at (0, 1).
    # Back: unpool puts 5 at (0, 1), the ReLU rule keeps it, the transposed 1x1 filter doubles it.
    conv = nn.Conv2d(1, 1, 1).double()
    conv.weight.data = np.full((1, 1, 1, 1), 2.0)
    conv.bias.data = np.array([-1.0])
    model = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2))
    got = deconv_reconstruct(model, np.array([[[[1.0, 3.0], [2.0, 0.0]]]]), "2", 0)
    np.testing.assert_array_equal(got.numpy(), [[[[0.0, 10.0], [0.0, 0.0]]]])


def test_networks_that_are_not_a_chain_and_bad_units_are_refused():
    with pytest.raises(ValueError, match="deconv_reconstruct: the path from the input to layer 'layer1' is not a "
                                         "chain of modules"):
        deconv_reconstruct(resnet20(num_classes=2, image_size=8), np.zeros((1, 3, 8, 8), np.float32), "layer1", 0)
    with pytest.raises(ValueError, match=r"deconv_reconstruct: channel 9 is out of range for a layer with 5 "
                                         r"channels \(0 to 4\)"):
        deconv_reconstruct(zf_like(), np.zeros((1, 3, 18, 18)), "1", 9)
    with pytest.raises(ValueError, match=r"deconv_reconstruct: position \(8, 0\) is outside the 8x8 feature map"):
        deconv_reconstruct(zf_like(), np.zeros((1, 3, 18, 18)), "1", 0, position=(8, 0))
    with pytest.raises(ValueError, match="deconv_reconstruct: cannot send the signal back through Tanh"):
        deconv_reconstruct(nn.Sequential(nn.Tanh(), nn.Flatten(), nn.Linear(4, 2)).double(), np.ones((1, 1, 2, 2)),
                           "2", 0)
