"""Experiment: sanity checks for the attribution maps (Adebayo et al. 2018). Do they change with the model?

Two randomisation tests, each measured by Spearman's rank correlation rho between the maps of
the trained model and of the changed one, per image (``minidl.explain.sanity``):

- Cascading model randomisation: the parameterised layers of the shipped LeNet-5 re-initialised
  one by one from the output (fc3) to the input (conv1), on 24 test images; and the shipped
  ResNet-20 stage by stage (fc, layer3, layer2, layer1, then the stem's bn1 and conv1), on 12.
  Re-initialised means each layer's own initialisation (PyTorch's: uniform weights for
  convolutions and linear layers; scale 1, shift 0 and fresh running statistics for batch norm).
- Data randomisation: two LeNet-5s trained with the same recipe on the same 500 training images,
  one on the true labels, one on the labels shuffled at random (it can only memorise them), and
  their maps compared on the same 24 test images. The shipped model (10,000 images) is compared
  with the true-label one as a reference: how much two models that both learnt the task differ.

The maps explain the true class's logit at every step, with the same SmoothGrad noise.
A method whose maps keep a high rho after the weights are destroyed shows the image (through
the architecture), not what the model learnt.
"""

import os

import numpy as np

import minidl
from minidl import optim
from minidl.data import DataLoader, TensorDataset, load_dataset, transforms
from minidl.experiments.explain_localisation import DATASET, model_input, shapes_test_images
from minidl.experiments.transfer_setup import markdown_table
from minidl.explain import METHODS, explain
from minidl.explain.sanity import cascading_randomization_scores, rank_correlations
from minidl.explain.scores import SIGNED_METHODS, method_maps
from minidl.plots import save_figure
from minidl.train import evaluate, fit
from minidl.zoo import get_model, load_pretrained

TITLE = "Explaining a prediction: sanity checks (Adebayo et al. 2018): do the maps change with the model?"
# source -> (test images, the cascade's steps: None for every parameterised layer)
CASCADES = {"lenet5-synthetic-shapes": (24, None),
            "resnet20-synthetic-shapes": (12, ["fc", "layer3", "layer2", "layer1", "bn1", "conv1"])}
SHUFFLED = dict(images=500, epochs=30, batch_size=64, lr=3e-3, seed=0)
THRESHOLD = 0.5   # rho after the whole cascade at or above which a method "barely changes"


def correlation_cell(values):
    """The mean rho over the images, with how many images had no defined rho (a constant map)."""
    defined = values[~np.isnan(values)]
    if defined.size == 0:
        return "undefined"
    undefined = values.size - defined.size
    return f"{defined.mean():.2f}" + (f" ({undefined} n/a)" if undefined else "")


def other_image(maps):
    """rho between each image's map and the next image's (the last with the first), (N, H, W) -> (N,)."""
    return rank_correlations(maps, np.roll(maps, -1, axis=0))


def nanmean(values, axis=None):
    """The mean of the defined values (rho is undefined for a constant map)."""
    defined = ~np.isnan(values)
    return np.where(defined, values, 0).sum(axis=axis) / np.maximum(defined.sum(axis=axis), 1)


def train_lenet(pixels, labels, normalize, epochs, log):
    """A LeNet-5 trained on ``pixels`` (N, 3, 32, 32) with ``labels`` by the ``SHUFFLED`` recipe (Adam,
    no augmentation) for ``epochs``; its accuracy on those labels at the end (in evaluation mode) and
    the training time."""
    minidl.manual_seed(SHUFFLED["seed"])
    model = get_model("lenet5", num_classes=5, in_channels=3, image_size=pixels.shape[-1])
    optimizer = optim.Adam(model.parameters(), lr=SHUFFLED["lr"])
    transform = transforms.Normalize(normalize["mean"], normalize["std"])
    loader = DataLoader(TensorDataset(pixels, labels), SHUFFLED["batch_size"], shuffle=True, transform=transform,
                        seed=SHUFFLED["seed"])
    history = fit(model, optimizer, loader, epochs, progress=False, log=None)
    _, train_accuracy, _ = evaluate(model, DataLoader(TensorDataset(pixels, labels), 256, transform=transform))
    log(f"trained a LeNet-5 for {epochs} epochs in {sum(history['time']):.0f} s: accuracy "
        f"{train_accuracy:.3f} on its training labels")
    return model.eval(), train_accuracy, sum(history["time"])


