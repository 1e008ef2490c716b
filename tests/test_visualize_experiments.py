"""minidl experiment ablation and evolution: the variants' networks, the settledness arithmetic, and
both experiments end to end with --quick (tiny settings, numbers not checked)."""

from types import SimpleNamespace

import numpy as np
import pytest

import minidl
from minidl.experiments import get_experiment, run_experiment
from minidl.experiments.visualize_ablation import VARIANTS, build
from minidl.experiments.visualize_evolution import settled


def parameters(model):
    return sum(p.numel() for p in model.parameters())


def test_the_variants_remove_and_resize_the_layers_they_name():
    base = build()
    names = [name for name, _ in base.named_children()]
    assert names == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3", "pool3", "flatten",
                     "fc4", "relu4", "fc5", "relu5", "fc6"]
    # conv 1x8x5x5 + 8, 8x16x3x3 + 16, 16x32x3x3 + 32, fc 288x128 + 128, 128x128 + 128, 128x10 + 10
    assert parameters(base) == 208 + 1168 + 4640 + 36992 + 16512 + 1290
    no_conv2 = build(removed=("conv2",))
    assert "conv2" not in dict(no_conv2.named_children()) and no_conv2.conv3.in_channels == 8
    assert no_conv2(minidl.zeros(2, 1, 28, 28)).shape == (2, 10)   # its pool kept: the head sees 3x3 again
    head_only = build(removed=("fc4", "fc5"))
    assert head_only.fc6.in_features == 32 * 3 * 3
    wide = build(convs=(16, 32, 64), hidden=(256, 256))
    assert wide.conv3.out_channels == 64 and wide.fc5.out_features == 256
    assert len(VARIANTS) == 10 and VARIANTS[0][1] == {}


def test_settled_is_the_share_of_the_top_images_kept_until_the_last_epoch():
    records = {1: SimpleNamespace(indices=np.array([[1, 2, 3], [4, 5, 6]])),
               5: SimpleNamespace(indices=np.array([[3, 2, 9], [7, 8, 4]])),
               10: SimpleNamespace(indices=np.array([[2, 3, 7], [7, 8, 9]]))}
    shares = settled(records)
    assert shares[1] == pytest.approx((2 / 3 + 0) / 2)
    assert shares[5] == pytest.approx((2 / 3 + 2 / 3) / 2) and shares[10] == 1.0


@pytest.mark.parametrize("name", ["ablation", "evolution"])
def test_the_quick_experiments_run_end_to_end(name, tmp_path):
    report = run_experiment(name, tmp_path, quick=True, log=None)
    assert report.startswith(f"## {get_experiment(name).TITLE} (--quick")
    assert "| " in report and ("**holds**" in report or "**does not hold**" in report)
    figure = "ablation.png" if name == "ablation" else "evolution-relu3.png"
    assert (tmp_path / figure).stat().st_size > 0
