"""``minidl visualize``: look inside a trained model, one view at a time.

    minidl visualize lenet5-mnist --what filters
    minidl visualize small_vgg-fashion-mnist --dataset fashion-mnist --data-root ../shared/data --what top9
    minidl visualize lenet5-synthetic-shapes --what robustness --baseline resnet20-synthetic-shapes
    minidl visualize runs/20250101-120000-lenet5-builtin --what classmodel

SOURCE is a pretrained name or a ``minidl train`` run; the images come from ``--dataset`` (default:
the source's own; the built-in MNIST subset for a model trained on MNIST), resized to the model's
size and normalised as in training. ``--what`` picks the view (``minidl.visualize``):

    filters       the weights of a convolution (--layer, default the first)      filters.png
    activations   the maps of chosen layers for test image --index                activations.png
    top9          the --k strongest patches of each channel of --layer over the
                  whole test split, beside their deconvnet projections (the json
                  also gives the share of each channel's images in one class)     top9.png, top9.json
    embedding     the last layer's input features of the test images in 2-D
                  (--method pca or tsne) and their nearest neighbours             embedding-METHOD.png,
                                                                                  neighbours.png, embedding.json
    classmodel    the image each class scores highest, from the training set's
                  mean image                                                      classmodel.png, classmodel.json
    robustness    the test error under corruptions, with the CE against
                  --baseline                                                       robustness.png, robustness.md,
                                                                                  robustness.json, corruptions.png

``--layer`` takes a module name (``minidl summary`` lists them; for activations a comma-separated
list). Without it, activations shows the ReLU layers (at most six, spread from the first to the
last; for a ResNet, whose ReLUs run twice in each block, the top-level modules) and top9 the ReLU
after the last convolution (for a ResNet, the last stage). ``--limit N`` uses the first N test
images.
"""

import json
import os
import time
from collections import Counter

import numpy as np

from minidl import data, nn
from minidl.analysis.receptive_field import call_fields
from minidl.analysis.trace import trace
from minidl.cli.common import UsageError, load_dataset, load_source
from minidl.cli.images import resize_transforms
from minidl.data import Subset, transforms
from minidl.files import atomic_write

VIEWS = ("filters", "activations", "top9", "embedding", "classmodel", "robustness")
# Activations of at most this many layers are drawn when --layer does not choose them.
MOST_ACTIVATION_LAYERS = 6
# The queries of the nearest-neighbour grid: the first test image of each class, at most this many.
NEIGHBOUR_QUERIES, NEIGHBOURS = 10, 8


