"""minidl.homework.markers: nbgrader's solution and hidden-test regions, stubs and their errors."""

import pytest

from minidl.homework.markers import (MarkerError, hidden_regions, lines_inside, lines_outside, remove_hidden,
                                     replace_solutions, solution_regions)

SOURCE = '''def relu(x):
    """max(x, 0)."""
    ### BEGIN SOLUTION
    out = np.maximum(x, 0)
    return out
    ### END SOLUTION


### BEGIN HIDDEN TESTS
def test_hidden():
    assert relu(-1) == 0
### END HIDDEN TESTS
def test_public():
    return out
'''


def test_regions_are_found_with_their_lines_and_indentation():
    (solution,) = solution_regions(SOURCE)
    assert (solution.begin, solution.end, solution.indent) == (3, 6, "    ")
    (hidden,) = hidden_regions(SOURCE)
    assert (hidden.begin, hidden.end, hidden.indent) == (9, 12, "")
    assert 4 in solution and 7 not in solution


def test_solutions_become_stubs_at_the_markers_indentation():
    stubbed = replace_solutions(SOURCE, lambda region: ["# YOUR CODE HERE",
                                                        f"raise NotImplementedError('{region.begin}')"])
    assert '    # YOUR CODE HERE\n    raise NotImplementedError(\'3\')\n\n\n### BEGIN HIDDEN' in stubbed
    assert "np.maximum" not in stubbed and "BEGIN SOLUTION" not in stubbed


def test_hidden_tests_are_removed_with_their_markers():
    public = remove_hidden(SOURCE)
    assert "test_hidden" not in public and "HIDDEN" not in public
    assert public.endswith("def test_public():\n    return out\n")


def test_lines_inside_and_outside_the_regions():
    assert lines_inside(SOURCE, solution_regions(SOURCE)) == ["out = np.maximum(x, 0)", "return out"]
    outside = lines_outside(SOURCE)
    assert "return out" in outside and "out = np.maximum(x, 0)" not in outside and "assert relu(-1) == 0" not in outside


@pytest.mark.parametrize("text, message", [
    ("### BEGIN SOLUTION\nx = 1\n", r"<text>:1: ### BEGIN SOLUTION is never closed"),
    ("x = 1\n### END SOLUTION\n", r"<text>:2: ### END SOLUTION without its BEGIN \(no region is open\)"),
    ("### BEGIN SOLUTION\n### BEGIN HIDDEN TESTS\n", r"<text>:2: ### BEGIN HIDDEN TESTS inside the region opened on "
                                                     r"line 1 \(### BEGIN SOLUTION\); regions do not nest"),
    ("### BEGIN SOLUTION\n### END HIDDEN TESTS\n", r"<text>:2: ### END HIDDEN TESTS without its BEGIN \(the region "
                                                   r"opened on line 1 needs ### END SOLUTION\)"),
])
def test_markers_that_do_not_pair_up_name_the_line(text, message):
    with pytest.raises(MarkerError, match=message):
        solution_regions(text)
