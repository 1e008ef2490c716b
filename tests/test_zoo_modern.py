"""GoogLeNet, ResNet (ImageNet and CIFAR) and DenseNet from the zoo: torchvision's names, shapes
and parameter counts, the Inception module's cost, GoogLeNet's auxiliary losses, and a forward
and backward pass through every model on small images."""

import json
from pathlib import Path

import numpy as np
import pytest

import minidl as md
from minidl import nn
from minidl.zoo import cifar_resnet, densenet, resnet
from minidl.zoo.googlenet import GoogLeNetOutputs, Inception, NaiveInception, googlenet, googlenet_loss
from twins import assert_forward_and_backward_agree

ROOT = Path(__file__).resolve().parents[1]
TORCHVISION = json.loads((ROOT / "tests" / "data" / "torchvision_state_dicts.json").read_text())

IMAGENET_BUILDERS = {
    "googlenet": googlenet,
    "resnet18": resnet.resnet18,
    "resnet34": resnet.resnet34,
    "resnet50": resnet.resnet50,
    "resnet101": resnet.resnet101,
    "resnet152": resnet.resnet152,
    "densenet121": densenet.densenet121,
}


def count(model):
    return sum(p.numel() for p in model.parameters())


def keys_and_shapes(model):
    return [(key, list(value.shape)) for key, value in model.state_dict().items()]


def images(batch, channels, size, seed=0):
    return md.tensor(np.random.default_rng(seed).standard_normal((batch, channels, size, size)).astype(np.float32))


def assert_every_parameter_learns(model):
    """Each parameter got a gradient of its own shape, finite and not all zero (a zero gradient
    would mean the parameter is cut off from the loss)."""
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert param.grad.shape == param.shape, name
        assert np.all(np.isfinite(param.grad)), name
        assert np.any(param.grad != 0), name


