"""Measuring attacks over a test set: success rate, perturbation sizes, confidence before and after.

    from minidl.explain.adversarial_report import evaluate_attack, format_attack_table
    adversarial, report = evaluate_attack(model, "pgd", images, labels, eps=0.3, alpha=0.01, steps=40, seed=0)
    report["success_rate"], report["l2"]["median"], report["linf"]["max"]
    print(format_attack_table([("pgd eps=0.3", report)]))

An attack *succeeds* on an image when the model's answer on the adversarial image is the target
(targeted attacks, with at least ``min_confidence`` when one is asked for: Nguyen et al.'s 99%) or
differs from the true label (untargeted). An image the model already got wrong counts as a success
of an untargeted attack, as in Madry et al.'s accuracy under attack (``accuracy_after`` is one
minus that rate); ``accuracy_before`` says how many there were.

The size of a perturbation r = x_adv - x is measured per image by ||r||₂ = sqrt(Σ r_i²) and
||r||∞ = max |r_i|, in pixel units, and summarised (mean, median, max) over the *successful*
attacks: what it took to fool the model. The confidence is the softmax probability of the
predicted class, averaged over all images, before (on x) and after (on x_adv).
"""

import time

import numpy as np

from matplotlib.figure import Figure

from minidl.explain.adversarial import check_classes, count_classes, fgsm, pgd, pixel_model, predict
from minidl.explain.adversarial_fooling import fooling_from_noise, make_fooling_image, minimal_perturbation
from minidl.functional.checks import check_int
from minidl.plots import save_figure

__all__ = ["ATTACKS", "attack_report", "evaluate_attack", "format_attack_table", "plot_attack_examples"]

# The attacks by the names the command line uses, with the functions that compute them.
ATTACKS = {"fgsm": fgsm, "pgd": pgd, "fooling": make_fooling_image, "minimal": minimal_perturbation,
           "noise": fooling_from_noise}
# The attacks that must be given a target class: the others are untargeted without one.
TARGETED_ONLY = ("fooling", "minimal", "noise")


def _summary(values):
    """{"mean", "median", "max"} of a 1-D array, or None for an empty one (no successful attack)."""
    if not len(values):
        return None
    return {"mean": float(np.mean(values)), "median": float(np.median(values)), "max": float(np.max(values))}


def attack_report(model, x, adversarial, y=None, target=None, min_confidence=0.0, normalize=None):
    """How an attack did on a batch: success, perturbation sizes and the model's confidence.

    Args:
        model: the attacked classifier (a Module or PixelModel; normalisation as in ``fgsm``).
        x: (N, C, H, W) original pixels in [0, 1], or None for images made from nothing (noise).
        adversarial: (N, C, H, W) the attack's images, pixels in [0, 1].
        y: (N,) true classes, or None; needed for an untargeted attack.
        target: (N,) (or an int) the classes a targeted attack aimed at, or None (untargeted).
        min_confidence: a targeted success also needs p_target(x_adv) >= this.
    Returns a dict (plain Python numbers and lists, ready for JSON):
        images, successes, success_rate;
        l2, linf: {"mean", "median", "max"} of ||x_adv - x|| over the successes (None without x
            or without a success);
        confidence_before, confidence_after: mean softmax probability of the predicted class;
        accuracy_before, accuracy_after: with y, the fraction predicted as y;
        per_image: {"label", "target", "prediction_before", "confidence_before", "prediction_after",
            "confidence_after", "l2", "linf", "success"}, a list (or None) each.
    """
    net = pixel_model(model, normalize, "attack_report")
    after = net.check_images("attack_report", adversarial)
    count = len(after)
    if y is None and target is None:
        raise ValueError("attack_report: give y (untargeted attack) or target (targeted attack)")
    classes = count_classes(net, after) if count else 0
    labels = None if y is None else check_classes("attack_report", "y", y, count, classes)
    targets = None if target is None else check_classes("attack_report", "target", target, count, classes)
    predicted_after, confidence_after = predict(net, after)
    if targets is not None:
        success = (predicted_after == targets) & (confidence_after >= min_confidence)
    else:
        success = predicted_after != labels
    per_image = {"label": _listed(labels), "target": _listed(targets), "prediction_before": None,
                 "confidence_before": None, "prediction_after": predicted_after.tolist(),
                 "confidence_after": confidence_after.tolist(), "l2": None, "linf": None, "success": success.tolist()}
    report = {"images": count, "successes": int(success.sum()), "success_rate": _mean(success), "l2": None,
              "linf": None, "confidence_before": None, "confidence_after": _mean(confidence_after),
              "accuracy_before": None, "accuracy_after": None if labels is None else _mean(predicted_after == labels)}
    if x is not None:
        before = net.check_images("attack_report", x)
        if before.shape != after.shape:
            raise ValueError(f"attack_report: x has shape {before.shape} but adversarial has {after.shape}")
        predicted_before, confidence_before = predict(net, before)
        perturbation = (after - before).reshape(count, -1)
        l2, linf = np.sqrt((perturbation ** 2).sum(axis=1)), np.abs(perturbation).max(axis=1, initial=0.0)
        per_image.update(prediction_before=predicted_before.tolist(), confidence_before=confidence_before.tolist(),
                         l2=l2.tolist(), linf=linf.tolist())
        report.update(l2=_summary(l2[success]), linf=_summary(linf[success]),
                      confidence_before=_mean(confidence_before),
                      accuracy_before=None if labels is None else _mean(predicted_before == labels))
    return {**report, "per_image": per_image}


