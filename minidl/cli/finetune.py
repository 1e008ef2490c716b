"""``minidl finetune``: adapt a trained model to a new dataset with one of the transfer strategies.

    minidl finetune lenet5-synthetic-shapes --dataset synthetic-shapes-new --strategy feature-extractor
    minidl finetune small_vgg-fashion-mnist --dataset builtin --strategy fine-tune-all \\
        --labels-per-class 10 --layer-lr-factor 3
    minidl finetune runs/20250101-120000-resnet20-synthetic-shapes --dataset synthetic-shapes-outline

SOURCE is a pretrained name or a run of ``minidl train``. The strategies are those of
``minidl.transfer.finetune``: ``linear-probe``, ``feature-extractor``, ``fine-tune-last-k``,
``fine-tune-all`` and ``from-scratch`` (the same architecture, trained from random weights, to
compare with). The run folder holds ``metrics.json`` (settings, test accuracy, history, time),
``checkpoint.npz`` (readable by ``minidl evaluate``) and, for the strategies that train the
network, ``curves.png``.
"""

import json
import os
import time

import minidl
from minidl.checkpoint import save_checkpoint
from minidl.cli.common import UsageError, load_source
from minidl.cli.target import add_target_arguments, prepare_target, target_options
from minidl.files import atomic_write
from minidl.train import TrainingDiverged
from minidl.transfer import STRATEGIES, finetune


def add_parser(commands):
    parser = commands.add_parser(
        "finetune",
        help="adapt a trained model to a new dataset (transfer learning)",
        description="Adapt SOURCE (a pretrained name or a minidl train run) to --dataset with one "
                    "strategy, score it on the test set and write a run folder.",
    )
    add_target_arguments(parser)
    parser.add_argument("--strategy", choices=STRATEGIES, default="fine-tune-all",
                        help="what to train (default: fine-tune-all)")
    parser.add_argument("--layer-lr-factor", type=float, default=3.0, metavar="F",
                        help="each earlier layer group trains F times slower (default 3)")
    parser.add_argument("--head-lr", type=float, metavar="LR", help="the new head's learning rate (default: --lr)")
    parser.add_argument("--last-k", type=int, default=1, metavar="K",
                        help="fine-tune-last-k: how many of the last layer groups train (default 1: the head)")
    parser.add_argument("--unfreeze-every", type=int, metavar="E",
                        help="fine-tune-all: unfreeze the layer groups gradually, the head first and one more "
                             "group every E epochs (default: all train from the start)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.02, help="SGD's learning rate, cosine-annealed (default 0.02)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def run(args):
    from minidl.plots import plot_curves

    for name in ("epochs", "batch_size", "last_k", "unfreeze_every"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    for name in ("lr", "layer_lr_factor", "head_lr"):
        value = getattr(args, name)
        if value is not None and not 0 < value < float("inf"):
            raise UsageError(f"--{name.replace('_', '-')} must be a positive number, got {value}")
    started = time.perf_counter()
    minidl.manual_seed(args.seed)
    source = load_source(args.source)
    train_set, test_set, transform, normalize = prepare_target(source, args.dataset, **target_options(args))
    out = args.out or os.path.join("runs", f"{time.strftime('%Y%m%d-%H%M%S')}-finetune-"
                                           f"{os.path.basename(os.path.normpath(args.source))}-{args.dataset}")
    print(f"{args.strategy}: {args.source} -> {args.dataset}, {len(train_set)} training and {len(test_set)} "
          f"test images; run folder {out}")
    try:
        result = finetune(source.model, train_set, test_set, strategy=args.strategy, epochs=args.epochs,
                          lr=args.lr, layer_lr_factor=args.layer_lr_factor, head_lr=args.head_lr, last_k=args.last_k,
                          unfreeze_every=args.unfreeze_every, batch_size=args.batch_size, transform=transform,
                          progress=not args.no_progress,
                          log=None if args.no_progress else print)
    except TrainingDiverged as error:
        raise UsageError(error) from error
    except ValueError as error:   # e.g. --last-k larger than the model's layer groups
        raise UsageError(error) from error

    os.makedirs(out, exist_ok=True)
    classes = list(getattr(train_set, "classes", None) or train_set.dataset.classes)
    run_record = {"config": {"model": source.architecture, "dataset": args.dataset, "source": args.source,
                             "strategy": args.strategy},
                  "model_kwargs": {**source.kwargs, "num_classes": len(classes),
                                   "in_channels": train_set[0][0].shape[0]},
                  "normalize": normalize,
                  "classes": classes}
    if args.strategy != "linear-probe":
        save_checkpoint(os.path.join(out, "checkpoint.npz"), result["model"], run=run_record)
    metrics = {"source": args.source, "dataset": args.dataset, "strategy": args.strategy,
               "labels_per_class": args.labels_per_class, "train_images": len(train_set),
               "test_images": len(test_set), "test_accuracy": result["test_accuracy"],
               "trainable_parameters": result["trainable"], "history": result["history"],
               "settings": {key: value for key, value in vars(args).items() if key not in ("run",)},
               "time_s": time.perf_counter() - started, "minidl_version": minidl.__version__}
    with atomic_write(os.path.join(out, "metrics.json"), "w") as file:
        json.dump(metrics, file, indent=2, default=str)
    if result["history"] is not None:
        plot_curves(result["history"], os.path.join(out, "curves.png"),
                    title=f"{args.strategy}: {args.source} -> {args.dataset}, test accuracy "
                          f"{result['test_accuracy']:.4f}")
    print(f"test accuracy {result['test_accuracy']:.4f} after {metrics['time_s']:.0f} s; wrote {out}")
    return 0
