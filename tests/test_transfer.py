"""minidl.transfer: freezing, heads, features, layer-wise rates and probes."""

import numpy as np
import pytest

import minidl as md
from minidl import nn, optim
from minidl import functional as F
from minidl.data import DataLoader, TensorDataset
from minidl.train import fit
from minidl.transfer import (FeatureExtractor, GradualUnfreezing, adapt_input_channels, extract_features, find_head, finetune, freeze,
                             layerwise_param_groups, linear_probe, probe_layers, replace_head, trainable_summary,
                             unfreeze)
from minidl.zoo import MODELS, get_model, lenet5, resnet20, small_vgg

# Smallest images each zoo model takes, with the keywords that make it small enough to test quickly.
SMALL = {
    "lenet5": dict(image_size=28, in_channels=1), "small_vgg": dict(image_size=28, in_channels=1),
    "alexnet": dict(image_size=63), "alexnet_original": dict(image_size=67), "zfnet": dict(image_size=67),
    "googlenet": dict(image_size=15), "all_cnn_c": dict(image_size=32), "densenet121": dict(image_size=32),
    "mobilenet_v1": dict(image_size=32),
}


def small_images(name, n=2, seed=0):
    kwargs = SMALL.get(name, dict(image_size=32))
    shape = (n, kwargs.get("in_channels", 3), kwargs["image_size"], kwargs["image_size"])
    return kwargs, md.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def train_steps(model, x, labels, steps=2, lr=0.1):
    optimizer = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(model(x) if not isinstance(model(x), tuple) else model(x)[0], labels).backward()
        optimizer.step()


# ---------------------------------------------------------------- freezing
def test_frozen_parameters_stay_bit_identical_and_get_no_gradient():
    md.manual_seed(0)
    model = lenet5()
    freeze(model, until="features")
    frozen = {name: p.numpy().copy() for name, p in model.named_parameters() if name.startswith("features")}
    trained = {name: p.numpy().copy() for name, p in model.named_parameters() if name.startswith("classifier")}
    x, labels = md.randn(8, 1, 28, 28), md.randint(0, 10, (8,))
    train_steps(model, x, labels)
    for name, p in model.named_parameters():
        if name in frozen:
            assert p.grad is None and not p.requires_grad
            np.testing.assert_array_equal(p.numpy(), frozen[name])
        else:
            assert p.requires_grad and not np.array_equal(p.numpy(), trained[name])


def test_until_freezes_modules_in_named_modules_order_up_to_and_including_the_layer():
    model = lenet5()
    freeze(model, until="features.conv2")
    state = {name: p.requires_grad for name, p in model.named_parameters()}
    assert not state["features.conv1.weight"] and not state["features.conv2.bias"]
    assert all(state[name] for name in state if name.startswith("classifier"))
    unfreeze(model)
    assert all(p.requires_grad for p in model.parameters())


def test_frozen_batch_norm_keeps_its_statistics_in_training_mode():
    md.manual_seed(0)
    model = small_vgg(in_channels=1)
    freeze(model, until="features")
    norms = [m for m in model.features.modules() if isinstance(m, nn.BatchNorm2d)]
    before = [(m.running_mean.numpy().copy(), m.running_var.numpy().copy(), m.num_batches_tracked.item())
              for m in norms]
    train_steps(model, md.randn(8, 1, 28, 28) * 3 + 1, md.randint(0, 10, (8,)))
    for m, (mean, var, count) in zip(norms, before):
        np.testing.assert_array_equal(m.running_mean.numpy(), mean)
        np.testing.assert_array_equal(m.running_var.numpy(), var)
        assert m.num_batches_tracked.item() == count
    unfreeze(model)
    train_steps(model, md.randn(8, 1, 28, 28) * 3 + 1, md.randint(0, 10, (8,)), steps=1)
    assert not np.array_equal(norms[0].running_mean.numpy(), before[0][0])