def add_parser(commands):
    parser = commands.add_parser(
        "visualize",
        help="look inside a trained model: filters, activations, top-9 patches, embeddings, class models, robustness",
        description="Draw one view of what SOURCE has learnt (--what) and write it to --out.",
    )
    parser.add_argument("source", metavar="SOURCE",
                        help="a pretrained name (minidl.zoo.PRETRAINED) or a checkpoint of minidl train")
    parser.add_argument("--what", required=True, choices=VIEWS, help=f"the view: {', '.join(VIEWS)}")
    parser.add_argument("--dataset", choices=data.DATASETS, metavar="NAME",
                        help="the images to use (default: the source's dataset)")
    parser.add_argument("--layer", metavar="NAME", help="the layer to show (see the command's description)")
    parser.add_argument("--channels", metavar="A,B,...", help="top9: the channels to show (default: all)")
    parser.add_argument("--k", type=int, default=9, help="top9: images per channel (default 9)")
    parser.add_argument("--index", type=int, default=0, metavar="N", help="activations: test image N (default 0)")
    parser.add_argument("--method", default="pca", choices=("pca", "tsne"),
                        help="embedding: pca (built in, default) or tsne (needs scikit-learn)")
    parser.add_argument("--baseline", metavar="SOURCE", help="robustness: the model the CE is relative to")
    parser.add_argument("--limit", type=int, metavar="N", help="use the first N test images only")
    parser.add_argument("--seed", type=int, default=0, help="seed of the corruptions, t-SNE and the class models")
    parser.add_argument("--data-root", help="folder with the dataset files")
    parser.add_argument("--download", action="store_true", help="download missing dataset files")
    parser.add_argument("--out", help="output folder (default runs/<time>-visualize-<source>-<what>)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def run(args):
    started = time.perf_counter()
    source = load_source(args.source)
    source.model.eval()
    if args.k < 1:
        raise UsageError(f"--k must be at least 1, got {args.k}")
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be at least 1, got {args.limit}")
    out = args.out or os.path.join("runs", f"{time.strftime('%Y%m%d-%H%M%S')}-visualize-"
                                           f"{os.path.basename(os.path.normpath(args.source))}-{args.what}")
    view = {"filters": _filters, "activations": _activations, "top9": _top9, "embedding": _embedding,
            "classmodel": _class_model, "robustness": _robustness}[args.what]
    made = not os.path.isdir(out)
    os.makedirs(out, exist_ok=True)
    try:
        written = view(source, args, out)
    except (ValueError, ImportError, UsageError) as error:   # a layer, channel, k or library refused
        if made and not os.listdir(out):   # a view that fails leaves no empty folder behind
            os.rmdir(out)
        if isinstance(error, UsageError):
            raise
        raise UsageError(str(error).splitlines()[0]) from error
    print(f"wrote {', '.join(written)} to {out} after {time.perf_counter() - started:.1f} s")
    return 0


def _test_images(source, args):
    """(test set, transform to the model's size, dataset name); refuses another channel count."""
    name = args.dataset or ("builtin" if source.dataset == "mnist" else source.dataset)
    test_set = load_dataset(name, False, args.data_root, args.download)
    channels = source.kwargs["in_channels"]
    if test_set.images.shape[1] != channels:
        raise UsageError(f"{args.source} takes {channels}-channel images but {name}'s have {test_set.images.shape[1]}")
    resize = resize_transforms(test_set.images.shape[2:], source.kwargs["image_size"])
    if args.limit is not None and args.limit < len(test_set):
        test_set = Subset(test_set, np.arange(args.limit))
    return test_set, (transforms.Compose(resize) if resize else None), name


def _image_shape(source):
    size = source.kwargs["image_size"]
    return (source.kwargs["in_channels"], size, size)


def _layer(model, name, where):
    """The module ``name`` of ``model`` (a UsageError naming the close ones if it has none)."""
    modules = dict(model.named_modules())
    if name not in modules or not name:
        from minidl.explain.attribution import find_layer
        try:
            find_layer(where, model, name)
        except ValueError as error:
            raise UsageError(f"--layer: {error}") from error
    return modules[name]


def _filters(source, args, out):
    from minidl.visualize import filters

    model = source.model
    name = args.layer or next((n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)), None)
    if name is None:
        raise UsageError(f"{args.source} has no convolution to draw")
    layer = _layer(model, name, "filters")
    if not isinstance(layer, nn.Conv2d):
        raise UsageError(f"--layer {name} is a {type(layer).__name__}, not a convolution: filters draws the weights "
                         "of a Conv2d layer")
    filters(layer, os.path.join(out, "filters.png"), title=f"{args.source} {name}")
    return ["filters.png"]


def feature_layers(model, image_shape):
    """The modules of ``model`` in the order their calls end, as (name, module, is_feature_map):
    is_feature_map says that the module runs once and outputs a map (N, C, H, W) whose units see
    part of the image (the layers top_patches and activations can look at)."""
    traced = trace(model, image_shape, caller="minidl visualize")
    fields, _ = call_fields(traced)
    runs = Counter(call.name for call in traced.calls)
    ended = sorted(range(len(traced.calls)), key=lambda i: (traced.calls[i].end, -i))
    layers = []
    for i in ended:
        call, field = traced.calls[i], fields[i]
        output = call.output_tensor
        usable = (bool(call.name) and runs[call.name] == 1 and output is not None and output.ndim == 4
                  and field is not None and not field.is_full)
        layers.append((call.name, call.module, usable))
    return layers


def default_activation_layers(model, image_shape):
    """The ReLU feature maps (a ResNet, whose ReLUs run twice in each block: the top-level modules'
    maps), at most MOST_ACTIVATION_LAYERS of them spread from the first to the last."""
    usable = [(name, module) for name, module, ok in feature_layers(model, image_shape) if ok]
    layers = [name for name, module in usable if isinstance(module, nn.ReLU)]
    if len(layers) < 2:
        layers = [name for name, _ in usable if "." not in name]
    if len(layers) > MOST_ACTIVATION_LAYERS:
        picks = np.unique(np.round(np.linspace(0, len(layers) - 1, MOST_ACTIVATION_LAYERS)).astype(int))
        layers = [layers[i] for i in picks]
    return layers


