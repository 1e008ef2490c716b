"""Module.load_state_dict: every key, shape and value checked before anything changes, PyTorch's wording."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import nn


@pytest.fixture(autouse=True)
def seeded():
    md.manual_seed(0)


def model():
    """Linear, BatchNorm1d (float buffers and the int64 counter), Linear: the same keys in PyTorch."""
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def torch_model(torch):
    tnn = torch.nn
    return tnn.Sequential(tnn.Linear(3, 4), tnn.BatchNorm1d(4), tnn.Linear(4, 2))


def snapshot(module):
    """Copies of every array and the version of every tensor: what a refused load must leave alone."""
    return {key: (tensor.numpy().copy(), tensor.dtype, tensor._version.value) for key, tensor in module._named_state()}


def assert_unchanged(module, before):
    after = snapshot(module)
    assert list(after) == list(before)
    for key, (array, dtype, version) in before.items():
        np.testing.assert_array_equal(after[key][0], array, err_msg=key)
        assert after[key][1:] == (dtype, version), key


def fresh_values(module, rng):
    """A complete state dict of new values (float64 arrays for the float tensors)."""
    return {key: (rng.standard_normal(value.shape) if value.dtype.kind == "f" else value + 3)
            for key, value in module.state_dict().items()}


# ---------------------------------------------------------------------- what loads
def test_values_are_cast_to_the_models_dtype_and_copied_in_place(rng):
    net = model()
    weight, optimizer = net[0].weight, md.optim.SGD(net.parameters(), lr=0.1)
    values = fresh_values(net, rng)
    result = net.load_state_dict(values)
    assert result == nn.IncompatibleKeys(missing_keys=[], unexpected_keys=[])
    assert net[0].weight is weight and optimizer.param_groups[0]["params"][0] is weight
    for key, value in net.state_dict().items():
        assert value.dtype == (np.int64 if key.endswith("num_batches_tracked") else np.float32), key
        np.testing.assert_array_equal(value, np.asarray(values[key]).astype(value.dtype), err_msg=key)


@pytest.mark.parametrize("wrap", [
    pytest.param(lambda a: md.tensor(a), id="minidl Tensor"),
    pytest.param(lambda a: md.tensor(a, requires_grad=True) if a.dtype.kind == "f" else md.tensor(a),
                 id="minidl Tensor requiring grad"),
    pytest.param(lambda a: a.tolist(), id="lists"),
    pytest.param(lambda a: a.astype(np.float16) if a.dtype.kind == "f" else a.astype(np.int8), id="narrower dtypes"),
])
def test_values_may_be_tensors_lists_or_other_dtypes(rng, wrap):
    net = model()
    # eighths: exact in float16
    values = {key: np.round(value * 8) / 8 if value.dtype.kind == "f" else value
              for key, value in fresh_values(net, rng).items()}
    net.load_state_dict({key: wrap(value) for key, value in values.items()})
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value, values[key], err_msg=key)


def test_integers_load_into_float_parameters():
    layer = nn.Linear(2, 2)
    layer.load_state_dict({"weight": np.array([[1, 2], [3, 4]]), "bias": np.array([True, False])})
    assert layer.weight.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.numpy(), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(layer.bias.numpy(), [1, 0])


def test_a_pytorch_state_dict_of_tensors_loads_as_it_is(rng):
    torch = pytest.importorskip("torch")
    theirs = torch_model(torch).eval()
    with torch.no_grad():
        theirs[1].running_mean.uniform_(-1, 1)
        theirs[1].running_var.uniform_(0.5, 2)
        theirs[1].num_batches_tracked.fill_(7)
    ours = model().eval()
    ours.load_state_dict(theirs.state_dict())  # torch Tensors, no conversion by hand
    assert ours[1].num_batches_tracked.item() == 7
    x = rng.standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(md.tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-6, atol=1e-6)


def test_a_graph_recorded_before_the_load_refuses_backward(rng):
    layer = nn.Linear(3, 2)
    loss = layer(md.tensor(rng.standard_normal((4, 3)).astype(np.float32))).sum()
    layer.load_state_dict(layer.state_dict())
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


# ---------------------------------------------------------------------- what is refused, changing nothing
def test_every_problem_is_reported_at_once_and_nothing_changes(rng):
    net = model()
    before = snapshot(net)
    bad = fresh_values(net, rng)
    del bad["0.bias"], bad["1.running_var"]
    bad["3.weight"] = np.zeros((2, 4))
    bad["2.weight"] = np.zeros((4, 2))
    bad["2.bias"] = np.array(["a", "b"])
    bad["1.num_batches_tracked"] = np.array(2.5)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(bad)
    assert str(info.value).split("\n\t") == [
        "Error(s) in loading state_dict for Sequential (nothing was changed):",
        'Missing key(s) in state_dict: "0.bias", "1.running_var".',
        'Unexpected key(s) in state_dict: "3.weight".',
        'While copying the parameter named "1.num_batches_tracked", its dtype float64 in state_dict cannot be '
        "cast to the model's int64.",
        "size mismatch for 2.weight: copying a param with shape (4, 2) from state_dict, the shape in current "
        "model is (2, 4).",
        'While copying the parameter named "2.bias", expected an ndarray or Tensor of numbers from state_dict '
        "but received ndarray of dtype <U1.",
    ]
    assert_unchanged(net, before)


@pytest.mark.parametrize("value, match", [
    ("abcd", "expected an ndarray or Tensor of numbers from state_dict but received str of dtype <U4"),
    (None, "received NoneType of dtype object"),
    ({"w": 1}, "received dict of dtype object"),
    (np.ones(4, dtype=np.complex64), "its dtype complex64 in state_dict cannot be cast to the model's float32"),
    ([[1.0, 2.0], [3.0]], r"expected an ndarray or Tensor from state_dict but received list \(.*inhomogeneous"),
    (np.ones((4, 1)), r"size mismatch for 1.bias: copying a param with shape \(4, 1\) from state_dict, "
                      r"the shape in current model is \(4,\)"),
])
def test_a_value_that_cannot_be_loaded_is_refused_and_nothing_changes(rng, value, match):
    net = model()
    before = snapshot(net)
    values = fresh_values(net, rng)
    values["1.bias"] = value
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=match):
            net.load_state_dict(values, strict=strict)
        assert_unchanged(net, before)


def test_a_read_only_parameter_is_refused_before_anything_changes(rng):
    layer = nn.Linear(2, 2)
    frozen = np.zeros(2, dtype=np.float32)
    frozen.flags.writeable = False
    layer.bias = nn.Parameter(frozen)
    before = snapshot(layer)
    with pytest.raises(RuntimeError, match='parameter named "bias", the model\'s array is read-only'):
        layer.load_state_dict({"weight": np.ones((2, 2)), "bias": np.ones(2)})
    assert_unchanged(layer, before)


@pytest.mark.parametrize("state_dict", [[("weight", np.ones((2, 2)))], np.ones(2), "weight"])
def test_state_dict_must_be_a_mapping(state_dict):
    with pytest.raises(TypeError, match="load_state_dict of Linear: expected state_dict to be dict-like, got"):
        nn.Linear(2, 2).load_state_dict(state_dict)


# ---------------------------------------------------------------------- PyTorch's result and wording
def test_result_is_the_named_tuple_pytorch_returns():
    torch = pytest.importorskip("torch")
    ours, theirs = model(), torch_model(torch)
    state = {key: value for key, value in ours.state_dict().items() if key != "2.bias"}
    state["extra"] = np.zeros(1)
    result = ours.load_state_dict(state, strict=False)
    expected = theirs.load_state_dict({key: torch.from_numpy(np.asarray(v)) for key, v in state.items()}, strict=False)
    assert result.missing_keys == expected.missing_keys == ["2.bias"]
    assert result.unexpected_keys == expected.unexpected_keys == ["extra"]
    assert tuple(result) == (["2.bias"], ["extra"])
    assert repr(ours.load_state_dict(ours.state_dict())) == repr(theirs.load_state_dict(theirs.state_dict())) \
        == "<All keys matched successfully>"


# Not "1.num_batches_tracked": PyTorch's BatchNorm quietly keeps its counter when a (pre-2018)
# state dict lacks it; minidl reports the key missing like any other.
@settings(max_examples=40, deadline=None)
@given(dropped=st.sets(st.sampled_from(["0.weight", "0.bias", "1.weight", "1.running_mean", "2.bias"])),
       extra=st.lists(st.sampled_from(["fc.weight", "1.running_std", "3.bias"]), unique=True),
       strict=st.booleans())
def test_missing_and_unexpected_keys_match_pytorch(dropped, extra, strict):
    torch = pytest.importorskip("torch")
    ours, theirs = model(), torch_model(torch)
    before = snapshot(ours)
    state = {key: value for key, value in ours.state_dict().items() if key not in dropped}
    state.update({key: np.zeros(2, dtype=np.float32) for key in extra})
    torch_state = {key: torch.from_numpy(value) for key, value in state.items()}
    try:
        expected = theirs.load_state_dict(torch_state, strict=strict)
    except RuntimeError as error:
        with pytest.raises(RuntimeError) as info:
            ours.load_state_dict(state, strict=strict)
        # PyTorch's lines after its header, less its trailing spaces, are ours.
        assert [line.strip() for line in str(info.value).split("\n\t")[1:]] == \
               [line.strip() for line in str(error).split("\n\t")[1:]]
        assert_unchanged(ours, before)
    else:
        result = ours.load_state_dict(state, strict=strict)
        assert (result.missing_keys, result.unexpected_keys) == (expected.missing_keys, expected.unexpected_keys)
