"""Saving and loading training state: model weights, optimiser, scheduler, data order, progress.

    save_checkpoint("run/checkpoint.npz", model, optimizer, scheduler, loader, epoch=3)
    checkpoint = load_checkpoint("run/checkpoint.npz")
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])

The format is a NumPy ``.npz`` archive (a zip of ``.npy`` files), read with
``np.load(path, allow_pickle=False)``. Why not ``pickle``, as ``torch.save`` uses? Unpickling
runs code: a pickle names functions to call while it loads, so opening a weights file from the
internet with ``pickle.load`` hands control of your machine to whoever wrote it. Plain ``.npy``
arrays of numbers and a JSON text of settings can only ever load as numbers and text. A
checkpoint is therefore readable by any NumPy program and safe to open whatever its origin:

    >>> np.load("run/checkpoint.npz")["model/features.0.weight"].shape
    (6, 1, 5, 5)

How nested state becomes flat arrays: every ndarray (or Tensor) found in the (nested) state is
stored as its own archive entry, named by its path (``optimizer/state/0/exp_avg``); everything
else (numbers, strings, lists, the structure itself) goes into one JSON document, stored in the
entry ``__minidl__`` as UTF-8 bytes, in which each array is replaced by a reference
``{"$array": "optimizer/state/0/exp_avg"}``. A few more tags keep Python types that JSON lacks:
``$tensor`` (a Tensor, with its ``requires_grad``), ``$dict`` for dicts with non-string keys (the
optimiser numbers its parameters 0, 1, ...), ``$tuple`` and ``$scalar`` (a NumPy scalar such as
``np.float32(0.5)``, kept with its dtype). Loading reverses this, so a loaded state equals the
saved one value for value, bit for bit: which is what an exact resume of training needs.
``minidl.save`` and ``minidl.load`` (``minidl/serialization.py``) use the same format.

Damage is caught on loading: every entry of a zip archive carries a CRC-32 of its bytes, which
Python's ``zipfile`` checks as NumPy reads the entry, so a flipped bit or a truncated file is
refused (``CheckpointError``) instead of loading as wrong numbers.

Files are written atomically (``minidl.files.atomic_write``): the bytes go to a temporary file in the same
folder, are flushed to disk, and only then is the file renamed over the old one. A rename within
a folder is atomic, so an interrupted save (a crash, Ctrl-C, a full disk) leaves the previous
checkpoint intact instead of half a new one.
"""

import json
import zipfile

import numpy as np

from minidl.files import atomic_write, check_readable
from minidl.random import get_generator
from minidl.tensor import Tensor, tensor

__all__ = ["save_checkpoint", "load_checkpoint", "restore_rng", "save_state", "load_state",
           "CheckpointError"]

FORMAT = "minidl"
VERSION = 1
METADATA_ENTRY = "__minidl__"
PICKLE_MAGIC = b"\x80"         # the first byte of every pickle since protocol 2
ZIP_MAGIC = b"PK\x03\x04"      # the first bytes of a zip archive, and so of every .npz


class CheckpointError(ValueError):
    """A file that is not a minidl checkpoint (or ``minidl.save`` file), or one that is damaged."""


# ---------------------------------------------------------------------------- one file of arrays + JSON
def save_state(path, arrays, metadata):
    """Write named ndarrays and a JSON-serialisable ``metadata`` dict to the ``.npz`` file ``path``.

    ``arrays`` maps entry names to arrays of numbers (object arrays, which would need pickle,
    are refused); ``metadata`` is stored as JSON text in the entry ``__minidl__``, together with
    the format name and version that ``load_state`` checks. The file is written atomically.
    """
    if not isinstance(metadata, dict):
        raise TypeError(f"save_state: metadata must be a dict, got {type(metadata).__name__}")
    arrays = dict(arrays)
    if METADATA_ENTRY in arrays:
        raise ValueError(f"save_state: the array name {METADATA_ENTRY!r} is reserved for the metadata")
    for name, array in arrays.items():
        array = arrays[name] = np.asarray(array)
        if array.dtype.hasobject:
            raise TypeError(
                f"save_state: array {name!r} holds Python objects (dtype {array.dtype}); only "
                "arrays of numbers can be saved without pickle"
            )
    document = json.dumps({"format": FORMAT, "version": VERSION, "metadata": metadata})
    arrays[METADATA_ENTRY] = np.frombuffer(document.encode("utf-8"), dtype=np.uint8)
    with atomic_write(path) as file:
        np.savez(file, allow_pickle=False, **arrays)


