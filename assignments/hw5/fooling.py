"""Task 5.6: fooling images (Szegedy et al. 2014; CS231n's version).

Take an image the model classifies correctly and push it, by small normalised gradient steps on
the target class's score, until the model says "target":

    repeat until argmax_k S_k(x) = t, at most max_iter steps:
        g = dS_t/dx                             (the target's logit)
        x <- clip(x + lr * g / ||g||_2, 0, 1)   (pixels stay in [0, 1])

The change that fools a network is tiny and looks like noise: the picture of the problem with
linear models in high dimensions (Goodfellow et al. 2015).
"""

import numpy as np

import minidl


def make_fooling_image(model, x, target, lr=0.1, max_iter=100):
    """The fooling image of one image.

    Args:
        model: a classifier on pixels in [0, 1] (put in evaluation mode).
        x: (1, C, H, W) ndarray in [0, 1]; target: the class to reach, an int.
        lr: the L2 length of each step; max_iter: the most steps.
    Returns:
        (1, C, H, W) ndarray of x's dtype: the first iterate the model classifies as ``target``
        (x itself if it already is), or the last one after max_iter steps.
    """
    ### BEGIN SOLUTION
    model.eval()
    fooling = x.copy()
    for _ in range(max_iter):
        pixels = minidl.tensor(fooling, requires_grad=True)
        scores = model(pixels)
        if int(scores.numpy()[0].argmax()) == target:
            break
        scores[0, target].backward()
        gradient = pixels.grad.numpy()
        fooling = np.clip(fooling + lr * gradient / np.linalg.norm(gradient), 0.0, 1.0)
    model.zero_grad()
    return fooling
    ### END SOLUTION
