"""Features: the activations of chosen layers, for one batch or for a whole dataset.

``FeatureExtractor(model, return_layers={"layer3": "mid", "fc": "scores"})`` is a module whose
forward returns ``{"mid": ..., "scores": ...}`` (torchvision's ``IntermediateLayerGetter``
argument; ``create_feature_extractor`` is the same idea). It stops the forward pass as soon as
every requested layer has produced its output, so asking for an early layer does not pay for
the rest of the network.

``extract_features(model, dataset, layer)`` runs that over a dataset in batches under
``no_grad`` and returns one row of features per image. Early layers are large (a 32x32 map of
64 channels is 65,536 numbers per image); ``pool`` shrinks them spatially first: ``"avg"`` or
``"max"`` over the whole map (one number per channel), or an int k for an adaptive average to
k x k. With ``cache_dir`` the result is stored on disk under a key made of the weights, the
layer, the pooling, the input transform and the images, so changing any of them computes anew.
"""

import hashlib
import os

import numpy as np
from tqdm import tqdm

from minidl.data import DataLoader
from minidl.files import atomic_write
from minidl.functional import adaptive_avg_pool2d
from minidl.grad_mode import no_grad
from minidl.nn.module import Module
from minidl.tensor import Tensor

__all__ = ["FeatureExtractor", "extract_features", "pool_features"]


class _Collected(Exception):
    """Raised from a hook once every requested output is in: the rest of the forward is not needed."""


class FeatureExtractor(Module):
    """Return the outputs of chosen layers of ``model`` as a dict.

    Args:
        model: the network (it is shared, not copied: its weights and mode are the extractor's).
        return_layers: ``{module name: output name}``, or a list of module names (each its own
            output name). Names are those of ``model.named_modules()``.
        capture: ``"output"`` (what each layer gives) or ``"input"`` (what it receives: the input of
            a head is the feature vector a new head would see).
    Input: whatever ``model`` takes. Output: ``{output name: Tensor}``.
    """

    def __init__(self, model, return_layers, capture="output"):
        super().__init__()
        if isinstance(return_layers, list | tuple):
            return_layers = {name: name for name in return_layers}
        if not isinstance(return_layers, dict) or not return_layers:
            raise TypeError(f"FeatureExtractor: return_layers must be a non-empty dict or list, got {return_layers!r}")
        known = dict(model.named_modules())
        missing = [name for name in return_layers if name not in known]
        if missing:
            top = ", ".join(name for name, _ in model.named_children())
            raise KeyError(f"FeatureExtractor: {type(model).__name__} has no module named {missing[0]!r}; "
                           f"its top-level modules are {top}")
        if capture not in ("output", "input"):
            raise ValueError(f"FeatureExtractor: capture must be 'output' or 'input', got {capture!r}")
        self.model = model
        self.return_layers = dict(return_layers)
        self.capture = capture

    def forward(self, x):
        outputs = {}
        known = dict(self.model.named_modules())

        def keep(name):
            def hook(module, inputs, output=None):
                outputs[self.return_layers[name]] = output if self.capture == "output" else inputs[0]
                if len(outputs) == len(self.return_layers):
                    raise _Collected
            return hook

        register = "register_forward_hook" if self.capture == "output" else "register_forward_pre_hook"
        handles = [getattr(known[name], register)(keep(name)) for name in self.return_layers]
        try:
            self.model(x)
        except _Collected:
            pass
        finally:
            for handle in handles:
                handle.remove()
        missing = [out for out in self.return_layers.values() if out not in outputs]
        if missing:
            raise RuntimeError(f"FeatureExtractor: the forward pass never ran the layers giving {missing}")
        return outputs


