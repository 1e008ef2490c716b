"""The module system: registration, traversal, modes, freezing, dtype, state dicts, containers."""

from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl as md
from minidl import nn


class Scale(nn.Module):
    """y = x * gain + shift, built from Tensor operations only (no functional layer involved)."""

    def __init__(self, n):
        super().__init__()
        self.gain = nn.Parameter(np.ones(n, dtype=np.float32))
        self.shift = nn.Parameter(np.zeros(n, dtype=np.float32))
        self.register_buffer("calls", np.array(0, dtype=np.int64))
        self.register_buffer("scratch", np.zeros(n, dtype=np.float32), persistent=False)

    def forward(self, x):
        self.calls.add_(1)
        return x * self.gain + self.shift


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2))
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(4 * 2 * 2, 5))

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


def torch_net(torch):
    """The same architecture built from torch.nn, for comparing names, keys and reprs."""
    tnn = torch.nn

    class TorchNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.features = tnn.Sequential(tnn.Conv2d(3, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.ReLU(),
                                           tnn.MaxPool2d(2))
            self.flatten = tnn.Flatten()
            self.classifier = tnn.Sequential(tnn.Dropout(0.5), tnn.Linear(4 * 2 * 2, 5))

        def forward(self, x):
            return self.classifier(self.flatten(self.features(x)))

    return TorchNet()


@pytest.fixture(autouse=True)
def seeded():
    md.manual_seed(0)  # reproducible initial weights and dropout masks


def image(rng, *shape):
    return md.tensor(rng.standard_normal(shape).astype(np.float32))


# ---------------------------------------------------------------------- registration
def test_attributes_are_sorted_into_parameters_buffers_and_modules():
    m = Scale(3)
    m.child = Scale(2)
    m.plain = md.tensor(np.ones(2))  # a plain Tensor is an ordinary attribute, not a parameter
    assert [name for name, _ in m.named_parameters(recurse=False)] == ["gain", "shift"]
    assert [name for name, _ in m.named_buffers(recurse=False)] == ["calls", "scratch"]
    assert [name for name, _ in m.named_children()] == ["child"]
    assert m.gain is m._parameters["gain"] and m.child is m._modules["child"]
    assert all(p.requires_grad for p in m.parameters())
    assert not m.calls.requires_grad
    assert "plain" not in dict(m.named_parameters())


def test_assigning_a_buffer_name_updates_the_buffer():
    m = Scale(2)
    m.scratch = np.full(2, 7.0, dtype=np.float32)
    assert isinstance(m.scratch, md.Tensor)
    np.testing.assert_array_equal(m.scratch.numpy(), [7.0, 7.0])
    assert list(dict(m.named_buffers())) == ["calls", "scratch"]


def test_reassigning_a_name_moves_it_to_the_right_registry():
    m = Scale(2)
    m.gain = nn.Parameter(np.zeros(2, dtype=np.float32))
    assert [name for name, _ in m.named_parameters()] == ["gain", "shift"]  # same place in the order
    m.gain = nn.Linear(2, 2)
    assert "gain" not in m._parameters and m._modules["gain"] is m.gain
    m.gain = nn.Parameter(np.ones(2, dtype=np.float32))
    assert "gain" not in m._modules and "gain" in m._parameters


def test_optional_parameter_can_be_none():
    m = nn.Linear(3, 2, bias=False)
    assert m.bias is None
    assert [name for name, _ in m.named_parameters()] == ["weight"]
    assert list(m.state_dict()) == ["weight"]


def test_deleting_a_registered_attribute_unregisters_it():
    m = Scale(2)
    del m.shift
    del m.scratch
    assert [name for name, _ in m.named_parameters()] == ["gain"]
    assert [name for name, _ in m.named_buffers()] == ["calls"]
    with pytest.raises(AttributeError, match="has no attribute 'shift'"):
        m.shift


def test_a_tensor_that_is_not_a_parameter_cannot_replace_a_parameter():
    m = Scale(2)
    with pytest.raises(TypeError, match="parameter 'gain'.*Parameter or None"):
        m.gain = md.tensor(np.ones(2, dtype=np.float32))


def test_register_parameter_and_add_module_check_the_type():
    m = Scale(1)
    with pytest.raises(TypeError, match=r"cannot assign Tensor as parameter 'w'.*nn.Parameter\(...\)"):
        m.register_parameter("w", md.tensor(np.ones(1)))
    with pytest.raises(TypeError, match="add_module: Linear2 is not a Module"):
        m.add_module("child", type("Linear2", (), {})())
    m.add_module("child", nn.ReLU())
    assert m.child is m._modules["child"]


def test_registration_before_init_is_refused():
    class Forgetful(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.ones(1))

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Forgetful()


@pytest.mark.parametrize("name, error, match", [
    ("a.b", KeyError, "contain no '.'"),
    ("", KeyError, "non-empty"),
    ("forward", KeyError, "attribute 'forward' already exists"),
    (3, TypeError, "must be a string"),
])
def test_bad_names_are_refused(name, error, match):
    with pytest.raises(error, match=match):
        Scale(1).register_buffer(name, np.zeros(1))
    with pytest.raises(error, match=match):
        Scale(1).register_parameter(name, nn.Parameter(np.zeros(1)))


def test_buffer_must_be_array_tensor_or_none():
    with pytest.raises(TypeError, match="buffer 'b'.*ndarray, Tensor or None"):
        Scale(1).register_buffer("b", "not an array")


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module is missing the required forward"):
        nn.Module()(1)


# ---------------------------------------------------------------------- traversal
def test_named_parameters_have_pytorch_names_order_and_shapes():
    torch = pytest.importorskip("torch")
    ours = [(name, p.shape) for name, p in Net().named_parameters()]
    theirs = [(name, tuple(p.shape)) for name, p in torch_net(torch).named_parameters()]
    assert ours == theirs
    assert ours[0] == ("features.0.weight", (4, 3, 3, 3))


def test_state_dict_keys_match_pytorch_including_batch_norm_buffers():
    torch = pytest.importorskip("torch")
    ours = {key: value.shape for key, value in Net().state_dict().items()}
    theirs = {key: tuple(value.shape) for key, value in torch_net(torch).state_dict().items()}
    assert list(ours) == list(theirs)
    assert ours == theirs
    assert "features.1.num_batches_tracked" in ours


def test_named_modules_lists_every_module_once_in_tree_order():
    net = Net()
    names = [name for name, _ in net.named_modules()]
    assert names == ["", "features", "features.0", "features.1", "features.2", "features.3", "flatten",
                     "classifier", "classifier.0", "classifier.1"]
    assert list(net.modules())[0] is net
    assert [name for name, _ in net.named_children()] == ["features", "flatten", "classifier"]
    assert net.get_submodule("features.1") is net.features[1]
    with pytest.raises(AttributeError, match="has no sub-module '7'"):
        net.get_submodule("features.7")


def test_shared_parameters_are_listed_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(model.modules())) == 3  # Sequential, Linear, ReLU


