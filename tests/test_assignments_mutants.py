"""The classic mistakes, planted in the reference solutions: each must fail its task's tests.

A mutant is the reference solution with one line changed. It breaks no rule of the task (it is
wrong mathematics, not forbidden code), so only the tests can catch it, and they must:

- max-pool backward with ``=`` instead of ``+=``: a pixel that wins several overlapping windows
  gets one gradient instead of their sum;
- the backward pass as a convolution with the kernel not flipped;
- batch norm backward without the mean's term;
- guided backpropagation without the forward mask (the deconvnet's rule instead).
"""

import shutil
from pathlib import Path

import pytest

from minidl.homework import grade, load_assignment

SOURCE = Path(__file__).resolve().parents[1] / "assignments"

# (assignment, module, task, the reference's line, the mistake, tests that must fail)
MUTANTS = {
    "max-pool backward with = instead of +=": (
        "hw2", "pooling.py", "2.1",
        "dx[n, c, row, col] += dout[n, c, i, j]",
        "dx[n, c, row, col] = dout[n, c, i, j]",
        {"test_a_pixel_that_wins_overlapping_windows_gets_the_sum_of_their_gradients",
         "test_max_pool_backward_passes_the_gradient_check", "test_max_pooling_on_the_hidden_cases"}),
    "conv backward with the kernel not flipped": (
        "hw1", "naive_conv.py", "1.5",
        "w_flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)",
        "w_flipped = w.transpose(1, 0, 2, 3)",
        {"test_flipped_full_convolution_is_the_input_gradient[same-3x3]",
         "test_flipped_full_convolution_is_the_input_gradient[stride-2]",
         "test_flipped_full_convolution_is_the_input_gradient[stride-3-pad-2]"}),
    "batch norm backward without the mean term": (
        "hw3", "batchnorm.py", "3.1",
        "dx = (count * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (count * std)",
        "dx = (count * dxhat - xhat * (dxhat * xhat).sum(axis=0)) / (count * std)",
        {"test_backward_passes_the_gradient_check",
         "test_spatial_batch_norm_normalises_each_channel_over_batch_and_space", "test_the_hidden_batch"}),
    "guided backprop without the forward mask": (
        "hw5", "guided_backprop.py", "5.2",
        "lambda module, grad_in, grad_out: (grad_in[0].clip(min=0),)",
        "lambda module, grad_in, grad_out: (grad_out[0].clip(min=0),)",
        {"test_on_x_relu_linear_it_is_the_positive_weights_where_x_was_positive",
         "test_it_matches_the_answer_key_and_leaves_no_hook_behind", "test_the_hidden_batch"}),
}


@pytest.mark.parametrize("mutant", MUTANTS)
def test_the_planted_mistake_fails_its_tasks_tests(mutant, tmp_path):
    name, module, task, line, mistake, must_fail = MUTANTS[mutant]
    for graded in load_assignment(SOURCE, name).modules:
        shutil.copy(SOURCE / name / graded, tmp_path / graded)
    code = (tmp_path / module).read_text()
    assert code.count(line) == 1, f"the reference's line {line!r} is not (once) in {module}"
    (tmp_path / module).write_text(code.replace(line, mistake))
    (result,) = grade(name, SOURCE, tmp_path, tasks=[task]).tasks
    assert result.violations == []         # the mistake is in the mathematics, not in the rules
    failed = {test.name for test in result.tests if not test.passed}
    assert must_fail <= failed, f"{mutant}: {sorted(must_fail - failed)} passed"
    assert result.points()[0] < result.points()[1]
