"""minidl.explain.scores and minidl.explain.sanity: localisation scores on hand-made maps and
masks with known answers, the baselines, Spearman's rho against hand computations, and the
cascading randomisation of a model's layers."""

import math

import numpy as np
import pytest

import minidl as md
from minidl import nn
from minidl.explain import explain
from minidl.explain.sanity import (average_ranks, cascading_randomization, cascading_randomization_scores,
                                   rank_correlations, randomization_order, spearman)
from minidl.explain.scores import (bbox_iou, bounding_box, box_iou, centre_maps, edge_maps, fraction_inside,
                                   largest_component, localisation_scores, method_maps, pointing_game, random_maps,
                                   reduce_channels, threshold_region)
from minidl.tensor import Tensor


@pytest.fixture(autouse=True)
def seeded():
    md.manual_seed(0)


def mask_of(shape, *pixels):
    """A (1, H, W) mask True at the given (row, column) pixels."""
    mask = np.zeros((1,) + shape, dtype=bool)
    for i, j in pixels:
        mask[0, i, j] = True
    return mask


def peak_map(shape, *pixels):
    """A (1, H, W) map of zeros with value 1 at the given pixels (its maxima)."""
    return mask_of(shape, *pixels).astype(np.float64)


# ---------------------------------------------------------------------- channel reductions
def test_reductions_by_hand():
    a = np.array([[[[1.0, -5.0]], [[-3.0, 2.0]]]])           # (1, 2, 1, 2)
    np.testing.assert_array_equal(reduce_channels(a, "max_abs"), [[[3.0, 5.0]]])
    np.testing.assert_array_equal(reduce_channels(a, "abs_sum"), [[[2.0, 3.0]]])
    np.testing.assert_array_equal(reduce_channels(a, "sum"), [[[-2.0, -3.0]]])
    np.testing.assert_array_equal(method_maps(a, "saliency"), [[[3.0, 5.0]]])
    np.testing.assert_array_equal(method_maps(a, "ig"), [[[2.0, 3.0]]])
    np.testing.assert_array_equal(method_maps(a, "guided", signed=True), [[[-2.0, -3.0]]])


# ---------------------------------------------------------------------- pointing game
def test_pointing_game_hit_and_miss():
    masks = np.concatenate([mask_of((4, 4), (1, 2), (1, 3)), mask_of((4, 4), (3, 3))])
    maps = np.concatenate([peak_map((4, 4), (1, 2)), peak_map((4, 4), (1, 2))])
    np.testing.assert_array_equal(pointing_game(maps, masks), [1.0, 0.0])


def test_pointing_game_tolerance_is_a_euclidean_radius():
    # the maximum at (0, 0); the object one pixel away diagonally (distance sqrt 2) and two to the right
    maps = np.concatenate([peak_map((5, 5), (0, 0))] * 2)
    masks = np.concatenate([mask_of((5, 5), (1, 1)), mask_of((5, 5), (0, 2))])
    np.testing.assert_array_equal(pointing_game(maps, masks), [0, 0])
    np.testing.assert_array_equal(pointing_game(maps, masks, tolerance=1), [0, 0])
    np.testing.assert_array_equal(pointing_game(maps, masks, tolerance=1.5), [1, 0])
    np.testing.assert_array_equal(pointing_game(maps, masks, tolerance=2), [1, 1])


def test_pointing_game_shares_a_hit_among_tied_maxima():
    masks = mask_of((3, 3), (0, 0))
    assert pointing_game(peak_map((3, 3), (0, 0), (2, 2)), masks)[0] == 0.5
    # a constant map says nothing: every pixel is a maximum, and the score is the object's area
    assert pointing_game(np.full((1, 3, 3), 7.0), masks)[0] == pytest.approx(1 / 9, abs=1e-15)


# ---------------------------------------------------------------------- fraction inside
def test_fraction_inside_by_hand():
    maps = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    masks = np.array([[[True, False], [False, True]]])
    assert fraction_inside(maps, masks)[0] == 0.5                 # (1 + 4) / 10
    assert fraction_inside(np.zeros((1, 2, 2)), masks)[0] == 0.5  # all zero: uniform, the area 2 / 4


