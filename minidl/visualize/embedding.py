"""Feature space seen in two dimensions (PCA, t-SNE), and the nearest neighbours of an image in it.

    features, labels = extract_features(model, test_set, "classifier.fc3", capture="input",
                                        transform=normalize)               # the last layer's input
    result = embed(features, "pca", labels=labels, classes=classes, images=test_set.images,
                   thumbnails=40, path="pca.png")
    near = nearest_neighbours(features, queries=[0, 1, 2], k=8, images=test_set.images, path="nn.png")

A trained network maps each image to a feature vector (the input of its last layer, 84 numbers
for LeNet-5, 4096 for AlexNet's fc7); the classifier only has to separate the classes there. Two
ways to look at that space:

- **PCA** (built in): centre the features, X_c = X - mean, and take the singular value
  decomposition X_c = U S V^T. The first two right singular vectors v_1, v_2 are the directions
  of largest variance; the points are X_c [v_1 v_2] = U[:, :2] S[:2], and each direction explains
  s_i^2 / sum_j s_j^2 of the variance. It is linear: what it shows is really there, but classes
  that are separable along many directions can overlap in two.
- **t-SNE** (van der Maaten and Hinton, 2008) places the points so that neighbours in feature
  space stay neighbours on the page; distances between clusters and cluster sizes mean little.
  It comes from scikit-learn (``pip install "minidl[tsne]"``), not written here.

The nearest neighbours of an image in feature space (the Euclidean distance between feature
vectors) are the images the network finds most alike: for a good network, the same class in other
poses and sizes, although far apart in pixels (Krizhevsky et al. 2012, figure 4).
"""

from collections import namedtuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.offsetbox import AnnotationBbox, OffsetImage

from minidl.kernels import is_int
from minidl.plots import save_figure
from minidl.tensor import Tensor
from minidl.visualize.inputs import check_pictures
from minidl.visualize.pictures import rgb, show

__all__ = ["Embedding", "Neighbours", "METHODS", "pca", "embed", "nearest_neighbours"]

METHODS = ("pca", "tsne")

# points: (N, 2) coordinates; explained: the fraction of the variance along each of the two
# axes (PCA), or None (t-SNE); figure: the matplotlib Figure.
Embedding = namedtuple("Embedding", ["points", "explained", "figure"])
# indices, distances: (Q, k) the neighbours of each query, nearest first; figure.
Neighbours = namedtuple("Neighbours", ["indices", "distances", "figure"])


def _features(where, features):
    array = np.asarray(features.numpy() if isinstance(features, Tensor) else features, dtype=np.float64)
    if array.ndim != 2 or len(array) < 2:
        raise ValueError(f"{where}: expected features of shape (N, D) with N >= 2, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{where}: the features hold NaN or infinite values")
    return array


def pca(features, dims=2):
    """Principal components by SVD of the centred features.

    Args:
        features: (N, D).
        dims: how many components, 1 <= dims <= min(N, D).
    Returns:
        (points (N, dims) = U[:, :dims] S[:dims], explained (dims,) = s_i^2 / sum_j s_j^2). Each
        axis's sign is chosen so that its largest |coordinate| is positive (scikit-learn's
        convention), which makes the result unique.
    """
    x = _features("pca", features)
    if isinstance(dims, bool) or not is_int(dims) or not 1 <= dims <= min(x.shape):
        raise ValueError(f"pca: dims must be an int from 1 to min(N, D) = {min(x.shape)}, got {dims!r}")
    centred = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    points = u[:, :dims] * s[:dims]
    signs = np.sign(points[np.abs(points).argmax(axis=0), np.arange(dims)])
    points = points * np.where(signs == 0, 1, signs)
    total = float((s ** 2).sum())
    return points, (s[:dims] ** 2 / total if total > 0 else np.zeros(dims))


