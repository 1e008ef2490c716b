"""``summary``: the lecture's parameter and cost numbers, the counting rules, and the published
MACs of the zoo's ImageNet models."""

from collections import namedtuple
from fractions import Fraction

import numpy as np
import pytest

import minidl as md
from minidl import nn
from minidl.analysis import ReceptiveField, layer_macs, summary


def rows_by_name(result):
    return {row.name: row for row in result.rows}


# ---------------------------------------------------------------------------- the lecture's numbers
def test_alexnet_conv1_on_227x227x3_gives_55x55x96_and_34944_parameters():
    # W' = (227 - 11 + 2*0)/4 + 1 = 55; parameters 96 * (11*11*3 + 1) = 34,944.
    (row,) = summary(nn.Conv2d(3, 96, 11, stride=4), (3, 227, 227), print_table=False).rows
    assert row.output_shape == (96, 55, 55)
    assert row.params == 96 * (11 * 11 * 3 + 1) == 34_944
    assert row.macs == 55 * 55 * 96 * 3 * 11 * 11


def test_the_original_alexnet_from_the_zoo_starts_the_same_way():
    from minidl.zoo.alexnet import alexnet_original

    first = summary(alexnet_original(), (3, 227, 227), print_table=False).rows[0]
    assert (first.type, first.output_shape, first.params) == ("Conv2d", (96, 55, 55), 34_944)


def test_the_lecture_network_has_2103156_parameters():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),              # 32x32x8   8*(3*3*3 + 1)
        nn.Conv2d(8, 16, 5, stride=2, padding=2),   # 16x16x16  16*(5*5*8 + 1)
        nn.Flatten(),                               # 4096
        nn.Linear(16 * 16 * 16, 512),               # 512*(4096 + 1)
        nn.Linear(512, 4),                          # 4*(512 + 1)
    )
    result = summary(model, (3, 32, 32), print_table=False)
    assert [row.output_shape for row in result.rows] == [(8, 32, 32), (16, 16, 16), (4096,), (512,), (4,)]
    assert [row.params for row in result.rows] == [224, 3_216, 0, 2_097_664, 2_052]
    assert result.total_params == 224 + 3_216 + 2_097_664 + 2_052 == 2_103_156
    # The lecture's 2,099,716 is its two dense layers alone: almost all of the network.
    assert result.rows[3].params + result.rows[4].params == 2_099_716


def test_the_inception_module_costs_854M_naive_and_271M_with_1x1_bottlenecks():
    from minidl.zoo.googlenet import Inception, NaiveInception

    h = w = 28  # on a 28x28x256 input, every branch keeps 28x28
    naive = summary(NaiveInception(256, 128, 192, 96), (256, h, w), print_table=False)
    naive_macs = (h * w * 128 * 256 * 1 * 1     # 1x1, 128 filters
                  + h * w * 192 * 256 * 3 * 3   # 3x3, 192 filters
                  + h * w * 96 * 256 * 5 * 5)   # 5x5, 96 filters (the 3x3 pool multiplies nothing)
    assert naive.total_macs == naive_macs == 854_196_224
    assert naive.output_shape == (128 + 192 + 96 + 256, h, w)

    bottleneck = summary(Inception(256, 128, 64, 192, 64, 96, 64, ch5x5_kernel=5), (256, h, w), print_table=False)
    bottleneck_macs = (h * w * 128 * 256                            # 1x1, 128
                       + h * w * 64 * 256 + h * w * 192 * 64 * 9    # 1x1 to 64, then 3x3, 192
                       + h * w * 64 * 256 + h * w * 96 * 64 * 25    # 1x1 to 64, then 5x5, 96
                       + h * w * 64 * 256)                          # pool, then 1x1, 64
    assert bottleneck.total_macs == bottleneck_macs == 271_351_808
    per_branch = {row.name: row.macs for row in summary(
        Inception(256, 128, 64, 192, 64, 96, 64, ch5x5_kernel=5), (256, h, w), depth=1, print_table=False).rows}
    assert per_branch == {"branch1": h * w * 128 * 256, "branch2": h * w * (64 * 256 + 192 * 64 * 9),
                          "branch3": h * w * (64 * 256 + 96 * 64 * 25), "branch4": h * w * 64 * 256}


