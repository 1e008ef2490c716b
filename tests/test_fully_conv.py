"""``to_fully_convolutional``: the converted network reproduces the classifier at the training
size, and on a larger image gives a map of scores, each the classifier on one crop."""

from collections import OrderedDict

import numpy as np
import pytest

import minidl as md
from minidl import nn
from minidl.analysis import to_fully_convolutional
from minidl.zoo import lenet5


def scores(model, images):
    model.eval()
    with md.no_grad():
        return model(md.tensor(images)).data


def images(shape, dtype=np.float32, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def test_lenet5_becomes_convolutions_that_reproduce_its_scores():
    model = lenet5()
    fcn = to_fully_convolutional(model, (1, 28, 28))
    classifier = fcn.classifier
    assert isinstance(classifier.flatten, nn.Identity)
    assert [type(classifier[i]).__name__ for i in (1, 3, 5)] == ["Conv2d", "Conv2d", "Conv2d"]
    assert classifier.fc1.weight.shape == (120, 16, 5, 5)  # fc1 saw a 16x5x5 map: a 5x5 kernel
    assert classifier.fc2.weight.shape == (84, 120, 1, 1) and classifier.fc3.weight.shape == (10, 84, 1, 1)
    np.testing.assert_array_equal(classifier.fc1.weight.data.reshape(120, 400), model.classifier.fc1.weight.data)
    # The same names, so the same state_dict keys; only the converted weights change shape.
    assert list(fcn.state_dict()) == list(model.state_dict())

    x = images((3, 1, 28, 28))
    out = scores(fcn, x)
    assert out.shape == (3, 10, 1, 1)
    np.testing.assert_allclose(out[:, :, 0, 0], scores(model, x), rtol=0, atol=1e-5)
    # Two 2x2 pools: stride 4. A 36x36 image leaves a 7x7 map, where a 5x5 kernel fits at 3x3 places.
    assert scores(fcn, images((2, 1, 36, 36))).shape == (2, 10, 3, 3)


def test_each_score_is_the_classifier_on_one_crop():
    # LeNet-5 at 32x32 pads nowhere, so a crop of the image gives the same features as the
    # corresponding window of the whole image's features.
    model = lenet5(image_size=32).double()
    fcn = to_fully_convolutional(model, (1, 32, 32), dtype=np.float64)
    x = images((2, 1, 40, 40), np.float64)
    score_map = scores(fcn, x)
    assert score_map.shape == (2, 10, 3, 3) and score_map.dtype == np.float64
    for i in range(3):
        for j in range(3):
            crop = x[:, :, 4 * i:4 * i + 32, 4 * j:4 * j + 32]
            np.testing.assert_allclose(score_map[:, :, i, j], scores(model, crop), rtol=0, atol=1e-10)
    assert np.ptp(score_map[0, 0]) > 1e-3  # the positions see different crops


def test_the_original_is_left_untouched():
    model = lenet5()
    weights = model.classifier.fc1.weight.numpy().copy()
    fcn = to_fully_convolutional(model, (1, 28, 28))
    fcn.classifier.fc1.weight.data[...] = 0.0
    fcn.features.conv1.weight.data[...] = 0.0
    assert isinstance(model.classifier.fc1, nn.Linear) and isinstance(model.classifier.flatten, nn.Flatten)
    np.testing.assert_array_equal(model.classifier.fc1.weight.data, weights)
    assert np.abs(model.features.conv1.weight.data).max() > 0
    assert model.training and fcn.training  # the copy keeps the original's mode


class TinyVGG(nn.Module):
    """The torchvision VGG/AlexNet layout with small widths: features -> adaptive average pool to
    2x2 -> flatten in forward -> classifier."""

    def __init__(self, num_classes=5, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(
            nn.Linear(8 * 2 * 2, 16), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(16, 16), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(16, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def test_a_vgg_layout_drops_the_adaptive_pool_and_the_flatten_of_its_forward():
    model = TinyVGG()
    fcn = to_fully_convolutional(model, (3, 8, 8))  # two pools: 8 -> 2, the pool's own size
    assert isinstance(fcn.avgpool, nn.Identity)
    assert fcn.classifier[0].weight.shape == (16, 8, 2, 2)
    x = images((2, 3, 8, 8))
    np.testing.assert_allclose(scores(fcn, x)[:, :, 0, 0], scores(model, x), rtol=0, atol=1e-5)
    # 20x20 -> 5x5 map, a 2x2 kernel fits at 4x4 places: one score per 8x8 window, stride 4.
    assert scores(fcn, images((1, 3, 20, 20))).shape == (1, 5, 4, 4)


def test_a_global_average_pool_becomes_a_sliding_average_of_the_training_map():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3),
                          nn.GlobalAvgPool2d(), nn.Flatten(), nn.Linear(6, 3)).double()
    fcn = to_fully_convolutional(model, (1, 12, 12), dtype=np.float64)  # 12 -> 10 -> 5 -> 3x3 map
    assert isinstance(fcn[4], nn.AvgPool2d) and fcn[4].kernel_size == (3, 3) and fcn[4].stride == 1
    x = images((2, 1, 16, 16), np.float64)
    score_map = scores(fcn, x)
    assert score_map.shape == (2, 3, 3, 3)
    for i in range(3):
        for j in range(3):  # no padding anywhere: position (i, j) is the 12x12 crop at (2i, 2j)
            crop = x[:, :, 2 * i:2 * i + 12, 2 * j:2 * j + 12]
            np.testing.assert_allclose(score_map[:, :, i, j], scores(model, crop), rtol=0, atol=1e-10)


def test_alexnet_from_the_zoo():
    from minidl.zoo.alexnet import alexnet

    model = alexnet(num_classes=10)
    fcn = to_fully_convolutional(model, (3, 224, 224))
    assert isinstance(fcn.avgpool, nn.Identity)
    assert fcn.classifier[1].weight.shape == (4096, 256, 6, 6)
    x = images((1, 3, 224, 224))
    np.testing.assert_allclose(scores(fcn, x)[:, :, 0, 0], scores(model, x), rtol=0, atol=1e-5)
    # 256x256: conv1 63, pool 31, pool 15, pool 7: the 6x6 fc6 kernel fits at 2x2 places.
    assert scores(fcn, images((1, 3, 256, 256))).shape == (1, 10, 2, 2)


def test_an_adaptive_pool_that_resizes_at_the_training_size_is_refused():
    with pytest.raises(ValueError, match=r"avgpool \(AdaptiveAvgPool2d\) pools the 4x4 map to 2x2 at the training "
                                         r"size: that is neither the identity nor a global average"):
        to_fully_convolutional(TinyVGG(), (3, 16, 16))


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.fc = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        return self.fc((self.conv(x) + x).flatten(1))


class Doubled(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return 2 * self.fc(x.flatten(1))


def test_models_that_are_not_chains_of_layers_are_refused():
    with pytest.raises(ValueError, match=r"fc \(Linear\) does not take the output of the layer before it"):
        to_fully_convolutional(Residual(), (2, 4, 4))
    with pytest.raises(ValueError, match="Doubled does not return its last layer's output"):
        to_fully_convolutional(Doubled(), (1, 2, 2))
    relu = nn.ReLU()
    with pytest.raises(ValueError, match=r"1 \(ReLU\) #2 is called more than once"):
        to_fully_convolutional(nn.Sequential(nn.Conv2d(1, 1, 1), relu, relu), (1, 2, 2))


def test_layers_without_a_convolutional_equivalent_are_refused():
    head = nn.Sequential(OrderedDict([("flatten", nn.Flatten()), ("fc", nn.Linear(4, 4)), ("bn", nn.BatchNorm1d(4))]))
    with pytest.raises(ValueError, match=r"bn \(BatchNorm1d\) acts on the flattened vectors and has no convolutional"):
        to_fully_convolutional(head, (1, 2, 2))
    with pytest.raises(ValueError, match=r"0 \(Linear\) is applied to the last axis of an \(N, C, H, W\) map"):
        to_fully_convolutional(nn.Sequential(nn.Linear(2, 3)), (1, 2, 2))
    with pytest.raises(ValueError, match=r"to_fully_convolutional: input_shape must be an image shape \(C, H, W\)"):
        to_fully_convolutional(nn.Sequential(nn.Linear(2, 3)), (2,))


def test_a_softmax_over_the_classes_stays_over_the_classes():
    model = nn.Sequential(nn.Conv2d(1, 2, 2), nn.Flatten(), nn.Linear(2 * 3 * 3, 4), nn.Softmax(dim=-1)).double()
    fcn = to_fully_convolutional(model, (1, 4, 4), dtype=np.float64)
    assert fcn[3].dim == 1
    x = images((2, 1, 4, 4), np.float64)
    np.testing.assert_allclose(scores(fcn, x)[:, :, 0, 0], scores(model, x), rtol=0, atol=1e-10)
    np.testing.assert_allclose(scores(fcn, images((1, 1, 6, 6), np.float64)).sum(axis=1), 1.0, atol=1e-12)


class Interleaved(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(1, 1, 1), nn.Conv2d(1, 1, 1))
        self.b = nn.Conv2d(1, 1, 1)

    def forward(self, x):
        return self.a[1](self.b(self.a[0](x)))


def test_layers_of_one_container_must_run_together_to_be_rebuilt_in_order():
    with pytest.raises(ValueError, match=r"the layers of 'a' do not run one after another \(layer 'a.1' comes after"):
        to_fully_convolutional(Interleaved(), (1, 3, 3))


class PoolUnpool(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2)

    def forward(self, x):
        return self.unpool(*self.pool(x))


class RowSums(nn.Module):
    """A layer of one's own that drops the width axis: (N, C, H, W) -> (N, C, H)."""

    def forward(self, x):
        return x.sum(3)


def test_layers_that_do_not_pass_one_map_or_vector_on_are_refused():
    with pytest.raises(ValueError, match=r"unpool \(MaxUnpool2d\) is called with 2 arguments; only layers taking one"):
        to_fully_convolutional(PoolUnpool(), (1, 4, 4))
    with pytest.raises(ValueError, match=r"1 \(Flatten\) flattens \(1, 2, 3, 3\) to \(1, 2, 9\); only a flatten to "
                                         r"\(N, C\*H\*W\)"):
        to_fully_convolutional(nn.Sequential(nn.Conv2d(1, 2, 1), nn.Flatten(start_dim=2)), (1, 3, 3))
    with pytest.raises(ValueError, match=r"2 \(ReLU\) gets an input of shape \(1, 2, 3\); only \(N, C, H, W\) maps"):
        to_fully_convolutional(nn.Sequential(nn.Conv2d(1, 2, 1), RowSums(), nn.ReLU()), (1, 3, 3))