def maps_of(model, x, target):
    """{method: (absolute maps (N, H, W), signed maps or None)} of every method, SmoothGrad's noise fixed."""
    maps = {}
    for method in METHODS:
        minidl.manual_seed(0)
        attributions = explain(model, x, method, target)
        maps[method] = (method_maps(attributions, method),
                        method_maps(attributions, method, signed=True) if method in SIGNED_METHODS else None)
    return maps


def data_randomisation(n, quick, log):
    """Train the true-label and shuffled-label LeNet-5s; their maps and rank correlations on ``n`` test images."""
    train_set = load_dataset(DATASET, train=True)
    count, epochs = (40, 2) if quick else (SHUFFLED["images"], SHUFFLED["epochs"])
    pixels, labels = train_set.images[:count], np.asarray(train_set.targets[:count])
    shuffled = np.random.default_rng(SHUFFLED["seed"]).permutation(labels)
    shipped = load_pretrained("lenet5-synthetic-shapes")
    normalize = shipped.weights_metadata["normalize"]
    test_pixels, test_labels, _ = shapes_test_images(1000 if not quick else 40)
    test_x = model_input(shipped, test_pixels)
    models, rows = {"shipped": shipped}, []
    for name, targets in (("true labels", labels), ("shuffled labels", shuffled)):
        model, train_accuracy, seconds = train_lenet(pixels, targets, normalize, epochs, log)
        _, test_accuracy, _ = evaluate(model, DataLoader(TensorDataset(test_x, test_labels), 256))
        models[name] = model
        rows.append([f"LeNet-5, {len(pixels)} images, {name}", f"{100 * train_accuracy:.1f}%",
                     f"{100 * test_accuracy:.1f}%", f"{seconds:.0f} s"])
    _, shipped_accuracy, _ = evaluate(shipped, DataLoader(TensorDataset(test_x, test_labels), 256))
    rows.insert(0, ["shipped LeNet-5 (10,000 images, augmented, 15 epochs)", "-", f"{100 * shipped_accuracy:.1f}%",
                    "-"])
    x, target = test_x[:n], test_labels[:n]
    maps = {name: maps_of(model, x, target) for name, model in models.items()}
    recipe = (f"the first {count} training images, Adam at {SHUFFLED['lr']}, batches of {SHUFFLED['batch_size']}, "
              f"{epochs} epochs, seed {SHUFFLED['seed']}, no augmentation")
    return maps, recipe, markdown_table(["model", "accuracy on its training labels",
                                         f"test accuracy ({len(test_x)} images)", "training time"], rows)


def run(out, quick=False, data_root=None, log=print):
    sections = []
    cascade_results = {}
    for source, (n, layers) in CASCADES.items():
        n = 2 if quick else n
        model = load_pretrained(source)
        pixels, labels, _ = shapes_test_images(n)
        minidl.manual_seed(0)       # the new weights
        result = cascading_randomization_scores(model, model_input(model, pixels), labels, layers=layers)
        cascade_results[source] = result
        log(f"{source}: cascade of {len(result['steps']) - 1} steps done")
        steps = result["steps"][1:]
        headers = ["method"] + [f"up to {step}" for step in steps] + ["reference: another image"]
        absolute = markdown_table(headers, [[f"`{method}`"] + [correlation_cell(row) for row in rho]
                                            + [correlation_cell(other_image(result["maps"][method][0]))]
                                            for method, rho in result["absolute"].items()])
        signed = markdown_table(headers, [[f"`{method}`"] + [correlation_cell(row) for row in rho]
                                          + [correlation_cell(other_image(result["signed_maps"][method][0]))]
                                          for method, rho in result["signed"].items()])
        last = {method: nanmean(rho[-1]) for method, rho in result["absolute"].items()}
        unchanged = [f"`{method}` ({value:.2f})" for method, value in last.items() if value >= THRESHOLD]
        name = source.split("-")[0]
        plot_grid({method: list(maps[:, 0]) for method, maps in result["maps"].items()},
                  ["trained"] + [f"+ {step}" for step in steps], pixels[0],
                  os.path.join(out, f"cascade-{name}.png"),
                  f"{source}: cascading randomisation from the output (each map on its own scale)")
        plot_correlations(result, os.path.join(out, f"correlation-{name}.png"), source)
        sections.append(
            f"### Cascading randomisation of `{source}`, {n} test images\n\n"
            f"Mean Spearman rho between the trained model's maps and the maps after re-initialising every layer "
            f"from the output down to the one named (n/a: images whose map became constant, where rho is "
            f"undefined). The last column is the trained model's map of each image against its map of the next "
            f"image: the part of a map that does not depend on the image (the architecture's imprint), a level "
            f"at which a map has lost what is specific to its image. Absolute maps:\n\n{absolute}\n\n"
            f"Signed maps (the methods with a sign):\n\n{signed}\n\n"
            f"With every step done, rho >= {THRESHOLD} for: {', '.join(unchanged) if unchanged else 'no method'}.\n\n"
            f"![cascade {name}](cascade-{name}.png)\n\n![correlation {name}](correlation-{name}.png)")

    n = 2 if quick else CASCADES["lenet5-synthetic-shapes"][0]
    maps, recipe, accuracy_table = data_randomisation(n, quick, log)
    rows = []
    for method in METHODS:
        pairs = (("shuffled labels", "true labels", 0), ("shuffled labels", "true labels", 1),
                 ("shuffled labels", "shipped", 0), ("true labels", "shipped", 0))
        rows.append([f"`{method}`"] + [correlation_cell(rank_correlations(maps[a][method][k], maps[b][method][k]))
                                       if maps[a][method][k] is not None else "-" for a, b, k in pairs])
    table = markdown_table(["method", "shuffled vs true labels, absolute", "shuffled vs true labels, signed",
                            "shuffled vs shipped, absolute", "true labels vs shipped, absolute (reference)"], rows)
    pixels, _, _ = shapes_test_images(1)
    plot_grid({method: [maps[name][method][0][0] for name in maps] for method in METHODS},
              list(maps), pixels[0], os.path.join(out, "data-randomisation.png"),
              "LeNet-5 trained on true and on shuffled labels (each map on its own scale)")
    sections.append(
        f"### Data randomisation: LeNet-5 trained on shuffled labels, {n} test images\n\n"
        f"The same recipe for both: {recipe}; the shuffled labels are a random permutation of the true "
        f"ones (NumPy seed {SHUFFLED['seed']}).\n\n{accuracy_table}\n\nMean Spearman rho of the maps (of the true "
        f"class):\n\n{table}\n\n![data randomisation](data-randomisation.png)")
    return "\n\n".join(sections) + "\n"


