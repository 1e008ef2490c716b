"""``minidl probe``: how linearly separable a new dataset's classes are in each layer of a model.

    minidl probe lenet5-mnist --dataset builtin
    minidl probe small_vgg-fashion-mnist --dataset fashion-mnist-b --data-root ../shared/data --labels-per-class 100

For every layer (by default each convolution and fully connected layer of SOURCE), the features
of the target's images are extracted (a convolution's maps averaged over space, ``--pool``), and
a linear classifier is trained on them twice, softmax and SVM (``minidl.transfer.probe_layers``):
the lecture's table of classifiers on conv1 ... fc7. The run folder holds ``probe.md`` (the
table), ``probe.json`` and ``probe.png``.
"""

import json
import os
import time

import minidl
from minidl import nn
from minidl.cli.common import UsageError, load_source
from minidl.cli.target import add_target_arguments, prepare_target, target_options
from minidl.files import atomic_write
from minidl.transfer import format_probe_table, plot_probe, probe_layers


def add_parser(commands):
    parser = commands.add_parser(
        "probe",
        help="linear probes on every layer of a trained model",
        description="Train a linear classifier (softmax and SVM) on the features of each layer of SOURCE "
                    "for --dataset, and write the table and plot of their test accuracies.",
    )
    add_target_arguments(parser)
    parser.add_argument("--layers", metavar="A,B,...",
                        help="module names to probe (default: every Conv2d and Linear, in order)")
    parser.add_argument("--pool", default="avg", choices=("avg", "max", "none"),
                        help="spatial pooling of convolutional features (default avg; none keeps the whole maps)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs of each probe's training (default 30)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def run(args):
    started = time.perf_counter()
    minidl.manual_seed(args.seed)
    source = load_source(args.source)
    train_set, test_set, transform, _ = prepare_target(source, args.dataset, **target_options(args))
    known = dict(source.model.named_modules())
    if args.layers:
        layers = [name.strip() for name in args.layers.split(",") if name.strip()]
        missing = [name for name in layers if name not in known]
        if missing:
            raise UsageError(f"{source.architecture} has no layer {missing[0]!r}; its convolution and linear layers "
                             f"are {', '.join(default_layers(source.model))}")
    else:
        layers = default_layers(source.model)
    out = args.out or os.path.join("runs", f"{time.strftime('%Y%m%d-%H%M%S')}-probe-"
                                           f"{os.path.basename(os.path.normpath(args.source))}-{args.dataset}")
    print(f"probing {len(layers)} layers of {args.source} on {args.dataset}: {len(train_set)} training and "
          f"{len(test_set)} test images; run folder {out}")
    rows = probe_layers(source.model, train_set, test_set, layers, pool=None if args.pool == "none" else args.pool,
                        transform=transform, progress=not args.no_progress, epochs=args.epochs)
    table = format_probe_table(rows)
    print(table)
    os.makedirs(out, exist_ok=True)
    with atomic_write(os.path.join(out, "probe.md"), "w") as file:
        file.write(f"Linear probes of {args.source} on {args.dataset} ({len(train_set)} training, "
                   f"{len(test_set)} test images); test accuracy per layer\n\n```\n{table}\n```\n")
    with atomic_write(os.path.join(out, "probe.json"), "w") as file:
        json.dump({"source": args.source, "dataset": args.dataset, "rows": rows,
                   "time_s": time.perf_counter() - started}, file, indent=2)
    plot_probe(rows, os.path.join(out, "probe.png"), title=f"Linear probes: {args.source} on {args.dataset}")
    print(f"wrote {out} after {time.perf_counter() - started:.0f} s")
    return 0


def default_layers(model):
    """Every Conv2d and Linear of ``model``, in ``named_modules`` order."""
    return [name for name, module in model.named_modules() if isinstance(module, nn.Conv2d | nn.Linear)]
