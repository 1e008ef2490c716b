"""Receptive fields: the recurrence r_out = r_in + (k_eff - 1) * j_in, j_out = j_in * s,
start_out = start_in + ((k_eff - 1)/2 - p) * j_in, checked on the lecture's examples, against the
pixels a unit's gradient actually reaches, and through the branches of residual and Inception
blocks."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import functional as F
from minidl import nn
from minidl.analysis import ReceptiveField, receptive_field, summary
from minidl.analysis.receptive_field import FULL, union


def convs(n, kernel=3, **options):
    layers = []
    for _ in range(n):
        layers += [nn.Conv2d(2, 2, kernel, **options), nn.ReLU()]
    return nn.Sequential(*layers)


def test_two_stacked_3x3_convolutions_see_5x5_and_three_see_7x7():
    assert receptive_field(convs(2, padding=1), (2, 16, 16)) == ReceptiveField((5, 5), (1, 1), (0.5, 0.5))
    assert receptive_field(convs(3, padding=1), (2, 16, 16)) == ReceptiveField((7, 7), (1, 1), (0.5, 0.5))


def test_a_3x3_convolution_with_dilation_2_sees_5x5():
    # k_eff = d*(k - 1) + 1 = 2*2 + 1 = 5; without padding the first unit's field is pixels 0..4.
    assert receptive_field(nn.Conv2d(1, 1, 3, dilation=2), (1, 9, 9)) == ReceptiveField((5, 5), (1, 1), (2.5, 2.5))


def test_stride_multiplies_the_jump_and_padding_moves_the_start():
    model = nn.Sequential(nn.Conv2d(1, 1, 7, stride=2, padding=3), nn.MaxPool2d(3, stride=2, padding=1))
    # conv: r = 7, j = 2, start = 0.5 + (3 - 3)*1; pool: r = 7 + 2*2 = 11, j = 4, start = 0.5 + (1 - 1)*2.
    assert receptive_field(model, (1, 32, 32)) == ReceptiveField((11, 11), (4, 4), (0.5, 0.5))
    shifted = nn.Conv2d(1, 1, 3, stride=2)  # no padding: the first window covers pixels 0..2
    assert receptive_field(shifted, (1, 9, 9)).start == (1.5, 1.5)


def test_same_padding_of_an_even_kernel_pads_the_bottom_right():
    # k = 2, 'same': the one pixel of padding goes after the image, so the first unit sees pixels 0 and 1.
    assert receptive_field(nn.Conv2d(1, 1, 2, padding="same"), (1, 6, 6)) == ReceptiveField((2, 2), (1, 1), (1, 1))


def test_non_square_kernels_have_a_field_per_axis():
    field = receptive_field(nn.Conv2d(1, 1, (1, 3), stride=(1, 2)), (1, 8, 8))
    assert field == ReceptiveField((1, 3), (1, 2), (0.5, 1.5))
    assert str(field) == "1x3, jump 1,2, start 0.5,1.5"


# One layer of a random stack: (kind, kernel, stride, padding, dilation).
layer_configs = st.tuples(st.sampled_from(["conv", "avg"]), st.integers(1, 4), st.integers(1, 2),
                          st.integers(0, 1), st.integers(1, 2))


def build(configs):
    layers = []
    for kind, k, s, p, d in configs:
        p = min(p, k // 2)
        if kind == "conv":
            conv = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False).double()
            conv.weight.data[...] = 1.0  # positive weights: no path to the input cancels out
            layers.append(conv)
        else:
            layers.append(nn.AvgPool2d(k, stride=s, padding=p))
    return nn.Sequential(*layers)


@settings(max_examples=25)
@given(st.lists(layer_configs, min_size=1, max_size=4))
def test_the_field_is_where_the_gradient_of_one_unit_reaches(configs):
    """d out[i, j] / d x is non-zero exactly on the pixels unit (i, j) sees: its first and last row
    are centre -/+ r/2, centre = start + i*jump (and likewise for the columns)."""
    model, size = build(configs), 64
    field = receptive_field(model, (1, size, size), dtype=np.float64)
    x = md.tensor(np.ones((1, 1, size, size)), requires_grad=True)
    out = model(x)
    i, j = out.shape[2] // 2, out.shape[3] // 2
    lows = [field.start[a] + n * field.jump[a] - field.size[a] / 2 for a, n in enumerate((i, j))]
    # A field that reaches into the padding has a border that x cannot show.
    assume(min(lows) >= 0 and max(low + r for low, r in zip(lows, field.size)) <= size)
    grad = np.zeros(out.shape)
    grad[0, 0, i, j] = 1.0
    out.backward(grad)
    rows, cols = np.nonzero(x.grad[0, 0])
    assert (rows.min(), rows.max() + 1) == (lows[0], lows[0] + field.size[0])
    assert (cols.min(), cols.max() + 1) == (lows[1], lows[1] + field.size[1])


def test_vgg16_pool5_sees_212x212_with_jump_32():
    from minidl.zoo.vgg import vgg16

    # 13 3x3 convolutions and 5 2x2 pools: r = 1 + 2*(2 + 2*2 + 3*4 + 3*8 + 3*16) + (1 + 2 + 4 + 8 + 16) = 212.
    # The field does not depend on the image size, so a small image keeps the test fast.
    model = vgg16()
    field = receptive_field(model, (3, 32, 32), "features.30")
    assert field == ReceptiveField((212, 212), (32, 32), (16, 16))
    assert receptive_field(model, (3, 32, 32), "features.28").size == (196, 196)  # conv5_3, before the pool


class CrossBlock(nn.Module):
    """out = a 1x3 convolution + a 3x1 convolution of the same input: each branch sees a line,
    the sum sees their union, a 3x3 square."""

    def __init__(self):
        super().__init__()
        self.wide = nn.Conv2d(1, 2, (1, 3), padding=(0, 1))
        self.tall = nn.Conv2d(1, 2, (3, 1), padding=(1, 0))

    def forward(self, x):
        return self.wide(x) + self.tall(x)


def test_a_residual_sum_takes_the_union_of_its_branches():
    assert receptive_field(CrossBlock(), (1, 8, 8)) == ReceptiveField((3, 3), (1, 1), (0.5, 0.5))


def test_a_resnet_block_with_a_projection_shortcut():
    from minidl.zoo.resnet import BasicBlock, conv1x1

    shortcut = nn.Sequential(conv1x1(4, 8, stride=2), nn.BatchNorm2d(8))
    block = BasicBlock(4, 8, stride=2, downsample=shortcut)
    # main path: 3x3 stride 2 (r 3, j 2) then 3x3 (r 3 + 2*2 = 7); shortcut: 1x1 stride 2 (r 1).
    assert receptive_field(block, (4, 16, 16)) == ReceptiveField((7, 7), (2, 2), (0.5, 0.5))
    assert receptive_field(block, (4, 16, 16), "downsample").size == (1, 1)


def test_an_inception_concatenation_takes_its_largest_branch():
    from minidl.zoo.googlenet import Inception

    block = Inception(16, 4, 4, 4, 4, 4, 4, ch5x5_kernel=5)
    shape = (16, 12, 12)
    assert receptive_field(block, shape, "branch1").size == (1, 1)
    assert receptive_field(block, shape, "branch2").size == (3, 3)
    assert receptive_field(block, shape, "branch3").size == (5, 5)
    assert receptive_field(block, shape, "branch4").size == (3, 3)  # 3x3 max pool, then 1x1
    assert receptive_field(block, shape) == ReceptiveField((5, 5), (1, 1), (0.5, 0.5))


def test_the_union_covers_every_field():
    left = ReceptiveField((3, 3), (2, 2), (0.5, 0.5))    # pixels -1 .. 2
    right = ReceptiveField((3, 1), (2, 2), (1.5, 2.5))   # rows 0 .. 3, column 2 .. 3
    assert union([left, right]) == ReceptiveField((4, 4), (2, 2), (1.0, 1.0))
    assert union([left, FULL]) is FULL


class MismatchedJumps(nn.Module):
    """Adds a jump-4 map to a jump-2 map of the same size: their units do not line up."""

    def __init__(self):
        super().__init__()
        self.coarse = nn.Conv2d(1, 1, 1, stride=4)                  # 16 -> 4, jump 4
        self.fine = nn.Sequential(nn.Conv2d(1, 1, 1, stride=2),     # 16 -> 8, jump 2
                                  nn.Conv2d(1, 1, 5))               # 8 -> 4, still jump 2

    def forward(self, x):
        return self.coarse(x) + self.fine(x)


def test_joining_maps_with_different_jumps_is_reported():
    with pytest.raises(ValueError, match=r"different jumps \[\(2, 2\), \(4, 4\)\]"):
        receptive_field(MismatchedJumps(), (1, 16, 16))
    result = summary(MismatchedJumps(), (1, 16, 16), depth=1, print_table=False)
    assert result.receptive_field is None
    assert any("Add before the output of the model" in note for note in result.notes)
    assert "Notes:" in str(result)


class FunctionalPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3)
        self.head = nn.Conv2d(1, 1, 1)

    def forward(self, x):
        return self.head(F.max_pool2d(self.conv(x), 2))


def test_a_window_called_as_a_function_makes_the_field_unknown():
    result = summary(FunctionalPool(), (1, 10, 10), print_table=False)
    assert [row.receptive_field for row in result.rows] == [ReceptiveField((3, 3), (1, 1), (1.5, 1.5)), None]
    assert "MaxPool2d called as a function" in result.notes[0] and "head (Conv2d)" in result.notes[0]
    with pytest.raises(ValueError, match=r"the field of the model \(FunctionalPool\) is unknown: MaxPool2d called"):
        receptive_field(FunctionalPool(), (1, 10, 10))


def test_a_layer_without_a_rule_makes_the_field_unknown():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ConvTranspose2d(2, 1, 2, stride=2))
    result = summary(model, (1, 8, 8), print_table=False)
    assert result.rows[1].receptive_field is None
    assert result.notes == ["1 (ConvTranspose2d): no receptive-field rule for ConvTranspose2d; "
                            "the field after it is unknown"]


def test_global_pooling_and_linear_layers_see_the_whole_image():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.GlobalAvgPool2d(), nn.Flatten(), nn.Linear(4, 2))
    result = summary(model, (1, 8, 8), print_table=False)
    assert [row.receptive_field for row in result.rows[2:]] == [FULL, FULL, FULL]
    assert str(FULL) == "full"
    # The last feature map is the last one whose units see part of the image: the ReLU's.
    assert result.feature_map == "1"
    assert receptive_field(model, (1, 8, 8)) == ReceptiveField((3, 3), (1, 1), (1.5, 1.5))


def test_adaptive_pooling_is_a_pool_when_the_sizes_divide():
    def field_after(pool, size):
        return receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), pool), (1, size, size), "1")

    assert field_after(nn.AdaptiveAvgPool2d(6), 6) == ReceptiveField((3, 3), (1, 1), (0.5, 0.5))  # identity
    assert field_after(nn.AdaptiveAvgPool2d(3), 6) == ReceptiveField((4, 4), (2, 2), (1, 1))      # 2x2 windows
    with pytest.raises(ValueError, match=r"adaptive pooling from \(7, 7\) to \(3, 3\) uses windows of unequal"):
        field_after(nn.AdaptiveAvgPool2d(3), 7)


def test_a_model_without_a_feature_map_or_an_unknown_layer_name_is_refused():
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    with pytest.raises(ValueError, match="no layer of Sequential outputs an \\(N, C, H, W\\) feature map"):
        receptive_field(mlp, (1, 4, 4))
    with pytest.raises(ValueError, match="no module called 'fc' ran in Sequential; the modules that ran are: 0, 1"):
        receptive_field(mlp, (1, 4, 4), "fc")


class Cropped(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)
        self.head = nn.Conv2d(1, 1, 1)

    def forward(self, x):
        return self.head(self.conv(x)[:, :, 1:, 1:])


def test_operations_that_move_positions_or_mix_them_make_the_field_unknown():
    result = summary(Cropped(), (1, 6, 6), print_table=False)
    assert result.rows[1].receptive_field is None
    assert result.notes == ["GetItem before head (Conv2d) changes the spatial layout (from [(1, 1, 6, 6)] to "
                            "(1, 1, 5, 5)): the receptive field after it is unknown"]
    spatial_softmax = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Softmax(dim=3))
    with pytest.raises(ValueError, match=r"1 \(Softmax\): a softmax along a spatial axis mixes positions"):
        receptive_field(spatial_softmax, (1, 5, 5))
    channel_softmax = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Softmax(dim=1))
    assert receptive_field(channel_softmax, (1, 5, 5)).size == (3, 3)