# ---------------------------------------------------------------------- boxes
def test_bounding_box_and_box_iou():
    regions = mask_of((6, 6), (1, 2), (3, 4), (2, 1))
    np.testing.assert_array_equal(bounding_box(regions), [[1, 3, 1, 4]])
    box = np.array([[1, 3, 1, 4]])
    assert box_iou(box, box)[0] == 1.0
    assert box_iou(box, np.array([[4, 5, 0, 5]]))[0] == 0.0
    # (rows 0-1, columns 0-1) and (rows 1-2, columns 1-2): 1 pixel shared of 4 + 4 - 1
    assert box_iou(np.array([[0, 1, 0, 1]]), np.array([[1, 2, 1, 2]]))[0] == 1 / 7


def test_largest_component_is_eight_connected():
    # a diagonal line of 3 pixels (one blob under 8-connectivity) and a separate pair
    regions = mask_of((5, 5), (0, 0), (1, 1), (2, 2), (4, 0), (4, 1))
    np.testing.assert_array_equal(largest_component(regions), mask_of((5, 5), (0, 0), (1, 1), (2, 2)))
    # a tie of two 1-pixel blobs: the one that starts first in row-major order
    np.testing.assert_array_equal(largest_component(mask_of((3, 3), (2, 2), (0, 2))), mask_of((3, 3), (0, 2)))
    assert not largest_component(np.zeros((1, 3, 3), dtype=bool)).any()


def test_threshold_region_keeps_the_top_pixels():
    values = np.arange(10.0).reshape(1, 2, 5)
    # the 80th percentile of 0..9 is 7.2: the pixels 8 and 9
    np.testing.assert_array_equal(threshold_region(values, 80), values >= 8)
    # a constant map: every pixel (its maxima), never an empty region
    assert threshold_region(np.ones((1, 2, 5)), 80).all()


def test_bbox_iou_by_hand():
    maps = np.zeros((1, 6, 6))
    maps[0, 1:3, 1:4] = 1.0          # the strong blob: rows 1-2, columns 1-3 (6 pixels of 36)
    maps[0, 5, 5] = 1.0              # a lone strong pixel, left out as a smaller blob
    masks = np.zeros((1, 6, 6), dtype=bool)
    masks[0, 1:4, 2:4] = True        # the object: rows 1-3, columns 2-3
    # the two boxes share rows 1-2 and columns 2-3: 4 pixels of 6 + 6 - 4
    assert bbox_iou(maps, masks, percentile=80)[0] == 0.5


def test_localisation_scores_per_image_and_mean():
    maps = np.concatenate([peak_map((4, 4), (0, 0)), peak_map((4, 4), (3, 3))])
    masks = np.concatenate([mask_of((4, 4), (0, 0)), mask_of((4, 4), (0, 0))])
    scores = localisation_scores(maps, masks)
    np.testing.assert_array_equal(scores["per_image"]["pointing_game"], [1, 0])
    np.testing.assert_array_equal(scores["per_image"]["fraction_inside"], [1, 0])
    np.testing.assert_array_equal(scores["per_image"]["bbox_iou"], [1, 0])
    assert scores["mean"] == {"pointing_game": 0.5, "fraction_inside": 0.5, "bbox_iou": 0.5}


# ---------------------------------------------------------------------- baselines
def test_baselines_shapes_and_values():
    noise = random_maps(3, 4, 5, seed=1)
    assert noise.shape == (3, 4, 5) and noise.min() >= 0 and noise.max() < 1
    np.testing.assert_array_equal(noise, random_maps(3, 4, 5, seed=1))
    centre = centre_maps(2, 5, 7)
    assert centre.shape == (2, 5, 7)
    assert np.unravel_index(centre[0].argmax(), (5, 7)) == (2, 3) and centre[0, 2, 3] == 1.0
    assert centre[0, 2, 3 + 2] == pytest.approx(math.exp(-4 / (2 * (5 / 4) ** 2)), rel=1e-15)
    np.testing.assert_array_equal(centre[0], centre[0, ::-1, ::-1])
    # an odd-sized centre map points at its middle pixel
    assert pointing_game(centre_maps(1, 5, 5), mask_of((5, 5), (2, 2)))[0] == 1.0


