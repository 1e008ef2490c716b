"""Task 3.5: data augmentation, new training images for free.

A shirt mirrored left to right is still a shirt, and shifted by a few pixels it still is: each
epoch, every training image is shown flipped or not, and cut from a zero-padded copy at a random
offset. The network sees slightly different images every time and learns the invariance
instead of the pixels.

Both functions take a batch (N, C, H, W) and a ``np.random.Generator`` (reproducible), and never
change their input.
"""

import numpy as np


def random_horizontal_flip(images, rng, p=0.5):
    """Each image mirrored left to right (the last axis reversed) with probability p, independently.

    Vectorised: no loop over the images. Returns a new (N, C, H, W) array.
    """
    ### BEGIN SOLUTION
    flip = rng.random(len(images)) < p
    return np.where(flip[:, None, None, None], images[..., ::-1], images)
    ### END SOLUTION


def random_crop(images, padding, rng):
    """Each image zero-padded by ``padding`` on every side, then cut back to (H, W) at a random
    offset (dy, dx), each uniform in 0 .. 2 * padding, drawn independently per image.

    Returns a new (N, C, H, W) array.
    """
    ### BEGIN SOLUTION
    n_images, _, height, width = images.shape
    padded = np.pad(images, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    offsets = rng.integers(0, 2 * padding + 1, size=(n_images, 2))
    out = np.empty_like(images)
    for n, (dy, dx) in enumerate(offsets):
        out[n] = padded[n, :, dy:dy + height, dx:dx + width]
    return out
    ### END SOLUTION
