"""Losses: cross entropy (with class weights, ignore_index and label smoothing), negative
log-likelihood, mean squared error; and F.one_hot, the encoding of class labels.

Each pair and F.* function is gradient-checked in float64 for every reduction and compared with
PyTorch; cross entropy is checked on huge logits, the weighted mean against its definition, and
bad targets must give clear errors.
"""

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import functional as F
from minidl import nn
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


# ---------------------------------------------------------------------------- class weights, ignore_index


@st.composite
def weighted_classification(draw, dtype=np.float64):
    """(scores, target, weight or None, ignore_index): N from 0, some targets set to ignore_index,
    which is -100 (outside the classes) or a class itself."""
    n, classes = draw(st.integers(0, 4)), draw(st.integers(1, 4))
    spatial = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    rng = np.random.default_rng(draw(seeds))
    scores = (3 * rng.standard_normal((n, classes) + spatial)).astype(dtype)
    ignore_index = draw(st.sampled_from([-100, 0, classes - 1]))
    target = rng.integers(0, classes, (n,) + spatial)
    target[rng.random(target.shape) < draw(st.sampled_from([0.0, 0.3, 1.0]))] = ignore_index
    weight = rng.uniform(0.1, 2.0, classes).astype(dtype) if draw(st.booleans()) else None
    return scores, target, weight, ignore_index


@settings(max_examples=25)
@given(case=weighted_classification(), reduction=reductions, smoothing=smoothings)
def test_weighted_losses_with_ignored_targets_match_central_differences(case, reduction, smoothing):
    scores, target, weight, ignore_index = case
    assume(scores.size and (target != ignore_index).any())  # else the mean is nan
    options = {"weight": weight, "ignore_index": ignore_index, "reduction": reduction}
    assert gradcheck((nll_loss_forward, nll_loss_backward), [scores, target], options=options)
    assert gradcheck(lambda x: F.nll_loss(x, target, weight, ignore_index=ignore_index, reduction=reduction), [scores])
    options["label_smoothing"] = smoothing
    assert gradcheck((cross_entropy_forward, cross_entropy_backward), [scores, target], options=options)
    assert gradcheck(lambda x: F.cross_entropy(x, target, weight, ignore_index=ignore_index, reduction=reduction,
                                               label_smoothing=smoothing), [scores])


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@given(data=st.data(), reduction=reductions, smoothing=smoothings, dtype=dtypes)
def test_weighted_losses_with_ignored_targets_match_pytorch(name, data, reduction, smoothing, dtype):
    torch = pytest.importorskip("torch")
    scores, target, weight, ignore_index = data.draw(weighted_classification(dtype))
    options = {"ignore_index": ignore_index, "reduction": reduction}
    if name == "cross_entropy":
        options["label_smoothing"] = smoothing
    ours, theirs = md.tensor(scores, requires_grad=True), torch.tensor(scores, requires_grad=True)
    loss = getattr(F, name)(ours, target, None if weight is None else md.tensor(weight), **options)
    expected = getattr(torch.nn.functional, name)(theirs, torch.tensor(target),
                                                  None if weight is None else torch.tensor(weight), **options)
    dout = np.random.default_rng(0).standard_normal(tuple(expected.shape)).astype(dtype)
    loss.backward(dout)
    expected.backward(torch.tensor(dout))
    assert loss.shape == tuple(expected.shape) and loss.dtype == ours.grad.dtype == dtype
    assert_close(loss.numpy(), expected.detach().numpy(), dtype)  # nan where PyTorch's is (nothing kept)
    assert_close(ours.grad.numpy(), theirs.grad.numpy(), dtype)


def test_weighted_mean_divides_by_the_summed_weight_of_the_kept_targets():
    logits = np.random.default_rng(0).standard_normal((4, 3))
    target, weight = np.array([0, 2, -100, 2]), np.array([1.0, 5.0, 0.5])
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    kept = [0, 1, 3]
    losses = -weight[target[kept]] * log_probs[kept, target[kept]]
    loss = F.cross_entropy(md.tensor(logits), target, md.tensor(weight))
    np.testing.assert_allclose(loss.item(), losses.sum() / (1.0 + 0.5 + 0.5), rtol=1e-14)
    none = F.cross_entropy(md.tensor(logits), target, md.tensor(weight), reduction="none").numpy()
    np.testing.assert_allclose(none[kept], losses, rtol=1e-14)
    assert none[2] == 0.0 and not np.signbit(none[2])


