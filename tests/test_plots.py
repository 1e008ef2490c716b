"""The run pictures: PNG files, written atomically, with clear errors for mismatched input."""

import os

import numpy as np
import pytest

from minidl import nn
from minidl.plots import plot_confusion, plot_curves, plot_filters

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def is_png(path):
    return path.read_bytes()[:8] == PNG_MAGIC


def test_every_plot_writes_a_png(tmp_path):
    history = {"train_loss": [1.0, 0.5], "val_loss": [1.2, 0.7], "train_acc": [0.6, 0.8],
               "val_acc": [0.5, 0.75]}
    plot_curves(history, tmp_path / "curves.png")
    plot_curves({**history, "val_loss": [None, None], "val_acc": [None, None]}, tmp_path / "train_only.png")
    plot_confusion(np.array([[5, 1], [2, 7]]), ["cat", "dog"], tmp_path / "confusion.png")
    plot_filters(nn.Conv2d(1, 6, 5).weight, tmp_path / "grey.png")
    plot_filters(np.random.default_rng(0).standard_normal((16, 3, 3, 3)), tmp_path / "colour.png")
    plot_filters(np.zeros((4, 6, 5, 5)), tmp_path / "channels.png")   # constant filters: no division by 0
    names = ["curves.png", "train_only.png", "confusion.png", "grey.png", "colour.png", "channels.png"]
    assert sorted(os.listdir(tmp_path)) == sorted(names)
    assert all(is_png(tmp_path / name) for name in names)


def test_a_failed_plot_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "curves.png"
    path.write_bytes(b"old picture")
    from matplotlib.figure import Figure

    def broken_savefig(self, file, **kwargs):
        file.write(b"half a png")
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        plot_curves({"train_loss": [1.0], "train_acc": [0.5]}, path)
    assert path.read_bytes() == b"old picture" and os.listdir(tmp_path) == ["curves.png"]


def test_mismatched_input_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"plot_confusion: a matrix of shape \(2, 2\) does not match 3 class names"):
        plot_confusion(np.eye(2, dtype=int), ["a", "b", "c"], tmp_path / "c.png")
    with pytest.raises(ValueError, match=r"plot_filters: expected a conv weight of shape \(F, C, kh, kw\), "
                                         r"got shape \(6, 25\)"):
        plot_filters(np.zeros((6, 25)), tmp_path / "f.png")
    assert os.listdir(tmp_path) == []