def test_edge_maps_find_a_step():
    images = np.zeros((1, 2, 4, 6))
    images[0, 1, :, 3:] = 1.0                       # a vertical step between columns 2 and 3, channel 1
    edges = edge_maps(images)
    assert edges.shape == (1, 4, 6)
    # Sobel's x kernel across the step: (1 + 2 + 1) * 1 on the two columns beside it, 0 elsewhere
    np.testing.assert_array_equal(edges[0], np.tile([0, 0, 4.0, 4.0, 0, 0], (4, 1)))
    assert not edge_maps(np.full((1, 3, 4, 4), 0.3)).any()


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("function", [pointing_game, fraction_inside, bbox_iou, localisation_scores])
def test_scores_refuse_bad_masks(function):
    maps = np.ones((2, 4, 4))
    name = function.__name__
    with pytest.raises(ValueError, match=rf"^{name}: expected one mask per map, of the maps' shape \(2, 4, 4\), "
                                         r"got masks of shape \(2, 4, 5\)"):
        function(maps, np.ones((2, 4, 5), dtype=bool))
    with pytest.raises(ValueError, match=rf"^{name}: the mask of image 1 is empty"):
        function(maps, np.concatenate([mask_of((4, 4), (0, 0)), np.zeros((1, 4, 4), dtype=bool)]))
    with pytest.raises(ValueError, match=rf"^{name}: expected boolean masks .* got dtype int64"):
        function(maps, np.ones((2, 4, 4), dtype=np.int64))
    with pytest.raises(ValueError, match=rf"^{name}: expected maps >= 0 .* got -1 in image 0"):
        function(-maps, np.ones((2, 4, 4), dtype=bool))
    with pytest.raises(ValueError, match=rf"^{name}: expected maps of shape \(N, H, W\), got shape \(4, 4\)"):
        function(np.ones((4, 4)), np.ones((4, 4), dtype=bool))


def test_other_bad_input():
    masks = np.ones((1, 4, 4), dtype=bool)
    with pytest.raises(ValueError, match=r"^pointing_game: tolerance must be a number of pixels >= 0, got -1"):
        pointing_game(np.ones((1, 4, 4)), masks, tolerance=-1)
    with pytest.raises(ValueError, match=r"^threshold_region: percentile must lie in \[0, 100\), got 100"):
        bbox_iou(np.ones((1, 4, 4)), masks, percentile=100)
    with pytest.raises(ValueError, match=r"^fraction_inside: the maps hold NaN"):
        fraction_inside(np.full((1, 4, 4), np.nan), masks)
    with pytest.raises(ValueError, match=r"^method_maps: method must be one of"):
        method_maps(np.ones((1, 1, 4, 4)), "lime")
    with pytest.raises(ValueError, match=r"^reduce_channels: expected attributions of shape \(N, C, H, W\)"):
        reduce_channels(np.ones((4, 4)), "sum")
    with pytest.raises(ValueError, match=r"^spearman: expected two arrays of the same size"):
        spearman([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match=r"^rank_correlations: expected maps of the same shape"):
        rank_correlations(np.ones((1, 4, 4)), np.ones((2, 4, 4)))


# ---------------------------------------------------------------------- Spearman's rho
def test_average_ranks_share_ties():
    np.testing.assert_array_equal(average_ranks([10, 30, 20, 20]), [1, 4, 2.5, 2.5])
    np.testing.assert_array_equal(average_ranks([5, 5, 5]), [2, 2, 2])


def test_spearman_equals_the_textbook_formula_without_ties():
    rng = np.random.default_rng(0)
    for size in (2, 5, 50):
        a, b = rng.standard_normal(size), rng.standard_normal(size)
        d = (np.argsort(np.argsort(a)) - np.argsort(np.argsort(b))).astype(np.float64)
        assert spearman(a, b) == pytest.approx(1 - 6 * (d ** 2).sum() / (size * (size ** 2 - 1)), abs=1e-12)


def test_spearman_with_ties_by_hand():
    # ranks [1, 2.5, 2.5, 4] and [1, 3, 2, 4], centred [-1.5, 0, 0, 1.5] and [-1.5, 0.5, -0.5, 1.5]:
    # rho = 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10)
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(3 / math.sqrt(10), abs=1e-15)
    a = np.arange(10.0)
    assert spearman(a, np.exp(a)) == 1.0            # only the order counts
    assert spearman(a, -a) == -1.0
    assert math.isnan(spearman(np.ones(4), a[:4]))  # a constant array ranks nothing
    np.testing.assert_array_equal(rank_correlations(np.stack([a.reshape(2, 5)] * 2), np.stack(
        [np.exp(a).reshape(2, 5), -a.reshape(2, 5)])), [1.0, -1.0])


# ---------------------------------------------------------------------- cascading randomisation
def small_cnn():
    """conv -> ReLU -> max pool -> (conv, batch norm) -> ReLU -> flatten -> linear, float64, 8x8 images."""
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 2 * 2, 3)).double().eval()


