"""The hidden cases of hw5: inputs for the tiny networks of tiny_models.py (other seeds than the
public tests') and the answer keys' outputs: minidl.explain's methods and minidl.visualize's
class model image; for occlusion with overlapping windows, a loop over the windows written here.
``minidl assignment expected hw5`` stores them."""

import numpy as np

import minidl
from minidl.explain import GuidedBackprop, deconv_reconstruct, saliency_map
from minidl.explain.adversarial_fooling import make_fooling_image
from minidl.visualize import class_model
from tiny_models import first_block, tiny_cnn

SEED = 5


def _occlusion_loop(model, x, target, window, stride):
    """The score drop of every window position, one occluded image at a time."""
    with minidl.no_grad():
        clean = model(minidl.tensor(x)).numpy()
        rows, cols = (x.shape[2] - window) // stride + 1, (x.shape[3] - window) // stride + 1
        drops = np.zeros((len(x), rows, cols))
        for n in range(len(x)):
            for i in range(rows):
                for j in range(cols):
                    covered = x[n:n + 1].copy()
                    covered[:, :, i * stride:i * stride + window, j * stride:j * stride + window] = 0.0
                    drops[n, i, j] = clean[n, target[n]] - model(minidl.tensor(covered)).numpy()[0, target[n]]
    return drops


def _class_model(model, target, shape):
    """minidl.visualize's class model image without its jitter and blur: the task's loop."""
    return class_model(model, target, shape, start="mean", iterations=30, step=0.5, l2=1e-2, jitter=0,
                       blur_sigma=0).pictures[0]


def cases():
    rng = np.random.default_rng(55)
    model = tiny_cnn(SEED).eval()
    x, y = rng.uniform(0, 1, (4, 3, 8, 8)), np.array([4, 0, 2, 2])
    found = {"x": x, "y": y, "saliency": saliency_map(model, x, y).numpy(),
             "guided": GuidedBackprop(model).attribute(x, target=y).numpy(),
             "occlusion": _occlusion_loop(model, x, y, window=3, stride=1)}
    block = first_block(SEED).eval()
    big = rng.uniform(0, 1, (2, 3, 12, 12))
    found.update({"block/x": big, "block/deconv": deconv_reconstruct(block, big, "2", 3).numpy()})
    found["class_model"] = _class_model(model, 3, (3, 8, 8))
    found["fooling"] = make_fooling_image(model, x[1:2], 3, lr=0.05, max_iter=200)
    return found