def test_a_depthwise_separable_convolution_costs_1_over_c_out_plus_1_over_25_of_a_5x5_one():
    c_in, c_out, shape = 16, 32, (16, 12, 12)
    standard = summary(nn.Conv2d(c_in, c_out, 5, padding=2), shape, print_table=False).total_macs
    separable = summary(nn.DepthwiseSeparableConv2d(c_in, c_out, 5, padding=2), shape, print_table=False).total_macs
    # (H W C_in 25 + H W C_in C_out) / (H W C_in C_out 25) = 1/C_out + 1/25
    assert Fraction(separable, standard) == Fraction(1, c_out) + Fraction(1, 25)


# ---------------------------------------------------------------------------- the counting rules
def test_macs_of_convolutions_and_linear_layers():
    x = md.tensor(np.zeros((1, 6, 9, 9), np.float32))
    grouped = nn.Conv2d(6, 4, 3, stride=2, groups=2, bias=False)
    # H' = W' = 4: each output value sums C_in/groups * kH * kW = 3 * 9 products.
    assert layer_macs(grouped, x, grouped(x)) == 4 * 4 * 4 * 3 * 9
    up = nn.ConvTranspose2d(6, 4, 3, stride=2, groups=2)
    # each of the 9*9*6 input values is spread over C_out/groups = 2 channels with a 3x3 stamp
    assert layer_macs(up, x, up(x)) == 9 * 9 * 6 * 2 * 9
    fc = nn.Linear(9, 5)
    assert layer_macs(fc, x, fc(x)) == 6 * 9 * 9 * 5  # applied to each of the 6*9 rows of an image
    relu = nn.ReLU()
    assert layer_macs(relu, x, relu(x)) == 0


def test_batch_norm_pooling_and_activations_count_no_macs():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, bias=False), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.AvgPool2d(2), nn.Dropout(), nn.Flatten(), nn.Linear(8, 3))
    result = summary(model, (1, 10, 10), print_table=False)
    assert [row.macs for row in result.rows] == [8 * 8 * 2 * 9, 0, 0, 0, 0, 0, 0, 8 * 3]
    assert result.total_macs == 8 * 8 * 2 * 9 + 8 * 3
    assert result.total_flops == 2 * result.total_macs


