"""The compiled ReLU, ReLU-gradient and add kernels equal their NumPy twins.

Shapes of every rank from 0 to 4 are drawn by hypothesis, with zeros, negative zeros and
values of both signs; NaN and infinities are checked on their own.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl as md
from minidl.kernels import elementwise

dtypes = st.sampled_from([np.float32, np.float64])
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=6)


def values(dtype, shape):
    return hnp.arrays(dtype, shape, elements=st.sampled_from([0.0, -0.0, 1.5, -2.0]) | st.floats(
        -10, 10, width=32 if dtype == np.float32 else 64))


@given(data=st.data(), dtype=dtypes, shape=shapes)
def test_relu_and_its_gradient_equal_the_twins(data, dtype, shape):
    x = data.draw(values(dtype, shape))
    dout = data.draw(values(dtype, shape))
    out = elementwise.relu_fast(x)
    assert out.dtype == dtype and out.shape == x.shape
    np.testing.assert_array_equal(out, elementwise.relu_reference(x))
    dx = elementwise.relu_grad_fast(dout, out)
    assert dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_array_equal(dx, elementwise.relu_grad_reference(dout, out))


@given(data=st.data(), dtype=dtypes, shape=shapes)
def test_add_equals_its_twin_bit_for_bit(data, dtype, shape):
    a, b = data.draw(values(dtype, shape)), data.draw(values(dtype, shape))
    out = elementwise.add_fast(a, b)
    assert out.dtype == dtype and out.shape == a.shape
    np.testing.assert_array_equal(out, elementwise.add_reference(a, b))


@pytest.mark.parametrize("b", [np.ones(3), np.ones((2, 1)), np.ones((2, 3), np.float32)],
                         ids=["broadcast row", "broadcast column", "other dtype"])
def test_add_refuses_to_broadcast_or_mix_dtypes(b):
    with pytest.raises(ValueError, match="add: the arrays must have one shape and dtype"):
        elementwise.add_fast(np.ones((2, 3)), b)


def test_relu_is_the_positive_part():
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_array_equal(elementwise.relu_fast(x), [0, 0, 0, 0.5, 3.0])
    np.testing.assert_array_equal(elementwise.relu_grad_fast(np.full(5, 2.0), elementwise.relu_fast(x)),
                                  [0, 0, 0, 2.0, 2.0])


def test_nan_and_infinities_pass_as_in_numpy():
    x = np.array([np.nan, np.inf, -np.inf, -1.0, 2.0], dtype=np.float32)
    out = elementwise.relu_fast(x)
    np.testing.assert_array_equal(out, np.maximum(x, 0))        # NaN stays NaN, -inf becomes 0
    dout = np.array([1.0, np.nan, 1.0, np.inf, 1.0], dtype=np.float32)
    with np.errstate(invalid="ignore"):                 # inf * 0 is NaN, in both twins
        expected = elementwise.relu_grad_reference(dout, out)
    np.testing.assert_array_equal(elementwise.relu_grad_fast(dout, out), expected)


def test_non_contiguous_input_gives_the_same_result():
    x = np.random.default_rng(0).standard_normal((6, 8)).T              # a transposed view
    np.testing.assert_array_equal(elementwise.relu_fast(x), np.maximum(x, 0))
    np.testing.assert_array_equal(elementwise.relu_grad_fast(x, x), x * (x > 0))
    np.testing.assert_array_equal(elementwise.add_fast(x, x[::-1]), x + x[::-1])


@pytest.mark.parametrize("threads", [1, 2])
def test_large_arrays_split_over_threads_equal_the_twins(threads, monkeypatch):
    """Above PARALLEL_MIN_ELEMENTS the runs are shared among threads."""
    from minidl.kernels import threads as kernel_threads
    from minidl.kernels.threads import max_threads

    monkeypatch.setattr(kernel_threads, "PARALLEL_MIN_ELEMENTS", 1 << 12)

    if threads > max_threads():
        pytest.skip("needs two threads")
    rng = np.random.default_rng(1)
    x, dout = rng.standard_normal((2, 8, 16, 33, 33)).astype(np.float32)
    previous = md.get_num_threads()
    md.set_num_threads(threads)
    try:
        out = elementwise.relu_fast(x)
        dx = elementwise.relu_grad_fast(dout, out)
        total = elementwise.add_fast(x, dout)
    finally:
        md.set_num_threads(previous)
    np.testing.assert_array_equal(total, x + dout)
    np.testing.assert_array_equal(out, elementwise.relu_reference(x))
    np.testing.assert_array_equal(dx, elementwise.relu_grad_reference(dout, out))


def test_gradient_of_mismatched_shapes_is_refused():
    with pytest.raises(ValueError, match=r"relu_grad: dout has shape \(4,\) but the ReLU's output has shape \(2,\)"):
        elementwise.relu_grad_fast(np.ones(4), np.ones(2))


def test_the_mask_is_taken_in_the_outputs_own_precision():
    # 1e-50 is positive in float64 though it rounds to 0 in float32: the gradient goes through.
    dout, out = np.ones(2, dtype=np.float32), np.array([1e-50, 0.0])
    np.testing.assert_array_equal(elementwise.relu_grad_fast(dout, out), elementwise.relu_grad_reference(dout, out))
    np.testing.assert_array_equal(elementwise.relu_grad_fast(dout, out), [1, 0])