def plot_grid(rows, columns, image, path, title):
    """Rows of maps {method: [(H, W) per column]} beside the image, each map on its own grey scale
    (0 to its 99th percentile), as Adebayo et al.'s figures: what counts is the pattern, not the size."""
    from matplotlib.figure import Figure
    figure = Figure(figsize=(1.5 * (len(columns) + 1) + 0.6, 1.5 * len(rows) + 0.6), layout="constrained")
    grid = figure.subplots(len(rows), len(columns) + 1, squeeze=False)
    for i, (method, maps) in enumerate(rows.items()):
        grid[i, 0].imshow(np.clip(image.transpose(1, 2, 0), 0, 1))
        grid[i, 0].text(-0.1, 0.5, method, transform=grid[i, 0].transAxes, rotation=90, ha="right", va="center")
        for j, values in enumerate(maps, 1):
            grid[i, j].imshow(values, cmap="gray", vmin=0, vmax=max(np.percentile(values, 99), 1e-30))
    for j, name in enumerate(["image"] + list(columns)):
        grid[0, j].set_title(name, fontsize="small")
    for axes in grid.ravel():
        axes.set_xticks([])
        axes.set_yticks([])
    figure.suptitle(title, fontsize="medium")
    save_figure(figure, path)


def plot_correlations(result, path, source):
    """Mean rho over the images (± one standard deviation shaded) against the cascade's steps, for the
    absolute and the signed maps."""
    from matplotlib.figure import Figure
    figure = Figure(figsize=(12, 4.2), layout="constrained")
    steps = result["steps"]
    for axes, kind in zip(figure.subplots(1, 2), ("absolute", "signed")):
        for method, rho in result[kind].items():
            values = np.vstack([np.ones((1, rho.shape[1])), rho])    # rho = 1 before any step
            mean = nanmean(values, axis=1)
            spread = np.sqrt(nanmean((values - mean[:, None]) ** 2, axis=1))
            colour = f"C{METHODS.index(method)}"    # one colour per method in both panels
            axes.plot(range(len(steps)), mean, marker="o", color=colour, label=method)
            axes.fill_between(range(len(steps)), mean - spread, mean + spread, color=colour, alpha=0.12)
        axes.axhline(0, color="black", linewidth=0.8)
        axes.set_xticks(range(len(steps)), steps, rotation=30, ha="right")
        axes.set(ylim=(-0.6, 1.05), ylabel="Spearman rho with the trained model's maps",
                 title=f"{kind} maps", xlabel="randomised from the output down to")
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    figure.suptitle(f"{source}: cascading randomisation", fontsize="medium")
    save_figure(figure, path)