def test_frozen_batch_norm_can_keep_updating_when_asked():
    model = small_vgg(in_channels=1)
    freeze(model, keep_statistics=False)
    norm = model.features.get_submodule("bn1") if hasattr(model.features, "bn1") else next(
        m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    model.train()
    model(md.randn(4, 1, 28, 28) + 5)
    assert norm.num_batches_tracked.item() == 1


def test_trainable_summary_counts_what_trains():
    model = lenet5()
    freeze(model, until="features")
    table = trainable_summary(model)
    features = sum(p.numel() for p in model.features.parameters())
    classifier = sum(p.numel() for p in model.classifier.parameters())
    assert f"{features:,}" in table.splitlines()[1] and f"{classifier:,}" in table.splitlines()[2]
    assert table.splitlines()[-1].split()[1:] == [f"{classifier:,}", f"{features:,}"]


def test_freeze_refuses_an_unknown_layer():
    with pytest.raises(KeyError, match="no module named 'features.conv9'.*features, classifier"):
        freeze(lenet5(), until="features.conv9")


# ---------------------------------------------------------------- heads
@pytest.mark.parametrize("name", sorted(MODELS))
def test_replace_head_works_on_every_zoo_model(name):
    md.manual_seed(0)
    kwargs, x = small_images(name)
    model = get_model(name, num_classes=10, **kwargs)
    replace_head(model, 4)
    model.eval()
    out = model(x)
    assert out.shape == (2, 4)
    model.train()
    result = model(x)
    scores = result[0] if isinstance(result, tuple) else result
    assert scores.shape == (2, 4)
    loss = F.cross_entropy(scores, md.tensor([0, 3]))
    if isinstance(result, tuple):  # GoogLeNet's auxiliary heads were replaced too
        assert all(aux.shape == (2, 4) for aux in result[1:])
        loss = loss + sum(F.cross_entropy(aux, md.tensor([0, 3])) for aux in result[1:])
    loss.backward()
    head = dict(model.named_modules())[find_head(model)[0]]
    assert head.weight.grad is not None and head.weight.requires_grad


def test_replace_head_gives_a_trainable_head_on_a_frozen_body():
    model = resnet20()
    freeze(model)
    replace_head(model, 3)
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["fc.weight", "fc.bias"]


def test_replace_head_finds_the_class_producing_convolution():
    model = get_model("all_cnn_c", num_classes=10)
    assert find_head(model) == ["features.conv9"]
    replace_head(model, 7)
    assert model.features.conv9.out_channels == 7


def test_replace_head_refuses_an_unknown_head_and_bad_class_counts():
    with pytest.raises(KeyError, match="no module named 'head'"):
        replace_head(lenet5(), 3, head="head")
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        replace_head(lenet5(), 0)


def test_adapt_input_channels_keeps_the_response_to_grey_images():
    md.manual_seed(0)
    colour = get_model("lenet5", in_channels=3, image_size=32).eval()
    grey = md.rand(2, 1, 32, 32)
    expected = colour(md.cat([grey, grey, grey], dim=1)).numpy()
    adapt_input_channels(colour, 1)
    np.testing.assert_allclose(colour(grey).numpy(), expected, rtol=1e-5, atol=1e-5)
    adapt_input_channels(colour, 3)  # and back: a grey image as three planes gives the same again
    np.testing.assert_allclose(colour(md.cat([grey, grey, grey], dim=1)).numpy(), expected, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- features
def test_feature_extractor_returns_named_activations_like_the_model():
    md.manual_seed(0)
    model = lenet5().eval()
    x = md.randn(3, 1, 28, 28)
    extractor = FeatureExtractor(model, {"features.conv1": "low", "classifier": "scores"})
    out = extractor(x)
    assert set(out) == {"low", "scores"}
    np.testing.assert_array_equal(out["scores"].numpy(), model(x).numpy())
    assert out["low"].shape == (3, 6, 28, 28)
    with pytest.raises(KeyError, match="no module named 'conv1'"):
        FeatureExtractor(model, ["conv1"])


def test_extract_features_pools_and_caches_keyed_by_the_weights(tmp_path):
    md.manual_seed(0)
    model = lenet5()
    images = np.random.default_rng(0).random((10, 1, 28, 28)).astype(np.float32)
    data = TensorDataset(images, np.arange(10) % 3)
    features, labels = extract_features(model, data, "features.conv1", pool="avg", batch_size=4,
                                        cache_dir=tmp_path, progress=False)
    assert features.shape == (10, 6) and labels.tolist() == (np.arange(10) % 3).tolist()
    assert len(list(tmp_path.glob("features-*.npz"))) == 1
    again, _ = extract_features(model, data, "features.conv1", pool="avg", cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(again, features)
    with md.no_grad():
        model.features.conv1.weight.mul_(2.0)
    changed, _ = extract_features(model, data, "features.conv1", pool="avg", cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.glob("features-*.npz"))) == 2 and not np.allclose(changed, features)
    flat, _ = extract_features(model, data, "features.conv1", pool=2, progress=False)
    assert flat.shape == (10, 6 * 2 * 2)


# ---------------------------------------------------------------- layer-wise rates
def test_layerwise_groups_have_the_stated_rates():
    model = resnet20()
    groups = layerwise_param_groups(model, base_lr=0.1, factor=10)
    names = [g["name"] for g in groups]
    assert names == ["conv1", "bn1", "layer1", "layer2", "layer3", "fc"]
    np.testing.assert_allclose([g["lr"] for g in groups], [0.1 / 10 ** k for k in range(5, -1, -1)])
    optimizer = optim.SGD(groups, lr=1.0, momentum=0.9)
    assert [g["lr"] for g in optimizer.param_groups] == [g["lr"] for g in groups]
    custom = layerwise_param_groups(model, 0.01, factor=3, groups=[["conv1", "bn1", "layer1"], ["layer2", "layer3"],
                                                                     "fc"], head_lr=0.1)
    np.testing.assert_allclose([g["lr"] for g in custom], [0.01 / 9, 0.01 / 3, 0.1])


def test_layerwise_groups_skip_frozen_parameters_and_refuse_forgotten_ones():
    model = lenet5()
    freeze(model, until="features")
    assert [g["name"] for g in layerwise_param_groups(model, 0.1)] == ["classifier"]
    unfreeze(model)
    with pytest.raises(ValueError, match="trainable parameters in no group"):
        layerwise_param_groups(model, 0.1, groups=["classifier"])


# ---------------------------------------------------------------- probes
def separable(n, seed, dims=5, classes=3):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    centres = np.eye(classes, dims) * 4
    return (centres[labels] + rng.standard_normal((n, dims))).astype(np.float32), labels


@pytest.mark.parametrize("loss", ["softmax", "svm"])
def test_linear_probe_separates_separable_features(loss):
    md.manual_seed(0)
    result = linear_probe(*separable(300, 0), *separable(300, 1), loss=loss, epochs=20)
    assert result.train_accuracy > 0.97 and result.test_accuracy > 0.97


def test_linear_probe_is_at_chance_on_noise():
    md.manual_seed(0)
    rng = np.random.default_rng(0)
    x, x_test = rng.standard_normal((200, 4)), rng.standard_normal((600, 4))
    result = linear_probe(x, rng.integers(0, 3, 200), x_test, rng.integers(0, 3, 600), epochs=10)
    assert 0.2 < result.test_accuracy < 0.45


def test_probe_layers_gives_one_row_per_layer():
    md.manual_seed(0)
    model = lenet5()
    rng = np.random.default_rng(0)
    images = rng.random((40, 1, 28, 28)).astype(np.float32)
    labels = (images[:, 0, :14].mean(axis=(1, 2)) > images[:, 0, 14:].mean(axis=(1, 2))).astype(np.int64)
    data = TensorDataset(images, labels)
    rows = probe_layers(model, data, data, ["features.conv1", "classifier.fc1"], epochs=5, progress=False)
    assert [r["layer"] for r in rows] == ["features.conv1", "classifier.fc1"]
    assert rows[0]["pool"] == "avg" and rows[0]["dimensions"] == 6
    assert rows[1]["pool"] is None and rows[1]["dimensions"] == 120
    assert all(0 <= r["softmax"] <= 1 and 0 <= r["svm"] <= 1 for r in rows)


# ---------------------------------------------------------------- strategies
@pytest.mark.parametrize("strategy", ["linear-probe", "feature-extractor", "fine-tune-last-k", "fine-tune-all",
                                      "from-scratch"])
def test_every_strategy_learns_a_separable_target(strategy):
    md.manual_seed(0)
    rng = np.random.default_rng(0)
    labels = np.arange(120) % 2
    images = rng.random((120, 1, 28, 28)).astype(np.float32) * 0.2
    images[labels == 1, :, 4:24, 4:24] += 0.8  # a bright square: class 1
    train, test = TensorDataset(images[:80], labels[:80]), TensorDataset(images[80:], labels[80:])
    train.classes = ["dark", "square"]
    source = lenet5()
    before = {n: p.numpy().copy() for n, p in source.named_parameters()}
    result = finetune(source, train, test, strategy=strategy, epochs=6, lr=0.05, last_k=1, batch_size=16)
    assert result["test_accuracy"] >= 0.9, result
    if strategy != "linear-probe":  # the probe is a separate classifier; the network keeps its head
        assert result["model"](md.zeros(1, 1, 28, 28)).shape == (1, 2)
    if strategy == "feature-extractor":
        body = {n: p.numpy() for n, p in result["model"].named_parameters() if n.startswith("features")}
        assert all(np.array_equal(body[n], before[n]) for n in body)
    if strategy == "from-scratch":
        assert result["model"] is not source


def test_finetune_refuses_an_unknown_strategy():
    with pytest.raises(ValueError, match="strategy must be one of linear-probe"):
        finetune(lenet5(), None, None, strategy="fine-tune-some")


def test_gradual_unfreezing_trains_the_head_first_then_one_more_group_every_few_epochs():
    md.manual_seed(0)
    rng = np.random.default_rng(0)
    images, labels = rng.random((32, 1, 28, 28)).astype(np.float32), np.arange(32) % 10
    model = lenet5()
    optimizer = optim.SGD(layerwise_param_groups(model, 0.05, factor=3), momentum=0.9)
    unfreezing = GradualUnfreezing(model, every=2)
    assert [unfreezing.trainable_groups(epoch) for epoch in (1, 2, 3, 4, 9)] == [1, 1, 2, 2, 2]

    class Snapshot:
        def __init__(self):
            self.features = {}

        def on_epoch_end(self, model, epoch, history):
            self.features[epoch] = model.features[0].weight.numpy().copy()

    snapshot, start = Snapshot(), model.features[0].weight.numpy().copy()
    loader = DataLoader(TensorDataset(images, labels), batch_size=8, shuffle=True)
    fit(model, optimizer, loader, epochs=3, progress=False, log=None, callbacks=[unfreezing, snapshot])
    np.testing.assert_array_equal(snapshot.features[1], start)
    np.testing.assert_array_equal(snapshot.features[2], start)
    assert not np.array_equal(snapshot.features[3], start)
    assert all(p.requires_grad for p in model.parameters())


def test_gradual_unfreezing_refuses_bad_settings():
    with pytest.raises(ValueError, match="every must be an int >= 1, got 0"):
        GradualUnfreezing(lenet5(), every=0)
    with pytest.raises(KeyError, match="no module named 'body'"):
        GradualUnfreezing(lenet5(), groups=["body", "classifier"])
    with pytest.raises(ValueError, match="unfreeze_every applies to the fine-tune-all strategy"):
        finetune(lenet5(), None, None, strategy="feature-extractor", unfreeze_every=2)
