"""LeNet-5 from the zoo: its shapes, its parameter count, its names, and the registry."""

import numpy as np
import pytest

import minidl as md
from minidl import nn
from minidl.zoo import MODELS, LeNet5, get_model, lenet5

# conv1 6*(1*25+1) + conv2 16*(6*25+1) + fc1 120*(400+1) + fc2 84*(120+1) + fc3 10*(84+1)
LENET5_PARAMETERS = 156 + 2416 + 48120 + 10164 + 850


def count(model):
    return sum(p.numel() for p in model.parameters())


def test_lenet5_has_the_published_parameter_count_and_readable_names():
    model = lenet5()
    assert count(model) == LENET5_PARAMETERS == 61706
    assert list(model.state_dict()) == [
        "features.conv1.weight", "features.conv1.bias", "features.conv2.weight", "features.conv2.bias",
        "classifier.fc1.weight", "classifier.fc1.bias", "classifier.fc2.weight", "classifier.fc2.bias",
        "classifier.fc3.weight", "classifier.fc3.bias",
    ]
    assert model.features.conv1.weight.shape == (6, 1, 5, 5)


@pytest.mark.parametrize("in_channels, image_size", [(1, 28), (3, 32), (1, 30)])
def test_lenet5_maps_images_to_class_scores(in_channels, image_size):
    model = get_model("lenet5", num_classes=7, in_channels=in_channels, image_size=image_size)
    x = md.tensor(np.zeros((2, in_channels, image_size, image_size), np.float32))
    assert model.features(x).shape == (2, 16, 5, 5)   # the same 400 features whatever the size
    assert model(x).shape == (2, 7)


def test_the_original_squashing_and_averaging_can_be_chosen():
    model = lenet5(activation="tanh", pool="avg")
    assert isinstance(model.features.act1, nn.Tanh) and isinstance(model.features.pool1, nn.AvgPool2d)
    assert count(model) == LENET5_PARAMETERS


def test_lenet5_matches_pytorch():
    torch = pytest.importorskip("torch")
    model = lenet5()
    reference = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(),
        torch.nn.Linear(84, 10),
    )
    reference.load_state_dict({torch_key: torch.from_numpy(value) for torch_key, value in
                               zip(reference.state_dict(), model.state_dict().values())})
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    expected = reference(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model(md.tensor(x)).data, expected, atol=1e-5, rtol=0)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="LeNet5: image_size must be 28, 30 or 32 .* got 24"):
        lenet5(image_size=24)
    with pytest.raises(ValueError, match="LeNet5: activation must be one of \\['relu', 'tanh'\\], got 'gelu'"):
        lenet5(activation="gelu")
    with pytest.raises(ValueError, match="LeNet5: pool must be one of \\['avg', 'max'\\], got 'min'"):
        lenet5(pool="min")
    with pytest.raises(ValueError, match=r"LeNet5: expected images of shape \(N, 1, 28, 28\) .*got shape \(2, 1, 32, 32\)"):
        lenet5()(md.tensor(np.zeros((2, 1, 32, 32), np.float32)))


def test_the_registry_builds_by_name():
    assert MODELS["lenet5"] is lenet5
    assert isinstance(get_model("lenet5", num_classes=3), LeNet5)
    with pytest.raises(KeyError, match="unknown model 'lenet7'; known models: .*lenet5, "):
        get_model("lenet7")
