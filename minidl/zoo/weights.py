"""Saving and loading a model's weights, with the architecture needed to rebuild it.

    save_weights(model, "lenet5-mnist.safetensors", architecture="lenet5",
                 architecture_kwargs={"num_classes": 10}, dataset="mnist")
    model = load_weights("lenet5-mnist.safetensors")        # rebuilt from the file's metadata
    load_weights("lenet5-mnist.safetensors", model=model)   # or into a model you built

The file format is safetensors (https://github.com/huggingface/safetensors), the format the
Hugging Face hub uses for weights: an 8-byte header length, a JSON header naming
each array with its dtype, shape and byte range, then the raw bytes. Loading it reads numbers
and text only. ``torch.save`` files are pickles instead, and unpickling runs whatever code the
file names, so a weights file from the internet could take over your machine; a safetensors file
cannot. (Training checkpoints, which also hold the optimiser's state, use ``minidl.checkpoint``'s
``.npz`` format, which is pickle-free for the same reason.)

The header's free-text metadata holds one JSON document under the key ``"minidl"``:
``{"architecture": "lenet5", "architecture_kwargs": {...}, ...}`` plus whatever the caller adds
(the dataset, its class names, the input normalisation, the test accuracy, the command that
trained it), so a weights file says what it is and how to feed it.

safetensors checks the header's structure but keeps no checksum of the numbers: a flipped bit
in a weight loads as a wrong weight. So minidl's document also holds ``"tensors_sha256"``: the
SHA-256 of every tensor's name, dtype, shape and bytes (``tensors_sha256``), which loading
recomputes and compares whenever a file has it (files from other tools do not). It sits inside
the one JSON document rather than beside it because safetensors writes the header's metadata
in an arbitrary order: with a single entry, the same weights always give the same file.
"""

import hashlib
import json
import os

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save as safetensors_save

from minidl import __version__
from minidl.files import atomic_write, check_readable

__all__ = ["save_weights", "load_weights", "read_weights", "write_weights", "tensors_sha256", "WeightsError"]

METADATA_KEY = "minidl"
CHECKSUM_KEY = "tensors_sha256"
RESERVED = {"format_version", "minidl_version", "architecture", "architecture_kwargs", CHECKSUM_KEY}


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
    clash = sorted(set(metadata) & RESERVED)
    if clash:
        raise ValueError(f"save_weights: {', '.join(clash)} is set by save_weights itself")
    if architecture is not None:
        from minidl.zoo import MODELS  # the zoo package imports this module: import on use

        if architecture not in MODELS:
            raise ValueError(f"save_weights: unknown architecture {architecture!r}; known: "
                             f"{', '.join(sorted(MODELS))}")
    document = {"format_version": 1, "minidl_version": __version__, "architecture": architecture,
                "architecture_kwargs": dict(architecture_kwargs or {}), **metadata}
    write_weights(path, model.state_dict(), document, where="save_weights")


def write_weights(path, state_dict, metadata, where="write_weights"):
    """Write the arrays of ``state_dict`` to the safetensors file ``path`` (atomically), with the
    JSON-serialisable dict ``metadata`` as minidl's document, its ``"tensors_sha256"`` set to
    the checksum of these arrays.

    ``save_weights`` builds ``metadata`` for a model; this is the step beneath it, which rewrites
    what ``read_weights`` read without changing a byte of the tensors or another field of the
    metadata.
    """
    # safetensors wants C-contiguous arrays; np.asarray also reads Tensors (without copying).
    arrays = {key: np.asarray(value, order="C") for key, value in state_dict.items()}
    try:
        text = json.dumps({**metadata, CHECKSUM_KEY: tensors_sha256(arrays)})
    except TypeError as error:
        raise TypeError(f"{where}: metadata must be JSON-serialisable: {error}") from error
    with atomic_write(path) as file:
        file.write(safetensors_save(arrays, metadata={METADATA_KEY: text}))


def tensors_sha256(arrays):
    """The SHA-256 (64 hex digits) of named arrays, independent of their order and of the machine.

    For each name in sorted order it hashes one line of JSON, ``["name", "float32", [6, 1, 5, 5]]``,
    then the array's bytes in C order and little-endian (safetensors' own layout). The line ends
    in a newline and the byte count follows from dtype and shape, so no two different sets of
    arrays hash the same bytes.
    """
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.asarray(arrays[name])
        digest.update(json.dumps([name, array.dtype.name, list(array.shape)]).encode("utf-8") + b"\n")
        little = np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")
        digest.update(little.reshape(-1).view(np.uint8))
    return digest.hexdigest()


def read_weights(path):
    """Read a safetensors file: returns ``(state_dict, metadata)``.

    ``state_dict`` maps names to ndarrays; ``metadata`` is minidl's JSON document (an empty dict
    for safetensors files that minidl did not write). Raises ``WeightsError`` naming the file
    when it is not a safetensors file (a pickle, a truncated download) or its tensors differ
    from the checksum it records; ``FileNotFoundError`` or ``IsADirectoryError`` when there is
    no file to read.
    """
    path = check_readable(path, "a safetensors weights file", "read_weights", WeightsError)
    try:
        with safe_open(path, framework="numpy") as file:
            arrays = {key: file.get_tensor(key) for key in file.keys()}
            header_metadata = file.metadata() or {}
    except (SafetensorError, ValueError) as error:
        raise WeightsError(_not_safetensors(path, error)) from error
    text = header_metadata.get(METADATA_KEY)
    if text is None:
        return arrays, {}
    try:
        metadata = json.loads(text)
    except json.JSONDecodeError as error:
        raise WeightsError(f"{path}: the {METADATA_KEY!r} metadata is not valid JSON: {error}") from error
    if not isinstance(metadata, dict) or not isinstance(metadata.get("architecture_kwargs", {}), dict):
        raise WeightsError(f"{path}: the {METADATA_KEY!r} metadata is not a minidl weights description")
    recorded = metadata.get(CHECKSUM_KEY)
    computed = None if recorded is None else tensors_sha256(arrays)
    if computed != recorded:
        raise WeightsError(
            f"{path}: its tensors do not match the SHA-256 the file records ({recorded}, computed "
            f"{computed}); the file is damaged or was edited"
        )
    return arrays, metadata


def _not_safetensors(path, error):
    """Why ``path`` could not be read, saying so plainly for the usual culprit, a PyTorch file."""
    with open(path, "rb") as file:
        head = file.read(4)
    # torch.save writes a zip archive (PyTorch >= 1.6) or a bare pickle (protocol 2+: byte 0x80).
    if head == b"PK\x03\x04" or head[:1] == b"\x80":
        return (f"{path} is a PyTorch/pickle file (as torch.save writes), not a safetensors file; minidl "
                "never unpickles weights, since loading a pickle runs whatever code its author put in "
                "it. For torchvision's .pth files use load_torchvision_state_dict, which reads them "
                "through torch.load(weights_only=True)")
    return f"{path} is not a readable safetensors weights file: {error}"


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
        from minidl.zoo import MODELS

        if architecture not in MODELS:
            raise WeightsError(f"{os.fspath(path)} is for the architecture {architecture!r}, which this "
                               f"minidl does not have; known: {', '.join(sorted(MODELS))}")
        model = MODELS[architecture](**metadata.get("architecture_kwargs", {}))
    model.load_state_dict(arrays, strict=strict)
    model.weights_metadata = metadata
    return model.eval()
