"""Saving and loading a model's weights, with the architecture needed to rebuild it.

    save_weights(model, "lenet5-mnist.safetensors", architecture="lenet5",
                 architecture_kwargs={"num_classes": 10}, dataset="mnist")
    model = load_weights("lenet5-mnist.safetensors")        # rebuilt from the file's metadata
    load_weights("lenet5-mnist.safetensors", model=model)   # or into a model you built

The file format is safetensors (https://github.com/huggingface/safetensors), the format the
Hugging Face hub and torchvision use for weights: an 8-byte header length, a JSON header naming
each array with its dtype, shape and byte range, then the raw bytes. Loading it reads numbers
and text only. ``torch.save`` files are pickles instead, and unpickling runs whatever code the
file names, so a weights file from the internet could take over your machine; a safetensors file
cannot. (Training checkpoints, which also hold the optimiser's state, use ``minidl.checkpoint``'s
``.npz`` format, which is pickle-free for the same reason.)

The header's free-text metadata holds one JSON document under the key ``"minidl"``:
``{"architecture": "lenet5", "architecture_kwargs": {...}, ...}`` plus whatever the caller adds
(the dataset, its class names, the input normalisation, the test accuracy, the command that
trained it), so a weights file says what it is and how to feed it.
"""

import json
import os

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as safetensors_load
from safetensors.numpy import save as safetensors_save

from minidl import __version__
from minidl.files import atomic_write

__all__ = ["save_weights", "load_weights", "read_weights", "WeightsError"]

METADATA_KEY = "minidl"


class WeightsError(ValueError):
    """A file that is not a weights file minidl can read, or one that does not fit the model."""


def save_weights(model, path, *, architecture=None, architecture_kwargs=None, **metadata):
    """Write ``model.state_dict()`` to the safetensors file ``path`` (atomically).

    Args:
        model: the Module whose parameters and buffers are saved.
        path: the file to (over)write; a crash mid-write leaves any previous file intact.
        architecture: the zoo name that rebuilds the model (``minidl.zoo.get_model``), so
            ``load_weights(path)`` needs no model; ``None`` if it is not a zoo model.
        architecture_kwargs: the builder's keyword arguments (``num_classes``, ...).
        **metadata: JSON-serialisable facts about the weights (dataset, classes, normalize,
            test_accuracy, command, ...).
    """
    if architecture is not None:
        from minidl.zoo import MODELS  # the zoo package imports this module: import on use

        if architecture not in MODELS:
            raise ValueError(f"save_weights: unknown architecture {architecture!r}; known: "
                             f"{', '.join(sorted(MODELS))}")
    document = {"format_version": 1, "minidl_version": __version__, "architecture": architecture,
                "architecture_kwargs": dict(architecture_kwargs or {}), **metadata}
    try:
        text = json.dumps(document)
    except TypeError as error:
        raise TypeError(f"save_weights: metadata must be JSON-serialisable: {error}") from error
    # safetensors wants C-contiguous arrays it owns; state_dict() already returns fresh copies.
    arrays = {key: np.asarray(value, order="C") for key, value in model.state_dict().items()}
    with atomic_write(path) as file:
        file.write(safetensors_save(arrays, metadata={METADATA_KEY: text}))


def read_weights(path):
    """Read a safetensors file: returns ``(state_dict, metadata)``.

    ``state_dict`` maps names to ndarrays; ``metadata`` is minidl's JSON document (an empty dict
    for safetensors files that minidl did not write, such as torchvision's). Raises
    ``WeightsError`` naming the file when it is not a safetensors file (a pickle, a truncated
    download).
    """
    path = os.fspath(path)
    with open(path, "rb") as file:
        content = file.read()
    if content[:1] == b"\x80":
        raise WeightsError(
            f"{path} is a Python pickle (as torch.save writes), not a safetensors file; minidl "
            "never unpickles weights, since loading a pickle runs whatever code its author put "
            "in it. Convert it where you trust it, or use load_torchvision_state_dict, which "
            "reads .pth files through torch.load(weights_only=True)"
        )
    try:
        arrays = safetensors_load(content)
        header_metadata = _header_metadata(content)
    except (SafetensorError, ValueError) as error:
        raise WeightsError(f"{path} is not a readable safetensors weights file: {error}") from error
    text = header_metadata.get(METADATA_KEY)
    if text is None:
        return arrays, {}
    try:
        return arrays, json.loads(text)
    except json.JSONDecodeError as error:
        raise WeightsError(f"{path}: the {METADATA_KEY!r} metadata is not valid JSON: {error}") from error


def _header_metadata(content):
    """The ``__metadata__`` string map of a safetensors header (the format's free-text part)."""
    length = int.from_bytes(content[:8], "little")
    header = json.loads(content[8:8 + length])
    return header.get("__metadata__") or {}


def load_weights(path, model=None, strict=True):
    """Load a weights file written by ``save_weights``.

    With ``model=None`` the model is rebuilt from the file's ``architecture`` and
    ``architecture_kwargs``; otherwise the weights go into ``model`` (its state dict must match:
    missing, unexpected and wrongly shaped names are all reported before anything changes, as in
    ``Module.load_state_dict``). Returns the model, in eval mode, with the file's metadata as
    ``model.weights_metadata``.
    """
    arrays, metadata = read_weights(path)
    if model is None:
        architecture = metadata.get("architecture")
        if not architecture:
            raise WeightsError(
                f"{os.fspath(path)} does not name its architecture, so load_weights cannot build the "
                "model: build it yourself and pass it as load_weights(path, model=...)"
            )
        from minidl.zoo import get_model

        model = get_model(architecture, **metadata.get("architecture_kwargs", {}))
    model.load_state_dict(arrays, strict=strict)
    model.weights_metadata = metadata
    return model.eval()