def _tsne(x, seed, perplexity):
    try:
        from sklearn.manifold import TSNE
    except ImportError as error:
        raise ImportError("embed: method='tsne' needs scikit-learn; install it with pip install \"minidl[tsne]\" "
                          "(or pip install scikit-learn), or use method='pca'") from error
    perplexity = min(perplexity, (len(x) - 1) / 3)   # scikit-learn needs perplexity < N
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def embed(features, method="pca", labels=None, classes=None, images=None, thumbnails=0, seed=0, perplexity=30.0,
          path=None, title=None):
    """Two-dimensional coordinates of feature vectors, drawn as a scatter plot coloured by class.

    Args:
        features: (N, D) feature vectors.
        method: "pca" or "tsne" (module docstring).
        labels: (N,) class of each point, to colour by; classes: their names, for the legend.
        images: (N, C, H, W) pictures in [0, 1] of the points, for thumbnails.
        thumbnails: how many points to draw as their picture (spread over the data: every
            (N // thumbnails)-th point).
        seed: t-SNE's random state; perplexity: t-SNE's effective number of neighbours.
        path: where to write the PNG; title: heads the figure.
    Returns:
        ``Embedding(points (N, 2), explained, figure)``.
    """
    x = _features("embed", features)
    if method not in METHODS:
        raise ValueError(f"embed: method must be one of {', '.join(METHODS)}, got {method!r}")
    labels = None if labels is None else np.asarray(labels)
    if labels is not None and labels.shape != (len(x),):
        raise ValueError(f"embed: expected one label per point ({len(x)}), got shape {labels.shape}")
    if isinstance(thumbnails, bool) or not is_int(thumbnails) or thumbnails < 0:
        raise ValueError(f"embed: thumbnails must be an int >= 0, got {thumbnails!r}")
    if thumbnails and images is None:
        raise ValueError("embed: thumbnails need the images of the points (images=...)")
    pictures = None if images is None else check_pictures("embed", images)
    if pictures is not None and len(pictures) != len(x):
        raise ValueError(f"embed: {len(pictures)} images for {len(x)} points")
    if method == "pca":
        points, explained = pca(x, 2)
    else:
        points, explained = _tsne(x, seed, perplexity), None
    figure = Figure(figsize=(8, 7), layout="constrained")
    axes = figure.subplots()
    colours = np.zeros(len(x)) if labels is None else labels
    scatter = axes.scatter(points[:, 0], points[:, 1], c=colours, cmap="tab10", s=8, alpha=0.8,
                           vmin=0, vmax=max(9, int(colours.max())))
    if labels is not None:
        present = np.unique(labels)
        handles = scatter.legend_elements(num=list(present))[0]
        names = [str(classes[c]) if classes is not None else str(c) for c in present]
        axes.legend(handles, names, fontsize="small", loc="best", markerscale=1.2)
    for n in range(0, len(x), max(1, len(x) // thumbnails)) if thumbnails else ():
        box = OffsetImage(rgb(pictures[n]), zoom=0.9, interpolation="nearest")
        axes.add_artist(AnnotationBbox(box, points[n], frameon=False))
    if method == "pca":
        axes.set(xlabel=f"PC 1 ({100 * explained[0]:.1f}% of the variance)",
                 ylabel=f"PC 2 ({100 * explained[1]:.1f}% of the variance)")
    else:
        axes.set(xlabel="t-SNE 1", ylabel="t-SNE 2")
    heading = f"{len(x)} feature vectors of {x.shape[1]} numbers, {'PCA' if method == 'pca' else 't-SNE'}"
    axes.set_title(f"{title}\n{heading}" if title else heading, fontsize="medium")
    if path is not None:
        save_figure(figure, path)
    return Embedding(points, explained, figure)


def nearest_neighbours(features, queries, k=5, images=None, labels=None, batch_size=1024, path=None, title=None):
    """The k nearest feature vectors (Euclidean) of each query, itself left out.

    Args:
        features: (N, D).
        queries: indices of rows of ``features`` (an int or a list).
        k: neighbours per query, 1 <= k <= N - 1.
        images: (N, C, H, W) pictures in [0, 1], to draw the grid (query, then its neighbours).
        labels: (N,) classes, written over the pictures.
        batch_size: feature rows compared with the queries at once (bounds the memory).
        path: where to write the PNG (needs ``images``); title: heads the figure.
    Returns:
        ``Neighbours(indices (Q, k), distances (Q, k), figure or None without images)``.
        ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b, computed in float64 for a batch of rows at a
        time; ties go to the smaller index.
    """
    x = _features("nearest_neighbours", features)
    chosen = np.atleast_1d(np.asarray(queries))
    if chosen.ndim != 1 or chosen.size == 0 or chosen.dtype.kind not in "iu":
        raise ValueError(f"nearest_neighbours: queries must be row indices (an int or a list of ints), got {queries!r}")
    if ((chosen < 0) | (chosen >= len(x))).any():
        raise ValueError(f"nearest_neighbours: query {chosen[(chosen < 0) | (chosen >= len(x))][0]} is out of range "
                         f"for {len(x)} feature vectors")
    if isinstance(k, bool) or not is_int(k) or not 1 <= k <= len(x) - 1:
        raise ValueError(f"nearest_neighbours: k must be an int from 1 to N - 1 = {len(x) - 1}, got {k!r}")
    if path is not None and images is None:
        raise ValueError("nearest_neighbours: drawing the grid (path=...) needs the images")
    q = x[chosen]
    squared = np.empty((len(chosen), len(x)))
    for start in range(0, len(x), batch_size):
        rows = x[start:start + batch_size]
        squared[:, start:start + len(rows)] = ((q ** 2).sum(1)[:, None] + (rows ** 2).sum(1)[None]
                                               - 2 * q @ rows.T)
    squared[np.arange(len(chosen)), chosen] = np.inf   # not its own neighbour
    order = np.argsort(squared, axis=1, kind="stable")[:, :k]
    distances = np.sqrt(np.maximum(np.take_along_axis(squared, order, axis=1), 0))
    figure = None
    if images is not None:
        pictures = check_pictures("nearest_neighbours", images)
        figure = _neighbour_grid(pictures, chosen, order, distances, labels, title)
        if path is not None:
            save_figure(figure, path)
    return Neighbours(order, distances, figure)


def _neighbour_grid(pictures, queries, order, distances, labels, title):
    """One row per query: the query, then its neighbours nearest first, each with its distance."""
    rows, columns = len(queries), order.shape[1] + 1
    # A fixed layout: matplotlib's constrained layout takes seconds to place a hundred small panels.
    figure = Figure(figsize=(1.1 * columns + 0.4, 1.25 * rows + 1.1))
    grid = figure.subplots(rows, columns, squeeze=False,
                           gridspec_kw=dict(left=0.02, right=0.98, bottom=0.02, top=1 - 1.0 / (1.25 * rows + 1.1),
                                            wspace=0.1, hspace=0.35))
    for r, query in enumerate(queries):
        label = f" ({labels[query]})" if labels is not None else ""
        show(grid[r, 0], rgb(pictures[query]), f"query{label}")
        for c, (n, distance) in enumerate(zip(order[r], distances[r]), start=1):
            label = f" ({labels[n]})" if labels is not None else ""
            show(grid[r, c], rgb(pictures[n]), f"{distance:.2f}{label}")
    heading = "nearest neighbours in feature space (Euclidean distance)"
    figure.suptitle(f"{title}\n{heading}" if title else heading, fontsize="medium")
    return figure
