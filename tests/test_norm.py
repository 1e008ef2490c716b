"""Normalization: batch norm (per-channel statistics over N, and L or H and W), group norm
(per example, over groups of channels) and layer norm (per example, over trailing axes).

The pairs and F.* functions are gradient-checked in float64 (batch norm in training and
evaluation mode), with and without the affine gamma/beta, and compared with PyTorch, batch
norm's running statistics included.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import functional as F
from minidl import nn
from minidl.gradcheck import gradcheck
from minidl.layers.norm import (
    batch_norm_backward,
    batch_norm_forward,
    group_norm_backward,
    group_norm_forward,
    layer_norm_backward,
    layer_norm_forward,
)

seeds = st.integers(0, 2**16)
dtypes = st.sampled_from([np.float32, np.float64])
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}


@st.composite
def input_shapes(draw):
    """(N, C), (N, C, L) or (N, C, H, W), with at least 2 values per channel."""
    spatial = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    n = draw(st.integers(2, 4))
    return (n, draw(st.integers(1, 3))) + spatial


def draw_inputs(shape, seed, affine, dtype=np.float64):
    """x with a per-channel offset and scale, gamma/beta (or None), running statistics."""
    rng = np.random.default_rng(seed)
    channels = shape[1]
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    gamma = rng.uniform(0.5, 2, channels).astype(dtype) if affine else None
    beta = rng.standard_normal(channels).astype(dtype) if affine else None
    running_mean = rng.standard_normal(channels).astype(dtype)
    running_var = rng.uniform(0.5, 2, channels).astype(dtype)
    return x, gamma, beta, running_mean, running_var


@settings(max_examples=20)
@given(shape=input_shapes(), seed=seeds, affine=st.booleans(), training=st.booleans())
def test_batch_norm_gradients_match_central_differences(shape, seed, affine, training):
    x, gamma, beta, running_mean, running_var = draw_inputs(shape, seed, affine)
    options = {"running_mean": running_mean, "running_var": running_var, "training": training}
    assert gradcheck((batch_norm_forward, batch_norm_backward), [x, gamma, beta], options=options)
    assert gradcheck(
        lambda x, w, b: F.batch_norm(x, running_mean, running_var, w, b, training=training),
        [x, gamma, beta],
    )


@settings(max_examples=20)
@given(shape=input_shapes(), seed=seeds, affine=st.booleans(), dtype=dtypes,
       momentum=st.sampled_from([0.1, 0.5, 1.0]))
def test_batch_norm_matches_pytorch_over_training_steps_then_eval(shape, seed, affine, dtype, momentum):
    torch = pytest.importorskip("torch")
    _, gamma, beta, running_mean, running_var = draw_inputs(shape, seed, affine, dtype)
    torch_mean, torch_var = torch.tensor(running_mean), torch.tensor(running_var)
    tol = TOLERANCE[dtype]

    for step, training in enumerate([True, True, True, False]):
        x = draw_inputs(shape, seed + 1 + step, affine, dtype)[0]
        dout = np.random.default_rng(seed + 10 + step).standard_normal(shape).astype(dtype)
        ours = [None if a is None else md.tensor(a, requires_grad=True) for a in (x, gamma, beta)]
        theirs = [None if a is None else torch.tensor(a, requires_grad=True) for a in (x, gamma, beta)]

        out = F.batch_norm(ours[0], running_mean, running_var, ours[1], ours[2], training=training,
                           momentum=momentum)
        expected = torch.nn.functional.batch_norm(theirs[0], torch_mean, torch_var, theirs[1], theirs[2],
                                                  training=training, momentum=momentum)
        out.backward(dout)
        expected.backward(torch.tensor(dout))

        assert out.dtype == dtype and running_mean.dtype == running_var.dtype == dtype
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), atol=tol, rtol=tol)
        np.testing.assert_allclose(running_mean, torch_mean.numpy(), atol=tol, rtol=tol)
        np.testing.assert_allclose(running_var, torch_var.numpy(), atol=tol, rtol=tol)
        for mine, reference in zip(ours, theirs):
            if mine is not None:
                assert mine.grad.dtype == dtype
                np.testing.assert_allclose(mine.grad, reference.grad.numpy(), atol=tol, rtol=tol)


@given(shape=input_shapes(), seed=seeds)
def test_training_output_has_zero_mean_and_unit_variance_per_channel(shape, seed):
    x = draw_inputs(shape, seed, affine=False)[0]
    axes = (0,) + tuple(range(2, len(shape)))
    out = F.batch_norm(md.tensor(x), None, None, training=True, eps=0.0).numpy()
    np.testing.assert_allclose(out.mean(axis=axes), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=axes), 1.0, atol=1e-10)


def test_running_statistics_use_the_unbiased_variance():
    x = np.array([[1.0], [2.0], [6.0]])  # one channel: mean 3, biased var 14/3, unbiased var 7
    running_mean, running_var = np.zeros(1), np.ones(1)
    batch_norm_forward(x, None, None, running_mean, running_var, training=True, momentum=0.5)
    np.testing.assert_allclose(running_mean, [0.5 * 0 + 0.5 * 3])
    np.testing.assert_allclose(running_var, [0.5 * 1 + 0.5 * 7])


def test_running_statistics_given_as_tensors_are_updated_in_place():
    running_mean, running_var = md.tensor(np.zeros(2)), md.tensor(np.ones(2))
    x = md.tensor(np.array([[1.0, 10.0], [3.0, 30.0]]))
    F.batch_norm(x, running_mean, running_var, training=True, momentum=1.0)
    np.testing.assert_allclose(running_mean.numpy(), [2.0, 20.0])
    np.testing.assert_allclose(running_var.numpy(), [2.0, 200.0])


def test_eval_mode_is_a_per_channel_affine_map():
    x = np.arange(12.0).reshape(2, 3, 2)
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([0.0, -1.0, 1.0])
    running_mean, running_var = np.array([1.0, 2.0, 3.0]), np.array([4.0, 9.0, 16.0])
    out, cache = batch_norm_forward(x, gamma, beta, running_mean, running_var, training=False, eps=0.0)
    scale = (gamma / np.sqrt(running_var))[None, :, None]
    np.testing.assert_allclose(out, scale * (x - running_mean[None, :, None]) + beta[None, :, None])
    dx, _, _ = batch_norm_backward(np.ones_like(x), cache)
    np.testing.assert_allclose(dx, np.broadcast_to(scale, x.shape))
    np.testing.assert_array_equal(running_mean, [1.0, 2.0, 3.0])  # evaluation leaves them alone


def test_without_affine_there_are_no_parameter_gradients():
    x, _, _, running_mean, running_var = draw_inputs((3, 2), 0, affine=False)
    out, cache = batch_norm_forward(x, None, None, running_mean, running_var, training=True)
    _, dgamma, dbeta = batch_norm_backward(np.ones_like(out), cache)
    assert dgamma is None and dbeta is None


def test_batch_norm_bad_input_is_refused():
    x = md.tensor(np.zeros((4, 3, 2, 2)))
    stats = np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match=r"batch_norm: running_mean has shape \(4,\) but the input has C=3"):
        F.batch_norm(x, np.zeros(4), np.ones(3))
    with pytest.raises(ValueError, match=r"batch_norm: weight has shape \(2,\) but the input has C=3"):
        F.batch_norm(x, *stats, weight=md.tensor(np.ones(2)))
    with pytest.raises(ValueError, match=r"batch_norm: expected input of shape \(N, C\).* got shape \(3,\)"):
        F.batch_norm(md.tensor(np.zeros(3)), *stats)
    with pytest.raises(ValueError, match="batch_norm: expected more than 1 value per channel when training"):
        F.batch_norm(md.tensor(np.zeros((1, 3, 1, 1))), *stats, training=True)
    with pytest.raises(ValueError, match="batch_norm: running_mean and running_var are required when training=False"):
        F.batch_norm(x, None, None)
    with pytest.raises(ValueError, match="batch_norm: momentum must be a number between 0 and 1, got None"):
        F.batch_norm(x, *stats, training=True, momentum=None)
    with pytest.raises(TypeError, match="batch_norm: running_mean must be an ndarray or a Tensor"):
        F.batch_norm(x, [0.0, 0.0, 0.0], np.ones(3))
    with pytest.raises(TypeError, match="batch_norm: input must be a floating point tensor"):
        F.batch_norm(md.tensor(np.zeros((4, 3), dtype=np.int64)), *stats)
    with pytest.raises(TypeError, match="batch_norm: bias has dtype float32 but the input has dtype float64"):
        F.batch_norm(x, *stats, bias=md.tensor(np.zeros(3, dtype=np.float32)))


# ---------------------------------------------------------------------------- group norm


@st.composite
def group_norm_configs(draw):
    """(input shape, num_groups): (N, C) or (N, C, *spatial) with C a multiple of num_groups, and
    not a single value per group in a single example (PyTorch refuses that input)."""
    groups = draw(st.integers(1, 3))
    channels = groups * draw(st.integers(1, 3))
    spatial = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    shape = (draw(st.integers(1, 3)), channels) + spatial
    assume(np.prod(shape) // groups > 1)
    return shape, groups


def draw_affine(rng, shape, affine, dtype=np.float64):
    """x, and gamma/beta of ``shape`` (or None)."""
    return (rng.uniform(0.5, 2, shape).astype(dtype) if affine else None,
            rng.standard_normal(shape).astype(dtype) if affine else None)


def gradient_rounding_scale(rows, dout, eps):
    """How much float rounding in the input gradient can grow, for (R, M) rows of the values
    normalised together: centring x loses about epsilon * |x| of each value, which the division
    by the row's std = sqrt(var + eps) and the product with dout scale up, so each library's
    error is about epsilon * max|x| * max|dout| / min std (measured: within a factor 2 of it)."""
    rows = rows.astype(np.float64)
    return max(1.0, np.abs(rows).max() * np.abs(dout).max() / np.sqrt(rows.var(axis=1) + eps).min())


def assert_matches_torch(out, expected, ours, theirs, dtype, gradient_scale=1.0):
    """The output and the gradient of every input that has one equal PyTorch's; the gradients'
    absolute tolerance is scaled by ``gradient_scale`` (see ``gradient_rounding_scale``)."""
    tol = TOLERANCE[dtype]
    assert out.dtype == dtype
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), atol=tol, rtol=tol)
    for mine, reference in zip(ours, theirs):
        if mine is not None:
            assert mine.grad.dtype == dtype
            np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), atol=tol * gradient_scale, rtol=tol)


@settings(max_examples=20)
@given(config=group_norm_configs(), seed=seeds, affine=st.booleans(), eps=st.sampled_from([1e-5, 0.1, 1.0]))
def test_group_norm_gradients_match_central_differences(config, seed, affine, eps):
    shape, groups = config
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2 + 1
    gamma, beta = draw_affine(rng, shape[1], affine)
    options = {"num_groups": groups, "eps": eps}
    assert gradcheck((group_norm_forward, group_norm_backward), [x, gamma, beta], options=options)
    assert gradcheck(lambda x, w, b: F.group_norm(x, groups, w, b, eps), [x, gamma, beta])


@given(config=group_norm_configs(), seed=seeds, affine=st.booleans(), dtype=dtypes,
       eps=st.sampled_from([1e-5, 0.1]))
def test_group_norm_matches_pytorch(config, seed, affine, dtype, eps):
    torch = pytest.importorskip("torch")
    shape, groups = config
    # A group of one value normalises to 0; PyTorch's float32 kernel returns its rounding error
    # amplified by 1/sqrt(eps) instead (as for layer norm below).
    assume(np.prod(shape[1:]) // groups > 1)
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    arrays = [x, *draw_affine(rng, shape[1], affine, dtype)]
    dout = rng.standard_normal(shape).astype(dtype)
    ours = [None if a is None else md.tensor(a, requires_grad=True) for a in arrays]
    theirs = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    out = F.group_norm(ours[0], groups, ours[1], ours[2], eps)
    expected = torch.nn.functional.group_norm(theirs[0], groups, theirs[1], theirs[2], eps)
    out.backward(dout)
    expected.backward(torch.tensor(dout))
    scale = gradient_rounding_scale(x.reshape(shape[0] * groups, -1), dout, eps)
    assert_matches_torch(out, expected, ours, theirs, dtype, scale)


@given(config=group_norm_configs(), seed=seeds)
def test_group_norm_output_has_zero_mean_and_unit_variance_per_example_and_group(config, seed):
    shape, groups = config
    assume(np.prod(shape[1:]) // groups > 1)  # one value has variance 0: with eps = 0, 0/0
    x = np.random.default_rng(seed).standard_normal(shape) * 3 + 2
    out = F.group_norm(md.tensor(x), groups, eps=0.0).numpy().reshape(shape[0], groups, -1)
    np.testing.assert_allclose(out.mean(axis=2), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=2), 1.0, atol=1e-10)


def test_group_norm_with_one_group_per_channel_is_instance_norm():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    mean, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(F.group_norm(md.tensor(x), 3).numpy(), (x - mean) / np.sqrt(var + 1e-5), atol=1e-12)


def test_group_norm_does_not_mix_examples():
    x = np.random.default_rng(0).standard_normal((3, 4, 2, 2))
    whole = F.group_norm(md.tensor(x), 2).numpy()
    alone = F.group_norm(md.tensor(x[1:2]), 2).numpy()
    np.testing.assert_array_equal(whole[1:2], alone)


def test_group_norm_module_matches_pytorch_and_has_its_state_dict():
    torch = pytest.importorskip("torch")
    ours, theirs = nn.GroupNorm(2, 6), torch.nn.GroupNorm(2, 6)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 6, 3, 3)).astype(np.float32)
    out, expected = ours(md.tensor(x)), theirs(torch.tensor(x))
    out.sum().backward()
    expected.sum().backward()
    assert_matches_torch(out, expected, [ours.weight, ours.bias], [theirs.weight, theirs.bias], np.float32)
    assert repr(nn.GroupNorm(3, 3, eps=0.1, affine=False)) == repr(torch.nn.GroupNorm(3, 3, eps=0.1, affine=False))
    assert nn.GroupNorm(1, 2, bias=False).bias is None


def test_group_norm_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels \(4\) must be divisible by num_groups \(3\)"):
        nn.GroupNorm(3, 4)
    with pytest.raises(ValueError, match="GroupNorm: num_groups must be a positive int, got 0"):
        nn.GroupNorm(0, 4)
    with pytest.raises(ValueError, match="GroupNorm: num_channels must be a positive int, got 4.0"):
        nn.GroupNorm(2, 4.0)
    with pytest.raises(ValueError, match="GroupNorm: eps must be at least 0, got -1"):
        nn.GroupNorm(2, 4, eps=-1)
    x = md.tensor(np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match=r"group_norm: the input's C=4 channels are not divisible by num_groups=3 "
                                         r"\(input of shape \(2, 4, 3\)\)"):
        F.group_norm(x, 3)
    with pytest.raises(ValueError, match=r"group_norm: weight has shape \(3,\) but the input has C=4 channels"):
        F.group_norm(x, 2, md.tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"group_norm: expected input of shape \(N, C, \*\) .* got shape \(4,\)"):
        F.group_norm(md.tensor(np.zeros(4)), 2)
    with pytest.raises(ValueError, match="group_norm: num_groups must be a positive int, got 0"):
        F.group_norm(x, 0)
    with pytest.raises(ValueError, match=r"group_norm: expected more than 1 value per group, got input of shape "
                                         r"\(1, 2, 1\) with num_groups=2"):
        F.group_norm(md.tensor(np.zeros((1, 2, 1))), 2)
    with pytest.raises(TypeError, match="group_norm: input must be a floating point tensor"):
        F.group_norm(md.tensor(np.zeros((2, 4), dtype=np.int64)), 2)
    with pytest.raises(TypeError, match="group_norm: bias has dtype float32 but the input has dtype float64"):
        F.group_norm(x, 2, bias=md.tensor(np.zeros(4, dtype=np.float32)))


# ---------------------------------------------------------------------------- layer norm


@st.composite
def layer_norm_configs(draw):
    """(input shape, normalized_shape): 1 to 4 dimensions, the trailing 1 to ndim of them normalised."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    return shape, shape[draw(st.integers(0, len(shape) - 1)):]


