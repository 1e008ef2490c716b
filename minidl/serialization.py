"""``minidl.save`` and ``minidl.load``: PyTorch's ``torch.save`` and ``torch.load``, without pickle.

    md.save(model.state_dict(), "model.pt")
    model.load_state_dict(md.load("model.pt"))
    md.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3}, "ckpt.pt")
    state = md.load("ckpt.pt")

What a file can hold: Tensors, ndarrays, NumPy scalars, Python numbers, strings, bools and None,
nested in dicts (with string or other keys), lists and tuples; that is everything a module's or
an optimiser's ``state_dict()`` holds. Each value comes back with its type and its bits: a Tensor
as a Tensor of the same dtype and ``requires_grad``, an ndarray as an ndarray, ``3`` as ``3``.

Where it differs from PyTorch, on purpose:

- ``torch.save`` writes a pickle, and unpickling runs whatever functions the file names: opening
  a ``.pt`` file from the internet with ``torch.load(weights_only=False)`` hands your machine to
  its author. ``minidl.save`` writes the ``.npz`` format of ``minidl.checkpoint`` (arrays of
  numbers plus a JSON document of the structure, read with ``allow_pickle=False``), which can
  only ever load as numbers and text, whatever the file's origin. So it refuses to save objects
  (a whole model, a function): save the model's ``state_dict()`` and load it into a model you
  build, as PyTorch's own documentation recommends.
- Two entries that share memory (views of one tensor) come back as separate copies; a Parameter
  comes back as a Tensor with ``requires_grad=True``; dicts come back as plain dicts.
- ``f`` is a path; file objects are not accepted.

Files are written atomically (``minidl.files.atomic_write``): an interrupted save leaves the
previous file intact. Damage (a flipped bit, a truncated copy) is caught on loading by the CRC-32
that the zip archive keeps for every entry.

Files written by ``torch.save`` (a zip archive holding ``data.pkl``, or an older bare pickle) are
read through ``torch.load(f, weights_only=True)``, PyTorch's restricted unpickler that builds only
tensors and plain containers, when torch is installed; their tensors become minidl Tensors.
minidl never unpickles anything itself.
"""

import os
import re
import zipfile

import numpy as np

from minidl.checkpoint import PICKLE_MAGIC, ZIP_MAGIC, CheckpointError, flatten, load_state, rebuild, save_state
from minidl.files import check_readable
from minidl.tensor import tensor

__all__ = ["save", "load"]

OBJECT_KEY = "object"   # save's metadata key; save_checkpoint's is "checkpoint"
EXPECTED = "a file written by minidl.save or save_checkpoint, or by torch.save"
TORCH_VERSION = "2.13.0"   # the PyTorch build the tests compare against


def save(obj, f):
    """Write ``obj`` (a state dict, or nested dicts/lists/tuples of Tensors, ndarrays, numbers,
    strings, bools and None) to the file ``f``, atomically, without pickle.

    Raises ``TypeError`` naming the first value that cannot be stored (by its path in ``obj``)
    before anything is written.
    """
    path = _path(f, "save")
    if hasattr(obj, "state_dict"):
        raise TypeError(
            f"save: got a {type(obj).__name__} object; minidl saves data, never objects (storing an "
            "object is what makes a pickle run code when loaded): save its state_dict() and load "
            "that into a freshly built one"
        )
    arrays = {}
    tree = flatten(obj, arrays, OBJECT_KEY, where="save")
    save_state(path, arrays, {OBJECT_KEY: tree})


