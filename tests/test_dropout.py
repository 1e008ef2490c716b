"""Inverted dropout: out = x * mask, mask = Bernoulli(1 - p) / (1 - p) in training, identity in eval.

Masks are random, so instead of a PyTorch comparison the tests check the mask's values, its
statistics, its reproducibility under minidl.manual_seed, and that the gradient is the mask.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl as md
from minidl import functional as F
from minidl.gradcheck import gradcheck
from minidl.layers.dropout import dropout_backward, dropout_forward

shapes = st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)
seeds = st.integers(0, 2**16)
probabilities = st.sampled_from([0.1, 0.25, 0.5, 0.8])


@given(shape=shapes, seed=seeds, p=probabilities)
def test_mask_is_zero_or_one_over_keep_probability(shape, seed, p):
    x = np.random.default_rng(seed).uniform(1, 2, shape)  # no zeros, so out / x recovers the mask
    out, mask = dropout_forward(x, p, training=True, rng=np.random.default_rng(seed))
    assert set(np.unique(mask)) <= {0.0, 1 / (1 - p)}
    np.testing.assert_allclose(out, x * mask, atol=0)


@given(shape=shapes, seed=seeds, p=probabilities)
def test_gradient_is_the_mask(shape, seed, p):
    rng = np.random.default_rng(seed)
    x = md.tensor(rng.standard_normal(shape), requires_grad=True)
    dout = rng.standard_normal(shape)
    md.manual_seed(seed)
    out = F.dropout(x, p)
    out.backward(dout)
    md.manual_seed(seed)
    _, mask = dropout_forward(x.numpy(), p, training=True)  # the same draw from the same generator
    np.testing.assert_array_equal(x.grad, dout * mask)
    np.testing.assert_array_equal(dropout_backward(dout, mask), dout * mask)


@given(shape=shapes, seed=seeds, p=probabilities)
def test_gradients_match_central_differences_for_a_fixed_mask(shape, seed, p):
    x = np.random.default_rng(seed).standard_normal(shape)

    def dropout_with_fixed_mask(t):
        md.manual_seed(seed)  # every evaluation draws the same mask
        return F.dropout(t, p)

    assert gradcheck(dropout_with_fixed_mask, [x])


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_expected_output_equals_input(p):
    # Each output is 1/(1-p) with probability 1-p and 0 otherwise: mean 1, variance p/(1-p).
    # The sample mean of n of them has standard deviation sqrt(p / ((1-p) n)); 5 of those is
    # a bound that a correct mask misses with probability < 1e-6, while a mask scaled by the
    # wrong factor (e.g. 1/p, or no rescaling) misses it by far.
    n = 200_000
    md.manual_seed(0)
    out = F.dropout(md.tensor(np.ones(n)), p).numpy()
    sigma = np.sqrt(p / ((1 - p) * n))
    assert abs(out.mean() - 1) < 5 * sigma
    kept = np.count_nonzero(out) / n
    assert abs(kept - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)


def test_same_seed_same_mask_and_other_seeds_differ():
    x = md.tensor(np.ones((8, 8)))
    md.manual_seed(123)
    first = F.dropout(x, 0.5).numpy()
    md.manual_seed(123)
    again = F.dropout(x, 0.5).numpy()
    md.manual_seed(124)
    other = F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@given(shape=shapes, seed=seeds, p=probabilities)
def test_eval_mode_and_p_zero_are_the_identity(shape, seed, p):
    rng = np.random.default_rng(seed)
    x_data, dout = rng.standard_normal(shape), rng.standard_normal(shape)
    for probability, training in [(p, False), (0.0, True)]:
        x = md.tensor(x_data, requires_grad=True)
        out = F.dropout(x, probability, training=training)
        out.backward(dout)
        np.testing.assert_array_equal(out.numpy(), x_data)
        np.testing.assert_array_equal(x.grad, dout)


def test_p_one_zeroes_everything_without_nan():
    x = md.tensor(np.ones((3, 4), dtype=np.float32), requires_grad=True)
    out = F.dropout(x, 1.0)
    out.sum().backward()
    np.testing.assert_array_equal(out.numpy(), np.zeros((3, 4)))
    np.testing.assert_array_equal(x.grad, np.zeros((3, 4)))


def test_dtype_is_kept():
    x = md.tensor(np.ones((4, 4), dtype=np.float32), requires_grad=True)
    out = F.dropout(x, 0.3)
    out.sum().backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32


def test_dropout_bad_input_is_refused():
    x = md.tensor(np.ones(3))
    with pytest.raises(ValueError, match="dropout: probability p must be a number between 0 and 1, got 1.5"):
        F.dropout(x, 1.5)
    with pytest.raises(ValueError, match="dropout: probability p must be a number between 0 and 1, got -0.1"):
        F.dropout(x, -0.1)
    with pytest.raises(TypeError, match="dropout: input must be a floating point tensor"):
        F.dropout(md.tensor([1, 2, 3]), 0.5)


# ---------------------------------------------------------------------- manual_seed
@pytest.mark.parametrize("seed, error, match", [
    ("42", TypeError, r"manual_seed: seed must be an int, got '42' \(str\)"),
    (1.5, TypeError, r"manual_seed: seed must be an int, got 1.5 \(float\)"),
    (True, TypeError, r"manual_seed: seed must be an int, got True \(bool\)"),
    (None, TypeError, r"manual_seed: seed must be an int, got None"),
    (2**64, ValueError, r"manual_seed: seed must lie between -9223372036854775808 and 18446744073709551615"),
    (-(2**63) - 1, ValueError, "manual_seed: seed must lie between"),
])
def test_manual_seed_refuses_what_is_not_a_64_bit_integer(seed, error, match):
    md.manual_seed(7)
    state = md.get_generator().bit_generator.state
    with pytest.raises(error, match=match):
        md.manual_seed(seed)
    assert md.get_generator().bit_generator.state == state  # the generator was not replaced


def test_manual_seed_takes_pytorchs_range_negative_seeds_counting_from_two_to_the_64():
    for seed, same in [(-1, 2**64 - 1), (-(2**63), 2**63), (np.int64(5), 5), (np.uint64(2**64 - 1), -1)]:
        first = md.manual_seed(seed).random(4)
        np.testing.assert_array_equal(md.manual_seed(same).random(4), first)
    assert not np.array_equal(md.manual_seed(-1).random(4), md.manual_seed(1).random(4))