@settings(max_examples=20)
@given(config=layer_norm_configs(), seed=seeds, affine=st.booleans(), eps=st.sampled_from([1e-5, 0.1]))
def test_layer_norm_gradients_match_central_differences(config, seed, affine, eps):
    shape, normalized_shape = config
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2 + 1
    gamma, beta = draw_affine(rng, normalized_shape, affine)
    options = {"normalized_shape": normalized_shape, "eps": eps}
    assert gradcheck((layer_norm_forward, layer_norm_backward), [x, gamma, beta], options=options)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, normalized_shape, w, b, eps), [x, gamma, beta])


@given(config=layer_norm_configs(), seed=seeds, affine=st.booleans(), dtype=dtypes)
def test_layer_norm_matches_pytorch(config, seed, affine, dtype):
    torch = pytest.importorskip("torch")
    shape, normalized_shape = config
    # A slice of one value normalises to 0; PyTorch's float32 kernel returns its rounding error
    # (x * rstd - mean * rstd) amplified by 1/sqrt(eps) instead.
    assume(np.prod(normalized_shape) > 1)
    rng = np.random.default_rng(seed)
    arrays = [(rng.standard_normal(shape) * 2 + 1).astype(dtype), *draw_affine(rng, normalized_shape, affine, dtype)]
    dout = rng.standard_normal(shape).astype(dtype)
    ours = [None if a is None else md.tensor(a, requires_grad=True) for a in arrays]
    theirs = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    out = F.layer_norm(ours[0], list(normalized_shape), ours[1], ours[2])
    expected = torch.nn.functional.layer_norm(theirs[0], normalized_shape, theirs[1], theirs[2])
    out.backward(dout)
    expected.backward(torch.tensor(dout))
    rows = arrays[0].reshape(-1, int(np.prod(normalized_shape)))
    assert_matches_torch(out, expected, ours, theirs, dtype, gradient_rounding_scale(rows, dout, 1e-5))


