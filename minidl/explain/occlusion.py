"""Occlusion (Zeiler and Fergus 2014): cover part of the image and watch the score drop.

A window slides over the input; at each place the covered values are replaced by a baseline
(grey, zeros) and the model scores the occluded image. The drop of the target's score,

    d_w = S(x) - S(x with window w replaced by the baseline),

is credited to every element the window covered, and each element's attribution is the mean of
d_w over the windows that covered it (Captum's ``Occlusion``):

    A_i = sum_{w covers i} d_w / #{w covers i}

Windows start at 0 and move by the stride; along an axis of size D a window of size k with stride
s takes ceil((D - k)/s) + 1 places, so the last one may run past the edge: it is cut there. A
stride larger than the window would skip elements and is refused, as in Captum (except along an
axis the window covers whole), and so is a window larger than the input.
"""

import itertools
import math

import numpy as np

from minidl.explain.attribution import (Attribution, broadcast_baselines, check_inputs, repeat_targets,
                                        target_scores)
from minidl.functional.checks import check_int
from minidl.tensor import Tensor

__all__ = ["Occlusion", "window_starts"]


def window_starts(size, window, stride):
    """The first index of each window along an axis: 0, s, 2s, ..., ceil((size - window)/s) * s."""
    return [i * stride for i in range(math.ceil((size - window) / stride) + 1)]


class Occlusion(Attribution):
    """attribute(inputs, sliding_window_shapes, strides, baselines, target) = the mean score drop
    of the windows covering each element (module docstring).

    Args of ``attribute``:
        inputs: (N, C, H, W) (or (N, ...)).
        sliding_window_shapes: the window, one size per axis of one input, e.g. (C, h, w).
        strides: an int for every axis, or one per axis (default 1).
        baselines: what covers the window: None (0), a number, or an array of the inputs' shape
            or of one input's.
        target: as for every method.
        perturbations_per_eval: how many windows are scored in one forward pass (Captum's name;
            each pass holds that many occluded copies of the N inputs).
    Returns:
        a Tensor of the inputs' shape and dtype.
    """

    def attribute(self, inputs, sliding_window_shapes, strides=None, baselines=None, target=None,
                  perturbations_per_eval=1):
        x = check_inputs(self.name, self.forward_func, inputs)
        shape = x.shape[1:]
        window = self._window(sliding_window_shapes, shape)
        stride = self._strides(strides, window, shape)
        check_int(self.name, "perturbations_per_eval", perturbations_per_eval, minimum=1)
        baseline = broadcast_baselines(self.name, baselines, x)
        places = list(itertools.product(*(window_starts(d, k, s) for d, k, s in zip(shape, window, stride))))
        n = len(x)
        original = target_scores(self.name, self.forward_func, x, target)
        total = np.zeros(x.shape, dtype=np.float64)
        covered = np.zeros(shape, dtype=np.float64)
        for first in range(0, len(places), perturbations_per_eval):
            chunk = places[first:first + perturbations_per_eval]
            masks = np.zeros((len(chunk), *shape), dtype=bool)
            for mask, start in zip(masks, chunk):
                mask[tuple(slice(i, i + k) for i, k in zip(start, window))] = True   # cut at the edge
            occluded = np.where(masks[:, None], baseline[None], x[None]).reshape(len(chunk) * n, *shape)
            scores = target_scores(self.name, self.forward_func, occluded,
                                   repeat_targets(self.name, target, n, len(chunk)))
            drops = original[None, :] - scores.reshape(len(chunk), n)               # (windows, N)
            total += np.tensordot(drops, masks, axes=(0, 0)).reshape(x.shape)
            covered += masks.sum(axis=0)
        return Tensor((total / covered).astype(x.dtype))

    def _window(self, sliding_window_shapes, shape):
        window = tuple(sliding_window_shapes) if isinstance(sliding_window_shapes, tuple | list) else None
        if window is None or len(window) != len(shape):
            raise ValueError(f"{self.name}: sliding_window_shapes must give one size for each of the {len(shape)} "
                             f"axes of an input {shape}, got {sliding_window_shapes!r}")
        for size in window:
            check_int(self.name, "each sliding window size", size, minimum=1)
        if any(k > d for k, d in zip(window, shape)):
            raise ValueError(f"{self.name}: the sliding window {window} is larger than the inputs {shape}")
        return window

    def _strides(self, strides, window, shape):
        strides = 1 if strides is None else strides
        stride = tuple(strides) if isinstance(strides, tuple | list) else (strides,) * len(shape)
        if len(stride) != len(shape):
            raise ValueError(f"{self.name}: strides must be an int or one per axis of an input {shape}, "
                             f"got {strides!r}")
        for s in stride:
            check_int(self.name, "each stride", s, minimum=1)
        for s, k, d in zip(stride, window, shape):
            if s > k and k != d:
                raise ValueError(f"{self.name}: stride {s} is larger than the sliding window's size {k} along an "
                                 f"axis of size {d}; the elements between windows would never be occluded")
        return stride
