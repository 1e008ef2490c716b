"""``minidl attack``: adversarial and fooling images for a trained model, with their statistics.

    minidl attack lenet5-mnist --method fgsm --eps 0.1 --index 7
    minidl attack lenet5-mnist --method pgd --eps 0.3 --alpha 0.01 --steps 40 --target random --count 256
    minidl attack lenet5-synthetic-shapes --method pgd --norm l2 --eps 0.5 --count 100
    minidl attack lenet5-mnist --method fooling --target 3 --count 8
    minidl attack lenet5-mnist --method minimal --count 16
    minidl attack lenet5-mnist --method noise --count 10          # one noise image per class, >= 99% sure

SOURCE is a pretrained name or a ``minidl train`` run. The images are test image ``--index`` (one
image) or the first ``--count`` test images of ``--dataset`` (default: the source's dataset; the
built-in MNIST subset for a model trained on MNIST), resized to the model's size. The attacks
(``minidl.explain.adversarial``, ``adversarial_fooling``) work on pixels in [0, 1]: ``--eps`` and the
step ``--alpha`` are in pixel units, and the model's normalisation is applied inside.

Methods and what their options mean:

- ``fgsm``: one step of ``--eps`` (L∞), untargeted unless ``--target`` is given.
- ``pgd``: ``--steps`` (default 40) steps of ``--alpha`` (default 2.5 eps / steps) in ``--norm``
  (linf or l2), projected onto the ``--eps``-ball, from a random start; untargeted unless ``--target``.
- ``fooling``: CS231n's normalised ascent on the target's score, steps of L2 length ``--alpha``
  (default 0.1), at most ``--steps`` (default 200), until the model says the target.
- ``minimal``: Szegedy et al.'s smallest ||r||², ``--search-steps`` values of the penalty weight,
  ``--steps`` Adam steps (default 100) of rate ``--alpha`` (default 0.01) for each.
- ``noise``: Nguyen et al.'s images from uniform noise, ascent on log p(target) in steps of L2
  length ``--alpha`` (default 1) until p >= 99%, at most ``--steps`` (default 500); ``--count``
  images (default one per class) of ``--target`` (default the classes in turn).

``--target CLASS`` aims every image at that class; ``--target random`` at a random wrong class per
image (drawn with ``--seed``), which is also the default of ``fooling`` and ``minimal``.

The output folder holds ``examples.png`` (original, perturbation magnified, adversarial, with the
predictions and confidences), ``attack.json`` (the options and the report, image by image),
``attack.md`` (the statistics as tables) and ``adversarial.npz`` (the images).
"""

import io
import json
import math
import os
import time

import numpy as np

from minidl import data
from minidl.cli.common import UsageError, load_source
from minidl.cli.images import source_images
from minidl.explain.adversarial import NORMS, PixelModel, random_targets
from minidl.explain.adversarial_report import ATTACKS, evaluate_attack, format_attack_table, plot_attack_examples
from minidl.files import atomic_write

# The images of a run that attack.md lists one by one (attack.json has them all).
LISTED_IMAGES = 20
# The options each method takes besides the images, the target and the seed.
METHOD_OPTIONS = {"fgsm": ("eps",), "pgd": ("eps", "alpha", "steps", "norm"), "fooling": ("alpha", "steps"),
                  "minimal": ("alpha", "steps", "search_steps"), "noise": ("alpha", "steps")}
# Defaults of --alpha and --steps per method (pgd's alpha depends on eps and steps: 2.5 eps / steps).
DEFAULTS = {"pgd": {"steps": 40}, "fooling": {"alpha": 0.1, "steps": 200},
            "minimal": {"alpha": 0.01, "steps": 100, "search_steps": 6}, "noise": {"alpha": 1.0, "steps": 500}}


def add_parser(commands):
    parser = commands.add_parser(
        "attack",
        help="adversarial and fooling images (FGSM, PGD, fooling, minimal, noise) with their statistics",
        description="Attack SOURCE on test images: write the adversarial images, the size of the perturbations "
                    "and the model's confidence before and after.",
    )
    parser.add_argument("source", metavar="SOURCE",
                        help="a pretrained name (minidl.zoo.PRETRAINED) or a checkpoint of minidl train")
    parser.add_argument("--dataset", choices=data.DATASETS, metavar="NAME",
                        help="take the images from this dataset's test split (default: the source's dataset)")
    parser.add_argument("--method", required=True, choices=tuple(ATTACKS), help=", ".join(ATTACKS))
    parser.add_argument("--eps", type=float, help="size of the perturbation in pixel units (fgsm and pgd)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--index", type=int, metavar="N", help="attack test image N (default 0)")
    which.add_argument("--count", type=int, metavar="K", help="attack the first K test images")
    parser.add_argument("--target", metavar="CLASS", help="the class to reach, or 'random' (a wrong class per image)")
    parser.add_argument("--norm", choices=NORMS, help="pgd's norm (default linf)")
    parser.add_argument("--steps", type=int, help="number of steps (see the method's defaults in the help above)")
    parser.add_argument("--alpha", type=float, help="step size / learning rate in pixel units")
    parser.add_argument("--search-steps", type=int, help="minimal: values of the penalty weight c to try (default 6)")
    parser.add_argument("--seed", type=int, default=0, help="seed of random starts, targets and noise (default 0)")
    parser.add_argument("--rows", type=int, default=8, help="images shown in examples.png (default 8)")
    parser.add_argument("--data-root", help="folder with the dataset files")
    parser.add_argument("--download", action="store_true", help="download missing dataset files")
    parser.add_argument("--out", help="output folder (default runs/<time>-attack-<source>-<method>)")
    return parser