def _mean(values):
    """The mean as a Python float, None for no values."""
    return float(np.mean(values)) if len(values) else None


def _listed(values):
    return None if values is None else values.tolist()


def evaluate_attack(model, method, x=None, y=None, target=None, batch_size=256, normalize=None, **options):
    """Run the attack called ``method`` over a set of images in batches and report how it did.

    Args:
        model: the classifier (a Module or PixelModel).
        method: a name of ``ATTACKS``: "fgsm", "pgd" (untargeted without target, targeted with),
            "fooling", "minimal" (targeted: need target) or "noise" (needs target only: one noise
            image per target; x and y are not used).
        x: (N, C, H, W) pixels in [0, 1]; y: (N,) true classes; target: an int or (N,) classes.
        batch_size: images per call of the attack (the attacks treat images independently).
        options: the attack's own arguments (eps, alpha, steps, norm, lr, max_iter, c, ...); a
            ``seed`` makes one generator that all batches draw from, so the result does not
            depend on the batch size.
    Returns (adversarial images float64 (N, C, H, W), report): ``attack_report``'s dict, with
    ``time_s``, the attack's wall time in seconds.
    """
    if method not in ATTACKS:
        raise ValueError(f"evaluate_attack: unknown method {method!r}; the methods: {', '.join(ATTACKS)}")
    if method in TARGETED_ONLY and target is None:
        raise ValueError(f"evaluate_attack: {method} reaches a class of your choosing; give target")
    batch_size = check_int("evaluate_attack", "batch_size", batch_size, 1)
    net = pixel_model(model, normalize, "evaluate_attack")
    if "seed" in options:
        options["seed"] = np.random.default_rng(options["seed"])
    started = time.perf_counter()
    if method == "noise":
        adversarial = fooling_from_noise(net, target, **options)
        report = attack_report(net, None, adversarial, target=target, min_confidence=options.get("confidence", 0.99))
        return adversarial, {**report, "time_s": time.perf_counter() - started}
    images = net.check_images("evaluate_attack", x)
    classes = count_classes(net, images) if len(images) else 0
    labels = None if y is None else check_classes("evaluate_attack", "y", y, len(images), classes)
    targets = None if target is None else check_classes("evaluate_attack", "target", target, len(images), classes)
    batches = []
    for start in range(0, len(images), batch_size):
        part = slice(start, start + batch_size)
        batch_target = None if targets is None else targets[part]
        if method in ("fgsm", "pgd"):
            batches.append(ATTACKS[method](net, images[part], None if labels is None else labels[part],
                                           targeted=targets is not None, target=batch_target, **options))
        else:
            batches.append(ATTACKS[method](net, images[part], batch_target, **options))
    adversarial = np.concatenate(batches) if batches else images.copy()
    elapsed = time.perf_counter() - started
    return adversarial, {**attack_report(net, images, adversarial, labels, targets), "time_s": elapsed}