def pool_features(activations, pool):
    """(N, C, H, W) -> (N, C) for ``"avg"`` or ``"max"``, (N, C*k*k) for an int k; None flattens."""
    if pool is None:
        return activations.reshape(len(activations), -1)
    if activations.ndim != 4:
        raise ValueError(f"extract_features: pool={pool!r} needs (N, C, H, W) activations, got shape "
                         f"{tuple(activations.shape)}")
    if pool == "avg":
        return activations.mean(axis=(2, 3))
    if pool == "max":
        return activations.max(axis=(2, 3))
    if isinstance(pool, int) and not isinstance(pool, bool) and pool > 0:
        pooled = adaptive_avg_pool2d(Tensor(activations), (pool, pool)).numpy()
        return pooled.reshape(len(pooled), -1)
    raise ValueError(f"extract_features: pool must be None, 'avg', 'max' or a positive int, got {pool!r}")


def _fingerprint(dataset, where):
    """A hash of a dataset's arrays (and a Subset's indices), for the cache key."""
    digest = hashlib.sha256()
    base, extra = dataset, ()
    if hasattr(dataset, "indices") and hasattr(dataset, "dataset"):  # a Subset
        base, extra = dataset.dataset, (np.asarray(dataset.indices),)
    arrays = getattr(base, "arrays", None)  # a TensorDataset
    if arrays is None:
        arrays = (getattr(base, "data", None), getattr(base, "targets", None))
    if not all(isinstance(array, np.ndarray) for array in arrays):
        raise TypeError(f"{where}: cache_dir needs a dataset that holds its images and labels in arrays "
                        f"(an ImageDataset, a TensorDataset or a Subset of one), got {type(dataset).__name__}; "
                        "pass cache_dir=None")
    for array in tuple(arrays) + extra:
        digest.update(str((array.dtype, array.shape)).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _cache_key(model, dataset, layer, pool, transform, capture):
    digest = hashlib.sha256()
    for name, value in model.state_dict().items():
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    digest.update(repr((layer, pool, repr(transform), capture)).encode())
    digest.update(_fingerprint(dataset, "extract_features").encode())
    return digest.hexdigest()[:32]


def extract_features(model, dataset, layer, pool=None, batch_size=256, transform=None, cache_dir=None,
                     progress=True, capture="output"):
    """The activations of ``layer`` for every image of ``dataset``, one row per image.

    Args:
        model: the network; run in evaluation mode (its mode is restored afterwards).
        dataset: a dataset of ``(image, label)`` pairs.
        layer: a module name of ``model.named_modules()``.
        pool: None (flatten), ``"avg"``, ``"max"`` or an int k (see ``pool_features``).
        transform: the batch transform the model expects (e.g. its training normalisation).
        cache_dir: a folder to keep the result in, keyed by weights, layer, pool, transform and data.
        progress: show a progress bar.
        capture: ``"output"`` of the layer, or its ``"input"`` (see ``FeatureExtractor``).
    Returns ``(features, labels)``: float32 (N, D) and int64 (N,) ndarrays.
    """
    if len(dataset) == 0:
        raise ValueError("extract_features: the dataset is empty")
    path = None
    if cache_dir is not None:
        path = os.path.join(cache_dir, f"features-{_cache_key(model, dataset, layer, pool, transform, capture)}.npz")
        if os.path.exists(path):
            with np.load(path, allow_pickle=False) as cached:
                return cached["features"], cached["labels"]
    extractor = FeatureExtractor(model, {layer: "features"}, capture=capture)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, transform=transform)
    was_training = model.training
    model.eval()
    rows, labels = [], []
    try:
        with no_grad():
            for images, targets in tqdm(loader, desc=f"features of {layer}", disable=not progress, leave=False):
                activations = extractor(images)["features"].numpy()
                rows.append(pool_features(activations, pool).astype(np.float32, copy=False))
                labels.append(np.asarray(targets, dtype=np.int64))
    finally:
        model.train(was_training)
    features, labels = np.concatenate(rows), np.concatenate(labels)
    if path is not None:
        os.makedirs(cache_dir, exist_ok=True)
        with atomic_write(path) as file:
            np.savez(file, features=features, labels=labels)
    return features, labels