def default_top_layer(model, image_shape):
    """The ReLU feature map after the last convolution; without one (a ResNet) the last feature map."""
    layers = feature_layers(model, image_shape)
    last_conv = max((i for i, (_, module, _) in enumerate(layers) if isinstance(module, nn.Conv2d)), default=-1)
    after = [name for name, module, ok in layers[last_conv + 1:] if ok and isinstance(module, nn.ReLU)]
    usable = [name for name, _, ok in layers if ok]
    if not usable:
        raise UsageError("the model has no feature map whose units see part of the image; choose --layer")
    return after[-1] if after else usable[-1]


def _activations(source, args, out):
    from minidl.visualize import activations

    test_set, transform, name = _test_images(source, args)
    if not 0 <= args.index < len(test_set):
        raise UsageError(f"--index {args.index} is out of range: the {name} test split has {len(test_set)} images")
    if args.layer:
        layers = [layer.strip() for layer in args.layer.split(",") if layer.strip()]
        for layer in layers:
            _layer(source.model, layer, "activations")
    else:
        layers = default_activation_layers(source.model, _image_shape(source))
    image, label = test_set[args.index]
    activations(source.model, image, layers, transform=transform, normalize=source.normalize,
                path=os.path.join(out, "activations.png"),
                title=f"{args.source}: {name} test image {args.index} (class {source.classes[label]})")
    return ["activations.png"]


def _top9(source, args, out):
    from minidl.visualize import top_patches

    test_set, transform, name = _test_images(source, args)
    layer = args.layer or default_top_layer(source.model, _image_shape(source))
    _layer(source.model, layer, "top_patches")
    channels = None
    if args.channels:
        try:
            channels = [int(c) for c in args.channels.split(",") if c.strip()]
        except ValueError as error:
            raise UsageError(f"--channels must be integers separated by commas, got {args.channels!r}") from error
    started = time.perf_counter()
    result = top_patches(source.model, test_set, layer, channels, k=args.k, transform=transform,
                         normalize=source.normalize, progress=not args.no_progress, path=os.path.join(out, "top9.png"),
                         title=f"{args.source} on {len(test_set)} {name} test images")
    classes = [[int(test_set[int(i)][1]) for i in row] for row in result.indices]
    # How semantic a channel is: the share of its k images that belong to their most common class.
    same_class = [Counter(row).most_common(1)[0][1] / len(row) for row in classes]
    record = {"source": args.source, "dataset": name, "images": len(test_set), "layer": layer, "k": args.k,
              "receptive_field": str(result.field), "projection": result.projection,
              "seconds": round(time.perf_counter() - started, 2), "mean_same_class": float(np.mean(same_class)),
              "channels": [{"channel": int(c), "images": result.indices[m].tolist(), "classes": classes[m],
                            "same_class": same_class[m], "values": result.values[m].tolist(),
                            "boxes": result.boxes[m].tolist()} for m, c in enumerate(result.channels)]}
    _write_json(out, "top9.json", record)
    return ["top9.png", "top9.json"]


def _embedding(source, args, out):
    from minidl.transfer.features import extract_features
    from minidl.visualize import embed, nearest_neighbours

    test_set, transform, name = _test_images(source, args)
    head = [n for n, m in source.model.named_modules() if isinstance(m, nn.Linear)]
    layer = args.layer or (head[-1] if head else None)
    if layer is None:
        raise UsageError(f"{args.source} has no fully connected layer; choose the features' layer with --layer")
    _layer(source.model, layer, "embed")
    capture = "input" if args.layer is None else "output"
    normalise = transforms.Normalize(source.normalize["mean"], source.normalize["std"])
    features, labels = extract_features(source.model, test_set, layer, pool="avg" if capture == "output" else None,
                                        transform=transforms.Compose(([transform] if transform else []) + [normalise]),
                                        progress=not args.no_progress, capture=capture)
    features = features.reshape(len(features), -1)
    pictures = np.stack([test_set[i][0] for i in range(len(test_set))])
    where = f"the input of {layer}" if capture == "input" else f"{layer} (averaged over space)"
    result = embed(features, args.method, labels=labels, classes=source.classes, images=pictures, thumbnails=30,
                   seed=args.seed, path=os.path.join(out, f"embedding-{args.method}.png"),
                   title=f"{args.source}: {where}, {len(features)} {name} test images")
    queries = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)][:NEIGHBOUR_QUERIES]
    near = nearest_neighbours(features, queries, min(NEIGHBOURS, len(features) - 1), images=pictures,
                              labels=[source.classes[c] for c in labels], path=os.path.join(out, "neighbours.png"),
                              title=f"{args.source}: {where}")
    agreement = float(np.mean(labels[near.indices] == labels[queries][:, None]))
    _write_json(out, "embedding.json", {
        "source": args.source, "dataset": name, "images": len(features), "layer": layer, "capture": capture,
        "dimensions": features.shape[1], "method": args.method,
        "explained_variance": None if result.explained is None else result.explained.tolist(),
        "neighbours_of_the_same_class": agreement, "queries": queries, "neighbours": near.indices.tolist()})
    return [f"embedding-{args.method}.png", "neighbours.png", "embedding.json"]


