"""The classic ImageNet-era models of the zoo: AlexNet, ZFNet, VGG, MobileNet and the
all-convolutional net, checked against the published numbers and PyTorch's layouts.

The full-size models have up to 144 million parameters. Where only names, shapes and counts
matter they are built without drawing random numbers (``without_random_init``), which makes
building them nearly free; forward and backward passes use small inputs, small widths or
few classes, on models initialised for real. A model shared by several tests is a fixture of
its test class, built once and freed when the class is done.
"""

import contextlib
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import minidl as md
from minidl import kernels, nn
from minidl.zoo.alexnet import AlexNet, alexnet, alexnet_original
from minidl.zoo.allconv import all_cnn_c
from minidl.zoo.mobilenet import BLOCKS, DepthwiseSeparableBlock, mobilenet_v1
from minidl.zoo.vgg import CONFIGS, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
from minidl.zoo.sizes import feature_map_side
from minidl.zoo.zfnet import ZFNet, zfnet
from twins import assert_forward_and_backward_agree

TORCHVISION = json.loads((Path(__file__).parent / "data" / "torchvision_state_dicts.json").read_text())

# name: (builder, the paper's configuration, parameters with 1000 classes)
VGGS = {
    "vgg11": (vgg11, "A", 132_863_336), "vgg11_bn": (vgg11_bn, "A", 132_868_840),
    "vgg13": (vgg13, "B", 133_047_848), "vgg13_bn": (vgg13_bn, "B", 133_053_736),
    "vgg16": (vgg16, "D", 138_357_544), "vgg16_bn": (vgg16_bn, "D", 138_365_992),
    "vgg19": (vgg19, "E", 143_667_240), "vgg19_bn": (vgg19_bn, "E", 143_678_248),
}
ALEXNET_PARAMETERS = 61_100_840
# conv1 34,944 + conv2 614,656 + conv3 885,120 + conv4 1,327,488 + conv5 884,992
# + fc6 37,752,832 + fc7 16,781,312 + fc8 4,097,000
ALEXNET_ORIGINAL_PARAMETERS = 62_378_344
# conv1 14,208 + conv2 614,656 + conv3 885,120 + conv4 1,327,488 + conv5 884,992 + the same fc6-fc8
ZFNET_PARAMETERS = 62_357_608
MOBILENET_PARAMETERS = 4_231_976
ALL_CNN_C_PARAMETERS = 1_369_738


def count(model):
    return sum(p.numel() for p in model.parameters())


def layout(model):
    return [[key, list(value.shape)] for key, value in model.state_dict().items()]


@contextlib.contextmanager
def without_random_init():
    """Build models whose weights are left unfilled: the uniform and normal draws every
    initialiser ends in do nothing. For tests of names, shapes and counts only."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(nn.init, "uniform_", lambda tensor, *args, **kwargs: tensor)
        patch.setattr(nn.init, "normal_", lambda tensor, *args, **kwargs: tensor)
        yield


def multiply_adds(model, image_size):
    """Multiply-adds of one image through a model that is a plain chain of layers, in the order
    ``modules()`` lists them: H'W' * C_out * C_in/groups * kH*kW per convolution (bias not
    counted), in*out per linear layer; pools only change the side."""
    side, total = image_size, 0
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            side = kernels.output_size("count", (side, side), module.kernel_size, module.stride, module.padding)[0]
            kh, kw = module.kernel_size
            total += side * side * module.out_channels * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, nn.MaxPool2d):
            window, stride, padding = (kernels.pair(v, "pool", "count")
                                       for v in (module.kernel_size, module.stride, module.padding))
            side = kernels.output_size("count", (side, side), window, stride, padding, ceil_mode=module.ceil_mode)[0]
        elif isinstance(module, nn.AdaptiveAvgPool2d):
            side = module.output_size[0]
        elif isinstance(module, nn.GlobalAvgPool2d):
            side = 1
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features
    return total


def shape_walk(layers, x):
    """(name, C x H x W) after each convolution and pool of ``layers``, for one image."""
    shapes = []
    with md.no_grad():
        for name, layer in layers.named_children():
            x = layer(x)
            if isinstance(layer, nn.Conv2d | nn.MaxPool2d):
                shapes.append((name, x.shape[1:]))
    return shapes


def check_training_step(model, image_shape, num_classes, batch=2):
    """Forward a batch in training mode, back-propagate a cross-entropy loss, and check the
    scores' shape and that every parameter got a finite gradient of its own shape."""
    rng = np.random.default_rng(0)
    model.train()
    x = md.tensor(rng.standard_normal((batch, *image_shape)).astype(np.float32))
    scores = model(x)
    assert scores.shape == (batch, num_classes)
    nn.CrossEntropyLoss()(scores, md.tensor(np.arange(batch) % num_classes)).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert param.grad.shape == param.shape, name
        assert np.isfinite(param.grad).all(), name
    assert any(np.any(param.grad != 0) for param in model.parameters())
    model.zero_grad()       # the gradients of a big model take as much memory as its weights


