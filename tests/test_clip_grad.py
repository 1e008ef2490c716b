"""Gradient clipping: nn.utils.clip_grad_norm_ and clip_grad_value_, compared with PyTorch's on
parameters drawn by hypothesis (some without a gradient), for every norm type, and checked to
change the gradients in place.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl as md
from minidl import nn
from minidl.nn.utils import clip_grad_norm_, clip_grad_value_

seeds = st.integers(0, 2**16)
dtypes = st.sampled_from([np.float32, np.float64])
norm_types = st.sampled_from([2.0, 1, 0.5, 3.0, float("inf"), "inf"])


def draw_parameters(seed, dtype, count):
    """(values, gradients) of ``count`` parameters of random shapes; about one in four has no gradient."""
    rng = np.random.default_rng(seed)
    shapes = [tuple(rng.integers(1, 4, size=rng.integers(0, 3))) for _ in range(count)]
    values = [rng.standard_normal(shape).astype(dtype) for shape in shapes]
    grads = [None if rng.random() < 0.25 else (rng.standard_normal(shape) * 3).astype(dtype) for shape in shapes]
    return values, grads


def make_parameters(values, grads, lib=None):
    """minidl Parameters (or PyTorch's with ``lib=torch``) holding ``values``, with ``grads`` set."""
    parameters = []
    for value, grad in zip(values, grads):
        if lib is None:
            p = nn.Parameter(md.tensor(value))
            p.grad = None if grad is None else md.tensor(grad)
        else:
            p = lib.nn.Parameter(lib.tensor(value))
            p.grad = None if grad is None else lib.tensor(grad)
        parameters.append(p)
    return parameters


@given(seed=seeds, dtype=dtypes, count=st.integers(0, 4), norm_type=norm_types,
       max_norm=st.sampled_from([0.01, 1.0, 5.0, 1e6]))
def test_clip_grad_norm_matches_pytorch(seed, dtype, count, norm_type, max_norm):
    torch = pytest.importorskip("torch")
    values, grads = draw_parameters(seed, dtype, count)
    ours, theirs = make_parameters(values, grads), make_parameters(values, grads, torch)
    total = clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, md.Tensor) and total.shape == ()
    assert total.dtype == expected.numpy().dtype
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    for mine, reference in zip(ours, theirs):
        assert (mine.grad is None) == (reference.grad is None)
        if mine.grad is not None:
            assert mine.grad.dtype == dtype
            np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), rtol=1e-6, atol=1e-7)


@given(seed=seeds, dtype=dtypes, clip_value=st.sampled_from([0.0, 0.5, 2.0, -1.0]))
def test_clip_grad_value_matches_pytorch(seed, dtype, clip_value):
    torch = pytest.importorskip("torch")
    values, grads = draw_parameters(seed, dtype, 3)
    ours, theirs = make_parameters(values, grads), make_parameters(values, grads, torch)
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for mine, reference in zip(ours, theirs):
        if mine.grad is not None:
            np.testing.assert_array_equal(mine.grad.numpy(), reference.grad.numpy())


def test_clipping_scales_to_max_norm_keeps_the_direction_and_works_in_place():
    model = nn.Linear(3, 2).double()
    model(md.tensor(np.full((4, 3), 10.0))).sum().backward()
    held = [p.grad for p in model.parameters()]  # references taken before clipping see the change
    before = np.concatenate([g.numpy().ravel().copy() for g in held])
    total = clip_grad_norm_(model.parameters(), max_norm=1.0)
    after = np.concatenate([p.grad.numpy().ravel() for p in model.parameters()])
    np.testing.assert_allclose(total.item(), np.linalg.norm(before), rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(after), 1.0, rtol=1e-5)
    np.testing.assert_allclose(after, before / (np.linalg.norm(before) + 1e-6), rtol=1e-12)
    assert all(p.grad is g for p, g in zip(model.parameters(), held))


def test_small_gradients_are_left_alone_and_a_single_tensor_is_accepted():
    p = nn.Parameter(md.tensor(np.zeros(2)))
    p.grad = md.tensor(np.array([0.3, 0.4]))
    total = clip_grad_norm_(p, max_norm=1.0)
    assert total.item() == pytest.approx(0.5, rel=1e-15)
    np.testing.assert_array_equal(p.grad.numpy(), [0.3, 0.4])
    clip_grad_value_(p, 0.35)
    np.testing.assert_array_equal(p.grad.numpy(), [0.3, 0.35])


def test_without_gradients_the_total_norm_is_zero():
    total = clip_grad_norm_([nn.Parameter(md.tensor(np.ones(3)))], 1.0)
    assert total.item() == 0.0 and total.dtype == np.float32
    assert clip_grad_norm_([], 1.0).item() == 0.0


def test_non_finite_norm_raises_on_request_and_otherwise_spreads_as_in_pytorch():
    p = nn.Parameter(md.tensor(np.zeros(3)))
    p.grad = md.tensor(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total norm of order 2.0 of the gradients is "
                                           "non-finite \\(nan\\), so they cannot be clipped"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(p.grad.numpy(), [1.0, np.nan, 2.0])  # refused before any change
    assert np.isnan(clip_grad_norm_(p, 1.0).item())
    assert np.isnan(p.grad.numpy()).all()


def test_bad_norm_type_is_refused():
    p = nn.Parameter(md.tensor(np.zeros(2)))
    p.grad = md.tensor(np.ones(2))
    with pytest.raises(ValueError, match="clip_grad_norm_: norm_type must be a number .* got 'fro'"):
        clip_grad_norm_(p, 1.0, norm_type="fro")
