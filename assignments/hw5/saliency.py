"""Task 5.1: the class saliency map (Simonyan, Vedaldi and Zisserman 2014).

Which pixels, changed a little, would change the class score S_y the most? The gradient says:
take w = dS_y/dx by one backward pass from the score (not the loss, not the softmax) and, per
pixel, the strongest channel:

    M[n, i, j] = max_c |dS_{y_n} / dx[n, c, i, j]|

The model runs in evaluation mode (batch norm and dropout as at test time); its parameters'
gradients are not the point and should be left as they were.
"""

import numpy as np

import minidl


def saliency_map(model, x, y):
    """Saliency maps of a batch.

    Args:
        model: a classifier, (N, C, H, W) -> (N, K) scores (put in evaluation mode).
        x: (N, C, H, W) ndarray of the model's dtype; y: (N,) ints, the class of each image.
    Returns:
        (N, H, W) ndarray: max over the channels of |dS_y / dx|.
    """
    ### BEGIN SOLUTION
    model.eval()
    images = minidl.tensor(x, requires_grad=True)
    scores = model(images)
    scores[np.arange(len(x)), np.asarray(y)].sum().backward()
    model.zero_grad()
    return np.abs(images.grad.numpy()).max(axis=1)
    ### END SOLUTION
