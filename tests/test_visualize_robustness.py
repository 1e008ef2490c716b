"""minidl.visualize.robustness_report: errors counted by hand, CE and mCE by Hendrycks and Dietterich's
formulas, model and baseline on the very same corrupted images."""

import numpy as np
import pytest

import minidl
from minidl import nn
from minidl.data import TensorDataset
from minidl.visualize import RobustnessReport, robustness_report
from minidl.visualize.corruptions import BENCHMARK


class Brightness(nn.Module):
    """Class 0 ("bright") when the image's mean m exceeds 0.5, else class 1: scores (m - 0.5, 0.5 - m)."""

    def forward(self, x):
        m = x.mean(dim=(1, 2, 3))
        return minidl.stack([m - 0.5, 0.5 - m], dim=1)


def bright_and_dark():
    """Four grey images of 0.8 (class 0) and four of 0.1 (class 1)."""
    x = np.concatenate([np.full((4, 1, 6, 6), 0.8), np.full((4, 1, 6, 6), 0.1)]).astype(np.float32)
    return TensorDataset(x, np.array([0] * 4 + [1] * 4))


def test_errors_by_hand_under_brightness_and_contrast():
    report = robustness_report(Brightness(), bright_and_dark(), kinds=["brightness", "contrast"], progress=False)
    # Brightness adds .1 .2 .3 .4 .5 (clipped at 1): the dark images reach 0.2 0.3 0.4 0.5 0.6; at 0.6
    # they are called bright; at 0.5 the two scores tie and the first class, "bright", wins.
    assert report.clean_error == 0.0
    assert report.errors["brightness"] == [0.0, 0.0, 0.0, 0.5, 0.5]
    # Contrast keeps each constant image as it is: no error at any severity.
    assert report.errors["contrast"] == [0.0] * 5
    assert report.baseline is None and report.ce("brightness") is None and report.mce() is None


def test_ce_and_mce_follow_the_papers_formulas():
    kinds = ("gaussian_noise", "contrast", "speckle_noise")
    base = RobustnessReport(kinds, (1, 2, 3, 4, 5), 100, 0.10,
                            {"gaussian_noise": [.2, .3, .4, .5, .6], "contrast": [.1, .2, .2, .3, .2],
                             "speckle_noise": [.1, .1, .1, .1, .1]}, name="base")
    model = RobustnessReport(kinds, (1, 2, 3, 4, 5), 100, 0.05,
                             {"gaussian_noise": [.1, .1, .2, .3, .3], "contrast": [.1, .1, .1, .2, .5],
                              "speckle_noise": [.05, .05, .05, .05, .05]}, baseline=base)
    assert model.ce("gaussian_noise") == pytest.approx(1.0 / 2.0)
    assert model.ce("contrast") == pytest.approx(1.0 / 1.0)
    # Relative CE: sum_s (E_s - E_clean) over the baseline's: (1.0 - 5 * .05) / (2.0 - 5 * .1).
    assert model.relative_ce("gaussian_noise") == pytest.approx(0.75 / 1.5)
    assert model.relative_ce("speckle_noise") is None   # the baseline's error does not grow: undefined
    # The mean over the benchmark corruptions only: speckle noise is one of the extra ones.
    assert "speckle_noise" not in BENCHMARK
    assert model.mce() == pytest.approx((0.5 + 1.0) / 2)
    table = model.table()
    assert "| gaussian noise | 10.0% | 10.0% | 20.0% | 30.0% | 30.0% | 20.0% | 40.0% | 50.0% | 50.0% |" in table
    assert "| speckle noise (extra) |" in table and "mCE over the 2 benchmark corruptions implemented: 75.0%" in table


def test_a_model_against_itself_sees_the_same_images_so_every_ce_is_one(tmp_path):
    rng = np.random.default_rng(0)
    dataset = TensorDataset(rng.uniform(0, 1, (12, 1, 6, 6)).astype(np.float32), rng.integers(0, 2, 12))
    model = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
    kinds = ["gaussian_noise", "impulse_noise", "pixelate"]
    report = robustness_report(model, dataset, baseline=model, kinds=kinds, batch_size=5, progress=False,
                               path=tmp_path / "r.png")
    for kind in kinds:
        assert report.errors[kind] == report.baseline.errors[kind]
        assert report.ce(kind) in (1.0, None)
    again = robustness_report(model, dataset, baseline=report.baseline, kinds=kinds, batch_size=5, progress=False)
    assert again.errors == report.errors   # the seed and batches fix the corrupted images
    assert report.to_dict()["errors"] == {kind: report.errors[kind] for kind in kinds}
    assert (tmp_path / "r.png").stat().st_size > 0 and len(report.figure.axes) == 3


@pytest.mark.parametrize("kwargs, message", [
    (dict(kinds=["fog"]), "robustness_report: unknown corruption 'fog'; the corruptions: gaussian_noise"),
    (dict(severities=[0, 1]), r"robustness_report: severities must be integers from 1 to 5, got \(0, 1\)"),
    (dict(baseline="alexnet"), "robustness_report: baseline must be None, a model or a RobustnessReport, got str"),
    (dict(baseline=RobustnessReport(("contrast",), (1, 2, 3, 4, 5), 8, 0.0, {"contrast": [0] * 5})),
     "robustness_report: the baseline report was measured on other corruptions"),
])
def test_mistakes_are_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message) as error:
        robustness_report(Brightness(), bright_and_dark(), progress=False, **kwargs)
    assert "\n" not in str(error.value)
