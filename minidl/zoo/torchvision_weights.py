"""Loading torchvision's weights into the zoo's models.

    model = minidl.zoo.resnet18()
    load_torchvision_state_dict(model, "resnet18-f37072fd.pth")   # or a .safetensors file

The zoo's ImageNet models use torchvision's module names (``layer1.0.conv1``,
``features.0``, ``inception4a.branch2.1.conv``), so a torchvision state dict maps onto them key
for key; this function reads the file, makes three adjustments, and hands the arrays to
``load_state_dict`` (which checks every name and shape before changing anything):

- torchvision's DenseNet weight files (still today) name their layers ``norm.1``, ``conv.2``,
  ... where the modules are called ``norm1``, ``conv2``; they are renamed, as torchvision's
  own loader does.
- Files written before PyTorch 0.4.1 have no ``num_batches_tracked`` counters in their batch
  norm layers; the model keeps its own (PyTorch does the same).
- GoogLeNet's published weights include the auxiliary classifiers ``aux1`` and ``aux2``; a model
  built with ``aux_logits=False`` has none, and those keys are dropped (as torchvision's builder
  does). Those weights were ported from TensorFlow and expect inputs scaled to [-1, 1]: build the
  model with ``googlenet(transform_input=True)`` to feed it ImageNet-normalised images.

Files: ``.safetensors`` is read directly (numbers only). A ``.pth``/``.pt`` file is a pickle;
it is read by ``minidl.load``, which hands it to ``torch.load(weights_only=True)``, PyTorch's
restricted unpickler that only builds tensors and plain containers (it refuses the code a
hostile pickle would run), and so needs torch installed. (A state dict that ``minidl.save``
wrote loads the same way, without torch.) Mind the input convention: torchvision's ImageNet models expect RGB
images scaled to [0, 1] and normalised with mean (0.485, 0.456, 0.406) and std
(0.229, 0.224, 0.225).
"""

import re

import numpy as np

from minidl.checkpoint import PICKLE_MAGIC, ZIP_MAGIC, CheckpointError
from minidl.files import check_readable
from minidl.serialization import load
from minidl.zoo.weights import WeightsError, read_weights

__all__ = ["load_torchvision_state_dict", "read_torchvision_state_dict"]

# denselayer3.norm.1.weight -> denselayer3.norm1.weight (torchvision's pre-0.3 DenseNet names)
_OLD_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)
_AUXILIARY = ("aux1.", "aux2.")


def read_torchvision_state_dict(path):
    """The state dict in ``path`` (.safetensors, or .pth/.pt through torch) as name -> ndarray."""
    path = check_readable(path, "a .safetensors or .pth/.pt file of weights", "read_torchvision_state_dict",
                          WeightsError)
    try:
        state, _ = read_weights(path)
    except WeightsError:
        with open(path, "rb") as file:
            head = file.read(len(ZIP_MAGIC))
        # A torch.save file is a zip archive (PyTorch >= 1.6) or a bare pickle (older ones).
        if head != ZIP_MAGIC and head[:1] != PICKLE_MAGIC:
            raise
        try:
            state = load(path)
        except CheckpointError as error:
            raise WeightsError(str(error)) from error
    if not isinstance(state, dict):
        raise WeightsError(f"{path} holds a {type(state).__name__}, not a state dict (a dict of name -> tensor)")
    # Training scripts often save {"model": state_dict, "optimizer": ...} or {"state_dict": ...}.
    for wrapper in ("state_dict", "model"):
        if wrapper in state and isinstance(state[wrapper], dict):
            state = state[wrapper]
    return {key: _to_numpy(value, key, path) for key, value in state.items()}


def _to_numpy(value, key, path):
    if hasattr(value, "detach"):  # a torch.Tensor or a minidl Tensor
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind not in "fiub":
        raise WeightsError(f"{path}: entry {key!r} is not an array of numbers (dtype {array.dtype})")
    return array


def load_torchvision_state_dict(model, source, strict=True):
    """Copy torchvision weights from ``source`` into the zoo ``model`` (in place).

    Args:
        model: a zoo model with torchvision's layout (``alexnet``, ``vgg*``, ``googlenet``,
            ``resnet*``, ``densenet121``), built with the same ``num_classes`` as the weights
            (torchvision's ImageNet weights: 1000).
        source: a path (.safetensors, .pth, .pt) or a dict of arrays / torch tensors.
        strict: as in ``load_state_dict``: report missing and unexpected names (shape mismatches
            are always errors).

    Returns the ``IncompatibleKeys`` of ``load_state_dict``.
    """
    if isinstance(source, dict):
        state = {key: _to_numpy(value, key, "the state dict") for key, value in source.items()}
    else:
        state = read_torchvision_state_dict(source)
    state = {_OLD_DENSENET_KEY.sub(r"\1\2", key): value for key, value in state.items()}
    own = model.state_dict()
    if not any(key.startswith(_AUXILIARY) for key in own):
        state = {key: value for key, value in state.items() if not key.startswith(_AUXILIARY)}
    for key, value in own.items():
        if key.endswith("num_batches_tracked"):
            state.setdefault(key, value)
    return model.load_state_dict(state, strict=strict)
