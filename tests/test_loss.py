"""Losses: cross entropy (with label smoothing), negative log-likelihood, mean squared error.

Each pair and F.* function is gradient-checked in float64 for every reduction and compared with
PyTorch; cross entropy is checked on huge logits, and bad targets must give clear errors.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import functional as F
from minidl.gradcheck import gradcheck
from minidl.layers.loss import (
    cross_entropy_backward,
    cross_entropy_forward,
    mse_loss_backward,
    mse_loss_forward,
    nll_loss_backward,
    nll_loss_forward,
)

seeds = st.integers(0, 2**16)
dtypes = st.sampled_from([np.float32, np.float64])
reductions = st.sampled_from(["mean", "sum", "none"])
smoothings = st.sampled_from([0.0, 0.1, 0.5])
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}


@st.composite
def classification_shapes(draw):
    """Scores (N, C) or (N, C, d1[, d2]) and the matching target shape (N[, d1, d2])."""
    n, classes = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    spatial = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    return (n, classes) + spatial, (n,) + spatial


def draw_classification(shapes, seed, dtype=np.float64):
    score_shape, target_shape = shapes
    rng = np.random.default_rng(seed)
    scores = (3 * rng.standard_normal(score_shape)).astype(dtype)
    return scores, rng.integers(0, score_shape[1], target_shape)


def assert_close(ours, theirs, dtype):
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(ours, theirs, atol=tol, rtol=tol)


@settings(max_examples=20)
@given(shapes=classification_shapes(), seed=seeds, reduction=reductions, smoothing=smoothings)
def test_cross_entropy_gradients_match_central_differences(shapes, seed, reduction, smoothing):
    logits, target = draw_classification(shapes, seed)
    options = {"label_smoothing": smoothing, "reduction": reduction}
    assert gradcheck((cross_entropy_forward, cross_entropy_backward), [logits, target], options=options)
    assert gradcheck(lambda x: F.cross_entropy(x, target, **options), [logits])


@settings(max_examples=20)
@given(shapes=classification_shapes(), seed=seeds, reduction=reductions)
def test_nll_loss_gradients_match_central_differences(shapes, seed, reduction):
    log_probs, target = draw_classification(shapes, seed)
    assert gradcheck((nll_loss_forward, nll_loss_backward), [log_probs, target], options={"reduction": reduction})
    assert gradcheck(lambda x: F.nll_loss(x, target, reduction=reduction), [log_probs])


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), seed=seeds, reduction=reductions)
def test_mse_loss_gradients_match_central_differences_for_input_and_target(shape, seed, reduction):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal(shape), rng.standard_normal(shape)
    assert gradcheck((mse_loss_forward, mse_loss_backward), [x, y], options={"reduction": reduction})
    assert gradcheck(lambda x, y: F.mse_loss(x, y, reduction=reduction), [x, y])


@given(shapes=classification_shapes(), seed=seeds, reduction=reductions, smoothing=smoothings, dtype=dtypes)
def test_cross_entropy_matches_pytorch(shapes, seed, reduction, smoothing, dtype):
    torch = pytest.importorskip("torch")
    logits, target = draw_classification(shapes, seed, dtype)
    ours = md.tensor(logits, requires_grad=True)
    theirs = torch.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(ours, target, reduction=reduction, label_smoothing=smoothing)
    expected = torch.nn.functional.cross_entropy(theirs, torch.tensor(target), reduction=reduction,
                                                 label_smoothing=smoothing)
    dout = np.random.default_rng(seed + 1).standard_normal(expected.shape).astype(dtype)
    loss.backward(dout)
    expected.backward(torch.tensor(dout))
    assert loss.shape == tuple(expected.shape) and loss.dtype == ours.grad.dtype == dtype
    assert_close(loss.numpy(), expected.detach().numpy(), dtype)
    assert_close(ours.grad, theirs.grad.numpy(), dtype)


@given(shapes=classification_shapes(), seed=seeds, reduction=reductions, dtype=dtypes)
def test_nll_loss_matches_pytorch(shapes, seed, reduction, dtype):
    torch = pytest.importorskip("torch")
    log_probs, target = draw_classification(shapes, seed, dtype)
    ours = md.tensor(log_probs, requires_grad=True)
    theirs = torch.tensor(log_probs, requires_grad=True)
    loss = F.nll_loss(ours, target, reduction=reduction)
    expected = torch.nn.functional.nll_loss(theirs, torch.tensor(target), reduction=reduction)
    dout = np.random.default_rng(seed + 1).standard_normal(expected.shape).astype(dtype)
    loss.backward(dout)
    expected.backward(torch.tensor(dout))
    assert loss.dtype == ours.grad.dtype == dtype
    assert_close(loss.numpy(), expected.detach().numpy(), dtype)
    assert_close(ours.grad, theirs.grad.numpy(), dtype)


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), seed=seeds, reduction=reductions,
       dtype=dtypes)
def test_mse_loss_matches_pytorch_for_input_and_target(shape, seed, reduction, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    ours = [md.tensor(a, requires_grad=True) for a in (x, y)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, y)]
    loss = F.mse_loss(*ours, reduction=reduction)
    expected = torch.nn.functional.mse_loss(*theirs, reduction=reduction)
    dout = rng.standard_normal(expected.shape).astype(dtype)
    loss.backward(dout)
    expected.backward(torch.tensor(dout))
    assert loss.dtype == dtype
    assert_close(loss.numpy(), expected.detach().numpy(), dtype)
    for mine, reference in zip(ours, theirs):
        assert mine.grad.dtype == dtype
        assert_close(mine.grad, reference.grad.numpy(), dtype)


@given(shapes=classification_shapes(), seed=seeds, smoothing=smoothings)
def test_cross_entropy_is_nll_of_log_softmax_against_the_smoothed_target(shapes, seed, smoothing):
    logits, target = draw_classification(shapes, seed)
    x = md.tensor(logits)
    log_probs = F.log_softmax(x, 1).numpy()
    classes = logits.shape[1]
    onehot = np.moveaxis(np.eye(classes)[target], -1, 1)
    q = (1 - smoothing) * onehot + smoothing / classes
    expected = -(q * log_probs).sum(axis=1)
    np.testing.assert_allclose(F.cross_entropy(x, target, reduction="none", label_smoothing=smoothing).numpy(),
                               expected, atol=1e-12)
    if smoothing == 0.0:
        np.testing.assert_allclose(F.nll_loss(F.log_softmax(x, 1), target).numpy(), expected.mean(), atol=1e-12)


def test_uniform_scores_cost_log_of_the_class_count():
    loss = F.cross_entropy(md.tensor(np.zeros((3, 5))), [0, 2, 4])
    np.testing.assert_allclose(loss.item(), np.log(5), rtol=1e-6)


def test_mean_gradient_is_softmax_minus_onehot_over_n():
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    x = md.tensor(logits, requires_grad=True)
    F.cross_entropy(x, np.array([2, 0])).backward()
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(x.grad, (probs - np.eye(3)[[2, 0]]) / 2, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_on_huge_logits_is_finite_and_correct(dtype, smoothing):
    torch = pytest.importorskip("torch")
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 2e4], [-3e4, 3e4, 0.0]], dtype=dtype)
    target = np.array([0, 1, 0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # no overflow, log(0) or inf - inf
        x = md.tensor(logits, requires_grad=True)
        loss = F.cross_entropy(x, target, label_smoothing=smoothing, reduction="sum")
        loss.backward()
    theirs = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(theirs, torch.tensor(target), label_smoothing=smoothing,
                                                 reduction="sum")
    expected.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(x.grad, theirs.grad.numpy(), atol=1e-5, rtol=1e-5)
    if smoothing == 0.0:  # the correct logit of row 0 leads by 1e4; rows 1, 2 miss by 1e4, 6e4
        np.testing.assert_allclose(loss.item(), 0 + 1e4 + 6e4, rtol=1e-6)


def test_targets_may_be_an_ndarray_a_list_or_an_integer_tensor():
    x = md.tensor(np.random.default_rng(0).standard_normal((3, 4)))
    losses = [F.cross_entropy(x, t).item() for t in (np.array([1, 0, 3]), [1, 0, 3], md.tensor([1, 0, 3]))]
    assert losses[0] == losses[1] == losses[2]


def test_bad_class_targets_are_refused():
    x = md.tensor(np.zeros((3, 4)))
    with pytest.raises(TypeError, match="cross_entropy: target must hold integer class indices, got dtype float"):
        F.cross_entropy(x, np.array([1.0, 0.0, 2.0]))
    with pytest.raises(IndexError, match=r"cross_entropy: target holds class 4, outside \[0, 4\)"):
        F.cross_entropy(x, [1, 4, 0])
    with pytest.raises(IndexError, match=r"nll_loss: target holds class -1, outside \[0, 4\)"):
        F.nll_loss(x, [1, -1, 0])
    with pytest.raises(ValueError, match=r"cross_entropy: input of shape \(3, 4\) needs a target of shape "
                                         r"\(3,\) .* got shape \(2,\)"):
        F.cross_entropy(x, [1, 2])
    with pytest.raises(ValueError, match=r"nll_loss: expected input of shape \(N, C\) .* got shape \(4,\)"):
        F.nll_loss(md.tensor(np.zeros(4)), [1])
    with pytest.raises(TypeError, match="cross_entropy: input must be a floating point tensor"):
        F.cross_entropy(md.tensor(np.zeros((3, 4), dtype=np.int64)), [0, 1, 2])


def test_bad_options_are_refused():
    x, target = md.tensor(np.zeros((2, 3))), [0, 1]
    with pytest.raises(ValueError, match="cross_entropy: reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        F.cross_entropy(x, target, reduction="avg")
    with pytest.raises(ValueError, match="cross_entropy: label_smoothing must be a number between 0 and 1, got 1.5"):
        F.cross_entropy(x, target, label_smoothing=1.5)
    with pytest.raises(ValueError, match="mse_loss: reduction must be"):
        F.mse_loss(x, np.zeros((2, 3)), reduction="average")


def test_mse_loss_bad_target_is_refused():
    x = md.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError,
                       match=r"mse_loss: input has shape \(2, 3\) but target has shape \(3,\).*no broadcasting"):
        F.mse_loss(x, np.zeros(3))
    with pytest.raises(TypeError, match="mse_loss: target must be a floating point tensor, got dtype int"):
        F.mse_loss(x, np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="mse_loss: target has dtype float32 but the input has dtype float64"):
        F.mse_loss(x, md.tensor(np.zeros((2, 3), dtype=np.float32)))


def test_mse_loss_converts_a_plain_array_target_to_the_input_dtype():
    x = md.tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    loss = F.mse_loss(x, np.zeros((2, 2)))  # a float64 ndarray
    loss.backward()
    assert loss.dtype == x.grad.dtype == np.float32
    assert loss.item() == 1.0