def test_layer_norm_module_matches_pytorch_and_has_its_state_dict():
    torch = pytest.importorskip("torch")
    for args, kwargs in [((5,), {}), (((3, 5),), {"eps": 0.1}), ((5,), {"bias": False}),
                         ((5,), {"elementwise_affine": False})]:
        ours, theirs = nn.LayerNorm(*args, **kwargs), torch.nn.LayerNorm(*args, **kwargs)
        assert repr(ours) == repr(theirs)
        assert ours.normalized_shape == theirs.normalized_shape
        assert list(ours.state_dict()) == list(theirs.state_dict())
        x = np.random.default_rng(0).standard_normal((2, 3, 5)).astype(np.float32)
        out, expected = ours(md.tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), atol=1e-5, rtol=1e-5)


def test_layer_norm_bad_input_is_refused():
    x = md.tensor(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape=\(3,\) expects input of shape \(\*, 3\), "
                                         r"got input of shape \(2, 3, 4\)"):
        F.layer_norm(x, (3,))
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape=\(1, 2, 3, 4\) expects"):
        F.layer_norm(x, (1, 2, 3, 4))
    with pytest.raises(TypeError, match=r"layer_norm: normalized_shape must be a tuple or list of ints, "
                                        r"e.g. \(D,\), got 4"):
        F.layer_norm(x, 4)
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape must name at least one dimension"):
        F.layer_norm(x, [])
    with pytest.raises(ValueError, match=r"layer_norm: weight has shape \(3,\) but normalized_shape is \(4,\); "
                                         r"expected shape \(4,\)"):
        F.layer_norm(x, (4,), md.tensor(np.ones(3)))
    with pytest.raises(ValueError, match="LayerNorm: each entry of normalized_shape must be a positive int, got 0"):
        nn.LayerNorm((3, 0))
    with pytest.raises(ValueError, match=r"LayerNorm: normalized_shape must name at least one dimension"):
        nn.LayerNorm(())
    with pytest.raises(TypeError, match="LayerNorm: eps must be a number, got '1e-5'"):
        nn.LayerNorm(3, eps="1e-5")
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape=\(5,\) expects input of shape \(\*, 5\)"):
        nn.LayerNorm(5)(md.tensor(np.zeros((2, 4), dtype=np.float32)))


# ---------------------------------------------------------------------------- empty batches


@pytest.mark.parametrize("name, args", [("GroupNorm", (2, 4)), ("LayerNorm", ((4, 3),)), ("LayerNorm", (3,))])
def test_per_example_norms_take_an_empty_batch(name, args):
    torch = pytest.importorskip("torch")
    layer = getattr(nn, name)(*args)
    x = md.tensor(np.zeros((0, 4, 3), dtype=np.float32), requires_grad=True)
    out = layer(x)
    out.sum().backward()
    assert out.shape == tuple(getattr(torch.nn, name)(*args)(torch.zeros(0, 4, 3)).shape) == (0, 4, 3)
    assert x.grad.shape == (0, 4, 3)
    np.testing.assert_array_equal(layer.weight.grad.numpy(), 0.0)
    np.testing.assert_array_equal(layer.bias.grad.numpy(), 0.0)
