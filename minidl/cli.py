"""The ``minidl`` command line.

    minidl gradcheck              # gradient-check every built-in layer, print a table
    minidl gradcheck conv2d       # one layer (several may be named)
    minidl train                  # train LeNet-5 on the built-in MNIST subset (offline, < 1 min)
    minidl train --dataset fashion-mnist --data-root ~/data --download --epochs 15
    minidl train --resume runs/20250101-120000-lenet5-builtin     # finish an interrupted run
    minidl evaluate runs/20250101-120000-lenet5-builtin/checkpoint.npz
    minidl summary vgg16          # layers, output shapes, parameters, MACs, receptive fields

``minidl train`` writes a run folder (default ``runs/<time>-<model>-<dataset>``) holding
``metrics.json`` (settings, per-epoch history, test accuracy, times), ``checkpoint.npz`` (see
``minidl.checkpoint``), and the pictures ``curves.png``, ``confusion.png`` and ``filters.png``.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

import minidl
from minidl import data, optim
from minidl import functional as F
from minidl.checkpoint import CheckpointError, load_checkpoint
from minidl.files import atomic_write
from minidl.data import transforms
from minidl.train import confusion_matrix, evaluate, fit
from minidl.zoo import MODELS, get_model, googlenet_loss

# Training settings and their defaults; ``minidl train`` records the values it used in
# metrics.json and in the checkpoint, from which ``--resume`` and ``minidl evaluate`` rebuild
# the run. The defaults reach about 98% test accuracy on the built-in MNIST subset.
TRAIN_DEFAULTS = {
    "model": "lenet5",
    "dataset": "builtin",
    "epochs": 10,
    "batch_size": 64,
    "optimizer": "adam",
    "lr": None,              # None: the optimizer's default below
    "momentum": None,
    "weight_decay": None,
    "augment": True,
    "seed": 0,
    "val_fraction": 0.1,
    "patience": None,
    "limit": None,
}

# name -> default settings. The learning rate follows a cosine schedule from ``lr`` down to 0
# over the run.
OPTIMIZER_DEFAULTS = {
    "sgd": {"lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4},
    "adam": {"lr": 3e-3, "weight_decay": 0.0},
    "adamw": {"lr": 3e-3, "weight_decay": 1e-2},
    "rmsprop": {"lr": 1e-3, "momentum": 0.0, "weight_decay": 0.0},
}

OPTIMIZERS = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop}

EVAL_BATCH_SIZE = 256                          # no gradients are kept: larger batches are fine
# Models trained with more than the cross-entropy of their scores: GoogLeNet adds 0.3 x the
# losses of its two auxiliary classifiers.
TRAINING_LOSSES = {"googlenet": googlenet_loss}


class UsageError(Exception):
    """A problem the user can fix (an option, a missing data file, a wrong checkpoint): reported
    in one line, without a traceback."""


def _gradcheck(args):
    from minidl.layer_checks import LAYER_CHECKS, format_table, run_checks

    if args.list:
        print("\n".join(LAYER_CHECKS))
        return 0
    unknown = [name for name in args.layers if name not in LAYER_CHECKS]
    if unknown:
        print(f"minidl gradcheck: unknown layer(s): {', '.join(unknown)}\n"
              f"known layers: {', '.join(LAYER_CHECKS)}", file=sys.stderr)
        return 2
    rows = run_checks(args.layers or None, configs=args.configs, seed=args.seed)
    print(format_table(rows))
    return 0 if all(r.passed for r in rows) else 1


# ---------------------------------------------------------------------------- data
def load_dataset(name, train, root=None, download=False):
    """The training (``train=True``) or test split of the dataset called ``name`` in DATASETS."""
    try:
        return data.load_dataset(name, train, root, download)
    except (OSError, ValueError) as error:   # missing or damaged files, no network
        raise UsageError(error) from error


def _load_run_checkpoint(path):
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


def augmentation(dataset_name, image_size):
    """Random changes that keep the label: digits may shift a little but must not be mirrored
    (a mirrored 2 is no digit); clothes, objects and shapes may also be flipped left-right."""
    if dataset_name in ("builtin", "mnist"):
        return [transforms.RandomTranslation(2)]
    padding = 4 if dataset_name == "cifar10" else 2
    return [transforms.RandomCrop(image_size, padding=padding), transforms.RandomHorizontalFlip()]


def channel_statistics(images):
    """Per-channel mean and standard deviation of float images (N, C, H, W), as lists of floats."""
    mean = images.mean(axis=(0, 2, 3), dtype=np.float64)
    std = images.std(axis=(0, 2, 3), dtype=np.float64)
    return [float(m) for m in mean], [float(s) for s in std]


# ---------------------------------------------------------------------------- minidl train
def _resolve_config(args):
    """The run's settings: TRAIN_DEFAULTS overridden by the options given on the command line,
    with the optimizer's defaults filled in; or, with --resume, the saved run's settings."""
    given = {key: getattr(args, key) for key in TRAIN_DEFAULTS if getattr(args, key) is not None}
    if args.resume is not None:
        conflicting = [*given, "out"] if args.out is not None else list(given)
        if conflicting:
            raise UsageError(
                f"--resume continues the saved run with its own settings and folder; drop "
                f"{', '.join('--' + key.replace('_', '-') for key in conflicting)}"
            )
        return None
    config = {**TRAIN_DEFAULTS, **given}
    settings = OPTIMIZER_DEFAULTS[config["optimizer"]]
    for key in ("lr", "momentum", "weight_decay"):
        if config[key] is None:
            config[key] = settings.get(key)
        elif key not in settings:
            raise UsageError(f"--{key.replace('_', '-')} does not apply to the {config['optimizer']} optimizer")
    if not 0 <= config["val_fraction"] < 1:
        raise UsageError(f"--val-fraction must be in [0, 1), got {config['val_fraction']}")
    if config["patience"] is not None and config["val_fraction"] == 0:
        raise UsageError("--patience stops on the validation loss; it needs --val-fraction > 0")
    for key in ("epochs", "batch_size", "limit", "patience"):
        if config[key] is not None and config[key] < 1:
            raise UsageError(f"--{key.replace('_', '-')} must be at least 1, got {config[key]}")
    return config


def _train(args):
    # matplotlib takes a while to import: only the commands that draw load it.
    from minidl.plots import plot_confusion, plot_curves, plot_filters

    started = time.perf_counter()
    config = _resolve_config(args)
    if config is None:   # --resume: everything comes from the checkpoint
        checkpoint, checkpoint_path = _load_run_checkpoint(args.resume)
        config, out = checkpoint["run"]["config"], os.path.dirname(os.path.abspath(checkpoint_path))
    else:
        out = args.out or os.path.join(
            "runs", f"{time.strftime('%Y%m%d-%H%M%S')}-{config['model']}-{config['dataset']}")
        checkpoint_path = os.path.join(out, "checkpoint.npz")
        if os.path.exists(checkpoint_path):
            raise UsageError(f"{out} already holds a run; continue it with --resume {out}, or choose another --out")

    minidl.manual_seed(config["seed"])
    loaders, run = _prepare_data(config, args)
    os.makedirs(out, exist_ok=True)   # only now: a run that cannot find its data leaves no folder
    model = get_model(config["model"], **run["model_kwargs"])
    optimizer = OPTIMIZERS[config["optimizer"]](
        model.parameters(), **{key: config[key] for key in OPTIMIZER_DEFAULTS[config["optimizer"]]})
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config["epochs"])
    sizes = run["sizes"]
    print(f"training {config['model']} on {config['dataset']}: {sizes['train']} training, {sizes['val']} "
          f"validation, {sizes['test']} test images; run folder {out}")
    history = fit(model, optimizer, loaders["train"], config["epochs"], val_loader=loaders["val"],
                  loss_fn=TRAINING_LOSSES.get(config["model"], F.cross_entropy), scheduler=scheduler,
                  early_stopping_patience=config["patience"],
                  checkpoint_path=checkpoint_path, resume=args.resume is not None,
                  progress=not args.no_progress, checkpoint_metadata={"run": run})

    test_loss, test_accuracy, predictions = evaluate(model, loaders["test"])
    matrix = confusion_matrix(loaders["test"].dataset.targets, predictions, len(run["classes"]))
    metrics = {
        "config": config,
        "model": {"name": config["model"], "kwargs": run["model_kwargs"],
                  "parameters": int(sum(p.numel() for p in model.parameters()))},
        "data": {**{f"{split}_images": n for split, n in sizes.items()}, "classes": run["classes"],
                 "normalize": run["normalize"]},
        "history": history,
        "test_loss": test_loss,
        "test_accuracy": test_accuracy,
        "confusion_matrix": matrix.tolist(),
        "train_time_s": sum(history["time"]),
        "time_s": time.perf_counter() - started,
        "minidl_version": minidl.__version__,
    }
    with atomic_write(os.path.join(out, "metrics.json"), "w") as file:
        json.dump(metrics, file, indent=2)
    plot_curves(history, os.path.join(out, "curves.png"))
    plot_confusion(matrix, run["classes"], os.path.join(out, "confusion.png"))
    first_filters = _first_conv_weight(model)
    if first_filters is not None:   # every zoo model is a CNN; a model without convolutions has none to show
        plot_filters(first_filters, os.path.join(out, "filters.png"))
    print(f"test accuracy {test_accuracy:.4f} (loss {test_loss:.4f}) after {metrics['time_s']:.0f} s; wrote {out}")
    return 0


def _prepare_data(config, args):
    """The loaders ``{"train", "val", "test"}`` (val None without a validation split) and the
    facts about the data that the checkpoint records: normalisation, classes, model sizes.

    The first ``limit`` training images (all without --limit) are split at random into training
    and validation images; the mean and standard deviation of each channel over them normalise
    every image the model sees, in training and in testing.
    """
    full_train = load_dataset(config["dataset"], True, args.data_root, args.download)
    test_set = load_dataset(config["dataset"], False, args.data_root, args.download)
    count = len(full_train) if config["limit"] is None else min(config["limit"], len(full_train))
    train_set = full_train if count == len(full_train) else data.Subset(full_train, np.arange(count))
    mean, std = channel_statistics(full_train.images[:count])
    normalize = transforms.Normalize(mean, std)
    _, channels, height, _ = full_train.images.shape

    val_loader = None
    if config["val_fraction"] > 0:
        fractions = [1 - config["val_fraction"], config["val_fraction"]]
        train_set, val_set = data.random_split(train_set, fractions, seed=config["seed"])
        val_loader = data.DataLoader(val_set, EVAL_BATCH_SIZE, transform=normalize)
    augment = augmentation(config["dataset"], height) if config["augment"] else []
    loaders = {
        "train": data.DataLoader(train_set, config["batch_size"], shuffle=True, seed=config["seed"],
                                 transform=transforms.Compose(augment + [normalize])),
        "val": val_loader,
        "test": data.DataLoader(test_set, EVAL_BATCH_SIZE, transform=normalize),
    }
    run = {
        "config": config,
        "model_kwargs": {"num_classes": len(full_train.classes), "in_channels": channels, "image_size": height},
        "normalize": {"mean": mean, "std": std},
        "classes": list(full_train.classes),
        "sizes": {"train": len(train_set), "val": 0 if val_loader is None else len(val_loader.dataset),
                  "test": len(test_set)},
    }
    return loaders, run


def _first_conv_weight(model):
    """The weight (F, C, kh, kw) of the model's first convolution (the filters that see pixels), or None."""
    return next((p for name, p in model.named_parameters() if name.endswith("weight") and p.ndim == 4), None)