def test_repr_matches_pytorch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    ours = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8),
                         nn.LeakyReLU(0.2), nn.MaxPool2d(2), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, 4), nn.Softmax(dim=1), nn.ConvTranspose2d(2, 4, 3, stride=2,
                                                                                            output_padding=1))
    theirs = tnn.Sequential(tnn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), tnn.BatchNorm2d(8),
                            tnn.LeakyReLU(0.2), tnn.MaxPool2d(2), tnn.AvgPool2d(2), tnn.AdaptiveAvgPool2d(1),
                            tnn.Flatten(), tnn.Linear(8, 4), tnn.Softmax(dim=1), tnn.ConvTranspose2d(2, 4, 3, stride=2,
                                                                                                    output_padding=1))
    assert repr(ours) == repr(theirs)
    assert repr(nn.Conv2d(2, 4, 3, padding="same")) == repr(tnn.Conv2d(2, 4, 3, padding="same"))


def test_nested_repr_indents_children():
    assert repr(Net()).splitlines()[:3] == [
        "Net(",
        "  (features): Sequential(",
        "    (0): Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))",
    ]


# ---------------------------------------------------------------------- modes and bulk changes
def test_train_and_eval_reach_every_module():
    net = Net()
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.classifier.train(False)
    assert net.training and not net.classifier[1].training and net.features[0].training
    with pytest.raises(TypeError, match="mode must be a bool"):
        net.train("eval")