def load_state(path, kind="minidl checkpoint", where="load_checkpoint"):
    """Read a file written by ``save_state``: returns ``(arrays, metadata)``.

    Raises ``CheckpointError`` naming the file when it is not an ``.npz`` archive (e.g. a pickle
    or a truncated download), holds pickled objects, is damaged, or lacks minidl's metadata
    entry; ``FileNotFoundError`` or ``IsADirectoryError`` when there is no file to read. ``kind``
    names what was expected and ``where`` the caller, in the messages.
    """
    path = check_readable(path, f"a {kind} (an .npz archive of arrays of numbers)", where, CheckpointError)
    not_a_checkpoint = f"{path} is not a {kind} (an .npz archive of arrays of numbers)"
    with open(path, "rb") as file:
        head = file.read(len(ZIP_MAGIC))
    if head[:1] == PICKLE_MAGIC:
        raise CheckpointError(
            f"{path} is a Python pickle (as torch.save or pickle.dump write), not a {kind}; "
            "minidl never unpickles files, since loading a pickle runs whatever "
            "code its author put in it"
        )
    if head != ZIP_MAGIC:
        raise CheckpointError(f"{path} is not a {kind}: an .npz archive starts with "
                              f"the bytes {ZIP_MAGIC!r}, this file with {head!r}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise CheckpointError(f"{not_a_checkpoint}: {error}") from error
    with archive:
        try:
            arrays = {name: archive[name] for name in archive.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise CheckpointError(
                f"{not_a_checkpoint}: an entry is damaged or holds pickled objects: {error}"
            ) from error
    if METADATA_ENTRY not in arrays:
        raise CheckpointError(
            f"{path} is an .npz archive but not a {kind}: it has no {METADATA_ENTRY!r} "
            f"entry (it holds {sorted(arrays)[:5]})"
        )
    try:
        document = json.loads(arrays.pop(METADATA_ENTRY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: the {METADATA_ENTRY!r} entry is not valid JSON text: {error}") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(f"{path}: the {METADATA_ENTRY!r} entry does not describe a {kind}")
    if document.get("version") != VERSION:
        raise CheckpointError(
            f"{path} was written in minidl's file format version {document.get('version')}; "
            f"this minidl reads version {VERSION}"
        )
    return arrays, document["metadata"]


# ---------------------------------------------------------------------------- nested state <-> arrays + JSON
def flatten(value, arrays, path, where="save_checkpoint"):
    """Return a JSON-serialisable copy of ``value``, moving every array into ``arrays[path...]``.

    ``path`` is the entry name of ``value`` itself; nested values extend it with ``/key``.
    ``where`` names the saving function in error messages.
    """
    if isinstance(value, np.ndarray | np.generic | Tensor):
        if path in arrays:
            raise ValueError(f"{where}: two arrays would both be stored as {path!r}")
        arrays[path] = np.asarray(value)
        if isinstance(value, Tensor):
            return {"$tensor": path, "requires_grad": value.requires_grad}
        return {"$array" if isinstance(value, np.ndarray) else "$scalar": path}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [flatten(item, arrays, f"{path}/{i}", where) for i, item in enumerate(value)]
    if isinstance(value, tuple):
        return {"$tuple": [flatten(item, arrays, f"{path}/{i}", where) for i, item in enumerate(value)]}
    if isinstance(value, dict):
        # Plain keys never start with "$", so a "$" key marks a tag wherever it appears.
        plain = all(isinstance(key, str) and not key.startswith("$") for key in value)
        if plain:
            return {key: flatten(item, arrays, f"{path}/{key}", where) for key, item in value.items()}
        return {"$dict": [[flatten(key, arrays, f"{path}/key{i}", where), flatten(item, arrays, f"{path}/{key}", where)]
                          for i, (key, item) in enumerate(value.items())]}
    raise TypeError(
        f"{where}: cannot store {path!r} of type {type(value).__name__}; a minidl file holds Tensors, "
        "ndarrays, numbers, strings, None and lists, tuples and dicts of them"
    )


def unflatten(value, arrays):
    """Rebuild the value that ``flatten`` turned into ``value``, taking arrays from ``arrays``.

    A reference to an array the archive lacks raises ``KeyError`` (``rebuild`` reports it).
    """
    if isinstance(value, list):
        return [unflatten(item, arrays) for item in value]
    if not isinstance(value, dict):
        return value
    tag = next(iter(value), "")
    if tag == "$array":
        return arrays[value[tag]]
    if tag == "$tensor":
        array = arrays[value[tag]]
        return tensor(array, dtype=array.dtype, requires_grad=value.get("requires_grad", False))
    if tag == "$scalar":
        return arrays[value[tag]][()]
    if tag == "$tuple":
        return tuple(unflatten(item, arrays) for item in value[tag])
    if tag == "$dict":
        return {unflatten(key, arrays): unflatten(item, arrays) for key, item in value[tag]}
    return {key: unflatten(item, arrays) for key, item in value.items()}


def rebuild(tree, arrays, path):
    """``unflatten(tree, arrays)`` for the file ``path``, whose structure must only name arrays it holds."""
    try:
        return unflatten(tree, arrays)
    except KeyError as missing:
        raise CheckpointError(f"{path}: its structure refers to the array {missing} which the archive lacks") from None


# ---------------------------------------------------------------------------- checkpoints
def save_checkpoint(path, model=None, optimizer=None, scheduler=None, loader=None, **metadata):
    """Save everything needed to continue training exactly where it stopped.

    Args:
        path: the ``.npz`` file to (over)write, atomically.
        model: a Module; its ``state_dict()`` is saved under ``"model"``.
        optimizer, scheduler, loader: saved under their names through their ``state_dict()``
            (the loader's holds its shuffling generator, so the next epoch draws the same order).
        **metadata: anything else: numbers, strings, lists and dicts of them, ndarrays
            (e.g. ``epoch=3, history={...}``).

    minidl's own random generator (dropout masks, initialisation) is saved too, under ``"rng"``;
    ``load_checkpoint`` does not touch it, ``restore_rng`` puts it back.
    """
    if "rng" in metadata:
        raise ValueError("save_checkpoint: 'rng' is reserved for minidl's random generator state")
    state = {"rng": get_generator().bit_generator.state}
    for name, owner in (("model", model), ("optimizer", optimizer), ("scheduler", scheduler), ("loader", loader)):
        if owner is not None:
            state[name] = owner.state_dict()
    state.update(metadata)
    arrays = {}
    tree = {key: flatten(value, arrays, key) for key, value in state.items()}
    save_state(path, arrays, {"checkpoint": tree})


def load_checkpoint(path):
    """Load a checkpoint written by ``save_checkpoint``: a dict with the keys it was saved with.

    ``checkpoint["model"]`` feeds ``model.load_state_dict``, ``checkpoint["optimizer"]``
    ``optimizer.load_state_dict``, and so on; metadata comes back as saved
    (``checkpoint["epoch"]``). Nothing is unpickled: see the module docstring.
    """
    arrays, metadata = load_state(path)
    if "checkpoint" not in metadata:
        raise CheckpointError(f"{path} holds minidl arrays but no training checkpoint (no 'checkpoint' metadata)")
    return rebuild(metadata["checkpoint"], arrays, path)


def restore_rng(checkpoint):
    """Put minidl's random generator back in the state ``save_checkpoint`` recorded."""
    get_generator().bit_generator.state = checkpoint["rng"]
