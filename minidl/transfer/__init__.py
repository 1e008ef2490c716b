"""minidl.transfer: reuse a trained network for a new task.

    from minidl.transfer import freeze, replace_head, layerwise_param_groups, extract_features, linear_probe

- ``freeze.py``: ``freeze(model, until=...)`` / ``unfreeze``, frozen batch norm keeps its statistics,
  ``trainable_summary``
- ``heads.py``: ``replace_head(model, num_classes)`` for every zoo model, ``adapt_input_channels``
- ``features.py``: ``FeatureExtractor(model, return_layers)``, ``extract_features`` over a dataset
- ``layerwise.py``: ``layerwise_param_groups`` (each earlier group ``factor`` times slower)
- ``unfreezing.py``: ``GradualUnfreezing``, a ``fit`` callback that trains later groups first
- ``probe.py``: ``linear_probe`` (softmax or SVM), ``probe_layers`` with its table and plot
- ``finetune.py``: ``finetune(model, train, test, strategy=...)``, the five strategies as one function
"""

from minidl.transfer.features import FeatureExtractor, extract_features, pool_features
from minidl.transfer.freeze import freeze, modules_until, trainable_summary, unfreeze
from minidl.transfer.heads import adapt_input_channels, find_head, replace_head
from minidl.transfer.finetune import STRATEGIES, finetune, reinitialise
from minidl.transfer.layerwise import default_groups, layerwise_param_groups
from minidl.transfer.unfreezing import GradualUnfreezing
from minidl.transfer.probe import ProbeResult, format_probe_table, hinge_loss, linear_probe, plot_probe, probe_layers

__all__ = [
    "FeatureExtractor", "extract_features", "pool_features", "freeze", "unfreeze", "modules_until",
    "trainable_summary", "replace_head", "find_head", "adapt_input_channels", "layerwise_param_groups",
    "default_groups", "GradualUnfreezing", "linear_probe", "hinge_loss", "probe_layers", "format_probe_table",
    "plot_probe",
    "ProbeResult", "finetune", "STRATEGIES", "reinitialise",
]