def test_dropout_follows_the_mode_of_its_model(rng):
    model = nn.Sequential(nn.Identity(), nn.Dropout(0.5))
    x = md.tensor(np.ones((50, 40), dtype=np.float32))
    md.manual_seed(0)
    y = model(x).numpy()
    assert set(np.unique(y)) == {0.0, 2.0}  # kept values are scaled by 1/(1-p)
    np.testing.assert_array_equal(model.eval()(x).numpy(), x.numpy())


def test_batch_norm_uses_batch_statistics_in_training_and_running_ones_in_eval(rng):
    model = nn.Sequential(nn.BatchNorm2d(3, momentum=0.5)).double()
    bn = model[0]
    x = md.tensor(rng.normal(2.0, 3.0, (8, 3, 4, 4)))
    y = model(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), 1, atol=1e-4)
    assert bn.num_batches_tracked.item() == 1
    m = x.shape[0] * 16
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.5 * x.numpy().mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.5 + 0.5 * x.numpy().var(axis=(0, 2, 3)) * m / (m - 1),
                               rtol=1e-6)

    model.eval()
    running_mean, running_var = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
    y = model(x).numpy()
    expected = (x.numpy() - running_mean[:, None, None]) / np.sqrt(running_var[:, None, None] + bn.eps)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert bn.num_batches_tracked.item() == 1  # evaluation does not count
    np.testing.assert_array_equal(bn.running_mean.numpy(), running_mean)


def test_zero_grad_forgets_gradients_by_default(rng):
    model = nn.Linear(3, 2)
    model(image(rng, 4, 3)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_zero_grad_without_set_to_none_zeroes_the_gradients_in_place(rng):
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    x = image(rng, 4, 3)
    model[1](md.tensor(rng.standard_normal((4, 2)).astype(np.float32))).sum().backward()  # only model[1]
    grads = [p.grad for p in model[1].parameters()]
    model.zero_grad(set_to_none=False)
    assert all(p.grad is g for p, g in zip(model[1].parameters(), grads))  # the same Tensors, now zeros
    assert all(not p.grad.numpy().any() and p.grad.dtype == np.float32 for p in model[1].parameters())
    assert all(p.grad is None for p in model[0].parameters())  # no gradient yet: none is made
    model(x).sum().backward()
    fresh = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    fresh.load_state_dict(model.state_dict())
    fresh(x).sum().backward()
    for p, q in zip(model.parameters(), fresh.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())  # accumulated onto zeros


def test_frozen_parameters_get_no_gradient(rng):
    net = Net()
    assert net.features.requires_grad_(False) is net.features
    net(image(rng, 2, 3, 4, 4)).sum().backward()
    for name, p in net.named_parameters():
        frozen = name.startswith("features.")
        assert p.requires_grad == (not frozen)
        assert (p.grad is None) == frozen, name
    net.requires_grad_()
    assert all(p.requires_grad for p in net.parameters())


def test_an_optimiser_leaves_frozen_parameters_where_they_are(rng):
    net = Net()
    net.features.requires_grad_(False)
    optimizer = md.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1)
    before = net.state_dict()
    for _ in range(2):
        optimizer.zero_grad()
        net(image(rng, 2, 3, 4, 4)).sum().backward()
        optimizer.step()
    after = net.state_dict()
    for key in before:
        if key.startswith("features.0.") or key in ("features.1.weight", "features.1.bias"):
            np.testing.assert_array_equal(after[key], before[key], err_msg=key)
    assert not np.array_equal(after["classifier.1.weight"], before["classifier.1.weight"])


@pytest.mark.parametrize("flag", ["False", 0, None])
def test_requires_grad_takes_a_bool_only(flag):
    net = Net()
    with pytest.raises(TypeError, match=f"Net.requires_grad_: requires_grad must be a bool, got {flag!r}"):
        net.requires_grad_(flag)
    assert all(p.requires_grad for p in net.parameters())


def test_apply_visits_children_before_parents():
    visited = []
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Tanh()))
    assert net.apply(lambda m: visited.append(type(m).__name__)) is net
    assert visited == ["Linear", "ReLU", "Tanh", "Sequential", "Sequential"]


