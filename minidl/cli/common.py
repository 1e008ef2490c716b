"""What the commands share: the error a user can fix, datasets and checkpoints by name, the
names of the zoo's models.

A command raises ``UsageError`` for every mistake the user can fix (an option, a missing data
file, a checkpoint that does not fit); ``minidl.cli.main`` prints it as one line on stderr,
``minidl COMMAND: what was wrong; what to do``, and exits with status 2, without a traceback.
"""

import argparse
import difflib
import os
from collections import namedtuple

from minidl import data
from minidl.checkpoint import CheckpointError, load_checkpoint
from minidl.zoo import MODELS, PRETRAINED, WeightsError, get_model, load_pretrained

__all__ = ["UsageError", "EVAL_BATCH_SIZE", "load_dataset", "load_run_checkpoint", "model_name", "Source",
           "load_source"]

# A trained model to start from, with what it needs to be fed: its zoo name and builder
# arguments, the normalisation it was trained with, and the dataset and classes it learnt.
Source = namedtuple("Source", ["model", "architecture", "kwargs", "normalize", "dataset", "classes"])

# Scoring keeps no gradients, so batches larger than training's fit in the same memory.
EVAL_BATCH_SIZE = 256


class UsageError(Exception):
    """A problem the user can fix (an option, a missing data file, a wrong checkpoint): reported
    in one line, without a traceback."""


def load_dataset(name, train, root=None, download=False):
    """The training (``train=True``) or test split of the dataset called ``name`` in
    ``minidl.data.DATASETS``; missing or damaged files and a failed download are UsageErrors."""
    try:
        return data.load_dataset(name, train, root, download)
    except FileNotFoundError as error:
        raise UsageError(f"{error}. On the command line: add --download, or --data-root FOLDER") from error
    except (OSError, ValueError) as error:   # damaged files, no network
        raise UsageError(error) from error


def load_run_checkpoint(path):
    """The checkpoint at ``path`` (a run folder or its checkpoint.npz) and its path; it must
    record the run that wrote it (``minidl train`` does)."""
    path = os.path.join(path, "checkpoint.npz") if os.path.isdir(path) else path
    try:
        checkpoint = load_checkpoint(path)
    except (OSError, CheckpointError) as error:
        raise UsageError(error) from error
    if "run" not in checkpoint:
        raise UsageError(f"{path} was not written by minidl train: it does not record its model and data")
    return checkpoint, path


def model_name(name):
    """argparse type of a zoo model's name: an unknown one is refused with the closest names."""
    if name in MODELS:
        return name
    # The names nearly as close as the closest one (difflib's similarity, 1 for equal strings).
    scores = sorted((-difflib.SequenceMatcher(None, name, model).ratio(), model) for model in MODELS)
    close = [model for score, model in scores[:3] if -score >= max(0.6, -scores[0][0] - 0.05)]
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise argparse.ArgumentTypeError(f"unknown model {name!r}; {hint}the models: {', '.join(sorted(MODELS))}")


def load_source(source):
    """The model called ``source``: a pretrained name (``minidl.zoo.PRETRAINED``) or the checkpoint
    of a ``minidl train`` run (the file or its folder). Anything else is a UsageError."""
    if source in PRETRAINED:
        try:
            model = load_pretrained(source)
        except WeightsError as error:
            raise UsageError(error) from error
        meta = model.weights_metadata
        return Source(model, meta["architecture"], meta["architecture_kwargs"], meta["normalize"],
                      meta["dataset"], list(meta["classes"]))
    if not os.path.exists(source):
        raise UsageError(f"{source!r} is neither a pretrained model ({', '.join(sorted(PRETRAINED))}) nor a "
                         "checkpoint of minidl train (a checkpoint.npz or its run folder)")
    checkpoint, path = load_run_checkpoint(source)
    run = checkpoint["run"]
    model = get_model(run["config"]["model"], **run["model_kwargs"])
    model.load_state_dict(checkpoint["model"])
    return Source(model, run["config"]["model"], run["model_kwargs"], run["normalize"], run["config"]["dataset"],
                  list(run["classes"]))