# ---------------------------------------------------------------------------- minidl evaluate
def _evaluate(args):
    checkpoint, _ = _load_run_checkpoint(args.checkpoint)
    run = checkpoint["run"]
    model = get_model(run["config"]["model"], **run["model_kwargs"])
    model.load_state_dict(checkpoint["model"])
    dataset = args.dataset or run["config"]["dataset"]
    test_set = load_dataset(dataset, False, args.data_root, args.download)
    loader = data.DataLoader(test_set, EVAL_BATCH_SIZE, transform=transforms.Normalize(**run["normalize"]))
    loss, accuracy, predictions = evaluate(model, loader)
    correct = int(np.sum(predictions == test_set.targets))
    print(f"{run['config']['model']} on the {dataset} test set: accuracy {accuracy:.4f} "
          f"({correct} of {len(test_set)} images), loss {loss:.4f}")
    print(format_confusion(confusion_matrix(test_set.targets, predictions, len(run["classes"])), run["classes"]))
    return 0


def format_confusion(matrix, class_names):
    """The confusion matrix as a text table: rows true classes, columns predicted ones by number."""
    width = max(len(str(matrix.max())), len(str(len(class_names) - 1))) + 1
    name_width = max(len(str(name)) for name in class_names) + 5
    lines = ["confusion matrix (rows: true class, columns: predicted class)",
             " " * name_width + "".join(f"{j:>{width}}" for j in range(len(class_names)))]
    for i, name in enumerate(class_names):
        lines.append(f"{i:>2}: {name}".ljust(name_width) + "".join(f"{n:>{width}}" for n in matrix[i]))
    return "\n".join(lines)