def test_apply_can_reinitialise_layers():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))

    def zero_linear(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    net.apply(zero_linear)
    assert all(not m.weight.numpy().any() for m in net.modules() if isinstance(m, nn.Linear))


def test_double_and_float_convert_parameters_and_float_buffers_in_place():
    net = Net()
    weight = net.features[0].weight
    net.double()
    assert net.features[0].weight is weight  # same Parameter objects: an optimiser keeps working
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.features[1].running_mean.dtype == np.float64
    assert net.features[1].num_batches_tracked.dtype == np.int64
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())
    assert net.to(np.float64) is net


def devices():
    """Every spelling of the CPU that ``to`` accepts, PyTorch's device object included."""
    yield "cpu"
    yield "cpu:0"
    yield md.device("cpu")
    torch = pytest.importorskip("torch")
    yield torch.device("cpu")


@pytest.mark.parametrize("call, dtype", [
    (lambda net: net.to(md.float64), np.float64),
    (lambda net: net.to(np.float64), np.float64),
    (lambda net: net.to("float64"), np.float64),
    (lambda net: net.to(dtype=md.double), np.float64),
    (lambda net: net.to("cpu", md.float64), np.float64),
    (lambda net: net.to(md.device("cpu"), dtype=np.float64), np.float64),
    (lambda net: net.to(md.zeros(2, dtype=md.float64)), np.float64),
    (lambda net: net.to(None), np.float32),
    (lambda net: net.to(), np.float32),
    (lambda net: net.to(device="cpu"), np.float32),
    (lambda net: net.type(md.float64), np.float64),
    (lambda net: net.type("float64"), np.float64),
    (lambda net: net.cpu(), np.float32),
])
def test_to_type_and_cpu_take_pytorchs_arguments(call, dtype):
    net = Net()
    weight = net.features[0].weight
    assert call(net) is net
    assert net.features[0].weight is weight
    assert all(p.dtype == dtype for p in net.parameters())
    assert net.features[1].running_var.dtype == dtype
    assert net.features[1].num_batches_tracked.dtype == np.int64  # a counter stays an integer


def test_to_a_device_changes_nothing_and_to_none_keeps_the_dtype():
    net = Net().double()
    versions = [p._version.value for p in net.parameters()]
    for device in [None, *devices()]:
        assert net.to(device) is net
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert [p._version.value for p in net.parameters()] == versions  # not even rewritten in place


@pytest.mark.parametrize("call, error, match", [
    (lambda net: net.to("cuda"), RuntimeError, "minidl runs on the CPU only, got 'cuda'"),
    (lambda net: net.to("cuda:1", md.float64), RuntimeError, "minidl runs on the CPU only, got 'cuda:1'"),
    (lambda net: net.to(device="mps"), RuntimeError, "minidl runs on the CPU only, got 'mps'"),
    (lambda net: net.cuda(), RuntimeError, r"Net.cuda\(\): minidl runs on the CPU only"),
    (lambda net: net.to(np.int32), TypeError, "Net.to: only floating point dtypes are supported, got int32"),
    (lambda net: net.to(md.zeros(2, dtype=md.int64)), TypeError, "Net.to: only floating point dtypes.*int64"),
    (lambda net: net.to(5), TypeError, r"Net.to: expected a dtype or a device, got 5"),
    (lambda net: net.to(md.float64, colour="red"), TypeError, r"Net.to: unexpected arguments \['colour'\]"),
    (lambda net: net.type(md.int64), TypeError, "Net.type: only floating point dtypes are supported, got int64"),
    (lambda net: net.type(None), TypeError, "Net.type: dst_type must be a floating point dtype, got None"),
    (lambda net: net.type("cpu"), TypeError, "Net.type: not a dtype: 'cpu'"),
])
def test_to_refuses_other_devices_and_dtypes_changing_nothing(call, error, match):
    net = Net()
    before = net.state_dict()
    with pytest.raises(error, match=match):
        call(net)
    assert all(p.dtype == np.float32 for p in net.parameters())
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_a_pytorch_cuda_device_is_refused_by_name():
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="minidl runs on the CPU only, got 'cuda:0'"):
        Net().to(torch.device("cuda", 0))


