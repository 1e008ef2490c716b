"""Task 1.2: numerical gradients, to check every backward pass you write.

For a function f and a small step h, the derivative along one element x_i is, by Taylor,

    df/dx_i = (f(x + h e_i) - f(x - h e_i)) / (2h) + O(h^2)

(the centred difference; the one-sided (f(x + h e_i) - f(x)) / h is only O(h) accurate). A layer
gives an array out = f(x), and its backward pass gets dout = dL/dout; the gradient to check is
then dL/dx_i = sum(dout * df/dx_i). The comparison is the relative error, which is about 1e-7 or
smaller when a backward pass is right (in float64) and far larger when it is not.
"""

import numpy as np


def rel_error(x, y):
    """CS231n's relative error: max over the elements of |x - y| / max(1e-8, |x| + |y|); a float."""
    ### BEGIN SOLUTION
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))
    ### END SOLUTION


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """The centred-difference gradient of sum(df * f(x)) with respect to x.

    Args:
        f: a function of the array x returning an array of df's shape.
        x: a float64 array; changed one element at a time, and left as it was given.
        df: the upstream gradient dL/df(x).
        h: the step.
    Returns:
        an array of x's shape: grad[i] = sum(df * (f(x + h e_i) - f(x - h e_i))) / (2h).
    """
    ### BEGIN SOLUTION
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        index = it.multi_index
        original = x[index]
        x[index] = original + h
        plus = f(x).copy()
        x[index] = original - h
        minus = f(x).copy()
        x[index] = original
        grad[index] = np.sum((plus - minus) * df) / (2 * h)
        it.iternext()
    return grad
    ### END SOLUTION