def run(args):
    started = time.perf_counter()
    source = load_source(args.source)
    options = _method_options(args)
    shape = (source.kwargs["in_channels"], source.kwargs["image_size"], source.kwargs["image_size"])
    model = PixelModel(source.model, normalize=source.normalize, image_shape=shape)
    classes = source.classes
    if args.rows < 1:
        raise UsageError(f"--rows must be >= 1, got {args.rows}")
    if args.method == "noise":
        dataset, indices, images, labels = None, None, None, None
        targets = _noise_targets(args, len(classes))
        options.update(seed=args.seed)
        described = f"{len(targets)} noise images"
    else:
        dataset, indices, images, labels = _images(source, args, shape)
        targets = _targets(args, labels, len(classes))
        if args.method == "pgd":
            options.update(seed=args.seed)
        described = f"{len(indices)} {dataset} test image{'s' if len(indices) > 1 else ''}"
    out = args.out or os.path.join("runs", f"{time.strftime('%Y%m%d-%H%M%S')}-attack-"
                                           f"{os.path.basename(os.path.normpath(args.source))}-{args.method}")
    settings = ", ".join(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}"
                         for key, value in options.items())
    print(f"attacking {args.source} with {args.method} ({settings}) on {described}")
    try:
        adversarial, report = evaluate_attack(model, args.method, images, labels, targets, **options)
    except ValueError as error:   # what the attack refuses and the options above do not check
        raise UsageError(error) from error
    name = f"{args.method} {settings}"
    table = format_attack_table([(name, report)])
    print(table)
    os.makedirs(out, exist_ok=True)
    summary = {"source": args.source, "dataset": dataset, "method": args.method, "options": options,
               "target": args.target, "seed": args.seed, "indices": indices, "classes": [str(c) for c in classes],
               "report": report, "time_s": time.perf_counter() - started}
    with atomic_write(os.path.join(out, "attack.json"), "w") as file:
        json.dump(summary, file, indent=1)
    with atomic_write(os.path.join(out, "attack.md"), "w") as file:
        file.write(_markdown(args, described, table, report, indices, classes))
    _save_images(os.path.join(out, "adversarial.npz"), images, adversarial, labels, targets, indices)
    plot_attack_examples(images, adversarial, report, [str(c) for c in classes], os.path.join(out, "examples.png"),
                         title=f"{args.source}: {name}", rows=args.rows)
    print(f"wrote {out} after {time.perf_counter() - started:.1f} s")
    return 0


def _method_options(args):
    """The attack's keyword arguments from the command line: the method's own options, checked,
    with their defaults; an option the method does not take is refused."""
    taken = METHOD_OPTIONS[args.method]
    given = {"eps": args.eps, "alpha": args.alpha, "steps": args.steps, "norm": args.norm,
             "search_steps": args.search_steps}
    for key, value in given.items():
        if value is not None and key not in taken:
            raise UsageError(f"--{key.replace('_', '-')} is not an option of {args.method} "
                             f"(it takes {', '.join('--' + k.replace('_', '-') for k in taken)})")
    if "eps" in taken:
        if args.eps is None:
            raise UsageError(f"{args.method} needs --eps, the size of the perturbation in pixel units (e.g. 0.1)")
        if not (math.isfinite(args.eps) and args.eps >= 0):
            raise UsageError(f"--eps must be a finite number >= 0, got {args.eps}")
    options = {key: value for key, value in given.items() if key in taken}
    for key, value in DEFAULTS.get(args.method, {}).items():
        options[key] = value if options[key] is None else options[key]
    for key in ("steps", "search_steps"):
        if key in options and options[key] < 1:
            raise UsageError(f"--{key.replace('_', '-')} must be >= 1, got {options[key]}")
    if args.method == "pgd":
        options["norm"] = options["norm"] or "linf"
        if options["alpha"] is None:   # Madry et al.'s 2.5 eps / steps; with eps = 0 nothing moves, any step will do
            options["alpha"] = 2.5 * args.eps / options["steps"] if args.eps > 0 else 1.0
    if "alpha" in options and not (math.isfinite(options["alpha"]) and options["alpha"] > 0):
        raise UsageError(f"--alpha must be a positive number, got {options['alpha']}")
    renamed = {"fooling": {"alpha": "lr", "steps": "max_iter"}, "noise": {"alpha": "lr", "steps": "max_iter"},
               "minimal": {"alpha": "lr"}}.get(args.method, {})
    return {renamed.get(key, key): value for key, value in options.items()}