def test_to_converts_existing_gradients(rng):
    model = nn.Linear(2, 2)
    model(image(rng, 3, 2)).sum().backward()
    model.double()
    assert model.weight.grad.dtype == np.float64
    model.to(md.float32)
    assert model.weight.grad.dtype == np.float32 and model.bias.grad.dtype == np.float32


# ---------------------------------------------------------------------- state dicts
def test_state_dict_holds_copies_of_parameters_and_persistent_buffers():
    m = Scale(2)
    state = m.state_dict()
    assert list(state) == ["gain", "shift", "calls"]  # "scratch" is not persistent
    assert all(isinstance(v, np.ndarray) for v in state.values())
    state["gain"][:] = 5
    np.testing.assert_array_equal(m.gain.numpy(), [1, 1])


def test_nested_state_dict_round_trip_reproduces_outputs(rng):
    source, target = Net(), Net()
    x = image(rng, 2, 3, 4, 4)
    source(x)  # update running statistics so that the buffers differ from a fresh model's
    source.eval()
    target.eval()
    weight = target.features[0].weight
    result = target.load_state_dict(source.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert target.features[0].weight is weight  # loaded in place
    np.testing.assert_array_equal(target(x).numpy(), source(x).numpy())
    for (key, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=key)


def test_load_state_dict_casts_to_the_models_dtype():
    m = nn.Linear(2, 2)
    m.load_state_dict({"weight": np.eye(2, dtype=np.float64), "bias": np.zeros(2, dtype=np.float64)})
    assert m.weight.dtype == np.float32
    np.testing.assert_array_equal(m.weight.numpy(), np.eye(2))


def test_load_state_dict_reports_every_problem_at_once_and_changes_nothing():
    net = Net()
    before = net.state_dict()
    bad = net.state_dict()
    del bad["classifier.1.bias"], bad["features.1.running_var"]
    bad["classifier.2.weight"] = np.zeros((5, 16))
    bad["features.0.weight"] = np.zeros((4, 3, 5, 5))
    bad["features.0.bias"] = np.full(4, 9.0)  # valid, but must not be copied since the load fails
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(bad)
    message = str(info.value)
    assert "Error(s) in loading state_dict for Net (nothing was changed)" in message
    assert 'Missing key(s) in state_dict: "features.1.running_var", "classifier.1.bias".' in message
    assert 'Unexpected key(s) in state_dict: "classifier.2.weight".' in message
    assert ("size mismatch for features.0.weight: copying a param with shape (4, 3, 5, 5) from state_dict, "
            "the shape in current model is (4, 3, 3, 3).") in message
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_non_strict_loading_skips_missing_and_unexpected_keys():
    m = nn.Linear(2, 3)
    result = m.load_state_dict({"weight": np.ones((3, 2)), "extra": np.zeros(1)}, strict=False)
    assert result == nn.IncompatibleKeys(missing_keys=["bias"], unexpected_keys=["extra"])
    np.testing.assert_array_equal(m.weight.numpy(), np.ones((3, 2)))


def test_shape_mismatch_is_an_error_even_when_not_strict():
    m = nn.Linear(2, 3)
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param with shape \(2, 3\) "
                                           r"from state_dict, the shape in current model is \(3, 2\)"):
        m.load_state_dict({"weight": np.ones((2, 3))}, strict=False)


def test_loading_a_pytorch_state_dict_reproduces_its_outputs(rng):
    torch = pytest.importorskip("torch")
    theirs = torch_net(torch).eval()
    with torch.no_grad():  # non-trivial running statistics
        theirs.features[1].running_mean.uniform_(-1, 1)
        theirs.features[1].running_var.uniform_(0.5, 2)
    ours = Net().eval()
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours(md.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_pytorch_accepts_our_state_dict():
    torch = pytest.importorskip("torch")
    ours = Net()
    theirs = torch_net(torch)
    theirs.load_state_dict({key: torch.from_numpy(value) for key, value in ours.state_dict().items()})
    np.testing.assert_array_equal(theirs.classifier[1].weight.detach().numpy(), ours.classifier[1].weight.numpy())


@given(widths=st.lists(st.integers(1, 4), min_size=2, max_size=5))
def test_state_dict_round_trip_for_any_mlp(widths):
    def mlp():
        layers = []
        for n_in, n_out in zip(widths, widths[1:]):
            layers += [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out)]
        return nn.Sequential(*layers)

    source, target = mlp(), mlp()
    target.load_state_dict(source.state_dict())
    assert len(source.state_dict()) == 7 * (len(widths) - 1)  # Linear: 2, BatchNorm1d: 2 + 3 buffers
    for (key, a), (key_b, b) in zip(source.state_dict().items(), target.state_dict().items()):
        assert key == key_b
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- containers
def test_sequential_chains_its_modules(rng):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = image(rng, 5, 3)
    expected = model[2](model[1](model[0](x)))
    np.testing.assert_array_equal(model(x).numpy(), expected.numpy())