# ---------------------------------------------------------------------------- minidl summary
def _summary(args):
    import inspect

    from minidl.analysis import summary

    kwargs = {} if args.num_classes is None else {"num_classes": args.num_classes}
    if args.input_shape is None:   # the builder's own defaults (every zoo builder has both)
        defaults = inspect.signature(MODELS[args.model]).parameters
        channels, size = defaults["in_channels"].default, defaults["image_size"].default
        shape = (channels, size, size)
    else:
        shape = tuple(args.input_shape)
        if min(shape) < 1 or shape[1] != shape[2]:
            raise UsageError(f"--input-shape must be C H W with positive sizes and H = W (the zoo's models "
                             f"take square images), got {' '.join(map(str, shape))}")
        kwargs.update(in_channels=shape[0], image_size=shape[1])
    if args.depth is not None and args.depth < 1:
        raise UsageError(f"--depth must be at least 1, got {args.depth}")
    try:
        model = get_model(args.model, **kwargs)
    except ValueError as error:   # e.g. an image too small for the model
        raise UsageError(error) from error
    summary(model, shape, depth=args.depth)
    return 0


# ---------------------------------------------------------------------------- the parser
def build_parser():
    parser = argparse.ArgumentParser(prog="minidl", description="minidl: learn how CNNs work, in NumPy.")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser(
        "gradcheck",
        help="compare every layer's backward pass with numerical gradients",
        description="Gradient-check built-in layers in float64 at random configurations and print "
                    "a table of layer, configuration, max relative error and pass/fail.",
    )
    check.add_argument("layers", nargs="*", metavar="LAYER", help="layers to check (default: all)")
    check.add_argument("--configs", type=int, default=3, help="random configurations per layer (default 3)")
    check.add_argument("--seed", type=int, default=0, help="seed of the configurations (default 0)")
    check.add_argument("--list", action="store_true", help="list the layers that can be checked")
    check.set_defaults(run=_gradcheck)

    d = TRAIN_DEFAULTS
    train = commands.add_parser(
        "train",
        help="train a model and write a run folder (metrics, checkpoint, plots)",
        description="Train a model (default: LeNet-5 on the built-in MNIST subset, offline). Writes "
                    "metrics.json, checkpoint.npz, curves.png, confusion.png and filters.png to the "
                    "run folder. The learning rate follows a cosine schedule down to 0.",
    )
    # Options default to None so that --resume can tell which ones were given.
    train.add_argument("--model", choices=sorted(MODELS), help=f"model from the zoo (default {d['model']})")
    train.add_argument("--dataset", choices=data.DATASETS,
                       help=f"dataset (default {d['dataset']}: the MNIST subset shipped with minidl)")
    train.add_argument("--data-root", help="folder with the dataset files (default $MINIDL_DATA, else ~/.cache/minidl)")
    train.add_argument("--download", action="store_true", help="download missing dataset files (checked by MD5)")
    train.add_argument("--epochs", type=int, help=f"epochs to train (default {d['epochs']})")
    train.add_argument("--batch-size", type=int, help=f"images per step (default {d['batch_size']})")
    train.add_argument("--optimizer", choices=sorted(OPTIMIZER_DEFAULTS), help=f"default {d['optimizer']}")
    # The defaults depend on the optimizer: list them from OPTIMIZER_DEFAULTS.
    for option, what in (("--lr", "starting learning rate"), ("--momentum", "momentum"),
                         ("--weight-decay", "L2 penalty")):
        key = option[2:].replace("-", "_")
        defaults = ", ".join(f"{name} {settings[key]:g}" for name, settings in OPTIMIZER_DEFAULTS.items()
                             if key in settings)
        train.add_argument(option, type=float, help=f"{what} (default: {defaults})")
    train.add_argument("--augment", action=argparse.BooleanOptionalAction,
                       help="random shifts (digits) or crops and flips (other images) of the training "
                            "images (default: on)")
    train.add_argument("--seed", type=int, help=f"seed of weights, split, order and augmentation (default {d['seed']})")
    train.add_argument("--val-fraction", type=float,
                       help=f"part of the training images held out for validation (default {d['val_fraction']})")
    train.add_argument("--patience", type=int,
                       help="stop when the validation loss has not improved for this many epochs, and "
                            "keep the best epoch's weights (default: train all epochs)")
    train.add_argument("--limit", type=int, metavar="N", help="train on the first N training images only (quick trials)")
    train.add_argument("--out", help="run folder (default runs/<time>-<model>-<dataset>)")
    train.add_argument("--resume", metavar="RUN",
                       help="continue an interrupted run (its folder or checkpoint) with its saved settings")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser(
        "evaluate",
        help="test accuracy and confusion matrix of a trained checkpoint",
        description="Rebuild the model saved by minidl train, score it on the test set of its "
                    "dataset (or --dataset) and print the accuracy and confusion matrix.",
    )
    evaluate.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint.npz (or its run folder)")
    evaluate.add_argument("--dataset", choices=data.DATASETS, help="test on this dataset (default: the one trained on)")
    evaluate.add_argument("--data-root", help="folder with the dataset files")
    evaluate.add_argument("--download", action="store_true", help="download missing dataset files")
    evaluate.set_defaults(run=_evaluate)

    summarize = commands.add_parser(
        "summary",
        help="table of a zoo model's layers: output shapes, parameters, MACs, receptive fields",
        description="Build a model from the zoo and print one row per layer: its output shape for one "
                    "image, parameters, multiply-accumulates (MACs; FLOPs = 2 x MACs) and receptive "
                    "field, then the totals and the memory of one forward/backward pass.",
    )
    summarize.add_argument("model", choices=sorted(MODELS), metavar="MODEL",
                           help=f"model from the zoo: {', '.join(sorted(MODELS))}")
    summarize.add_argument("--input-shape", type=int, nargs=3, metavar=("C", "H", "W"),
                           help="shape of one image (default: the model's in_channels and image_size)")
    summarize.add_argument("--num-classes", type=int, help="class scores out (default: the model's)")
    summarize.add_argument("--depth", type=int,
                           help="one row per module at this depth of the names (1: features, classifier), "
                                "its layers folded in (default: one row per layer)")
    summarize.set_defaults(run=_summary)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UsageError as error:
        print(f"minidl {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
