"""Task 2.5: convolution costs, the Inception module with and without 1x1 bottlenecks, 1x1 convolutions."""

import numpy as np
import pytest

from inception_cost import bottleneck_inception_macs, conv_macs, double_counted, naive_inception_macs, pointwise_conv
from minidl.layers.conv import conv2d_forward

# GoogLeNet's inception (3b) on a 28x28x256 input: 128 1x1, 192 3x3, 96 5x5 filters.
LECTURE = dict(height=28, width=28, in_channels=256, n1x1=128, n3x3=192, n5x5=96)


@pytest.mark.task("2.5")
def test_a_convolution_costs_h_w_cout_k2_cin():
    assert conv_macs(28, 28, 256, 192, 3) == 28 * 28 * 192 * 9 * 256 == 346_816_512
    assert conv_macs(56, 56, 64, 64, 1) == 56 * 56 * 64 * 64


@pytest.mark.task("2.5", points=2)
def test_the_naive_module_costs_854m_and_outputs_672_channels():
    costs = naive_inception_macs(**LECTURE)
    assert (costs["1x1"], costs["3x3"], costs["5x5"], costs["pool"]) == (25_690_112, 346_816_512, 481_689_600, 0)
    assert costs["total"] == 854_196_224 and costs["out_channels"] == 672


@pytest.mark.task("2.5", points=2)
def test_the_bottlenecked_module_costs_271m_not_the_slides_358m():
    costs = bottleneck_inception_macs(r3x3=64, r5x5=64, pool_proj=64, **LECTURE)
    branches = ["1x1", "3x3 reduce", "3x3", "5x5 reduce", "5x5", "pool proj"]
    assert [costs[b] for b in branches] == [25_690_112, 12_845_056, 86_704_128, 12_845_056, 120_422_400, 12_845_056]
    assert costs["total"] == sum(costs[b] for b in branches) == 271_351_808 != 358_000_000
    assert costs["out_channels"] == 480


@pytest.mark.task("2.5")
def test_a_total_with_a_product_counted_twice_names_that_product():
    costs = bottleneck_inception_macs(r3x3=64, r5x5=64, pool_proj=64, **LECTURE)
    assert double_counted(costs, 392e6) == ["5x5"]            # 271,351,808 + 120,422,400 = 391,774,208
    assert double_counted(costs, 271e6) == []                 # the list's own sum: nothing counted twice
    assert double_counted(costs, 284e6) == ["3x3 reduce", "5x5 reduce", "pool proj"]   # three equal products


@pytest.mark.task("2.5", points=2)
def test_a_1x1_convolution_is_a_matrix_product_over_channels():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((3, 6, 5, 4)), rng.standard_normal((2, 6)), rng.standard_normal(2)
    expected, _ = conv2d_forward(x, w[:, :, None, None], b)
    np.testing.assert_allclose(pointwise_conv(x, w, b), expected, rtol=1e-10, atol=1e-12)
### BEGIN HIDDEN TESTS
import pathlib  # noqa: E402

EXPECTED = np.load(pathlib.Path(__file__).resolve().parents[1] / "hidden" / "expected.npz")


@pytest.mark.task("2.5", points=2)
@pytest.mark.parametrize("module", range(2))
def test_hidden_modules(module):
    h, w, c, n1, r3, n3, r5, n5, p = EXPECTED[f"inception{module}/config"].tolist()
    assert naive_inception_macs(h, w, c, n1, n3, n5)["total"] == int(EXPECTED[f"inception{module}/naive"])
    assert bottleneck_inception_macs(h, w, c, n1, r3, n3, r5, n5, p)["total"] == \
        int(EXPECTED[f"inception{module}/bottleneck"])


@pytest.mark.task("2.5")
def test_the_slides_358m_and_a_hidden_printed_total():
    costs = bottleneck_inception_macs(r3x3=64, r5x5=64, pool_proj=64, **LECTURE)
    assert double_counted(costs, 358e6) == EXPECTED["slide/double_counted"].tolist()
    h, w, c, n1, r3, n3, r5, n5, p = EXPECTED["inception0/config"].tolist()
    costs = bottleneck_inception_macs(h, w, c, n1, r3, n3, r5, n5, p)
    expected = EXPECTED["inception0/double_counted"].tolist()
    assert double_counted(costs, float(EXPECTED["inception0/printed"])) == expected


@pytest.mark.task("2.5")
def test_the_hidden_1x1_convolution():
    out = pointwise_conv(EXPECTED["pointwise/x"], EXPECTED["pointwise/w"], EXPECTED["pointwise/b"])
    np.testing.assert_allclose(out, EXPECTED["pointwise/out"], rtol=1e-10, atol=1e-12)
### END HIDDEN TESTS