def images(shape, seed=0):
    return md.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


# ---------------------------------------------------------------------------------- AlexNet
@pytest.fixture(scope="class")
def alexnet_model():
    md.manual_seed(0)
    return alexnet()


class TestAlexNet:
    def test_pytorchs_names_shapes_and_parameter_count(self, alexnet_model):
        assert count(alexnet_model) == ALEXNET_PARAMETERS == TORCHVISION["alexnet"]["params"]
        assert layout(alexnet_model) == TORCHVISION["alexnet"]["state_dict"]

    def test_computes_what_pytorchs_layout_computes(self, alexnet_model):
        torch = pytest.importorskip("torch")
        reference = torch_alexnet(torch.nn, 1000)
        reference.load_state_dict({key: torch.from_numpy(value) for key, value in alexnet_model.state_dict().items()})
        # 160x160 leaves a 4x4 map, which the adaptive pool spreads over 6x6 in overlapping windows
        x = images((2, 3, 160, 160), seed=5)
        with torch.no_grad():
            expected = reference.eval()(torch.from_numpy(x.numpy())).numpy()
        with md.no_grad():
            np.testing.assert_allclose(alexnet_model.eval()(x).data, expected, atol=1e-5, rtol=0)

    def test_costs_0_714_g_multiply_adds(self, alexnet_model):
        assert multiply_adds(alexnet_model, 224) == 714_188_480

    def test_trains_on_small_images_through_the_adaptive_pool(self, alexnet_model):
        # 64x64 leaves a 1x1 map after the last max pool, which the adaptive pool copies to 6x6.
        check_training_step(alexnet_model, (3, 64, 64), 1000)

    def test_dropout_is_random_in_training_and_off_in_evaluation(self, alexnet_model):
        x = images((1, 3, 63, 63), seed=1)
        with md.no_grad():
            alexnet_model.eval()
            np.testing.assert_array_equal(alexnet_model(x).data, alexnet_model(x).data)
            alexnet_model.train()
            assert not np.array_equal(alexnet_model(x).data, alexnet_model(x).data)

    def test_needs_63_pixels(self):
        with pytest.raises(ValueError, match="alexnet: image_size must be at least 63 .* got 62"):
            alexnet(image_size=62)
        features = AlexNet(num_classes=2).features
        with md.no_grad():
            assert features(images((1, 3, 63, 63))).shape == (1, 256, 1, 1)
            with pytest.raises(ValueError, match="max_pool2d"):
                features(images((1, 3, 62, 62)))


@pytest.fixture(scope="class")
def alexnet_original_model():
    md.manual_seed(0)
    return alexnet_original()