class SharedReLU(nn.Module):
    """Calls ``relu`` twice and ``fc`` twice, as ResNet blocks reuse their ReLU."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.fc(self.relu(self.fc(x))))


def test_a_shared_module_gets_a_row_per_call_and_its_parameters_once():
    result = summary(SharedReLU(), (4,), print_table=False)
    assert [(row.name, row.call) for row in result.rows] == [("fc", 1), ("relu", 1), ("fc", 2), ("relu", 2)]
    assert [row.params for row in result.rows] == [20, 0, 0, 0]
    assert [row.macs for row in result.rows] == [16, 0, 16, 0]
    assert result.total_params == 20 and result.total_macs == 32
    assert "fc (Linear) #2" in str(result)


Pair = namedtuple("Pair", ["scores", "features"])


class TwoOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.pool = nn.MaxPool2d(2, return_indices=True)

    def forward(self, x):
        pooled, _ = self.pool(self.conv(x))
        return Pair(pooled.flatten(1), pooled)


def test_tuple_outputs_give_a_shape_per_tensor():
    result = summary(TwoOutputs(), (1, 4, 4), print_table=False)
    assert result.rows[1].output_shape == ((3, 2, 2), (3, 2, 2))  # the pooled values and their indices
    assert result.output_shape == ((12,), (3, 2, 2))
    assert "(3x2x2, 3x2x2)" in str(result)


def test_memory_counts_every_layer_output_and_doubles_for_backward():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 5 * 5, 3)).double()
    result = summary(model, (1, 5, 5), dtype=np.float64, print_table=False)
    assert result.input_bytes == 25 * 8
    assert result.forward_bytes == (50 + 50 + 50 + 3) * 8
    assert result.forward_backward_bytes == 2 * result.forward_bytes
    assert result.param_bytes == (20 + 153) * 8 == result.total_params * 8
    assert result.total_bytes == result.input_bytes + result.forward_backward_bytes + result.param_bytes


def test_frozen_parameters_are_not_trainable():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2))
    model[0].requires_grad_(False)
    result = summary(model, (1, 4, 4), print_table=False)
    assert (result.total_params, result.trainable_params, result.non_trainable_params) == (38, 18, 20)
    assert (result.rows[0].params, result.rows[0].trainable_params) == (20, 0)


def test_depth_folds_the_layers_of_deeper_modules_into_one_row():
    from minidl.zoo import lenet5

    model = lenet5()
    layers = summary(model, (1, 28, 28), print_table=False)
    folded = summary(model, (1, 28, 28), depth=1, print_table=False)
    assert [(row.name, row.type) for row in folded.rows] == [("features", "Sequential"), ("classifier", "Sequential")]
    assert [row.output_shape for row in folded.rows] == [(16, 5, 5), (10,)]
    assert [row.params for row in folded.rows] == [156 + 2_416, 48_120 + 10_164 + 850]
    assert [row.macs for row in folded.rows] == [28 * 28 * 6 * 25 + 10 * 10 * 16 * 6 * 25,
                                                 400 * 120 + 120 * 84 + 84 * 10]
    assert sum(row.macs for row in layers.rows) == layers.total_macs == folded.total_macs == 416_520
    assert folded.rows[0].receptive_field == ReceptiveField((16, 16), (4, 4), (6, 6))
    assert len(layers.rows) == 12 and layers.rows[0].name == "features.conv1"


def test_the_model_runs_in_evaluation_mode_and_gets_its_modes_back():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Dropout(0.5), nn.Flatten(), nn.Linear(8, 2))
    model[4].eval()  # a mixed state must come back as it was
    before = {key: value.copy() for key, value in model.state_dict().items()}
    summary(model, (1, 4, 4), print_table=False)
    assert [m.training for m in model.modules()] == [True, True, True, True, True, False]
    after = model.state_dict()
    assert all(np.array_equal(before[key], after[key]) for key in before)  # no running statistics updated
    assert all(p.grad is None for p in model.parameters())


class Broken(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3)

    def forward(self, x):
        self.conv(x)
        raise RuntimeError("broken forward")


def test_hooks_are_removed_and_modes_restored_when_the_forward_fails():
    model = Broken()
    with pytest.raises(RuntimeError, match="broken forward"):
        summary(model, (1, 5, 5), print_table=False)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert model.training and model.conv.training


def test_inside_no_grad_the_branches_are_still_followed():
    from minidl.zoo.googlenet import Inception

    with md.no_grad():
        result = summary(Inception(8, 2, 2, 2, 2, 2, 2, ch5x5_kernel=5), (8, 6, 6), print_table=False)
        assert not md.is_grad_enabled()  # the caller's mode is left as it was
    assert result.receptive_field == ReceptiveField((5, 5), (1, 1), (0.5, 0.5))


def test_the_table_reads_like_torchinfo(capsys):
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.GlobalAvgPool2d(), nn.Flatten(),
                          nn.Linear(8, 1000))
    result = summary(model, (3, 224, 224))
    printed = capsys.readouterr().out
    assert printed == str(result) + "\n"
    lines = printed.splitlines()
    assert lines[0] == "Input shape: 3x224x224 (one image)"
    assert lines[2].split() == ["Layer", "(type)", "Output", "shape", "Param", "#", "MACs", "RF", "Jump", "Start"]
    assert lines[4].split() == ["0", "(Conv2d)", "8x224x224", "224", "10,838,016", "3x3", "1", "0.5"]
    assert lines[6].split() == ["2", "(GlobalAvgPool2d)", "8x1x1", "0", "0", "full"]
    assert "Total params: 9,224" in lines
    assert "Total MACs: 10,846,016 (10.85 M); FLOPs = 2 x MACs = 21.69 M" in lines
    assert "Receptive field of the last feature map (1): 3x3, jump 1, start 0.5" in lines
    # 4 bytes * (8*224*224 (conv) + 8*224*224 (ReLU) + 8 (pool) + 8 (flatten) + 1000 (linear))
    assert "Forward pass size (MB): 3.22" in lines and "Forward/backward pass size (MB): 6.43" in lines
    summary(model, (3, 8, 8), print_table=False)
    assert capsys.readouterr().out == ""


def test_a_batch_axis_and_torchinfos_input_size_give_the_same_table_of_one_image():
    from minidl.zoo import lenet5

    model = lenet5()
    one = summary(model, (1, 28, 28), print_table=False)
    for result in (summary(model, (16, 1, 28, 28), print_table=False),
                   summary(model, input_size=(16, 1, 28, 28), print_table=False),
                   summary(model, input_size=[16, 1, 28, 28], print_table=False)):
        assert (result.input_shape, result.batch_size) == ((1, 28, 28), 16)
        assert result.rows == one.rows and result.total_macs == one.total_macs == 416_520
        assert str(result).splitlines()[0] == "Input shape: 16x1x28x28 (a batch of 16; the table is of one image)"
        assert str(result).splitlines()[1:] == str(one).splitlines()[1:]
    assert (one.batch_size, summary(model, input_size=(1, 28, 28), print_table=False).batch_size) == (None, None)
    # Shapes of other lengths are one sample: a vector for a Linear layer, (C, H, W) for a conv.
    assert summary(nn.Linear(4, 3), (4,), print_table=False).output_shape == (3,)


def test_bad_arguments_are_refused():
    model = nn.Conv2d(1, 1, 3)
    with pytest.raises(ValueError, match="summary: depth must be None or a positive int, got 0"):
        summary(model, (1, 5, 5), depth=0)
    with pytest.raises(ValueError, match=r"summary: input_shape must be the shape of one image .* got \(1, 0, 5\)"):
        summary(model, (1, 0, 5))
    with pytest.raises(TypeError, match="summary: model must be a minidl.nn.Module, got function"):
        summary(lambda x: x, (1, 5, 5))
    with pytest.raises(TypeError, match="summary: dtype must be a floating point type, got int64"):
        summary(model, (1, 5, 5), dtype=np.int64)
    with pytest.raises(TypeError, match=r"summary: give the input's shape as input_shape or as input_size .* got both"):
        summary(model, (1, 5, 5), input_size=(1, 1, 5, 5))
    with pytest.raises(TypeError, match=r"summary: give the input's shape .* got neither"):
        summary(model)
    with pytest.raises(ValueError, match=r"summary: a 4-entry input shape is \(N, C, H, W\) with a batch size N >= 1, "
                                         r"got \(0, 1, 5, 5\)"):
        summary(model, (0, 1, 5, 5))


# ---------------------------------------------------------------------------- the zoo at 224x224
# torchvision's published "GFLOPS" (multiply-accumulates) and parameter counts.
@pytest.mark.parametrize("builder, published_macs, params", [
    ("resnet.resnet18", 1.814e9, 11_689_512),
    ("alexnet.alexnet", 0.714e9, 61_100_840),
    ("googlenet.googlenet", 1.498e9, 13_004_888),
    ("vgg.vgg16", 15.47e9, 138_357_544),
])
def test_imagenet_models_cost_their_published_macs(builder, published_macs, params):
    import importlib

    family, name = builder.split(".")
    model = getattr(importlib.import_module(f"minidl.zoo.{family}"), name)()
    result = summary(model, (3, 224, 224), print_table=False)
    assert abs(result.total_macs - published_macs) <= 0.005 * published_macs
    assert result.total_params == params
    if name == "googlenet":  # in evaluation mode the auxiliary classifiers do not run
        assert not any(row.name.startswith("aux") for row in result.rows)
    if name == "vgg16":
        pool5 = rows_by_name(result)["features.30"]
        assert pool5.output_shape == (512, 7, 7)
        assert pool5.receptive_field == ReceptiveField((212, 212), (32, 32), (16, 16))
