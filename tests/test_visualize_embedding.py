"""minidl.visualize.embed, pca and nearest_neighbours: PCA equal to the SVD of the centred data (and
to scikit-learn's), t-SNE through scikit-learn or a clear message, neighbours by brute force."""

import sys

import numpy as np
import pytest
from matplotlib.offsetbox import AnnotationBbox

from minidl.visualize import embed, nearest_neighbours, pca


def clustered(count=60, dims=5, seed=0):
    """Three well separated clusters in ``dims`` dimensions, with their labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), count // 3)
    centres = rng.normal(scale=10, size=(3, dims))
    return centres[labels] + rng.normal(size=(count, dims)), labels


def test_pca_is_the_svd_of_the_centred_features():
    x, _ = clustered()
    points, explained = pca(x, 3)
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    for axis in range(3):   # each axis up to its sign: X_c v_i = u_i s_i
        projected = centred @ vt[axis]
        sign = np.sign(projected @ points[:, axis])
        assert np.allclose(points[:, axis], sign * projected, rtol=1e-12, atol=1e-10)
        assert np.abs(points[:, axis]).max() == points[np.abs(points[:, axis]).argmax(), axis]   # largest positive
    assert np.allclose(explained, s[:3] ** 2 / (s ** 2).sum(), rtol=1e-12)
    _, plane = pca(np.c_[x[:, :2], x[:, :2] @ [[1.0], [2.0]]], 2)   # rank 2: two axes explain everything
    assert plane.sum() == pytest.approx(1.0, rel=1e-12)


def test_pca_agrees_with_scikit_learn():
    decomposition = pytest.importorskip("sklearn.decomposition")
    x, _ = clustered(dims=7, seed=1)
    points, explained = pca(x, 2)
    reference = decomposition.PCA(n_components=2, svd_solver="full").fit(x)
    theirs = reference.transform(x)
    assert np.allclose(np.abs(points), np.abs(theirs), rtol=1e-10, atol=1e-10)
    assert np.allclose(explained, reference.explained_variance_ratio_, rtol=1e-10)


def test_the_scatter_is_coloured_by_class_with_thumbnails(tmp_path):
    x, labels = clustered()
    images = np.random.default_rng(0).uniform(0, 1, (len(x), 1, 6, 6)).astype(np.float32)
    result = embed(x, "pca", labels=labels, classes=["a", "b", "c"], images=images, thumbnails=6,
                   path=tmp_path / "pca.png")
    axes = result.figure.axes[0]
    assert np.array_equal(axes.collections[0].get_array(), labels)
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["a", "b", "c"]
    assert sum(isinstance(artist, AnnotationBbox) for artist in axes.artists) == 6
    assert axes.get_xlabel().startswith("PC 1 (") and (tmp_path / "pca.png").stat().st_size > 0
    assert np.array_equal(result.points, pca(x, 2)[0])


def test_tsne_comes_from_scikit_learn_and_keeps_clusters_apart():
    pytest.importorskip("sklearn.manifold")
    x, labels = clustered()
    first, again = embed(x, "tsne", labels=labels, seed=3), embed(x, "tsne", labels=labels, seed=3)
    assert first.points.shape == (60, 2) and first.explained is None
    assert np.array_equal(first.points, again.points)   # the seed fixes it
    near = nearest_neighbours(first.points, np.arange(60), k=5)
    assert np.mean(labels[near.indices] == labels[:, None]) == 1.0


def test_tsne_without_scikit_learn_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.manifold", None)   # import fails as if not installed
    with pytest.raises(ImportError, match=r"embed: method='tsne' needs scikit-learn; install it with pip install "
                                          r"\"minidl\[tsne\]\" \(or pip install scikit-learn\), or use method='pca'"):
        embed(clustered()[0], "tsne")


def test_nearest_neighbours_are_those_of_a_brute_force_search(tmp_path):
    x, labels = clustered(30, seed=2)
    queries = [0, 11, 29]
    result = nearest_neighbours(x, queries, k=4, images=np.zeros((30, 3, 4, 4)), labels=labels,
                                path=tmp_path / "nn.png")
    for row, q in enumerate(queries):
        distances = np.linalg.norm(x - x[q], axis=1)
        distances[q] = np.inf   # not its own neighbour
        order = np.argsort(distances, kind="stable")[:4]
        assert result.indices[row].tolist() == order.tolist()
        assert np.allclose(result.distances[row], distances[order], rtol=1e-10)
    assert len(result.figure.axes) == 3 * 5 and (tmp_path / "nn.png").stat().st_size > 0
    tied = nearest_neighbours(np.array([[0.0], [1.0], [-1.0], [1.0]]), 0, k=3)
    assert tied.indices.tolist() == [[1, 2, 3]]   # equal distances: the smaller index first


@pytest.mark.parametrize("call, message", [
    (lambda: pca(np.zeros((5, 3)), 4), r"pca: dims must be an int from 1 to min\(N, D\) = 3, got 4"),
    (lambda: embed(np.zeros(5)), r"embed: expected features of shape \(N, D\) with N >= 2, got shape \(5,\)"),
    (lambda: embed(np.zeros((5, 2)), "umap"), "embed: method must be one of pca, tsne, got 'umap'"),
    (lambda: embed(np.zeros((5, 2)), labels=[0, 1]), r"embed: expected one label per point \(5\), got shape \(2,\)"),
    (lambda: embed(np.zeros((5, 2)), thumbnails=2), r"embed: thumbnails need the images of the points"),
    (lambda: nearest_neighbours(np.zeros((5, 2)), [0], k=5),
     "nearest_neighbours: k must be an int from 1 to N - 1 = 4"),
    (lambda: nearest_neighbours(np.zeros((5, 2)), [7], k=2), "nearest_neighbours: query 7 is out of range for 5"),
    (lambda: embed(np.full((5, 2), np.nan)), "embed: the features hold NaN or infinite values"),
])
def test_mistakes_are_one_line_errors(call, message):
    with pytest.raises(ValueError, match=message) as error:
        call()
    assert "\n" not in str(error.value)
