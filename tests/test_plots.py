"""The run pictures: PNG files, written atomically, with clear errors for mismatched input.
(The filters' grid is minidl.visualize.filters: tests/test_visualize_filters.py.)"""

import os

import numpy as np
import pytest

import minidl.plots
from minidl.plots import plot_confusion, plot_curves

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def is_png(path):
    return path.read_bytes()[:8] == PNG_MAGIC


def test_every_plot_writes_a_png(tmp_path):
    history = {"train_loss": [1.0, 0.5], "val_loss": [1.2, 0.7], "train_acc": [0.6, 0.8],
               "val_acc": [0.5, 0.75]}
    plot_curves(history, tmp_path / "curves.png")
    plot_curves({**history, "val_loss": [None, None], "val_acc": [None, None]}, tmp_path / "train_only.png")
    plot_confusion(np.array([[5, 1], [2, 7]]), ["cat", "dog"], tmp_path / "confusion.png")
    names = ["curves.png", "train_only.png", "confusion.png"]
    assert sorted(os.listdir(tmp_path)) == sorted(names)
    assert all(is_png(tmp_path / name) for name in names)


def test_one_function_draws_filters():
    assert not hasattr(minidl.plots, "plot_filters")   # minidl.visualize.filters replaced it


def test_a_one_epoch_run_shows_its_points_on_whole_epochs_under_its_title(tmp_path):
    history = {"train_loss": [1.2], "val_loss": [1.4], "train_acc": [0.6], "val_acc": [0.5]}
    figure = plot_curves(history, tmp_path / "curves.png", title="lenet5 on builtin: test accuracy 0.5000")
    assert figure.get_suptitle() == "lenet5 on builtin: test accuracy 0.5000"
    loss, accuracy = figure.axes
    for axes in (loss, accuracy):
        lines = axes.get_lines()
        assert [line.get_label() for line in lines] == ["training", "validation"]
        assert all(line.get_marker() == "o" and len(line.get_xdata()) == 1 for line in lines)
        visible_ticks = [tick for tick in axes.get_xticks() if 0.5 <= tick <= 1.5]
        assert axes.get_xlim() == (0.5, 1.5) and visible_ticks == [1.0]   # not 0.6, 0.8, ... epochs
    assert accuracy.get_ylim() == (0, 1.02)


def test_the_confusion_matrix_says_which_images_it_scored(tmp_path):
    figure = plot_confusion(np.array([[5, 1], [2, 7]]), ["cat", "dog"], tmp_path / "confusion.png",
                            title="lenet5 on the pets test set (15 images)")
    assert figure.axes[0].get_title() == "lenet5 on the pets test set (15 images)\naccuracy 0.8000 (12 of 15)"


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
    assert os.listdir(tmp_path) == []