def images(n=2):
    return np.random.default_rng(1).standard_normal((n, 2, 8, 8))


def trained_like(model):
    """Weights no initialisation gives (batch norm's scale and statistics away from 1 and 0)."""
    rng = np.random.default_rng(2)
    for param in model.parameters():
        param.data = rng.standard_normal(param.shape)
    norm = model[3][1]
    norm.running_mean.data = rng.standard_normal(4)
    norm.running_var.data = rng.uniform(0.5, 2, 4)
    return model


def test_randomization_order_is_from_the_output_to_the_input():
    model = small_cnn()
    assert randomization_order(model, images()) == ["6", "3.1", "3.0", "0"]


def test_cascade_changes_the_layers_top_down_on_a_copy():
    model = trained_like(small_cnn())
    before = {name: np.array(value) for name, value in model.state_dict().items()}
    layers = ["6", "3", "0"]                        # "3" a block: its conv and its batch norm
    owners = {"6": ["6."], "3": ["3.0.", "3.1."], "0": ["0."]}
    steps = []
    for k, (name, randomised) in enumerate(cascading_randomization(model, layers)):
        assert randomised is not model
        steps.append(name)
        state = randomised.state_dict()
        done = [prefix for layer in layers[:k + 1] for prefix in owners[layer]]
        for key, value in before.items():
            if key.endswith("num_batches_tracked"):
                continue
            changed = not np.array_equal(state[key], value)
            assert changed == any(key.startswith(prefix) for prefix in done), (name, key)
    assert steps == layers
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_a_map_that_ignores_the_weights_keeps_correlation_one():
    def edges(model, x, method, target):           # an edge detector: the image alone
        return Tensor(edge_maps(x)[:, None])

    result = cascading_randomization_scores(trained_like(small_cnn()), images(3), 0, methods=("saliency",),
                                            attribute=edges)
    assert result["steps"] == ["trained", "6", "3.1", "3.0", "0"]
    np.testing.assert_array_equal(result["absolute"]["saliency"], np.ones((4, 3)))


def test_cascade_scores_shapes_and_the_trained_maps():
    model = trained_like(small_cnn())
    x = images(2)
    result = cascading_randomization_scores(model, x, [0, 2], methods=("saliency", "guided"), layers=["6", "0"])
    assert result["steps"] == ["trained", "6", "0"]
    assert result["maps"]["saliency"].shape == (3, 2, 8, 8)
    assert result["absolute"]["guided"].shape == (2, 2) and result["signed"]["guided"].shape == (2, 2)
    assert set(result["signed"]) == {"guided"}     # saliency is |gradient|: it has no sign
    np.testing.assert_array_equal(result["maps"]["saliency"][0],
                                  method_maps(explain(model, x, "saliency", [0, 2]), "saliency"))
    # a random last layer changes the gradient's direction: saliency's ranking moves
    assert np.all(result["absolute"]["saliency"][0] < 0.99)


def test_cascade_is_reproducible_and_smoothgrad_noise_is_fixed():
    model = trained_like(small_cnn())

    def run():
        md.manual_seed(3)
        return cascading_randomization_scores(model, images(2), 1, methods=("smoothgrad",), layers=["6"])

    first, second = run(), run()
    np.testing.assert_array_equal(first["maps"]["smoothgrad"], second["maps"]["smoothgrad"])


def test_cascade_bad_input():
    model = small_cnn()
    with pytest.raises(ValueError, match=r"^cascading_randomization: the model has no layer 'fc'"):
        list(cascading_randomization(model, ["fc"]))
    with pytest.raises(ValueError, match=r"^cascading_randomization: the layer '1' has no parameters"):
        list(cascading_randomization(model, ["1"]))
    with pytest.raises(ValueError, match=r"^cascading_randomization: expected a list of layers"):
        list(cascading_randomization(model, "6"))
    with pytest.raises(ValueError, match=r"^cascading_randomization_scores: methods must be names among"):
        cascading_randomization_scores(model, images(), 0, methods=("lime",))