def cross_entropy(scores, labels):
    """Mean softmax cross-entropy in NumPy, the hand computation the losses are checked against."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels].mean()


# ---------------------------------------------------------------- torchvision's names and counts
@pytest.fixture(scope="module", params=list(IMAGENET_BUILDERS))
def imagenet_model(request):
    """Each full-size model, built once for the tests that only read its structure."""
    return request.param, IMAGENET_BUILDERS[request.param]()


def test_parameter_count_is_torchvisions(imagenet_model):
    name, model = imagenet_model
    published = {"googlenet": 13_004_888, "resnet18": 11_689_512, "resnet34": 21_797_672,
                 "resnet50": 25_557_032, "resnet101": 44_549_160, "resnet152": 60_192_808,
                 "densenet121": 7_978_856}
    assert count(model) == published[name] == TORCHVISION[name]["params"]


def test_state_dict_names_and_shapes_are_torchvisions(imagenet_model):
    name, model = imagenet_model
    assert keys_and_shapes(model) == [(key, shape) for key, shape in TORCHVISION[name]["state_dict"]]


def test_googlenet_without_auxiliary_classifiers_drops_aux1_and_aux2():
    model = googlenet(aux_logits=False)
    expected = [(key, shape) for key, shape in TORCHVISION["googlenet"]["state_dict"] if not key.startswith("aux")]
    assert keys_and_shapes(model) == expected
    assert count(model) == 6_624_904
    # 2 heads x (conv 128*C + BN 2*128 + fc1 2048*1024 + 1024 + fc2 1024*1000 + 1000), C = 512 and 528
    heads = sum(128 * c + 2 * 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000 for c in (512, 528))
    assert count(model) + heads == 13_004_888


# ---------------------------------------------------------------- the Inception module's cost
def conv_multiply_adds(module, x):
    """Multiply-adds of every Conv2d in ``module`` on input ``x``, counted by forward hooks:
    each output value of a conv is a dot product of (in_channels / groups) * kH * kW terms."""
    total = []

    def count_conv(conv, inputs, output):
        per_output = conv.in_channels // conv.groups * conv.kernel_size[0] * conv.kernel_size[1]
        total.append(output.numel() * per_output)

    handles = [m.register_forward_hook(count_conv) for m in module.modules() if isinstance(m, nn.Conv2d)]
    with md.no_grad():
        output = module(x)
    for handle in handles:
        handle.remove()
    return sum(total), output


def test_bottlenecks_cut_the_inception_module_from_854m_to_271m_multiply_adds():
    x = md.tensor(np.zeros((1, 256, 28, 28), np.float32))
    naive_macs, naive_out = conv_multiply_adds(NaiveInception(256, 128, 192, 96), x)
    hw = 28 * 28
    assert naive_macs == hw * (128 * 256 + 192 * 9 * 256 + 96 * 25 * 256) == 854_196_224
    assert naive_out.shape == (1, 128 + 192 + 96 + 256, 28, 28)

    bottleneck = Inception(256, 128, 64, 192, 64, 96, 64, ch5x5_kernel=5)
    bottleneck_macs, bottleneck_out = conv_multiply_adds(bottleneck, x)
    assert bottleneck.branch3[1].conv.kernel_size == (5, 5)
    assert bottleneck_macs == hw * (128 * 256 + 64 * 256 + 192 * 9 * 64 + 64 * 256 + 96 * 25 * 64 + 64 * 256)
    assert bottleneck_macs == 271_351_808
    assert bottleneck_out.shape == (1, 128 + 192 + 96 + 64, 28, 28)


def test_inception_refuses_an_even_kernel():
    with pytest.raises(ValueError, match="Inception: ch5x5_kernel must be an odd int .* got 4"):
        Inception(256, 128, 64, 192, 64, 96, 64, ch5x5_kernel=4)


# ---------------------------------------------------------------- GoogLeNet's training and evaluation
@pytest.fixture(scope="module")
def small_googlenet():
    md.manual_seed(0)
    return googlenet(num_classes=4, image_size=64)


def test_googlenet_returns_auxiliary_scores_in_training_and_logits_alone_in_evaluation(small_googlenet):
    x = images(2, 3, 64)
    small_googlenet.train()
    outputs = small_googlenet(x)
    assert isinstance(outputs, GoogLeNetOutputs)
    assert [o.shape for o in outputs] == [(2, 4)] * 3
    small_googlenet.eval()
    logits = small_googlenet(x)
    assert isinstance(logits, md.Tensor) and logits.shape == (2, 4)
    small_googlenet.train()


def test_googlenet_learns_from_main_and_auxiliary_losses(small_googlenet):
    small_googlenet.train()
    small_googlenet.zero_grad()
    loss = googlenet_loss(small_googlenet(images(2, 3, 64)), np.array([0, 3]))
    loss.backward()
    assert np.isfinite(loss.item())
    assert_every_parameter_learns(small_googlenet)   # aux1 and aux2 included


def test_googlenet_loss_adds_three_tenths_of_each_auxiliary_loss():
    rng = np.random.default_rng(1)
    logits, aux2, aux1 = (rng.standard_normal((3, 5)) for _ in range(3))
    labels = np.array([4, 0, 2])
    outputs = GoogLeNetOutputs(*(md.tensor(a, requires_grad=True) for a in (logits, aux2, aux1)))
    loss = googlenet_loss(outputs, labels)
    expected = cross_entropy(logits, labels) + 0.3 * (cross_entropy(aux1, labels) + cross_entropy(aux2, labels))
    np.testing.assert_allclose(loss.item(), expected, rtol=0, atol=1e-12)

    # Each auxiliary head receives 0.3 of its cross-entropy gradient (softmax - onehot) / N.
    loss.backward()
    for scores, tensor, weight in ((logits, outputs.logits, 1.0), (aux1, outputs.aux_logits1, 0.3),
                                   (aux2, outputs.aux_logits2, 0.3)):
        probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        probs[np.arange(3), labels] -= 1
        np.testing.assert_allclose(tensor.grad, weight * probs / 3, rtol=0, atol=1e-12)

    plain = googlenet_loss(md.tensor(logits), labels)
    np.testing.assert_allclose(plain.item(), cross_entropy(logits, labels), rtol=0, atol=1e-12)


def test_googlenet_without_auxiliary_classifiers_returns_logits_in_training():
    model = googlenet(num_classes=3, image_size=32, aux_logits=False)
    assert not hasattr(model, "aux1")
    logits = model(images(2, 3, 32))
    assert isinstance(logits, md.Tensor) and logits.shape == (2, 3)


def test_googlenet_needs_images_of_at_least_15_pixels():
    model = googlenet(num_classes=3, image_size=15).eval()
    assert model(images(1, 3, 15)).shape == (1, 3)
    with pytest.raises(ValueError, match="max_pool2d: the kernel does not fit"):
        model(images(1, 3, 14))   # the minimum is tight: one pixel less and a pool has no window
    with pytest.raises(ValueError, match="googlenet: image_size must be at least 15 .* got 14"):
        googlenet(image_size=14)


# ---------------------------------------------------------------- ImageNet ResNets
@pytest.mark.parametrize("name, features", [("resnet18", 512), ("resnet34", 512), ("resnet50", 2048),
                                            ("resnet101", 2048), ("resnet152", 2048)])
def test_resnet_forward_and_backward_on_small_images(name, features):
    md.manual_seed(0)
    model = getattr(resnet, name)(num_classes=3, image_size=48)
    assert model.fc.weight.shape == (3, features)
    # 48x48 leaves layer4 a 2x2 map: batch norm over 2 images x 1x1 would map any input to +-1
    # and pass no gradient down.
    scores = model(images(2, 3, 48))
    assert scores.shape == (2, 3)
    md.functional.cross_entropy(scores, np.array([0, 2])).backward()
    assert_every_parameter_learns(model)


def test_resnet_convolutions_get_he_initialisation():
    md.manual_seed(0)
    model = resnet.resnet18()
    weight = model.layer4[0].conv2.weight.data   # 512 x 512 x 3 x 3: fan_out = 512 * 9
    np.testing.assert_allclose(weight.std(), np.sqrt(2 / (512 * 9)), rtol=0.01)
    assert np.all(model.layer4[0].bn2.weight.data == 1) and np.all(model.layer4[0].bn2.bias.data == 0)


def test_zero_init_residual_starts_each_block_as_the_identity():
    md.manual_seed(0)
    for model, last_norm in ((resnet.resnet18(zero_init_residual=True), "bn2"),
                             (resnet.resnet50(zero_init_residual=True), "bn3")):
        norms = [getattr(block, last_norm).weight.data for stage in (model.layer1, model.layer2, model.layer3,
                                                                     model.layer4) for block in stage]
        assert all(np.all(w == 0) for w in norms)
    block = resnet.resnet18(zero_init_residual=True).layer1[1].eval()   # identity shortcut
    x = images(2, 64, 8)
    np.testing.assert_array_equal(block(x).data, np.maximum(x.data, 0))


def test_resnet_needs_four_stages():
    with pytest.raises(ValueError, match=r"ResNet: layers must give the number of blocks of 4 stages, got \[2, 2\]"):
        resnet.ResNet(resnet.BasicBlock, [2, 2])


# ---------------------------------------------------------------- CIFAR ResNets
@pytest.mark.parametrize("depth, parameters", [(20, 272_474), (32, 466_906), (44, 661_338), (56, 855_770),
                                               (110, 1_730_714)])
def test_cifar_resnet_counts_and_learns(depth, parameters):
    md.manual_seed(0)
    model = getattr(cifar_resnet, f"resnet{depth}")()
    assert count(model) == parameters
    # Option A (zero-padded identity shortcuts, the paper's 0.27M ... 1.7M) has no projections:
    # 1x1 convs 16->32 and 32->64 with their BN are 576 + 2176 parameters.
    published = {20: 0.27e6, 32: 0.46e6, 44: 0.66e6, 56: 0.85e6, 110: 1.7e6}[depth]
    assert round(count(model) - 2752, -4 if depth < 110 else -5) == published
    n = (depth - 2) // 6
    assert [len(model.layer1), len(model.layer2), len(model.layer3)] == [n, n, n]
    scores = model(images(2, 3, 16))
    assert scores.shape == (2, 10)
    md.functional.cross_entropy(scores, np.array([1, 9])).backward()
    assert_every_parameter_learns(model)


def test_cifar_resnet_in_evaluation_scores_each_image_on_its_own():
    md.manual_seed(0)
    model = cifar_resnet.resnet20(num_classes=5, in_channels=1)
    x = images(4, 1, 32)
    model(x)   # one training step's statistics, so the running ones are not the initial 0 and 1
    model.eval()
    together = model(x).data
    np.testing.assert_allclose(model(x[:1]).data, together[:1], rtol=0, atol=1e-5)
    assert together.shape == (4, 5)


def test_cifar_resnet_refuses_a_depth_that_is_not_6n_plus_2_and_other_than_3_stages():
    with pytest.raises(ValueError, match=r"CifarResNet: depth must be 6n \+ 2 .* got 21"):
        cifar_resnet.CifarResNet(21)
    with pytest.raises(ValueError, match=r"CifarResNet: widths must give the channels of 3 stages, got \(16, 32\)"):
        cifar_resnet.CifarResNet(20, widths=(16, 32))


def test_benchmark_resnet20_is_the_zoos_and_its_twin_has_the_same_names(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.models import resnet20, resnet20_twin

    assert isinstance(resnet20(nn), cifar_resnet.CifarResNet)
    assert keys_and_shapes(resnet20_twin(nn)) == keys_and_shapes(cifar_resnet.resnet20())


def test_cifar_resnet_matches_its_pytorch_twin(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.models import resnet20_twin

    md.manual_seed(0)
    model = cifar_resnet.resnet20()
    twin = resnet20_twin(torch.nn)
    twin.load_state_dict({key: torch.from_numpy(value) for key, value in model.state_dict().items()})
    x = images(2, 3, 16).numpy()
    labels = np.array([3, 7])
    x_ours, x_torch = md.tensor(x, requires_grad=True), torch.from_numpy(x).requires_grad_()
    loss = md.functional.cross_entropy(model(x_ours), labels)
    reference = torch.nn.functional.cross_entropy(twin(x_torch), torch.from_numpy(labels))
    loss.backward()
    reference.backward()
    np.testing.assert_allclose(loss.item(), reference.item(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(x_ours.grad, x_torch.grad.numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(model.layer2[0].downsample[0].weight.grad,
                               twin.layer2[0].downsample[0].weight.grad.numpy(), rtol=0, atol=1e-5)


# ---------------------------------------------------------------- DenseNet
def small_densenet(**kwargs):
    md.manual_seed(0)
    return densenet.densenet121(num_classes=3, growth_rate=4, block_config=(2, 3), num_init_features=8,
                                image_size=32, **kwargs)


def test_densenet_layers_see_every_earlier_feature_map():
    model = small_densenet()
    block1, block2 = model.features.denseblock1, model.features.denseblock2
    # block 1: 8 channels in, + 2 * 4; the transition halves 16 to 8; block 2: 8 + 3 * 4 = 20
    assert [layer.conv1.in_channels for layer in block1.children()] == [8, 12]
    assert [layer.conv1.out_channels for layer in block1.children()] == [16, 16]   # bn_size * growth_rate
    assert model.features.transition1.conv.weight.shape == (8, 16, 1, 1)
    assert [layer.conv1.in_channels for layer in block2.children()] == [8, 12, 16]
    assert model.classifier.weight.shape == (3, 20)
    x = images(2, 8, 6)
    assert block1(x).shape == (2, 16, 6, 6)
    np.testing.assert_array_equal(block1(x).data[:, :8], x.data)   # the input passes through unchanged


def test_densenet_forward_and_backward_on_small_images():
    model = small_densenet()
    scores = model(images(2, 3, 32))
    assert scores.shape == (2, 3)
    md.functional.cross_entropy(scores, np.array([2, 0])).backward()
    assert_every_parameter_learns(model)


def test_densenet_dropout_acts_in_training_only():
    model = small_densenet(drop_rate=0.5)
    x = images(2, 3, 32)
    model(x)
    model.eval()
    np.testing.assert_array_equal(model(x).data, model(x).data)
    model.train()
    assert not np.array_equal(model(x).data, model(x).data)


def test_densenet_minimum_image_size_is_tight():
    md.manual_seed(0)
    model = densenet.densenet121(num_classes=2, growth_rate=4, block_config=(1, 1, 1, 1), num_init_features=8,
                                 image_size=29).eval()
    assert model(images(1, 3, 29)).shape == (1, 2)
    with pytest.raises(ValueError, match="avg_pool2d: the kernel does not fit"):
        model(images(1, 3, 28))
    with pytest.raises(ValueError, match="DenseNet: with 4 dense blocks image_size must be at least 29 .* got 28"):
        densenet.densenet121(image_size=28)
    with pytest.raises(ValueError, match="DenseNet: compression must be in \\(0, 1\\], got 0"):
        densenet.densenet121(compression=0)


def test_transform_input_maps_imagenet_normalisation_to_minus_one_one():
    """A pixel p in [0, 1], normalised as (p - mean)/std, comes out as (p - 0.5)/0.5."""
    from minidl.zoo.googlenet import IMAGENET_MEAN, IMAGENET_STD

    model = googlenet(num_classes=3, image_size=32, transform_input=True)
    pixels = np.random.default_rng(0).uniform(0, 1, (2, 3, 4, 4))
    mean, std = np.array(IMAGENET_MEAN).reshape(1, 3, 1, 1), np.array(IMAGENET_STD).reshape(1, 3, 1, 1)
    moved = model._transform_input(md.tensor((pixels - mean) / std))
    np.testing.assert_allclose(moved.data, (pixels - 0.5) / 0.5, atol=1e-12)
    with pytest.raises(ValueError, match="transform_input .* needs in_channels=3, got 1"):
        googlenet(in_channels=1, transform_input=True)


# ---------------------------------------------------------------- parity with hand-built PyTorch twins
def randomise_state(model, seed):
    """Convert ``model`` to float64 and give every parameter and batch-norm buffer random values,
    so that no batch norm is the identity in evaluation mode (running_var in [0.5, 1.5]) and the
    convolutions keep activations of order one (weights ~ N(0, 1 / fan_in))."""
    rng = np.random.default_rng(seed)
    state = model.double().state_dict()
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            continue
        if key.endswith("running_var"):
            state[key] = rng.uniform(0.5, 1.5, value.shape)
        elif value.ndim == 4:
            state[key] = rng.standard_normal(value.shape) / np.sqrt(value[0].size)
        else:
            state[key] = rng.standard_normal(value.shape)
    model.load_state_dict(state)
    return model


def assert_matches_twin(torch, ours, twin, x, training, seed=0):
    """Load our weights into the PyTorch twin, run both on ``x`` in the same mode and back-propagate
    the same random dout: the outputs, the input gradients, every parameter's gradient and (after
    a training step) the running statistics must agree to float64 rounding."""
    twin.double().load_state_dict({key: torch.from_numpy(np.array(value)) for key, value in ours.state_dict().items()})
    ours.train(training)
    twin.train(training)
    assert_forward_and_backward_agree(torch, ours, twin, x, seed=seed + 1)
    twin_state = twin.state_dict()
    for key, value in ours.state_dict().items():
        np.testing.assert_allclose(value, twin_state[key].numpy(), rtol=0, atol=1e-12, err_msg=key)


def torch_basic_conv2d(tnn):
    """The twin of googlenet.BasicConv2d: conv without bias, batch norm (eps 0.001), ReLU."""

    class BasicConv2d(tnn.Module):
        def __init__(self, in_channels, out_channels, **conv_options):
            super().__init__()
            self.conv = tnn.Conv2d(in_channels, out_channels, bias=False, **conv_options)
            self.bn = tnn.BatchNorm2d(out_channels, eps=0.001)
            self.relu = tnn.ReLU()

        def forward(self, x):
            return self.relu(self.bn(self.conv(x)))

    return BasicConv2d


def torch_inception(torch, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, ch5x5_kernel):
    """torchvision's Inception module, written out: four branches concatenated in order 1, 2, 3, 4."""
    tnn = torch.nn
    conv = torch_basic_conv2d(tnn)

    class Inception(tnn.Module):
        def __init__(self):
            super().__init__()
            self.branch1 = conv(in_channels, ch1x1, kernel_size=1)
            self.branch2 = tnn.Sequential(conv(in_channels, ch3x3red, kernel_size=1),
                                          conv(ch3x3red, ch3x3, kernel_size=3, padding=1))
            self.branch3 = tnn.Sequential(conv(in_channels, ch5x5red, kernel_size=1),
                                          conv(ch5x5red, ch5x5, kernel_size=ch5x5_kernel, padding=ch5x5_kernel // 2))
            self.branch4 = tnn.Sequential(tnn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                          conv(in_channels, pool_proj, kernel_size=1))

        def forward(self, x):
            return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)

    return Inception()


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("ch5x5_kernel", [5, 3])
def test_inception_module_matches_its_pytorch_twin(ch5x5_kernel, training):
    """The four branches compute different maps (widths 4, 5, 3 and 4), so concatenating them in
    another order, a wrong kernel or padding in a branch, or a pool that pads with 0 instead of
    -inf changes the output and the gradients. (With stride 1, ceil_mode does not change the
    pool's output size: 9 + 2 - 3 + 1 = 9 either way.)"""
    torch = pytest.importorskip("torch")
    config = (8, 4, 3, 5, 2, 3, 4)
    ours = randomise_state(Inception(*config, ch5x5_kernel=ch5x5_kernel), seed=ch5x5_kernel)
    x = np.random.default_rng(2).standard_normal((2, 8, 9, 9))
    assert_matches_twin(torch, ours, torch_inception(torch, *config, ch5x5_kernel), x, training)


def torch_dense_block(torch, num_layers, in_channels, growth_rate, bn_size):
    """torchvision's _DenseBlock, written out: layer l reads cat(x, new_1, ..., new_{l-1})."""
    tnn = torch.nn

    class DenseLayer(tnn.Module):
        def __init__(self, channels):
            super().__init__()
            self.norm1 = tnn.BatchNorm2d(channels)
            self.relu1 = tnn.ReLU()
            self.conv1 = tnn.Conv2d(channels, bn_size * growth_rate, 1, bias=False)
            self.norm2 = tnn.BatchNorm2d(bn_size * growth_rate)
            self.relu2 = tnn.ReLU()
            self.conv2 = tnn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)

        def forward(self, x):
            return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))

    class DenseBlock(tnn.Module):
        def __init__(self):
            super().__init__()
            for i in range(num_layers):
                self.add_module(f"denselayer{i + 1}", DenseLayer(in_channels + i * growth_rate))

        def forward(self, x):
            features = [x]
            for layer in self.children():
                features.append(layer(torch.cat(features, 1)))
            return torch.cat(features, 1)

    return DenseBlock()


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_dense_block_matches_its_pytorch_twin(training):
    """Three layers on 6 input channels with growth 4: every layer's input is the concatenation
    of all earlier features, in order, and the block returns all 6 + 3 * 4 = 18 channels."""
    torch = pytest.importorskip("torch")
    ours = randomise_state(densenet.DenseBlock(3, 6, growth_rate=4, bn_size=2), seed=4)
    x = np.random.default_rng(5).standard_normal((2, 6, 5, 5))
    assert ours.eval()(md.tensor(x)).shape == (2, 18, 5, 5)   # evaluation: the running statistics stay put
    assert_matches_twin(torch, ours, torch_dense_block(torch, 3, 6, growth_rate=4, bn_size=2), x, training)
