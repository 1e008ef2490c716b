"""Task 1.1: output sizes and parameter counts, on the lecture's examples."""

import pytest

from conv_sizes import conv_output_size, conv_param_count, linear_param_count, network_shapes_and_params

LECTURE_NETWORK = [("conv", 8, 3, 1, 1), ("conv", 16, 5, 2, 2), ("flatten",), ("linear", 512), ("linear", 4)]


@pytest.mark.task("1.1", points=2)
def test_alexnet_conv1_gives_55x55x96_from_34944_parameters():
    # 96 filters 11x11x3, stride 4, no padding, on a 227x227x3 image: (227 - 11 + 0)/4 + 1 = 55
    assert conv_output_size(227, 11, stride=4, padding=0) == 55
    assert conv_param_count(3, 96, 11) == 96 * (11 * 11 * 3 + 1) == 34_944


@pytest.mark.task("1.1", points=2)
def test_the_lecture_network_has_2103156_parameters():
    rows = network_shapes_and_params((3, 32, 32), LECTURE_NETWORK)
    assert [shape for shape, _ in rows] == [(8, 32, 32), (16, 16, 16), (4096,), (512,), (4,)]
    assert [params for _, params in rows] == [224, 3_216, 0, 2_097_664, 2_052]
    assert sum(params for _, params in rows) == 2_103_156


@pytest.mark.task("1.1")
def test_sizes_round_down_and_a_kernel_that_does_not_fit_is_refused():
    assert conv_output_size(8, 3, stride=2) == 3      # (8 - 3)/2 + 1 = 3.5: the last column is left out
    assert conv_output_size(32, 5, stride=1, padding=2) == 32   # 'same' padding (F - 1)/2
    assert linear_param_count(400, 120) == 48_120 and linear_param_count(400, 120, bias=False) == 48_000
    assert conv_param_count(16, 32, 3, bias=False) == 4_608
    with pytest.raises(ValueError):
        conv_output_size(3, 5)
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

import numpy as np  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


@pytest.mark.task("1.1", points=2)
def test_sizes_and_counts_on_the_hidden_cases():
    sizes = [conv_output_size(int(w), int(f), int(s), int(p)) for w, f, s, p in EXPECTED["sizes/inputs"]]
    assert sizes == EXPECTED["sizes/outputs"].tolist()
    counts = EXPECTED["params/inputs"]
    assert [conv_param_count(int(c), int(f), int(k)) for c, f, k in counts] == EXPECTED["params/conv"].tolist()
    assert [conv_param_count(int(c), int(f), int(k), bias=False) for c, f, k in counts] == \
        EXPECTED["params/conv_no_bias"].tolist()
    assert [linear_param_count(int(c), int(f)) for c, f, _ in counts] == EXPECTED["params/linear"].tolist()


@pytest.mark.task("1.1", points=2)
def test_a_hidden_network():
    layers = []
    for kind, a, b, c, d in EXPECTED["network/layers"].tolist():
        layers.append(("conv", a, b, c, d) if kind == 0 else ("flatten",) if kind == 1 else ("linear", a))
    rows = network_shapes_and_params(tuple(EXPECTED["network/input"].tolist()), layers)
    shapes = [tuple(s for s in row if s) for row in EXPECTED["network/shapes"].tolist()]
    assert [tuple(shape) for shape, _ in rows] == shapes
    assert [params for _, params in rows] == EXPECTED["network/params"].tolist()
### END HIDDEN TESTS
