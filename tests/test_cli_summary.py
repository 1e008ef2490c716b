"""``minidl summary MODEL``: the table of a zoo model from the command line."""

import pytest

from minidl import cli


def test_summary_of_lenet5_at_its_own_input_size(capsys):
    assert cli.main(["summary", "lenet5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Input shape: 1x28x28 (one image)"
    assert lines[4].split() == ["features.conv1", "(Conv2d)", "6x28x28", "156", "117,600", "5x5", "1", "0.5"]
    assert "Total params: 61,706" in lines
    assert "Total MACs: 416,520 (416.52 K); FLOPs = 2 x MACs = 833.04 K" in lines
    assert "Receptive field of the last feature map (features): 16x16, jump 4, start 6" in lines


def test_input_shape_classes_and_depth_are_passed_on(capsys):
    assert cli.main(["summary", "lenet5", "--input-shape", "3", "32", "32", "--num-classes", "5", "--depth", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Input shape: 3x32x32 (one image)"
    assert [line.split()[:3] for line in lines[4:6]] == [["features", "(Sequential)", "16x5x5"],
                                                         ["classifier", "(Sequential)", "5"]]
    # conv1 6*(3*25 + 1) + conv2 2,416 + fc1 48,120 + fc2 10,164 + fc3 5*(84 + 1)
    assert f"Total params: {456 + 2416 + 48120 + 10164 + 425:,}" in lines


@pytest.mark.parametrize("arguments, message", [
    (["--input-shape", "1", "28", "30"], "--input-shape must be C H W with positive sizes and H = W"),
    (["--input-shape", "1", "20", "20"], "LeNet5: image_size must be 28, 30 or 32"),
    (["--depth", "0"], "--depth must be at least 1, got 0"),
])
def test_bad_options_are_reported_in_one_line(capsys, arguments, message):
    assert cli.main(["summary", "lenet5", *arguments]) == 2
    error = capsys.readouterr().err
    assert error.startswith("minidl summary: ") and message in error and len(error.splitlines()) == 1


def test_an_unknown_model_is_refused_in_one_line_with_the_closest_name(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["summary", "lenet6"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("minidl summary: argument MODEL: unknown model 'lenet6'; did you mean lenet5? "
                            "the models: alexnet, alexnet_original, ")
    assert error.endswith("(see minidl summary --help)\n") and len(error.splitlines()) == 1