def format_attack_table(rows):
    """A markdown table of attack reports: rows is a list of (name, report) pairs.

    Columns: the attack, images, success rate, ||r||₂ and ||r||∞ over the successes (mean,
    median, max), the mean confidence before -> after, and the wall time when recorded.
    """
    lines = ["| attack | images | success | L2 mean | L2 median | L2 max | L∞ mean | L∞ median | L∞ max | "
             "confidence before → after | time (s) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for name, report in rows:
        sizes = [_cell(report[norm] and report[norm][key], ".3f") for norm in ("l2", "linf")
                 for key in ("mean", "median", "max")]
        success = f"{_cell(report['success_rate'], '.1%')} ({report['successes']})"
        confidence = f"{_cell(report['confidence_before'], '.3f')} → {_cell(report['confidence_after'], '.3f')}"
        lines.append(f"| {name} | {report['images']} | {success} | {' | '.join(sizes)} | {confidence} | "
                     f"{_cell(report.get('time_s'), '.1f')} |")
    return "\n".join(lines)


def _cell(value, spec):
    """A number of the table in format ``spec``, or "–" where there is none."""
    return "–" if value is None else format(value, spec)


def plot_attack_examples(x, adversarial, report, classes, path, title=None, rows=8):
    """A figure of the first ``rows`` images: original, perturbation magnified, adversarial.

    Args:
        x: (N, C, H, W) original pixels, or None (noise images: only the images are drawn, up to
            five a row).
        adversarial: (N, C, H, W) the attack's images.
        report: ``attack_report``'s dict for them (its per-image predictions and confidences
            title each picture).
        classes: the class names, indexed by class.
        path: the PNG to write (atomically); title: heads the figure.
    The perturbation r is drawn as 0.5 + r / (2m), m = max |r| of that image: mid-grey is no
    change and black/white are -m/+m (m is in its title), per colour channel for colour images.
    Returns the matplotlib Figure.
    """
    per_image = report["per_image"]
    adversarial = np.asarray(adversarial, dtype=np.float64)
    shown = min(check_int("plot_attack_examples", "rows", rows, 1), len(adversarial))
    if x is None:
        return _plot_fooling_images(adversarial[:shown], per_image, classes, path, title)
    figure = Figure(figsize=(7.6, 2.5 * shown + 0.6), layout="constrained")
    grid = figure.subplots(shown, 3, squeeze=False)
    for row in range(shown):
        original = np.asarray(x[row], dtype=np.float64)
        perturbation = adversarial[row] - original
        largest = float(np.abs(perturbation).max())
        label = "" if per_image["label"] is None else f"\nlabel: {classes[per_image['label'][row]]}"
        aim = "" if per_image["target"] is None else f"\ntarget: {classes[per_image['target'][row]]}"
        _show(grid[row, 0], original, f"original: {_answer(per_image, 'before', row, classes)}{label}")
        _show(grid[row, 1], 0.5 + perturbation / (2 * largest) if largest > 0 else np.full_like(original, 0.5),
              f"perturbation ±{largest:.3f}\n‖r‖₂ = {per_image['l2'][row]:.3f}")
        _show(grid[row, 2], adversarial[row], f"adversarial: {_answer(per_image, 'after', row, classes)}{aim}")
    if title:
        figure.suptitle(title, fontsize="medium")
    save_figure(figure, path)
    return figure


def _plot_fooling_images(images, per_image, classes, path, title):
    """Images made from nothing (N, C, H, W), up to five a row, each titled with the model's answer."""
    columns = min(len(images), 5)
    grid_rows = -(-len(images) // columns)
    figure = Figure(figsize=(max(2.4 * columns, 6.0), 2.5 * grid_rows + 0.6), layout="constrained")
    grid = figure.subplots(grid_rows, columns, squeeze=False)
    for index, axes in enumerate(grid.flat):
        axes.set_axis_off()
        if index < len(images):
            _show(axes, images[index], _answer(per_image, "after", index, classes))
    if title:
        figure.suptitle(title, fontsize="medium")
    save_figure(figure, path)
    return figure


def _answer(per_image, when, row, classes):
    """ "3 - three (99.2%)": the model's class and its probability, "before" or "after" the attack."""
    return f"{classes[per_image[f'prediction_{when}'][row]]} ({per_image[f'confidence_{when}'][row]:.1%})"


def _show(axes, image, text):
    """Draw one (C, H, W) image in [0, 1]: grey for C = 1, colour for C = 3."""
    axes.set_axis_off()
    if image.shape[0] == 1:
        axes.imshow(image[0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        axes.imshow(np.clip(image.transpose(1, 2, 0), 0, 1), interpolation="nearest")
    axes.set_title(text, fontsize="small")