class TestAlexNetOriginal:
    def test_the_lecture_numbers(self, alexnet_original_model):
        conv1 = alexnet_original_model.features.conv1
        assert count(conv1) == 96 * (3 * 11 * 11 + 1) == 34_944
        with md.no_grad():
            assert conv1(images((1, 3, 227, 227))).shape == (1, 96, 55, 55)     # (227 - 11)/4 + 1 = 55
        assert count(alexnet_original_model) == ALEXNET_ORIGINAL_PARAMETERS
        assert feature_map_side(alexnet_original_model.features, 227, "test") == 6
        assert alexnet_original_model.classifier.fc6.weight.shape == (4096, 256 * 6 * 6)
        assert multiply_adds(alexnet_original_model, 227) == 1_135_256_096

    def test_grouped_over_two_gpus_it_has_the_papers_sixty_million(self, alexnet_original_model):
        # The paper split conv2, conv4 and conv5 over two GPUs (groups=2), halving their weights.
        features = alexnet_original_model.features
        halved = sum(layer.weight.numel() // 2 for layer in (features.conv2, features.conv4, features.conv5))
        assert count(alexnet_original_model) - halved == 60_965_224

    def test_trains_at_its_smallest_size(self):
        md.manual_seed(0)
        model = alexnet_original(num_classes=5, image_size=67)
        assert feature_map_side(model.features, 67, "test") == 1 and model.classifier.fc6.in_features == 256
        check_training_step(model, (3, 67, 67), 5)
        with md.no_grad(), pytest.raises(ValueError, match="max_pool2d"):
            model.features(images((1, 3, 66, 66)))

    def test_refuses_other_sizes(self):
        with pytest.raises(ValueError, match="alexnet_original: image_size must be at least 67 .* got 66"):
            alexnet_original(image_size=66)
        model = alexnet_original(num_classes=3, image_size=67)
        with pytest.raises(ValueError, match=r"AlexNetOriginal: expected images of shape \(N, 3, 67, 67\) "
                                             r".*got shape \(1, 3, 68, 68\)"):
            model(images((1, 3, 68, 68)))


# ---------------------------------------------------------------------------------- ZFNet
@pytest.fixture(scope="class")
def zfnet_model():
    md.manual_seed(0)
    return zfnet()


class TestZFNet:
    def test_shape_walk_gives_the_papers_sizes(self, zfnet_model):
        assert shape_walk(zfnet_model.features, images((1, 3, 224, 224))) == [
            ("conv1", (96, 110, 110)), ("pool1", (96, 55, 55)),
            ("conv2", (256, 26, 26)), ("pool2", (256, 13, 13)),
            ("conv3", (384, 13, 13)), ("conv4", (384, 13, 13)), ("conv5", (256, 13, 13)),
            ("pool5", (256, 6, 6)),
        ]
        assert feature_map_side(zfnet_model.features, 224, "test") == 6

    def test_parameters_and_multiply_adds(self, zfnet_model):
        assert count(zfnet_model) == ZFNET_PARAMETERS
        assert count(zfnet_model.features.conv1) == 96 * (3 * 7 * 7 + 1) == 14_208
        assert multiply_adds(zfnet_model, 224) == 1_168_032_896

    def test_trains_at_its_smallest_size(self):
        md.manual_seed(0)
        model = zfnet(num_classes=4, image_size=47)
        assert feature_map_side(model.features, 47, "test") == 1 and model.classifier.fc6.in_features == 256
        check_training_step(model, (3, 47, 47), 4)

    def test_needs_47_pixels(self):
        with pytest.raises(ValueError, match="zfnet: image_size must be at least 47 .* got 46"):
            zfnet(image_size=46)
        model = ZFNet(num_classes=2, image_size=47)
        with md.no_grad(), pytest.raises(ValueError, match="max_pool2d"):
            model.features(images((1, 3, 46, 46)))
        with pytest.raises(ValueError, match=r"ZFNet: expected images of shape \(N, 3, 47, 47\)"):
            model(images((1, 3, 48, 48)))


# ---------------------------------------------------------------------------------- VGG
@pytest.fixture(scope="class", params=list(VGGS))
def unfilled_vgg(request):
    """(name, model) for each of the eight, built once, without random weights."""
    with without_random_init():
        return request.param, VGGS[request.param][0]()


@pytest.fixture(scope="class")
def vgg11_bn_model():
    md.manual_seed(0)
    return vgg11_bn(num_classes=10, image_size=32)


class TestVGG:
    def test_pytorchs_names_shapes_and_parameter_count(self, unfilled_vgg):
        name, model = unfilled_vgg
        assert count(model) == VGGS[name][2] == TORCHVISION[name]["params"]
        assert layout(model) == TORCHVISION[name]["state_dict"]

    def test_configurations_have_their_depth(self, unfilled_vgg):
        name, model = unfilled_vgg
        convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        assert len(convolutions) + 3 == int(name[3:5])        # weight layers: convolutions + 3 fc
        assert len(convolutions) == sum(entry != "M" for entry in CONFIGS[VGGS[name][1]])
        assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convolutions)
        batch_norms = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
        assert batch_norms == (len(convolutions) if name.endswith("_bn") else 0)

    def test_vgg16_numbers(self):
        with without_random_init():
            model = vgg16()
        assert count(model.features) == 14_714_688
        assert count(model.classifier[0]) == 25088 * 4096 + 4096 == 102_764_544
        assert round(multiply_adds(model, 224) / 1e9, 2) == 15.47

    def test_initialisation(self, vgg11_bn_model):
        conv = vgg11_bn_model.features[-4]                                 # 512 -> 512, 3x3
        assert conv.weight.shape == (512, 512, 3, 3)
        assert conv.weight.data.std() == pytest.approx(np.sqrt(2 / (512 * 9)), rel=0.01)
        assert vgg11_bn_model.classifier[3].weight.data.std() == pytest.approx(0.01, rel=0.01)
        for module in vgg11_bn_model.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                assert not module.bias.data.any()
            if isinstance(module, nn.BatchNorm2d):
                assert (module.weight.data == 1).all() and not module.bias.data.any()

    def test_trains_on_32x32_images(self, vgg11_bn_model):
        check_training_step(vgg11_bn_model, (3, 32, 32), 10)       # a 1x1 map, copied up to 7x7 by the pool
        md.manual_seed(0)
        plain = vgg11(num_classes=10, image_size=32, init_weights=False)   # the layers' default init
        check_training_step(plain, (3, 32, 32), 10)

    @pytest.mark.parametrize("name", ["vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"])
    def test_every_depth_trains_on_32x32_images(self, name):
        """The deeper configurations run forward and backward too. Their 120 million classifier
        weights are set to a constant instead of drawn (drawing them is most of the cost); the
        convolutions get He-initialised random weights, so the features are not degenerate."""
        with without_random_init():
            model = VGGS[name][0](num_classes=10, image_size=32, init_weights=False)
        rng = np.random.default_rng(0)
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.in_channels * 9
                module.weight.data[...] = rng.standard_normal(module.weight.shape, dtype=np.float32) * np.sqrt(2 / fan_in)
                module.bias.data[...] = 0
            elif isinstance(module, nn.Linear):
                module.weight.data[...] = 1e-3
                module.bias.data[...] = 0
        check_training_step(model, (3, 32, 32), 10)

    def test_needs_32_pixels(self):
        with pytest.raises(ValueError, match="vgg16_bn: five 2x2 max pools .* at least 32, got 31"):
            vgg16_bn(image_size=31)