def _images(source, args, shape):
    """(dataset name, indices, pixels float32 (K, C, S, S) in [0, 1], labels (K,)) of the images to attack."""
    dataset, test_set, resize = source_images(source, args.source, args.dataset, False, args.data_root,
                                              args.download)
    if args.count is not None:
        if not 1 <= args.count <= len(test_set):
            raise UsageError(f"--count must be between 1 and {len(test_set)} (the {dataset} test split), "
                             f"got {args.count}")
        indices = list(range(args.count))
    else:
        index = 0 if args.index is None else args.index
        if not 0 <= index < len(test_set):
            raise UsageError(f"--index {index} is out of range: the {dataset} test split has {len(test_set)} images")
        indices = [index]
    if len(test_set.classes) != len(source.classes):
        raise UsageError(f"{args.source} knows {len(source.classes)} classes but {dataset} has "
                         f"{len(test_set.classes)}; attack it on a dataset of its own classes")
    pixels = test_set.images[indices]
    if resize:
        # Bilinear resizing never leaves [0, 1] in exact arithmetic; rounding can, by an ulp.
        pixels = np.clip(resize(pixels), 0, 1)
    return dataset, indices, pixels.astype(np.float32), np.asarray(test_set.targets)[indices]


def _class(text, num_classes):
    """--target CLASS as an int in [0, K)."""
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"--target must be a class number or 'random', got {text!r}") from None
    if not 0 <= value < num_classes:
        raise UsageError(f"--target {value} is out of range: the model has {num_classes} classes "
                         f"(0 to {num_classes - 1})")
    return value


def _targets(args, labels, num_classes):
    """The target of each image (None: untargeted fgsm/pgd)."""
    if args.target is None and args.method in ("fgsm", "pgd"):
        return None
    if args.target is None or args.target == "random":
        return random_targets(labels, num_classes, seed=args.seed)
    return np.full(len(labels), _class(args.target, num_classes))


def _noise_targets(args, num_classes):
    """The class of each noise image: --target, or the classes in turn; --count images (default K)."""
    if args.index is not None:
        raise UsageError("noise makes images from nothing: give --count (how many), not --index")
    if args.target == "random":
        raise UsageError("noise takes --target CLASS (default: every class in turn), not 'random'")
    count = num_classes if args.count is None else args.count
    if count < 1:
        raise UsageError(f"--count must be >= 1, got {count}")
    if args.target is None:
        return np.arange(count) % num_classes
    return np.full(count, _class(args.target, num_classes))


def _markdown(args, described, table, report, indices, classes):
    """attack.md: what was attacked, the statistics, and the first images one by one."""
    per_image = report["per_image"]
    lines = [f"# {args.method} on {args.source}", "", f"{described}; perturbation sizes in pixel units over the "
             f"successful attacks; confidence: the mean softmax probability of the predicted class.", "", table, ""]
    shown = min(len(per_image["success"]), LISTED_IMAGES)
    lines += ["| image | label | target | before | after | L2 | L∞ | success |", "|---|---|---|---|---|---:|---:|---|"]
    lines += [_image_row(per_image, row, classes, indices) for row in range(shown)]
    if shown < len(per_image["success"]):
        lines.append(f"\nThe first {shown} of {len(per_image['success'])} images; attack.json lists them all.")
    return "\n".join(lines) + "\n"


def _image_row(per_image, row, classes, indices):
    """One image's line of attack.md: its classes, the answers before and after, the sizes."""
    def named(key):
        return "–" if per_image[key] is None else str(classes[per_image[key][row]])

    def verdict(when):
        if per_image[f"prediction_{when}"] is None:
            return "–"
        return f"{classes[per_image[f'prediction_{when}'][row]]} ({per_image[f'confidence_{when}'][row]:.1%})"

    sizes = ["–" if per_image[norm] is None else f"{per_image[norm][row]:.3f}" for norm in ("l2", "linf")]
    image = f"noise {row}" if indices is None else str(indices[row])
    return (f"| {image} | {named('label')} | {named('target')} | {verdict('before')} | {verdict('after')} | "
            f"{' | '.join(sizes)} | {'yes' if per_image['success'][row] else 'no'} |")


def _save_images(path, images, adversarial, labels, targets, indices):
    """adversarial.npz: the adversarial images and, where there are any, the originals, labels,
    targets and test-set indices (float32 pixels, int64 classes)."""
    arrays = {"adversarial": np.asarray(adversarial, dtype=np.float32)}
    for key, value in (("original", images), ("labels", labels), ("targets", targets), ("indices", indices)):
        if value is not None:
            arrays[key] = np.asarray(value)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    with atomic_write(path) as file:
        file.write(buffer.getvalue())