def load(f, map_location=None, *, weights_only=True):
    """Read a file written by ``save`` (or ``save_checkpoint``, or ``torch.save``): returns the object.

    Args:
        f: the path of the file.
        map_location: ``None`` or ``"cpu"``: minidl computes on the CPU only, and every value
            loads there.
        weights_only: as in ``torch.load``. minidl's own files hold data only, so both values
            read them the same way; a ``torch.save`` pickle is only ever read with
            ``weights_only=True``, and ``False`` for one is refused.

    Raises ``FileNotFoundError`` or ``IsADirectoryError`` when there is no file to read, and
    ``CheckpointError`` (a ``ValueError``) naming the file when it is not one of the above, is
    damaged, or (from torch) holds something other than tensors and plain containers.
    """
    path = _path(f, "load")
    if map_location is not None and str(map_location).split(":")[0] != "cpu":
        raise ValueError(f"load: map_location={map_location!r}, but minidl runs on the CPU only; "
                         "pass None or 'cpu'")
    if not isinstance(weights_only, bool):
        raise TypeError(f"load: weights_only must be True or False, got {weights_only!r}")
    check_readable(path, EXPECTED, "load", CheckpointError)
    if _is_torch_pickle(path):
        if not weights_only:
            raise ValueError(
                f"load: {path} is a torch.save pickle, which minidl reads only with "
                "weights_only=True (a full unpickler runs whatever code the file names)"
            )
        return _from_torch(_torch_load(path), path, "the file's object")
    arrays, metadata = load_state(path, kind="minidl file", where="load")
    for key in (OBJECT_KEY, "checkpoint"):
        if key in metadata:
            return rebuild(metadata[key], arrays, path)
    raise CheckpointError(f"load: {path} holds minidl arrays but no object that minidl.save or "
                          f"save_checkpoint wrote (its metadata has {sorted(metadata)})")


def _path(f, where):
    if not isinstance(f, str | os.PathLike):
        raise TypeError(f"{where}: f must be a path (str or os.PathLike), got {type(f).__name__}; "
                        "minidl reads and writes files by name only")
    return os.fspath(f)


def _is_torch_pickle(path):
    """Whether ``path`` is what ``torch.save`` writes: a zip archive holding ``data.pkl`` (PyTorch
    1.6 and later), or a bare pickle (older PyTorch, or ``pickle.dump``)."""
    with open(path, "rb") as file:
        head = file.read(len(ZIP_MAGIC))
    if head[:1] == PICKLE_MAGIC:
        return True
    if head != ZIP_MAGIC:
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False   # a damaged archive: load_state says what is wrong with it
    return any(name == "data.pkl" or name.endswith("/data.pkl") for name in names)


def _torch_load(path):
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            f"load: {path} is a pickle, as torch.save writes; minidl never unpickles files itself, "
            "and reads these only through PyTorch's restricted unpickler: "
            f"pip install torch=={TORCH_VERSION}"
        ) from error
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, ... for bad files
        raise CheckpointError(f"load: torch.load(weights_only=True) refused {path}: {_torch_reason(error)}") from error


def _torch_reason(error):
    """The line of torch's (long, multi-line) refusal that says what was refused."""
    text = str(error)
    detail = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    if detail:
        return detail.group(1).split(" Please use")[0].strip()
    lines = text.strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _from_torch(value, path, where):
    """``value`` from ``torch.load`` with every torch tensor turned into a minidl Tensor."""
    if hasattr(value, "detach") and hasattr(value, "requires_grad"):   # a torch.Tensor (or Parameter)
        try:
            array = value.detach().cpu().numpy()
        except TypeError as error:   # bfloat16 and other dtypes NumPy lacks
            raise CheckpointError(
                f"load: {path}: {where} is a torch tensor of dtype {value.dtype}, which NumPy has no "
                "type for; convert it (e.g. .float()) before saving"
            ) from error
        return tensor(array, dtype=array.dtype, requires_grad=value.requires_grad)
    if value is None or isinstance(value, bool | int | float | str | np.ndarray | np.generic):
        return value
    if isinstance(value, dict):
        return {key: _from_torch(item, path, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, list):
        return [_from_torch(item, path, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, tuple):   # torch.Size included
        return tuple(_from_torch(item, path, f"{where}[{i}]") for i, item in enumerate(value))
    raise CheckpointError(f"load: {path}: {where} is a {type(value).__name__}, which minidl has no "
                          "equivalent for (it reads tensors, numbers, strings and containers of them)")
