"""Argument normalisation and the output-size arithmetic shared by convolution and pooling.

For one spatial axis of size W, a kernel of size F with dilation D covers D*(F-1)+1 input
positions, so with padding P on each side and stride S the number of output positions is

    W' = floor((W + 2P - D*(F-1) - 1) / S) + 1

which for D = 1 is the familiar  W' = (W - F + 2P)/S + 1.  When the kernel does not fit
(W' < 1) the error spells that formula out with the numbers, so a student sees why.

Pooling may round up instead (PyTorch's ``ceil_mode=True``), keeping one more window when the
windows leave the end of the padded input uncovered:

    W' = ceil((W + 2P - D*(F-1) - 1) / S) + 1,   then  W' -= 1  if (W' - 1)*S >= W + P

That extra window may run past the right padding; the second rule drops it when it would
start in the right padding (every window must start inside the input or the left padding).
"""

import numbers


def is_int(value):
    """Whether ``value`` is an integer: a Python int or a NumPy integer, but not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def pair(value, name, layer):
    """Turn an int or a pair of ints into a pair ``(h, w)`` of Python ints, refusing anything else."""
    if is_int(value):
        return int(value), int(value)
    if isinstance(value, tuple | list) and len(value) == 2 and all(is_int(v) for v in value):
        return int(value[0]), int(value[1])
    raise TypeError(f"{layer}: {name} must be an int or a pair of ints, got {value!r} ({type(value).__name__})")


def check_positive(value, name, layer):
    """``value`` is a pair of ints that must both be >= 1 (kernel sizes, strides, dilations)."""
    if min(value) <= 0:
        raise ValueError(f"{layer}: {name} must be positive, got {value}")


def check_non_negative(value, name, layer):
    if min(value) < 0:
        raise ValueError(f"{layer}: {name} must be non-negative, got {value}")


def output_size(layer, input_hw, kernel, stride, padding, dilation=(1, 1), ceil_mode=False):
    """Output height and width of a sliding-window layer; a clear error when the kernel does not fit.

    Args:
        layer: name used in the error message, e.g. ``"conv2d"``.
        input_hw: (H, W) of the unpadded input.
        kernel, stride, padding, dilation: pairs (vertical, horizontal).
        ceil_mode: round the number of strides up instead of down (pooling only).
    Returns:
        (H', W') with H' = floor((H + 2*P - D*(F-1) - 1) / S) + 1, likewise W'; with ceil_mode,
        H' = ceil(...) + 1, less one when that last window would start at or past H + P.
    """
    out = []
    for axis, size, f, s, p, d in zip(("height", "width"), input_hw, kernel, stride, padding, dilation):
        span = d * (f - 1) + 1
        if ceil_mode:
            n = -((span - size - 2 * p) // s) + 1        # ceil(a / s) written as -floor(-a / s)
            if (n - 1) * s >= size + p:
                n -= 1
        else:
            n = (size + 2 * p - span) // s + 1
        if n < 1:
            letter = "H" if axis == "height" else "W"
            if d == 1:
                formula = (
                    f"{letter}' = ({letter} - F + 2P)/S + 1 = ({size} - {f} + 2*{p})/{s} + 1 = "
                    f"{(size - f + 2 * p) / s + 1:g}"
                )
            else:
                formula = (
                    f"{letter}' = ({letter} + 2P - D*(F-1) - 1)/S + 1 = "
                    f"({size} + 2*{p} - {d}*({f}-1) - 1)/{s} + 1 = {(size + 2 * p - span) / s + 1:g}"
                )
            raise ValueError(
                f"{layer}: the kernel does not fit the input {axis}: input {letter}={size}, "
                f"kernel F={f}, padding P={p}, stride S={s}, dilation D={d} gives output {axis} "
                f"{formula}, which is less than 1"
            )
        out.append(n)
    return tuple(out)
