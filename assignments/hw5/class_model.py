"""Task 5.5: class model visualisation (Simonyan et al. 2014): the image a network finds most "class t".

Look for I* = argmax_I S_t(I) - l2 ||I||^2, with S_t the target's score (the logit, not the
softmax: raising it by lowering the other classes is not the point), by CS231n's gradient
ascent with steps of fixed length, the pixels kept in [0, 1]:

    I_0 = 0
    repeat ``iterations`` times:
        g = dS_t/dI (I) - 2 * l2 * I
        I = clip(I + step * g / ||g||_2, 0, 1)          (||g||_2 over all of I's values; g = 0 leaves I)

CS231n adds two priors between the steps for nicer pictures (a random shift, "jitter", and a
Gaussian blur); ``minidl.visualize.class_model`` has them. Here the steps are exactly these, so
the result is one number per pixel that a grader can check.
"""

import numpy as np

import minidl


def class_model_image(model, target, shape, iterations=100, step=1.0, l2=1e-3):
    """The class model image.

    Args:
        model: a classifier of pixels in [0, 1] (put in evaluation mode; its parameters'
            gradients left as they were).
        target: the class t; shape: (C, H, W) of one image.
        iterations, step, l2: the ascent's step count, step length and penalty weight.
    Returns:
        (C, H, W) ndarray in [0, 1], of the model's dtype (the dtype of its first parameter).
    """
    ### BEGIN SOLUTION
    model.eval()
    dtype = next(iter(model.parameters())).numpy().dtype
    image = np.zeros((1, *shape), dtype=dtype)
    for _ in range(iterations):
        pixels = minidl.tensor(image, requires_grad=True)
        model(pixels)[0, target].backward()
        gradient = pixels.grad.numpy() - 2 * l2 * image
        image = np.clip(image + step * gradient / max(np.linalg.norm(gradient), 1e-12), 0, 1).astype(dtype)
    model.zero_grad()
    return image[0]
    ### END SOLUTION
