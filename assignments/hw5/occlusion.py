"""Task 5.4: occlusion (Zeiler and Fergus 2014): cover part of the image, watch the score drop.

A square window of ``window`` x ``window`` pixels slides over the image with ``stride``; at each
place every channel under it is set to ``baseline`` and the model scores the occluded image. The
map holds the drop of the target's score,

    D[n, i, j] = S_t(x_n) - S_t(x_n with rows i*s .. i*s + window - 1 and
                                  columns j*s .. j*s + window - 1 set to baseline)

for i < (H - window) // stride + 1, likewise j: large where the model looks. (Captum's Occlusion
spreads each drop over the pixels its window covered instead; with stride = window they agree.)
"""

import numpy as np

import minidl


def occlusion_map(model, x, target, window, stride, baseline=0.0):
    """The map of score drops.

    Args:
        model: a classifier (put in evaluation mode; no gradients needed).
        x: (N, C, H, W) ndarray; target: (N,) ints.
        window, stride: ints; baseline: the value that covers the window.
    Returns:
        (N, H', W') ndarray of x's dtype, H' = (H - window) // stride + 1, likewise W'.
    """
    ### BEGIN SOLUTION
    model.eval()
    n_images, _, height, width = x.shape
    rows, cols = (height - window) // stride + 1, (width - window) // stride + 1
    targets = np.asarray(target)
    with minidl.no_grad():
        clean = model(minidl.tensor(x)).numpy()[np.arange(n_images), targets]
        drops = np.zeros((n_images, rows, cols), dtype=x.dtype)
        for i in range(rows):
            for j in range(cols):
                covered = x.copy()
                covered[:, :, i * stride:i * stride + window, j * stride:j * stride + window] = baseline
                drops[:, i, j] = clean - model(minidl.tensor(covered)).numpy()[np.arange(n_images), targets]
    return drops
    ### END SOLUTION
