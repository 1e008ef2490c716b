"""``minidl train``: train a zoo model on a dataset and write a run folder.

    minidl train                                   # LeNet-5 on the built-in MNIST subset, offline
    minidl train --model resnet18 --dataset synthetic-shapes --epochs 5
    minidl train --model alexnet --limit 500       # MNIST digits resized to 63x63, AlexNet's smallest
    minidl train --resume runs/20250101-120000-lenet5-builtin     # finish an interrupted run

The run folder (default ``runs/<time>-<model>-<dataset>``) holds ``metrics.json`` (settings,
per-epoch history, test accuracy, times), ``checkpoint.npz`` (``minidl.checkpoint``) and the
pictures ``curves.png``, ``confusion.png`` and ``filters.png``. It is made when the first epoch
ends: a run that fails before (a wrong option, missing data, a loss that blows up in epoch 1)
leaves no folder behind.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

import minidl
from minidl import data, optim
from minidl import functional as F
from minidl.cli.common import EVAL_BATCH_SIZE, UsageError, load_dataset, load_run_checkpoint, model_name
from minidl.cli.images import (
    accepts_image_size, default_image_size, describe_image_sizes, image_sizes_help, resize_transforms,
)
from minidl.data import transforms
from minidl.files import atomic_write
from minidl.train import TrainingDiverged, confusion_matrix, evaluate, fit
from minidl.zoo import get_model, googlenet_loss

# Training settings and their defaults; ``minidl train`` records the values it used in
# metrics.json and in the checkpoint, from which ``--resume`` and ``minidl evaluate`` rebuild
# the run. The defaults reach about 98% test accuracy on the built-in MNIST subset.
TRAIN_DEFAULTS = {
    "model": "lenet5",
    "dataset": "builtin",
    "image_size": None,      # None: the dataset's own size if the model takes it (images/default_image_size)
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
    "test_limit": None,
}

# name -> default settings. The learning rate follows a cosine schedule from ``lr`` down to 0
# over the run.
OPTIMIZER_DEFAULTS = {
    "sgd": {"lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4},
    "adam": {"lr": 3e-3, "weight_decay": 0.0},
    "adamw": {"lr": 3e-3, "weight_decay": 1e-2},
    "rmsprop": {"lr": 1e-3, "momentum": 0.0, "weight_decay": 0.0},
}

# The starting learning rates of the models whose fully connected layers are huge (about 55 M
# weights in AlexNet's and ZFNet's, 120 M in VGG's) with no batch norm among them: at the rates
# above their first steps blow the loss up to hundreds and leave dead units behind. These are
# torchvision's rate for SGD and the usual rate for Adam on these models.
LARGE_HEAD_LR = {"sgd": 0.01, "adam": 1e-4, "adamw": 1e-4, "rmsprop": 1e-5}
LARGE_HEAD_MODELS = ("alexnet", "alexnet_original", "zfnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn",
                     "vgg16", "vgg16_bn", "vgg19", "vgg19_bn")

OPTIMIZERS = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop}

# Models trained with more than the cross-entropy of their scores: GoogLeNet adds 0.3 x the
# losses of its two auxiliary classifiers.
TRAINING_LOSSES = {"googlenet": googlenet_loss}

# What a laptop CPU does in a training step, in multiply-accumulates per second: a ResNet-20
# step (batch 64, 3x32x32) takes about 0.3 s on one core of the benchmark machine for
# 3 x 41 M MACs per image (forward, and backward twice that), benchmarks/RESULTS.md.
CPU_MACS_PER_SECOND = 25e9
# An epoch estimated to take longer than this gets a warning before training starts.
LONG_EPOCH_S = 600


def add_parser(commands):
    d = TRAIN_DEFAULTS
    parser = commands.add_parser(
        "train",
        help="train a model and write a run folder (metrics, checkpoint, plots)",
        description="Train a model (default: LeNet-5 on the built-in MNIST subset, offline). Writes "
                    "metrics.json, checkpoint.npz, curves.png, confusion.png and filters.png to the "
                    "run folder. The learning rate follows a cosine schedule down to 0.",
    )
    # Options default to None so that --resume can tell which ones were given.
    parser.add_argument("--model", type=model_name, metavar="NAME",
                        help=f"model from the zoo (default {d['model']}; minidl summary NAME shows its layers)")
    parser.add_argument("--dataset", choices=data.DATASETS, metavar="NAME",
                        help=f"dataset: {', '.join(data.DATASETS)} (default {d['dataset']}: the MNIST subset "
                             f"shipped with minidl; the synthetic-shapes ones are made on the fly; these need "
                             f"no download)")
    parser.add_argument("--image-size", type=int, metavar="S",
                        help="side of the images the model is built for; other images are resized "
                             "(bilinear) to S x S. Default: the dataset's own size (28 for the MNISTs, "
                             "32 for cifar10 and synthetic-shapes) if the model takes it, else the nearest "
                             f"size it takes. Sizes the models take: {image_sizes_help()}. Grey images "
                             "give a model with one input channel.")
    parser.add_argument("--data-root", help="folder with the dataset files (default $MINIDL_DATA, else ~/.cache/minidl)")
    parser.add_argument("--download", action="store_true", help="download missing dataset files (checked by MD5)")
    parser.add_argument("--epochs", type=int, help=f"epochs to train (default {d['epochs']})")
    parser.add_argument("--batch-size", type=int, help=f"images per step (default {d['batch_size']})")
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZER_DEFAULTS), help=f"default {d['optimizer']}")
    # The defaults depend on the optimizer: list them from OPTIMIZER_DEFAULTS.
    for option, what in (("--lr", "starting learning rate"), ("--momentum", "momentum"),
                         ("--weight-decay", "L2 penalty")):
        key = option[2:].replace("-", "_")
        defaults = ", ".join(f"{name} {settings[key]:g}" for name, settings in OPTIMIZER_DEFAULTS.items()
                             if key in settings)
        if key == "lr":
            defaults += (f"; for {', '.join(LARGE_HEAD_MODELS)}: "
                         + ", ".join(f"{name} {lr:g}" for name, lr in LARGE_HEAD_LR.items()))
        parser.add_argument(option, type=float, help=f"{what} (default: {defaults})")
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction,
                        help="random shifts (digits) or crops and flips (other images) of the training "
                             "images (default: on)")
    parser.add_argument("--seed", type=int, help=f"seed of weights, split, order and augmentation (default {d['seed']})")
    parser.add_argument("--val-fraction", type=float,
                        help=f"part of the training images held out for validation (default {d['val_fraction']})")
    parser.add_argument("--patience", type=int,
                        help="stop when the validation loss has not improved for this many epochs, and "
                             "keep the best epoch's weights (default: train all epochs)")
    parser.add_argument("--limit", type=int, metavar="N", help="train on the first N training images only (quick trials)")
    parser.add_argument("--test-limit", type=int, metavar="N",
                        help="test on the first N test images only (quick trials; default: all)")
    parser.add_argument("--out", help="run folder (default runs/<time>-<model>-<dataset>)")
    parser.add_argument("--resume", metavar="RUN",
                        help="continue an interrupted run (its folder or checkpoint) with its saved settings")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def resolve_config(args):
    """The run's settings: TRAIN_DEFAULTS overridden by the options given on the command line,
    with the optimizer's defaults filled in; or, with --resume, None (the saved run's settings).
    ``image_size`` stays None here: its default depends on the dataset."""
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
    settings = dict(OPTIMIZER_DEFAULTS[config["optimizer"]])
    if config["model"] in LARGE_HEAD_MODELS:
        settings["lr"] = LARGE_HEAD_LR[config["optimizer"]]
    for key in ("lr", "momentum", "weight_decay"):
        if config[key] is None:
            config[key] = settings.get(key)
        elif key not in settings:
            raise UsageError(f"--{key.replace('_', '-')} does not apply to the {config['optimizer']} optimizer")
    # Written as "not inside" so that NaN, which fails every comparison, is refused too.
    if not 0 < config["lr"] < math.inf:
        raise UsageError(f"--lr must be a positive number, got {config['lr']}")
    if config["momentum"] is not None and not 0 <= config["momentum"] < 1:
        raise UsageError(f"--momentum must be in [0, 1), got {config['momentum']}")
    if not 0 <= config["weight_decay"] < math.inf:
        raise UsageError(f"--weight-decay must be a number >= 0, got {config['weight_decay']}")
    if not 0 <= config["val_fraction"] < 1:
        raise UsageError(f"--val-fraction must be in [0, 1), got {config['val_fraction']}")
    if config["patience"] is not None and config["val_fraction"] == 0:
        raise UsageError("--patience stops on the validation loss; it needs --val-fraction > 0")
    for key in ("image_size", "epochs", "batch_size", "limit", "test_limit", "patience"):
        if config[key] is not None and config[key] < 1:
            raise UsageError(f"--{key.replace('_', '-')} must be at least 1, got {config[key]}")
    return config


def run(args):
    # matplotlib takes a while to import: only the commands that draw load it.
    from minidl.plots import plot_confusion, plot_curves
    from minidl.visualize import filters

    started = time.perf_counter()
    config = resolve_config(args)
    if config is None:   # --resume: everything comes from the checkpoint
        checkpoint, checkpoint_path = load_run_checkpoint(args.resume)
        run_record = checkpoint["run"]
        # Runs saved before these settings existed: the size they were built for, all test images.
        config = {"image_size": run_record["model_kwargs"]["image_size"], "test_limit": None,
                  **run_record["config"]}
        out = os.path.dirname(os.path.abspath(checkpoint_path))
    else:
        out = args.out or os.path.join(
            "runs", f"{time.strftime('%Y%m%d-%H%M%S')}-{config['model']}-{config['dataset']}")
        checkpoint_path = os.path.join(out, "checkpoint.npz")
        if os.path.exists(checkpoint_path):
            raise UsageError(f"{out} already holds a run; continue it with --resume {out}, or choose another --out")

    minidl.manual_seed(config["seed"])
    loaders, run_record, test_targets = prepare_data(config, args)
    model = build_model(config, run_record)
    optimizer = OPTIMIZERS[config["optimizer"]](
        model.parameters(), **{key: config[key] for key in OPTIMIZER_DEFAULTS[config["optimizer"]]})
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config["epochs"])
    sizes = run_record["sizes"]
    warn_if_slow(model, config, run_record)
    print(f"training {config['model']} on {config['dataset']} at {_size_text(config, run_record)}: "
          f"{sizes['train']} training, {sizes['val']} validation, {sizes['test']} test images; "
          f"run folder {out}")
    # Overflow shows up as a loss or weight that is not finite, which fit reports as
    # TrainingDiverged naming the epoch; NumPy's warnings would only add lines that say less.
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            history = fit(model, optimizer, loaders["train"], config["epochs"], val_loader=loaders["val"],
                          loss_fn=TRAINING_LOSSES.get(config["model"], F.cross_entropy), scheduler=scheduler,
                          early_stopping_patience=config["patience"],
                          checkpoint_path=checkpoint_path, resume=args.resume is not None,
                          progress=not args.no_progress, checkpoint_metadata={"run": run_record})
            test_loss, test_accuracy, predictions = evaluate(model, loaders["test"])
            if not math.isfinite(test_loss):
                raise TrainingDiverged(len(history["train_loss"]), None, test_loss, history["lr"][-1],
                                       what="the test loss")
    except TrainingDiverged as error:
        raise UsageError(error) from error

    matrix = confusion_matrix(test_targets, predictions, len(run_record["classes"]))
    metrics = {
        "config": config,
        "model": {"name": config["model"], "kwargs": run_record["model_kwargs"],
                  "parameters": int(sum(p.numel() for p in model.parameters()))},
        "data": {**{f"{split}_images": n for split, n in sizes.items()}, "classes": run_record["classes"],
                 "image_shape": run_record["image_shape"], "normalize": run_record["normalize"]},
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
    plot_curves(history, os.path.join(out, "curves.png"),
                title=f"{config['model']} on {config['dataset']}: test accuracy {test_accuracy:.4f}")
    plot_confusion(matrix, run_record["classes"], os.path.join(out, "confusion.png"),
                   title=f"{config['model']} on the {config['dataset']} test set ({sizes['test']} images)")
    first_filters = first_conv_weight(model)
    if first_filters is not None:   # every zoo model is a CNN; a model without convolutions has none to show
        name, weight = first_filters
        filters(weight, os.path.join(out, "filters.png"), title=f"{config['model']} {name}")
    print(f"test accuracy {test_accuracy:.4f} (loss {test_loss:.4f}) after {metrics['time_s']:.0f} s; wrote {out}")
    return 0


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


def prepare_data(config, args):
    """The loaders ``{"train", "val", "test"}`` (val None without a validation split), the facts
    about the data that the checkpoint records (normalisation, classes, model sizes) and the
    labels of the test images, in the test loader's order. Fills in ``config["image_size"]``
    when it is None.

    The first ``limit`` training images (all without --limit) are split at random into training
    and validation images; the mean and standard deviation of each channel over them, at the
    images' own size, normalise every image the model sees, in training and in testing. Images
    are augmented at their own size, then resized to the model's.
    """
    full_train = load_dataset(config["dataset"], True, args.data_root, args.download)
    test_set = load_dataset(config["dataset"], False, args.data_root, args.download)
    _, channels, height, width = full_train.images.shape
    size = _image_size(config, height)
    count = len(full_train) if config["limit"] is None else min(config["limit"], len(full_train))
    train_set = full_train if count == len(full_train) else data.Subset(full_train, np.arange(count))
    test_targets = test_set.targets
    if config["test_limit"] is not None and config["test_limit"] < len(test_set):
        test_set = data.Subset(test_set, np.arange(config["test_limit"]))
        test_targets = test_targets[:config["test_limit"]]
    mean, std = channel_statistics(full_train.images[:count])
    normalize = transforms.Normalize(mean, std)
    resize = resize_transforms((height, width), size)

    val_set = None
    if config["val_fraction"] > 0:
        fractions = [1 - config["val_fraction"], config["val_fraction"]]
        train_set, val_set = data.random_split(train_set, fractions, seed=config["seed"])
    _check_split_sizes(config, len(train_set), val_set)
    augment = augmentation(config["dataset"], height) if config["augment"] else []
    evaluation = transforms.Compose(resize + [normalize])
    # A last batch of one image would give batch norm a single value per channel in the small
    # feature maps at the end of a network (which it refuses, as PyTorch does): leave it out.
    lone_last_image = len(train_set) % config["batch_size"] == 1
    loaders = {
        "train": data.DataLoader(train_set, config["batch_size"], shuffle=True, seed=config["seed"],
                                 drop_last=lone_last_image,
                                 transform=transforms.Compose(augment + resize + [normalize])),
        "val": None if val_set is None else data.DataLoader(val_set, EVAL_BATCH_SIZE, transform=evaluation),
        "test": data.DataLoader(test_set, EVAL_BATCH_SIZE, transform=evaluation),
    }
    run_record = {
        "config": config,
        "model_kwargs": {"num_classes": len(full_train.classes), "in_channels": channels, "image_size": size},
        "image_shape": [channels, height, width],
        "normalize": {"mean": mean, "std": std},
        "classes": list(full_train.classes),
        "sizes": {"train": len(train_set), "val": 0 if val_set is None else len(val_set), "test": len(test_set)},
    }
    return loaders, run_record, test_targets


def _image_size(config, dataset_size):
    """The image side the model is built for: --image-size, checked against what the model
    takes, or the default for the dataset's images; recorded in ``config``."""
    model, size = config["model"], config["image_size"]
    if size is None:
        size = config["image_size"] = default_image_size(model, dataset_size)
    elif not accepts_image_size(model, size):
        raise UsageError(f"{model} does not take {size}x{size} images (it takes sides of "
                         f"{describe_image_sizes(model)}); choose another --image-size, or leave it out "
                         f"for {default_image_size(model, dataset_size)}")
    return size


