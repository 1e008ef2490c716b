"""minidl.homework.ast_rules: forbidden imports, loops in vectorised code and required calls, read
from the syntax tree; each refusal names the task, the function, the line and the rule."""

import textwrap

import pytest

from minidl.homework.assignment import Task
from minidl.homework.ast_rules import check_task

CONV = Task("1.3", "Naive convolution", "student.py", ("conv",),
            forbidden_imports=("minidl.layers.conv", "minidl.functional"))
IM2COL = Task("1.6", "im2col", "student.py", ("im2col", "backward"),
              vectorised={"im2col": ("x",), "backward": ("dout", "cache[0]")})


def violations(task, code, **others):
    sources = {"student": ("student.py", textwrap.dedent(code))}
    sources.update({name: (f"{name}.py", textwrap.dedent(text)) for name, text in others.items()})
    return check_task(task, sources)


@pytest.mark.parametrize("code", [
    "from minidl.layers.conv import conv2d_forward\ndef conv(x):\n    return conv2d_forward(x)\n",
    "import minidl as md\ndef conv(x):\n    return md.functional.conv2d(x)\n",
    "from minidl import functional as F\ndef conv(x):\n    return F.conv2d(x)\n",
    "def conv(x):\n    from minidl.layers import conv as c\n    return c.conv2d_forward(x)\n",
    "import minidl\nf = minidl.nn.functional.conv2d\ndef conv(x):\n    return f(x)\n",   # a re-export, through an alias
    "import minidl\ndef helper(x):\n    return minidl.functional.conv2d(x)\ndef conv(x):\n    return helper(x)\n",
])
def test_every_way_of_reaching_a_forbidden_module_is_refused(code):
    found = violations(CONV, code)
    assert [v.rule for v in found] and {v.rule for v in found} == {"forbidden import"}
    assert all(v.message.startswith("Task 1.3: ") and "this task may not use minidl." in v.message for v in found)


def test_a_forbidden_function_laundered_through_another_graded_file_is_refused():
    found = violations(CONV, "from other import helper\ndef conv(x):\n    return helper(x)\n",
                       other="from minidl.layers.conv import conv2d_forward as helper2\n"
                             "def helper(x):\n    return helper2(x)\n")
    assert [(v.rule, v.path, v.line) for v in found] == [("forbidden import", "other.py", 3)]


def test_allowed_code_and_unused_imports_of_other_tasks_pass():
    code = """
        import numpy as np
        from minidl.layers.conv import conv2d_forward   # another task's

        def conv(x, layers=None):
            return np.pad(x, 1)
        """
    assert violations(CONV, code) == []


def test_a_parameter_that_shadows_a_forbidden_alias_is_not_a_use():
    code = "from minidl import functional as F\ndef conv(x, F=None):\n    return F\n"
    assert violations(CONV, code) == []


@pytest.mark.parametrize("code, rule", [
    ("import importlib\ndef conv(x):\n    return importlib.import_module('minidl.functional')\n", "dynamic import"),
    ("def conv(x):\n    return __import__('minidl')\n", "dynamic import"),
    ("import numpy as np\ndef conv(x):\n    return getattr(np, 'pad')(x, 1)\n", "dynamic import"),
    ("def other(x):\n    return x\nconv = other\n", "definition"),
    ("def conv(x):\n    return x +\n", "syntax"),
])
def test_code_the_syntax_tree_cannot_follow_is_refused(code, rule):
    found = violations(CONV, code)
    assert [v.rule for v in found] == [rule]


VECTORISED = """
    import numpy as np

    def im2col(x, kernel_h, kernel_w, stride, pad):
        n, c, h, w = x.shape
        out_h = (h + 2 * pad - kernel_h) // stride + 1
        out_w = (w + 2 * pad - kernel_w) // stride + 1
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        cols = np.zeros((n, c, kernel_h, kernel_w, out_h, out_w))
        for k in range(kernel_h):
            for l in range(kernel_w):
                cols[:, :, k, l] = xp[:, :, k:k + stride * out_h:stride, l:l + stride * out_w:stride]
        return cols

    def backward(dout, cache):
        x, w, conv_param = cache
        f, c, kernel_h, kernel_w = w.shape
        for k in range(kernel_h):
            pass
        return dout.sum(axis=0)
    """


def test_loops_over_the_kernel_taps_are_allowed():
    assert violations(IM2COL, VECTORISED) == []


@pytest.mark.parametrize("loop, what", [
    ("for n in range(x.shape[0]):\n        pass", "loops over range(x.shape[0]) (line 3), which depends on x"),
    ("n = len(x)\n    for i in range(n):\n        pass", "loops over range(n) (line 4), which depends on x"),
    ("h = x.shape[2]\n    out = (h - kernel_h) // stride + 1\n    for i in range(out):\n        pass",
     "loops over range(out) (line 5), which depends on x"),
    ("for image in x:\n        pass", "loops over x (line 3), which depends on x"),
    ("rows = [r.sum() for r in x]", "loops (in a comprehension) over x (line 3), which depends on x"),
    ("i = 0\n    while i < 3:\n        i += 1", "has a while loop (line 4)"),
    ("np.vectorize(abs)(x)", "calls np.vectorize (line 3), a Python loop in disguise"),
    ("for idx in np.ndindex(x.shape):\n        pass", "loops over np.ndindex(x.shape) (line 3), which depends on x"),
])
def test_loops_over_the_data_are_refused_with_the_rule(loop, what):
    code = f"import numpy as np\ndef im2col(x, kernel_h, kernel_w, stride, pad):\n    {loop}\n    return x\n" \
           "def backward(dout, cache):\n    return dout\n"
    (found,) = violations(IM2COL, code)
    assert found.rule == "loop"
    assert found.message == (f"Task 1.6: im2col {what}: a vectorised task may not loop over the batch or the output "
                             "positions (a loop over the kernel taps, such as range(kernel_h), is allowed)")


def test_a_loop_in_a_helper_is_judged_by_what_the_caller_passes_it():
    code = """
        def taps(size):
            return [k for k in range(size)]

        def batch(images):
            return [image for image in images]

        def im2col(x, kernel_h, kernel_w, stride, pad):
            taps(kernel_h)
            return batch(x)

        def backward(dout, cache):
            return dout
        """
    (found,) = violations(IM2COL, code)
    assert (found.rule, found.line) == ("loop", 6) and "which depends on x" in found.message


def test_only_the_cache_elements_named_as_data_are_data():
    code = """
        def im2col(x, kernel_h, kernel_w, stride, pad):
            return x

        def backward(dout, cache):
            x, w, conv_param = cache
            for row in range(x.shape[2]):
                pass
            return dout
        """
    (found,) = violations(IM2COL, code)
    assert "loops over range(x.shape[2]) (line 7), which depends on cache[0]" in found.message


def test_a_released_stub_breaks_no_rule():
    must = Task("1.5", "flipped", "student.py", ("flipped",), must_call={"flipped": ("conv",)})
    stub = 'def flipped(dout, cache):\n    """Doc."""\n    raise NotImplementedError("Task 1.5: flipped")\n'
    assert violations(must, stub) == []
    (found,) = violations(must, "def flipped(dout, cache):\n    return dout\n")
    assert (found.rule, found.message) == ("must call", "Task 1.5: flipped must compute its result with conv, and "
                                                        "never calls it")
    assert violations(must, "from other import conv\ndef flipped(dout, cache):\n    return conv(dout)\n",
                      other="def conv(x):\n    return x\n") == []
