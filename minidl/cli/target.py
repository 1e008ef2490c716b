"""The target data of ``minidl finetune`` and ``minidl probe``, fitted to the source model.

The target's images are resized to the size the source model was built for and normalised with
the source's statistics (the inputs its weights were trained on); a target whose channels differ
from the source's is refused with the way out (``--adapt-channels``: ``adapt_input_channels``).
``--labels-per-class N`` keeps N training images of each class (the same ones for a seed), for
the small-data cases of transfer learning.
"""

import numpy as np

from minidl.cli.common import UsageError, load_dataset
from minidl.cli.images import resize_transforms
from minidl.data import Subset, transforms
from minidl.transfer import adapt_input_channels

__all__ = ["add_target_arguments", "prepare_target", "target_options", "labels_per_class_subset"]


def add_target_arguments(parser):
    parser.add_argument("source", metavar="SOURCE",
                        help="a pretrained name (minidl.zoo.PRETRAINED) or a checkpoint of minidl train")
    parser.add_argument("--dataset", required=True, metavar="NAME", help="the target dataset")
    parser.add_argument("--labels-per-class", type=int, metavar="N",
                        help="keep N training images of each class (default: all)")
    parser.add_argument("--test-limit", type=int, metavar="N", help="test on the first N test images only")
    parser.add_argument("--adapt-channels", action="store_true",
                        help="turn the source's first convolution to the target's channels (grey <-> colour)")
    parser.add_argument("--data-root", help="folder with the dataset files")
    parser.add_argument("--download", action="store_true", help="download missing dataset files")
    parser.add_argument("--seed", type=int, default=0, help="random seed (the labelled subset, the new head)")
    parser.add_argument("--out", help="run folder (default runs/<time>-<command>-<source>-<dataset>)")


def labels_per_class_subset(dataset, n, seed):
    """A Subset with ``n`` images of each class, drawn with ``seed``; every class must have them."""
    targets = np.asarray(dataset.targets)
    rng = np.random.default_rng(seed)
    chosen = []
    for label in range(len(dataset.classes)):
        members = np.flatnonzero(targets == label)
        if len(members) < n:
            raise UsageError(f"--labels-per-class {n}: class {dataset.classes[label]!r} has only {len(members)} "
                             f"training images")
        chosen.append(rng.choice(members, n, replace=False))
    return Subset(dataset, np.sort(np.concatenate(chosen)))


def prepare_target(source, dataset, labels_per_class=None, test_limit=None, adapt_channels=False, data_root=None,
                   download=False, seed=0):
    """(train set, test set, transform, normalisation) of the target ``dataset``, checked against the
    source model (a ``Source``); the keywords are the options of ``add_target_arguments``."""
    if labels_per_class is not None and labels_per_class < 1:
        raise UsageError(f"--labels-per-class must be >= 1, got {labels_per_class}")
    train_set = load_dataset(dataset, True, data_root, download)
    test_set = load_dataset(dataset, False, data_root, download)
    _, channels, height, width = train_set.images.shape
    expected = source.kwargs["in_channels"]
    if channels != expected:
        if not adapt_channels:
            raise UsageError(f"the source takes {expected}-channel images but {dataset}'s have {channels}; "
                             f"add --adapt-channels to turn its first convolution to {channels} channel(s) "
                             "(minidl.transfer.adapt_input_channels)")
        adapt_input_channels(source.model, channels)
    if labels_per_class is not None:
        train_set = labels_per_class_subset(train_set, labels_per_class, seed)
    if test_limit is not None:
        if test_limit < 1:
            raise UsageError(f"--test-limit must be >= 1, got {test_limit}")
        test_set = Subset(test_set, np.arange(min(test_limit, len(test_set))))
    mean, std = source.normalize["mean"], source.normalize["std"]
    if channels != expected:  # a grey source's statistics for each colour plane, or the mean of a colour one's
        mean, std = ([float(np.mean(mean))] * channels, [float(np.mean(std))] * channels)
    transform = transforms.Compose(resize_transforms((height, width), source.kwargs["image_size"])
                                   + [transforms.Normalize(mean, std)])
    return train_set, test_set, transform, {"mean": list(mean), "std": list(std)}


def target_options(args):
    """The keywords of ``prepare_target`` from the parsed options of ``add_target_arguments``."""
    return dict(labels_per_class=args.labels_per_class, test_limit=args.test_limit,
                adapt_channels=args.adapt_channels, data_root=args.data_root, download=args.download, seed=args.seed)
