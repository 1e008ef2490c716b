"""The rules of the real assignments' tasks (assignment.json), enforced by minidl grade.

Each submission below is the reference solution with one function rewritten to break its task's
rule while still computing the right answer: the task's tests pass, and the task scores 0 with a
message that names the rule. What the submission changes is the only difference from a full
score, so these check the rule and not the tests.
"""

import shutil
import textwrap
from pathlib import Path

import pytest

from minidl.homework import format_report, grade, load_assignment

SOURCE = Path(__file__).resolve().parents[1] / "assignments"

# (assignment, module, task, function, its new body, the rule, the first refusal's message, the line it names)
BREAKS = {
    "the naive convolution calls minidl's naive layer": (
        "hw1", "naive_conv.py", "1.3", "conv_forward_naive", """
        from minidl.layers.conv_naive import conv2d_naive_forward
        stride, pad = conv_param["stride"], conv_param["pad"]
        out, _ = conv2d_naive_forward(x, w, b, stride=(stride, stride), padding=(pad, pad))
        return out, (x, w, b, conv_param)
        """, "forbidden import",
        "Task 1.3: conv_forward_naive imports minidl.layers.conv_naive (line {line}): this task may not use "
        "minidl.layers", "from minidl.layers.conv_naive import"),
    "im2col loops over the images": (
        "hw1", "fast_conv.py", "1.6", "im2col", """
        n_images, channels, height, width = x.shape
        out_h = (height + 2 * pad - kernel_h) // stride + 1
        out_w = (width + 2 * pad - kernel_w) // stride + 1
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        rows = []
        for image in xp:
            for i in range(out_h):
                for j in range(out_w):
                    window = image[:, i * stride:i * stride + kernel_h, j * stride:j * stride + kernel_w]
                    rows.append(window.reshape(-1))
        return np.array(rows)
        """, "loop",
        "Task 1.6: im2col loops over xp (line {line}), which depends on x: a vectorised task may not loop over the "
        "batch or the output positions (a loop over the kernel taps, such as range(kernel_h), is allowed)",
        "for image in xp:"),
    "the flipped-kernel backward pass does not use the forward pass": (
        "hw1", "naive_conv.py", "1.5", "conv_backward_flipped", """
        dx, _, _ = conv_backward_naive(dout, cache)
        return dx
        """, "must call",
        "Task 1.5: conv_backward_flipped must compute its result with conv_forward_naive, and never calls it", None),
    "guided backpropagation calls minidl.explain": (
        "hw5", "guided_backprop.py", "5.2", "guided_backprop", """
        from minidl.explain import GuidedBackprop
        return GuidedBackprop(model).attribute(x, target=target).numpy()
        """, "forbidden import",
        "Task 5.2: guided_backprop imports minidl.explain (line {line}): this task may not use minidl.explain",
        "from minidl.explain import"),
}


def _rewrite(code, function, body):
    """``code`` with the solution region of ``function`` replaced by ``body`` (at the region's indentation)."""
    start = code.index(f"def {function}(")
    begin = code.index("### BEGIN SOLUTION", start)
    end = code.index("### END SOLUTION", begin) + len("### END SOLUTION")
    indent = code[code.rindex("\n", 0, begin) + 1:begin]
    lines = textwrap.dedent(body).strip().splitlines()
    return code[:begin] + f"\n{indent}".join(lines) + code[end:]


@pytest.mark.parametrize("case", BREAKS)
def test_a_task_that_breaks_its_rule_scores_zero_with_the_rule_named(case, tmp_path):
    name, module, task, function, body, rule, message, anchor = BREAKS[case]
    for graded in load_assignment(SOURCE, name).modules:
        shutil.copy(SOURCE / name / graded, tmp_path / graded)
    code = _rewrite((tmp_path / module).read_text(), function, body)
    (tmp_path / module).write_text(code)
    report = grade(name, SOURCE, tmp_path, tasks=[task])
    (result,) = report.tasks
    assert all(test.passed for test in result.tests), [t.message for t in result.tests if not t.passed]
    assert result.points() == (0, result.points()[1]) and result.points()[1] > 0
    assert {violation.rule for violation in result.violations} == {rule}
    if anchor is not None:   # the line the message names is the body's line that breaks the rule
        message = message.format(line=next(number for number, text in enumerate(code.splitlines(), start=1)
                                           if anchor in text))
    assert result.violations[0].message == message
    assert f"      -> {message}"[:80] in format_report(report)
