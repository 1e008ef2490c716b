"""Experiment: does each attribution method point at the object? Scored against the true masks.

The lecture shows "object localisation using class saliency": a saliency map, thresholded, boxes
the object. SyntheticShapes draws one shape per image and keeps its pixel mask, so every method
of ``minidl.explain.METHODS`` can be scored on how well its map finds the shape, instead of
judged by eye. Here: the first 200 test images of ``synthetic-shapes``, the shipped LeNet-5 and
ResNet-20 trained on it, the map of the true class's logit (the settings of
``minidl.explain.methods``, reduced over the colour channels by ``scores.CHANNEL_REDUCTION``),
and the scores of ``minidl.explain.scores``:

- pointing game: the map's maximum on the object (tolerance 0 pixels, and 2 pixels, about
  Zhang et al.'s 15 pixels on 224-pixel images scaled to 32);
- fraction inside: the share of the map's |attribution| that lies on the object;
- box IoU: the box of the largest blob of the pixels above the map's 80th percentile against
  the object's box;

beside three baselines that know nothing about the model: uniform noise, a Gaussian at the
centre (sigma = 8 pixels) and a Sobel edge detector run on the image. For the methods with a
sign, a second table scores the positive part (the evidence *for* the class).
"""

import os
import time

import numpy as np

import minidl
from minidl.data import load_dataset, transforms
from minidl.experiments.transfer_setup import markdown_table
from minidl.explain import METHODS, explain
from minidl.explain.methods import DESCRIPTIONS
from minidl.explain.scores import (SIGNED_METHODS, bounding_box, centre_maps, edge_maps, fraction_inside,
                                   largest_component, localisation_scores, method_maps, pointing_game, random_maps,
                                   threshold_region)
from minidl.grad_mode import no_grad
from minidl.plots import save_figure
from minidl.tensor import Tensor
from minidl.zoo import load_pretrained

TITLE = "Explaining a prediction: does each attribution method point at the object?"
MODELS = ("lenet5-synthetic-shapes", "resnet20-synthetic-shapes")
DATASET = "synthetic-shapes"
TOLERANCE = 2      # pixels, the pointing game's second column
PERCENTILE = 80    # the box's threshold
SCORES = ("pointing_game", "pointing_game_r2", "fraction_inside", "bbox_iou")
HEADERS = ("pointing game", f"pointing game (r = {TOLERANCE} px)", "fraction inside", "box IoU")
CENTRE, EDGES = "centre (Gaussian, sigma 8 px)", "edges (Sobel on the image)"


def shapes_test_images(n):
    """The first ``n`` test images of SyntheticShapes: pixels (n, 3, S, S) in [0, 1], labels (n,),
    masks (n, S, S) bools."""
    test_set = load_dataset(DATASET, train=False)
    return test_set.images[:n], np.asarray(test_set.targets[:n]), test_set.masks[:n]


def model_input(model, pixels):
    """The pixels normalised by the statistics the pretrained ``model`` was trained with (float32)."""
    normalize = model.weights_metadata["normalize"]
    return transforms.Normalize(normalize["mean"], normalize["std"])(pixels).astype(np.float32)


def accuracy(model, x, labels):
    with no_grad():
        return float((model(Tensor(x)).numpy().argmax(axis=1) == labels).mean())


def score(maps, masks):
    """The four scores of ``SCORES``, one value per image each."""
    scores = localisation_scores(maps, masks, percentile=PERCENTILE)["per_image"]
    scores["pointing_game_r2"] = pointing_game(maps, masks, tolerance=TOLERANCE)
    return scores


def cell(values):
    """mean ± standard error of the mean."""
    return f"{np.mean(values):.2f} ± {np.std(values) / np.sqrt(len(values)):.2f}"