def test_sequential_from_ordered_dict_keeps_names():
    model = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 2, 3), act=nn.ReLU()))
    assert [name for name, _ in model.named_parameters()] == ["conv.weight", "conv.bias"]
    assert model[0] is model.conv and model[-1] is model.act


def test_sequential_indexing_len_iteration_append_and_replace():
    layers = [nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 3)]
    model = nn.Sequential(*layers)
    assert len(model) == 3 and list(model) == layers
    assert model[-1] is layers[2]
    head, first = nn.Linear(2, 5), nn.Linear(2, 2)
    model[2] = head
    model[0] = first
    assert model[2] is head and dict(model.named_parameters())["2.weight"] is head.weight
    assert list(model) == [first, layers[1], head]  # replacing keeps the order
    assert model.append(nn.Tanh()) is model and len(model) == 4 and isinstance(model[3], nn.Tanh)
    with pytest.raises(IndexError, match="Sequential: index 4 is out of range for 4 modules"):
        model[4]
    with pytest.raises(TypeError, match="as sub-module '0'"):
        model[0] = "relu"


@given(n=st.integers(0, 6), start=st.none() | st.integers(-7, 7), stop=st.none() | st.integers(-7, 7),
       step=st.none() | st.sampled_from([-2, -1, 1, 2, 3]))
def test_sequential_slices_like_a_list_and_keeps_names(n, start, stop, step):
    layers = [nn.Identity() for _ in range(n)]
    model = nn.Sequential(*layers)
    part = model[start:stop:step]
    assert isinstance(part, nn.Sequential)
    assert list(part) == layers[start:stop:step]
    assert list(part._modules) == [str(i) for i in range(n)][start:stop:step]


def test_module_list_registers_its_entries():
    blocks = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
    blocks.append(nn.Linear(2, 1)).extend([nn.ReLU()])
    assert len(blocks) == 4 and isinstance(blocks[-1], nn.ReLU)
    assert [name for name, _ in blocks.named_parameters()][:2] == ["0.weight", "0.bias"]
    assert len(list(blocks.parameters())) == 6
    assert isinstance(blocks[1:3], nn.ModuleList) and list(blocks[1:3]) == [blocks[1], blocks[2]]
    blocks[0] = nn.Tanh()
    assert isinstance(blocks[0], nn.Tanh) and list(blocks._modules) == ["0", "1", "2", "3"]
    with pytest.raises(IndexError, match="ModuleList: index -5 is out of range for 4 modules"):
        blocks[-5]
    with pytest.raises(NotImplementedError, match="ModuleList is missing the required forward"):
        blocks(1)


def test_module_list_inside_a_model_exposes_dotted_names():
    class Tower(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList(nn.Linear(2, 2) for _ in range(2))

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x

    assert [name for name, _ in Tower().named_parameters()] == [
        "blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias"]


def test_deepcopy_gives_an_independent_model(rng):
    import copy

    net = Net().eval()
    clone = copy.deepcopy(net)
    x = image(rng, 1, 3, 4, 4)
    np.testing.assert_array_equal(clone(x).numpy(), net(x).numpy())
    clone.features[0].weight.numpy()[...] = 0
    assert net.features[0].weight.numpy().any()


def test_parameter_repr_and_default_requires_grad():
    p = nn.Parameter(np.zeros(2))
    assert p.requires_grad and p.dtype == np.float64
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad
