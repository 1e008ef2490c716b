"""``minidl explain``: why a trained model gave its answer for one image, method by method.

    minidl explain lenet5-mnist --dataset builtin --index 7 --method all
    minidl explain lenet5-synthetic-shapes --index 3 --method gradcam --layer features.conv1
    minidl explain runs/20250101-120000-lenet5-builtin --image digit.png --method occlusion --target 3

SOURCE is a pretrained name or a ``minidl train`` run. The image is test image ``--index`` of
``--dataset`` (default: the source's dataset; the built-in MNIST subset for a model trained on
MNIST), resized to the model's size and normalised as in training, or ``--image FILE`` (a PNG
of the model's size and channels; a grey picture saved in colour counts as grey). ``--target``
is the class to explain (default: the predicted one); the scores explained are logits. Each
method (``minidl.explain.methods``) writes ``<method>.png``: its map blended over the image,
with a colour bar. ``--method all`` also writes ``methods.png`` (the maps side by side), and
every run writes ``explain.json`` (the prediction, the target, each method's time and map
statistics), ``explain.md`` (the same, to read) and ``attributions.npz`` (the maps).
"""

import io
import json
import os
import time

import numpy as np
from matplotlib import image as matplotlib_image

from minidl import data
from minidl.cli.common import UsageError, load_source
from minidl.cli.images import source_images
from minidl.data import transforms
from minidl.explain import METHODS, LayerGradCam, explain, last_conv_layer
from minidl.explain.methods import DESCRIPTIONS
from minidl.explain.visualization import plot_attributions, visualize_image_attr
from minidl.files import atomic_write
from minidl.grad_mode import no_grad
from minidl.tensor import Tensor


def add_parser(commands):
    parser = commands.add_parser(
        "explain",
        help="attribution maps (saliency, guided backprop, deconvnet, occlusion, Grad-CAM, ...) of one image",
        description="Explain the answer of SOURCE for one image with attribution methods, and write their "
                    "pictures and a summary.",
    )
    parser.add_argument("source", metavar="SOURCE",
                        help="a pretrained name (minidl.zoo.PRETRAINED) or a checkpoint of minidl train")
    parser.add_argument("--dataset", choices=data.DATASETS, metavar="NAME",
                        help="take the image from this dataset's test split (default: the source's dataset)")
    parser.add_argument("--index", type=int, default=0, metavar="N", help="test image N of the dataset (default 0)")
    parser.add_argument("--image", metavar="FILE", help="explain this PNG instead (the model's size and channels)")
    parser.add_argument("--method", default="all", choices=(*METHODS, "all"),
                        help=f"{', '.join(METHODS)}, or all (default)")
    parser.add_argument("--target", type=int, metavar="CLASS", help="the class to explain (default: the predicted one)")
    parser.add_argument("--layer", metavar="NAME", help="Grad-CAM's layer (default: the last convolution)")
    parser.add_argument("--data-root", help="folder with the dataset files")
    parser.add_argument("--download", action="store_true", help="download missing dataset files")
    parser.add_argument("--out", help="output folder (default runs/<time>-explain-<source>-<image>)")
    return parser


def run(args):
    started = time.perf_counter()
    source = load_source(args.source)
    model, classes = source.model, source.classes
    model.eval()
    pixels, label, described = _image(source, args)
    x = _normalise(pixels, source.normalize)
    with no_grad():
        logits = model(Tensor(x)).numpy()[0].astype(np.float64)
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    predicted = int(logits.argmax())
    target = predicted if args.target is None else args.target
    if not 0 <= target < len(classes):
        raise UsageError(f"--target {target} is out of range: {args.source} has {len(classes)} classes (0 to "
                         f"{len(classes) - 1})")
    methods = METHODS if args.method == "all" else (args.method,)
    layer = _layer(model, args.layer, x) if "gradcam" in methods else None
    out = args.out or os.path.join("runs", f"{time.strftime('%Y%m%d-%H%M%S')}-explain-"
                                           f"{os.path.basename(os.path.normpath(args.source))}-{described['name']}")
    print(f"explaining {args.source} on {described['text']}: predicted {_name(classes, predicted)} "
          f"(p = {probabilities[predicted]:.3f}), explaining {_name(classes, target)}")
    maps, records = {}, {}
    for method in methods:
        began = time.perf_counter()
        try:
            maps[method] = explain(model, x, method, target, layer=layer if method == "gradcam" else None).numpy()[0]
        except ValueError as error:   # an image the model cannot take, a layer that is not a feature map
            raise UsageError(error) from error
        seconds = time.perf_counter() - began
        records[method] = {"description": DESCRIPTIONS[method], "seconds": round(seconds, 4),
                           "shape": list(maps[method].shape), "sum": float(maps[method].sum()),
                           "max_abs": float(np.abs(maps[method]).max())}
        print(f"  {method:<10} {seconds:6.2f} s  {DESCRIPTIONS[method]}")
    os.makedirs(out, exist_ok=True)
    title = f"{_name(classes, target)} (predicted {_name(classes, predicted)})"
    for method, attribution in maps.items():
        visualize_image_attr(attribution, pixels[0], path=os.path.join(out, f"{method}.png"),
                             title=f"{method}: {title}")
    if len(maps) > 1:
        plot_attributions(maps, pixels[0], path=os.path.join(out, "methods.png"), shared_scale=False, title=title)
    summary = {"source": args.source, "image": described["text"], "true_class": label, "predicted": predicted,
               "probability": float(probabilities[predicted]), "target": target,
               "target_name": str(classes[target]), "target_logit": float(logits[target]),
               "layer": layer, "methods": records, "seconds": round(time.perf_counter() - started, 3)}
    _write(out, summary, maps)
    print(f"wrote {out} after {time.perf_counter() - started:.1f} s")
    return 0