def _class_model(source, args, out):
    from minidl.visualize import class_model

    name = args.dataset or ("builtin" if source.dataset == "mnist" else source.dataset)
    train_set = load_dataset(name, True, args.data_root, args.download)
    resize = resize_transforms(train_set.images.shape[2:], source.kwargs["image_size"])
    mean = train_set.images.mean(axis=0, keepdims=True)
    mean = transforms.Compose(resize)(mean)[0] if resize else mean[0]
    if mean.shape != _image_shape(source):
        raise UsageError(f"{args.source} takes {source.kwargs['in_channels']}-channel images but {name}'s have "
                         f"{mean.shape[0]}")
    result = class_model(source.model, None, _image_shape(source), normalize=source.normalize, start=mean,
                         seed=args.seed, classes=source.classes, path=os.path.join(out, "classmodel.png"),
                         title=f"{args.source}, started from the mean image of {name}'s training set")
    targets = np.arange(len(result.targets))
    _write_json(out, "classmodel.json", {
        "source": args.source, "start": f"the mean image of {name}'s training set", "settings": result.settings,
        "start_logits": result.start_logits[targets, result.targets].tolist(),
        "logits": result.logits[targets, result.targets].tolist(),
        "top_class": result.logits.argmax(axis=1).tolist()})
    return ["classmodel.png", "classmodel.json"]


def _robustness(source, args, out):
    from minidl.visualize import plot_corruptions, robustness_report

    test_set, transform, name = _test_images(source, args)
    baseline, baseline_transform, baseline_normalize = None, None, None
    if args.baseline:
        other = load_source(args.baseline)
        if other.kwargs["in_channels"] != source.kwargs["in_channels"]:
            raise UsageError(f"--baseline {args.baseline} takes {other.kwargs['in_channels']}-channel images, "
                             f"{args.source} {source.kwargs['in_channels']}")
        baseline, baseline_normalize = other.model, other.normalize
        resize = resize_transforms(test_set[0][0].shape[1:], other.kwargs["image_size"])
        baseline_transform = transforms.Compose(resize) if resize else None
        if transform is not None and baseline_transform is None:
            # The baseline takes the images at their own size (None would mean "as the model").
            baseline_transform = transforms.Compose([])
    report = robustness_report(source.model, test_set, baseline=baseline, transform=transform,
                               normalize=source.normalize, baseline_transform=baseline_transform,
                               baseline_normalize=baseline_normalize, seed=args.seed, progress=not args.no_progress,
                               name=args.source, baseline_name=args.baseline or "baseline",
                               path=os.path.join(out, "robustness.png"), title=f"{name} test images")
    plot_corruptions(test_set[0][0], seed=args.seed, path=os.path.join(out, "corruptions.png"),
                     title=f"{name} test image 0")
    with atomic_write(os.path.join(out, "robustness.md"), "w") as file:
        file.write(f"Top-1 error of {args.source} on {len(test_set)} {name} test images under each corruption "
                   f"(seed {args.seed})\n\n{report.table()}")
    _write_json(out, "robustness.json", {"source": args.source, "dataset": name, "seed": args.seed,
                                         **report.to_dict()})
    print(report.table())
    return ["robustness.png", "robustness.md", "robustness.json", "corruptions.png"]


def _write_json(out, name, record):
    with atomic_write(os.path.join(out, name), "w") as file:
        json.dump(record, file, indent=2)