# ---------------------------------------------------------------------------------- MobileNet
class TestMobileNet:
    def test_parameters_and_multiply_adds_match_the_paper(self):
        model = mobilenet_v1()
        assert count(model) == MOBILENET_PARAMETERS                   # the paper's 4.2M
        assert multiply_adds(model, 224) == 568_740_352               # the paper's 569M
        # a 1x1 convolution costs in * out per pixel of its map: 112, 56, 56, 28, 28, 14 (x6), 7, 7
        sides = [112, 56, 56, 28, 28] + [14] * 6 + [7, 7]
        blocks = [m for m in model.modules() if isinstance(m, DepthwiseSeparableBlock)]
        pointwise = sum(side * side * block.pointwise.in_channels * block.pointwise.out_channels
                        for side, block in zip(sides, blocks, strict=True))
        assert round(pointwise / 568_740_352, 4) == 0.9486         # the paper's Table 2: 94.86%

    @pytest.mark.parametrize("width_mult, image_size, parameters, macs", [
        (0.75, 224, 2_585_560, 325_400_448),
        (0.5, 224, 1_331_592, 149_497_088),
        (0.25, 224, 470_072, 41_030_272),
        (1.0, 192, MOBILENET_PARAMETERS, 418_121_728),
        (1.0, 160, MOBILENET_PARAMETERS, 290_675_200),
        (1.0, 128, MOBILENET_PARAMETERS, 186_400_768),
    ])
    def test_width_and_resolution_multipliers(self, width_mult, image_size, parameters, macs):
        model = mobilenet_v1(width_mult=width_mult, image_size=image_size)
        assert count(model) == parameters
        assert multiply_adds(model, image_size) == macs

    def test_shape_walk(self):
        model = mobilenet_v1(width_mult=0.25).eval()
        x = images((1, 3, 224, 224))
        shapes = []
        with md.no_grad():
            for name, layer in model.features.named_children():
                x = layer(x)
                shapes.append((name, x.shape[1:]))
        side, expected = 112, [("conv1", (8, 112, 112)), ("bn1", (8, 112, 112)), ("relu1", (8, 112, 112))]
        for i, (width, stride) in enumerate(BLOCKS, start=1):
            side //= stride
            expected.append((f"block{i}", (width // 4, side, side)))
        assert shapes == expected
        assert expected[-1] == ("block13", (256, 7, 7))

    def test_depthwise_separable_saving(self):
        """A 5x5 convolution on a 14x14x512 map making 512 channels, standard and separable."""
        m = n = 512
        k, side = 5, 14
        standard = nn.Conv2d(m, n, k, padding=2, bias=False)
        separable = nn.DepthwiseSeparableConv2d(m, n, k, padding=2, bias=False)
        with md.no_grad():
            assert separable(images((1, m, side, side))).shape == (1, n, side, side)
        assert kernels.output_size("conv2d", (side, side), standard.kernel_size, standard.stride,
                                   standard.padding) == (side, side)
        assert count(standard) == k * k * m * n == 6_553_600
        assert count(separable) == k * k * m + m * n == 274_944
        # without a bias, every weight is used once per output pixel
        assert multiply_adds(standard, side) == count(standard) * side * side == 1_284_505_600
        assert multiply_adds(separable, side) == count(separable) * side * side == 53_889_024
        assert Fraction(count(separable), count(standard)) == Fraction(1, n) + Fraction(1, k * k)

    def test_trains_and_its_batch_norms_switch_modes(self):
        md.manual_seed(0)
        model = mobilenet_v1(num_classes=5, width_mult=0.25, image_size=32)
        check_training_step(model, (3, 32, 32), 5, batch=3)
        bn = model.features.block13.bn2
        assert bn.num_batches_tracked.item() == 1 and bn.running_mean.data.any()
        model.eval()
        x = images((3, 3, 32, 32), seed=2)
        with md.no_grad():
            alone = model(x[:1]).data
            together = model(x).data[:1]
        np.testing.assert_allclose(alone, together, atol=1e-5, rtol=0)   # running statistics: no batch effect
        assert bn.num_batches_tracked.item() == 1

    def test_refuses_bad_arguments(self):
        with pytest.raises(ValueError, match="mobilenet_v1: width_mult must be a number of at least 1/32 .* got 0.01"):
            mobilenet_v1(width_mult=0.01)
        with pytest.raises(ValueError, match="mobilenet_v1: image_size must be a positive int, got 0"):
            mobilenet_v1(image_size=0)


# ---------------------------------------------------------------------------------- All-CNN-C
class TestAllCNNC:
    def test_numbers_and_shape_walk(self):
        md.manual_seed(0)
        model = all_cnn_c().eval()
        assert count(model) == ALL_CNN_C_PARAMETERS
        assert multiply_adds(model, 32) == 270_798_336
        assert not any(isinstance(m, nn.Linear) for m in model.modules())
        x = images((1, 3, 32, 32))
        assert shape_walk(model.features, x) == [
            ("conv1", (96, 32, 32)), ("conv2", (96, 32, 32)), ("conv3", (96, 16, 16)),
            ("conv4", (192, 16, 16)), ("conv5", (192, 16, 16)), ("conv6", (192, 8, 8)),
            ("conv7", (192, 6, 6)), ("conv8", (192, 6, 6)), ("conv9", (10, 6, 6)),
        ]
        with md.no_grad():
            assert model(x).shape == (1, 10)

    def test_scores_are_the_average_of_conv9s_map(self):
        md.manual_seed(0)
        model = all_cnn_c(num_classes=3, widths=(4, 8)).eval()
        x = images((2, 3, 32, 32), seed=3)
        with md.no_grad():
            np.testing.assert_allclose(model(x).data, model.features(x).data.mean(axis=(2, 3)), atol=1e-6, rtol=0)

    def test_trains_at_its_smallest_size_and_its_dropout_switches_off(self):
        md.manual_seed(0)
        model = all_cnn_c(num_classes=7, in_channels=1, image_size=9, widths=(4, 8))
        check_training_step(model, (1, 9, 9), 7)
        x = images((2, 1, 9, 9), seed=4)
        with md.no_grad():
            assert not np.array_equal(model(x).data, model(x).data)
            model.eval()
            np.testing.assert_array_equal(model(x).data, model(x).data)

    def test_refuses_bad_arguments(self):
        with pytest.raises(ValueError, match="all_cnn_c: image_size must be at least 9 .* got 8"):
            all_cnn_c(image_size=8)
        with pytest.raises(ValueError, match=r"all_cnn_c: widths must be two positive ints, got \(96, 0\)"):
            all_cnn_c(widths=(96, 0))
        model = all_cnn_c(widths=(4, 8)).eval()
        with md.no_grad(), pytest.raises(ValueError, match="conv2d"):
            model(images((1, 3, 8, 8)))


# ---------------------------------------------------------------------------------- AlexNet's backward pass
def torch_alexnet(tnn, num_classes):
    """PyTorch's AlexNet layout, written out, with the same module names and indices as ours."""

    class AlexNetTwin(tnn.Module):
        def __init__(self):
            super().__init__()
            self.features = tnn.Sequential(
                tnn.Conv2d(3, 64, 11, stride=4, padding=2), tnn.ReLU(), tnn.MaxPool2d(3, stride=2),
                tnn.Conv2d(64, 192, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(3, stride=2),
                tnn.Conv2d(192, 384, 3, padding=1), tnn.ReLU(), tnn.Conv2d(384, 256, 3, padding=1), tnn.ReLU(),
                tnn.Conv2d(256, 256, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(3, stride=2),
            )
            self.avgpool = tnn.AdaptiveAvgPool2d((6, 6))
            self.classifier = tnn.Sequential(
                tnn.Dropout(), tnn.Linear(9216, 4096), tnn.ReLU(), tnn.Dropout(), tnn.Linear(4096, 4096), tnn.ReLU(),
                tnn.Linear(4096, num_classes),
            )

        def forward(self, x):
            return self.classifier(self.avgpool(self.features(x)).flatten(1))

    return AlexNetTwin()


def test_alexnet_backward_matches_its_pytorch_twin():
    """In float64 and evaluation mode (no dropout), a random dout sent back through our AlexNet
    and its PyTorch twin gives the same gradient for the input and every parameter. 63x63 is the
    smallest image: the last max pool leaves 1x1, which the adaptive pool copies to 6x6, so its
    backward pass sums 36 gradients into each channel."""
    torch = pytest.importorskip("torch")
    md.manual_seed(0)
    model = AlexNet(num_classes=10).double().eval()
    # The twin is built without memory or random draws ("meta" tensors); assign=True then makes
    # our arrays its parameters, instead of copying them into 57 million initialised ones.
    with torch.device("meta"):
        twin = torch_alexnet(torch.nn, num_classes=10).eval()
    twin.load_state_dict({key: torch.from_numpy(value) for key, value in model.state_dict().items()}, assign=True)

    x = np.random.default_rng(6).standard_normal((2, 3, 63, 63))
    x_ours = assert_forward_and_backward_agree(torch, model, twin, x, seed=7)
    # the gradients are far above the tolerance, so the comparison above is not vacuous
    assert np.abs(x_ours.grad).max() > 1e-4
    assert np.abs(model.features[0].weight.grad).max() > 1e-3 and np.abs(model.classifier[6].weight.grad).max() > 1e-2