def _image(source, args):
    """The image as the model sees it before normalisation, (1, C, S, S) in [0, 1]; its true
    class (None for a file); how to name it."""
    channels, size = source.kwargs["in_channels"], source.kwargs["image_size"]
    if args.image is not None:
        if args.dataset is not None:
            raise UsageError("give --dataset (with --index) or --image, not both")
        pixels = _read_png(args.image)
        if pixels.shape != (channels, size, size):
            raise UsageError(f"{args.image} is a {'x'.join(map(str, pixels.shape))} image (channels x height x "
                             f"width); {args.source} takes {channels}x{size}x{size}")
        name = os.path.splitext(os.path.basename(args.image))[0]
        return pixels[None].astype(np.float32), None, {"name": name, "text": args.image}
    dataset, test_set, resize = source_images(source, args.source, args.dataset, False, args.data_root,
                                              args.download)
    if not 0 <= args.index < len(test_set):
        raise UsageError(f"--index {args.index} is out of range: the {dataset} test split has {len(test_set)} images")
    pixels = test_set.images[args.index:args.index + 1]
    if resize:
        pixels = resize(pixels)
    label = int(np.asarray(test_set.targets)[args.index])
    return pixels.astype(np.float32), label, {"name": f"{dataset}-{args.index}",
                                              "text": f"{dataset} test image {args.index} (class {label})"}


def _read_png(path):
    """A PNG file as (C, H, W) floats in [0, 1]: grey (1 channel) or RGB (3). Alpha is dropped, and
    an RGB picture whose three channels are equal (a grey image saved in colour) is grey."""
    try:
        picture = matplotlib_image.imread(path)
    except (OSError, ValueError, SyntaxError) as error:
        raise UsageError(f"cannot read {path} as an image: {error}") from error
    if picture.dtype.kind in "ui":
        picture = picture / np.iinfo(picture.dtype).max
    if picture.ndim == 2:
        return picture[None]
    colour = picture[..., :3].transpose(2, 0, 1)
    return colour[:1] if np.array_equal(colour[0], colour[1]) and np.array_equal(colour[0], colour[2]) else colour


def _normalise(pixels, normalize):
    return transforms.Normalize(normalize["mean"], normalize["std"])(pixels).astype(np.float32)


def _layer(model, name, x):
    """Grad-CAM's layer: ``name`` if the model has it, else the last convolution it runs on ``x``."""
    if name is None:
        return last_conv_layer(model, x)
    try:
        LayerGradCam(model, name)
    except ValueError as error:
        raise UsageError(f"--layer: {error}") from error
    return name


def _name(classes, index):
    return f"class {index} ({classes[index]})"


def _write(out, summary, maps):
    """explain.json, explain.md and attributions.npz in ``out``, each written atomically."""
    with atomic_write(os.path.join(out, "explain.json"), "w") as file:
        json.dump(summary, file, indent=2)
    lines = [f"# Why {summary['source']} answered as it did", "",
             f"Image: {summary['image']}. Predicted class {summary['predicted']} (p = {summary['probability']:.3f}); "
             f"explained: class {summary['target']} ({summary['target_name']}), logit {summary['target_logit']:.3f}.",
             "", "| method | what the map is | seconds | sum | max abs |", "|---|---|---:|---:|---:|"]
    for method, record in summary["methods"].items():
        description = record["description"].replace("|", "\\|")   # a bar would end the table's cell
        lines.append(f"| {method} | {description} | {record['seconds']:.3f} | {record['sum']:.4g} | "
                     f"{record['max_abs']:.4g} |")
    if summary["layer"]:
        lines += ["", f"Grad-CAM layer: {summary['layer']}."]
    with atomic_write(os.path.join(out, "explain.md"), "w") as file:
        file.write("\n".join(lines) + "\n")
    buffer = io.BytesIO()
    np.savez(buffer, **maps)
    with atomic_write(os.path.join(out, "attributions.npz")) as file:
        file.write(buffer.getvalue())