def run(out, quick=False, data_root=None, log=print):
    n = 6 if quick else 200
    pixels, labels, masks = shapes_test_images(n)
    results, positive, seconds, maps_of, accuracies = {}, {}, {}, {}, {}
    for source in MODELS:
        model = load_pretrained(source)
        x = model_input(model, pixels)
        accuracies[source] = accuracy(model, x, labels)
        results[source], positive[source], seconds[source], maps_of[source] = {}, {}, {}, {}
        for method in METHODS:
            minidl.manual_seed(0)     # SmoothGrad's noise
            began = time.perf_counter()
            attributions = explain(model, x, method, labels)
            seconds[source][method] = time.perf_counter() - began
            maps = method_maps(attributions, method)
            maps_of[source][method] = maps
            results[source][method] = score(maps, masks)
            if method in SIGNED_METHODS:
                evidence = np.maximum(method_maps(attributions, method, signed=True), 0)
                positive[source][method] = {"pointing_game": pointing_game(evidence, masks),
                                            "fraction_inside": fraction_inside(evidence, masks)}
            log(f"{source} {method}: {seconds[source][method]:.1f} s, pointing game "
                f"{results[source][method]['pointing_game'].mean():.2f}")
    size = masks.shape[1]
    baselines = {"random (uniform noise)": random_maps(n, size, size, seed=0),
                 CENTRE: centre_maps(n, size, size),
                 EDGES: edge_maps(pixels)}
    baseline_scores = {name: score(maps, masks) for name, maps in baselines.items()}
    area = masks.mean(axis=(1, 2))

    sections = [f"The first {n} test images of `{DATASET}` ({size}x{size}, one shape each, mean object area "
                f"{100 * area.mean():.1f}% of the image: the chance level of the pointing game and of the fraction "
                f"inside). Maps of the true class's logit; scores as mean ± standard error over the images; the "
                f"maps reduced over the colour channels with max |.| (saliency, SmoothGrad, guided, deconvnet) "
                f"or |sum| (integrated gradients, occlusion, Grad-CAM); box from the pixels above the map's "
                f"{PERCENTILE}th percentile, largest 8-connected blob."]
    for source in MODELS:
        rows = [[f"`{method}`"] + [cell(results[source][method][key]) for key in SCORES]
                + [f"{seconds[source][method]:.1f}"] for method in METHODS]
        rows += [[f"*{name}*"] + [cell(values[key]) for key in SCORES] + ["-"]
                 for name, values in baseline_scores.items()]
        sections.append(f"### `{source}` (accuracy on these images {100 * accuracies[source]:.1f}%)\n\n"
                        + markdown_table(["map", *HEADERS, "seconds"], rows))
    rows = [[f"`{method}`"] + [cell(positive[source][method][key]) for source in MODELS
                               for key in ("pointing_game", "fraction_inside")] for method in SIGNED_METHODS]
    names = [source.split("-")[0] for source in MODELS]
    sections.append("### The positive part of the signed maps (evidence for the class)\n\n"
                    + markdown_table(["map"] + [f"{name}: {what}" for name in names
                                                for what in ("pointing game", "fraction inside")], rows))
    best = []
    for source in MODELS:
        for key, header in zip(SCORES, HEADERS):
            winner = max(METHODS, key=lambda method: results[source][method][key].mean())
            edge, centre = (baseline_scores[name][key].mean() for name in (EDGES, CENTRE))
            best.append(f"`{source}`, {header}: best `{winner}` ({results[source][winner][key].mean():.2f}; "
                        f"edge detector {edge:.2f}, centre {centre:.2f})")
    sections.append("Best method per score:\n\n" + "\n".join(f"- {line}" for line in best))

    plot_scores(results, baseline_scores, os.path.join(out, "scores.png"))
    sections.append("![scores](scores.png)")
    for source in MODELS:
        name = f"examples-{source.split('-')[0]}.png"
        plot_examples({method: maps[:4] for method, maps in maps_of[source].items()}, pixels[:4], masks[:4],
                      os.path.join(out, name), title=f"{source}: maps of the true class; + the maximum, cyan box "
                                                     f"from the map, green box the object's")
        sections.append(f"![examples {source}]({name})")
    sections.append("Methods: " + "; ".join(f"`{method}` {DESCRIPTIONS[method]}" for method in METHODS) + ".")
    return "\n\n".join(sections) + "\n"


def plot_scores(results, baseline_scores, path):
    """One panel per score: a bar per method and model, the baselines as horizontal lines."""
    from matplotlib.figure import Figure
    figure = Figure(figsize=(15, 4.5), layout="constrained")
    panels = figure.subplots(1, 3)
    positions = np.arange(len(METHODS))
    width = 0.8 / len(results)
    styles = ("dotted", "dashed", "dashdot")
    for axes, key, header in zip(panels, ("pointing_game", "fraction_inside", "bbox_iou"),
                                 ("pointing game", "fraction inside", "box IoU")):
        for k, (source, per_method) in enumerate(results.items()):
            axes.bar(positions + (k - (len(results) - 1) / 2) * width,
                     [per_method[method][key].mean() for method in METHODS], width, label=source)
        for style, (name, values) in zip(styles, baseline_scores.items()):
            axes.axhline(values[key].mean(), color="black", linestyle=style, linewidth=1, label=name)
        axes.set_xticks(positions, METHODS, rotation=30)
        axes.set(title=header, ylim=(0, 1))
        axes.grid(axis="y", alpha=0.3)
    handles, names = panels[0].get_legend_handles_labels()
    figure.legend(handles, names, loc="outside lower center", ncol=len(names), fontsize="small")
    save_figure(figure, path)


def _box_patch(box, colour):
    from matplotlib.patches import Rectangle
    top, bottom, left, right = box
    return Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1, fill=False, edgecolor=colour,
                     linewidth=1.5)


def plot_examples(maps, pixels, masks, path, title):
    """Rows of images; columns: the image with its object's outline, then each method's map (its own
    scale, 0 to its 99th percentile) with its maximum (+), the box it finds (cyan) and the object's (green)."""
    from matplotlib.figure import Figure
    n = len(pixels)
    figure = Figure(figsize=(1.6 * (len(maps) + 1), 1.7 * n + 0.6), layout="constrained")
    grid = figure.subplots(n, len(maps) + 1, squeeze=False)
    object_boxes = bounding_box(masks)
    for i in range(n):
        grid[i, 0].imshow(np.clip(pixels[i].transpose(1, 2, 0), 0, 1))
        grid[i, 0].contour(masks[i], levels=[0.5], colors="lime", linewidths=1)
        for j, (method, values) in enumerate(maps.items(), 1):
            axes = grid[i, j]
            axes.imshow(values[i], cmap="hot", vmin=0, vmax=max(np.percentile(values[i], 99), 1e-30))
            found = bounding_box(largest_component(threshold_region(values[i:i + 1], PERCENTILE)))[0]
            axes.add_patch(_box_patch(found, "cyan"))
            axes.add_patch(_box_patch(object_boxes[i], "lime"))
            row, column = np.unravel_index(np.argmax(values[i]), values[i].shape)
            axes.plot(column, row, "+", color="deepskyblue", markersize=9, markeredgewidth=2)
            if i == 0:
                axes.set_title(method, fontsize="medium")
    grid[0, 0].set_title("image", fontsize="medium")
    for axes in grid.ravel():
        axes.set_axis_off()
    figure.suptitle(title, fontsize="medium")
    save_figure(figure, path)