def test_ignored_targets_get_no_gradient_and_all_ignored_gives_nan_silently():
    x = md.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    F.cross_entropy(x, np.array([1, -100, 3]), label_smoothing=0.2).backward()
    np.testing.assert_array_equal(x.grad.numpy()[1], 0.0)
    assert np.all(x.grad.numpy()[[0, 2]] != 0)
    for name in ("cross_entropy", "nll_loss"):
        x.grad = None
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # 0/0 is PyTorch's nan, not a NumPy warning
            loss = getattr(F, name)(x, np.full(3, -100))
            loss.backward()
        assert np.isnan(loss.item())
        np.testing.assert_array_equal(x.grad.numpy(), 0.0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_classification_losses_take_an_empty_batch(reduction):
    torch = pytest.importorskip("torch")
    for name in ("cross_entropy", "nll_loss"):
        x = md.tensor(np.zeros((0, 5, 2)), requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            loss = getattr(F, name)(x, np.zeros((0, 2), dtype=np.int64), reduction=reduction)
            loss.sum().backward()
        expected = getattr(torch.nn.functional, name)(torch.zeros(0, 5, 2), torch.zeros(0, 2, dtype=torch.long),
                                                      reduction=reduction)
        assert loss.shape == tuple(expected.shape) and x.grad.shape == (0, 5, 2)
        np.testing.assert_array_equal(loss.numpy(), expected.numpy())  # nan for 'mean', 0 for 'sum'


@pytest.mark.parametrize("name", ["CrossEntropyLoss", "NLLLoss"])
def test_loss_modules_keep_class_weights_as_a_buffer_as_pytorch(name):
    torch = pytest.importorskip("torch")
    weight = np.array([0.2, 1.0, 3.0], dtype=np.float32)
    ours = getattr(nn, name)(md.tensor(weight), ignore_index=1, reduction="sum")
    theirs = getattr(torch.nn, name)(torch.tensor(weight), ignore_index=1, reduction="sum")
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert list(getattr(nn, name)().state_dict()) == list(getattr(torch.nn, name)().state_dict()) == []
    scores = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    target = np.array([0, 1, 2, 2])
    np.testing.assert_allclose(ours(md.tensor(scores), target).item(),
                               theirs(torch.tensor(scores), torch.tensor(target)).item(), rtol=1e-6)


def test_options_after_weight_are_keyword_only():
    x = md.tensor(np.zeros((2, 3)))
    with pytest.raises(TypeError):
        F.cross_entropy(x, [0, 1], None, "sum")  # PyTorch's 4th parameter is size_average, not reduction
    with pytest.raises(TypeError):
        nn.CrossEntropyLoss(None, -100)


def test_bad_class_weights_and_ignore_index_are_refused():
    x = md.tensor(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"cross_entropy: weight must hold one weight per class, shape \(4,\) for an "
                                         r"input with C=4 classes, got shape \(3,\)"):
        F.cross_entropy(x, [0, 1], md.tensor(np.ones(3)))
    with pytest.raises(TypeError, match="nll_loss: weight has dtype float32 but the input has dtype float64"):
        F.nll_loss(x, [0, 1], md.tensor(np.ones(4, dtype=np.float32)))
    with pytest.raises(RuntimeError, match="cross_entropy: weight requires a gradient, but the loss is not "
                                           "differentiable with respect to its class weights"):
        F.cross_entropy(x, [0, 1], md.tensor(np.ones(4), requires_grad=True))
    with md.no_grad():
        F.cross_entropy(x, [0, 1], md.tensor(np.ones(4), requires_grad=True))  # nothing is recorded
    with pytest.raises(TypeError, match="cross_entropy: ignore_index must be an int, got None"):
        F.cross_entropy(x, [0, 1], ignore_index=None)
    with pytest.raises(IndexError, match=r"cross_entropy: target holds class -100, outside \[0, 4\) .* "
                                         r"\(and not ignore_index=3\)"):
        F.cross_entropy(x, [-100, 3], ignore_index=3)


# ---------------------------------------------------------------------------- one_hot


@given(shape=st.lists(st.integers(0, 3), min_size=0, max_size=3).map(tuple), seed=seeds,
       num_classes=st.sampled_from([-1, 4, 7]))
def test_one_hot_matches_pytorch(shape, seed, num_classes):
    torch = pytest.importorskip("torch")
    labels = np.random.default_rng(seed).integers(0, 4, shape)
    assume(labels.size or num_classes != -1)  # PyTorch cannot infer the classes of nothing
    ours = F.one_hot(md.tensor(labels), num_classes)
    expected = torch.nn.functional.one_hot(torch.tensor(labels), num_classes)
    assert ours.dtype == np.int64 and not ours.requires_grad
    np.testing.assert_array_equal(ours.numpy(), expected.numpy())
    assert ours.shape == tuple(expected.shape)


def test_one_hot_of_an_empty_batch_with_known_classes():
    assert F.one_hot(np.zeros(0, dtype=np.int64), 10).shape == (0, 10)


def test_one_hot_bad_input_is_refused():
    with pytest.raises(ValueError, match="one_hot: class values must be non-negative, got -1"):
        F.one_hot(md.tensor([0, -1]), 3)
    with pytest.raises(ValueError, match="one_hot: class values must be smaller than num_classes=3, got 3"):
        F.one_hot(md.tensor([0, 3]), 3)
    with pytest.raises(ValueError, match="one_hot: cannot infer num_classes from an empty tensor; pass num_classes"):
        F.one_hot(md.tensor(np.zeros(0, dtype=np.int64)))
    with pytest.raises(TypeError, match=r"one_hot: expected int64 class indices \(PyTorch's LongTensor\), got dtype "
                                        r"int32; convert them first, e.g. labels.long\(\)"):
        F.one_hot(md.tensor(np.array([0, 1], dtype=np.int32)), 3)
    with pytest.raises(TypeError, match="one_hot: expected int64 class indices .* got dtype float32"):
        F.one_hot(md.tensor([0.0, 1.0]), 3)
    with pytest.raises(ValueError, match="one_hot: num_classes must be a positive int, or -1 to infer it, got 0"):
        F.one_hot(md.tensor([0]), 0)