def _check_split_sizes(config, train_images, val_set):
    """Refuse a split that leaves fewer than 2 training images or no validation image."""
    if train_images >= 2 and (val_set is None or len(val_set) > 0):
        return
    if val_set is None:
        raise UsageError(f"--limit {config['limit']} leaves {train_images} training image; training needs "
                         f"at least 2: use --limit 2 or more")
    fraction = config["val_fraction"]
    needed = max(math.ceil(2 / (1 - fraction)), math.ceil(1 / fraction))
    raise UsageError(f"--limit {config['limit']} with --val-fraction {fraction:g} leaves {train_images} "
                     f"training and {len(val_set)} validation images; use --limit {needed} or more "
                     f"(or --val-fraction 0 for no validation)")


def build_model(config, run_record):
    """The zoo model for the run's data; a size or an option the builder refuses is a UsageError."""
    try:
        return get_model(config["model"], **run_record["model_kwargs"])
    except ValueError as error:
        raise UsageError(error) from error


def warn_if_slow(model, config, run_record):
    """Print one line on stderr when an epoch is estimated to take more than LONG_EPOCH_S on a
    CPU: 3 x the model's MACs per training image (forward, and backward twice that), 1 x per
    validation image, at CPU_MACS_PER_SECOND."""
    from minidl.analysis import summary

    size = config["image_size"]
    macs = summary(model, (run_record["model_kwargs"]["in_channels"], size, size), print_table=False).total_macs
    sizes = run_record["sizes"]
    seconds = macs * (3 * sizes["train"] + sizes["val"]) / CPU_MACS_PER_SECOND
    if seconds > LONG_EPOCH_S:
        smaller = default_image_size(config["model"], run_record["image_shape"][1])
        hint = f" or --image-size {smaller}" if smaller < size else ""
        print(f"minidl train: warning: {config['model']} at {size}x{size} costs {macs / 1e9:.2f} G multiply-adds "
              f"per image; an epoch of {sizes['train']} training images will take about {_duration(seconds)} "
              f"on a laptop CPU (shorten it with --limit N{hint})", file=sys.stderr)


def _duration(seconds):
    """3700 -> "1.0 h", 650 -> "11 min"."""
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def _size_text(config, run_record):
    """ "28x28" or "63x63 (resized from 28x28)"."""
    size, (_, height, width) = config["image_size"], run_record["image_shape"]
    text = f"{size}x{size}"
    return text if (height, width) == (size, size) else f"{text} (resized from {height}x{width})"


def first_conv_weight(model):
    """The name and weight (F, C, kh, kw) of the model's first convolution (the filters that see
    pixels), or None."""
    return next(((name, p) for name, p in model.named_parameters() if name.endswith("weight") and p.ndim == 4),
                None)
