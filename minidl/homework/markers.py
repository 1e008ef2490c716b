"""nbgrader's markers: the solution and hidden-test regions of an assignment's source files.

An instructor writes one file with everything in it:

    def relu(x):
        \"\"\"Task 1.1: ...\"\"\"
        ### BEGIN SOLUTION
        return np.maximum(x, 0)
        ### END SOLUTION

and tests with the part students do not see:

    ### BEGIN HIDDEN TESTS
    def test_relu_on_the_hidden_cases(): ...
    ### END HIDDEN TESTS

A marker is a whole line (indentation aside). The student's version replaces each solution
region by a stub at the marker's indentation, ``# YOUR CODE HERE`` and ``raise
NotImplementedError("Task 1.1: relu (...)")``, and drops each hidden region with its markers.
Regions do not nest, and every BEGIN has its END: anything else is a ``MarkerError`` naming the
file and the line.
"""

from dataclasses import dataclass

__all__ = ["BEGIN_SOLUTION", "END_SOLUTION", "BEGIN_HIDDEN", "END_HIDDEN", "MarkerError", "Region",
           "find_regions", "solution_regions", "hidden_regions", "replace_solutions", "remove_hidden",
           "lines_inside", "lines_outside"]

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)


class MarkerError(ValueError):
    """Markers that do not pair up; the message names the file and the line."""


@dataclass(frozen=True)
class Region:
    """Lines ``begin`` .. ``end`` (1-based, the marker lines included) and the BEGIN marker's indentation."""

    begin: int
    end: int
    indent: str

    def __contains__(self, line):
        return self.begin <= line <= self.end


def find_regions(text, begin, end, path="<text>"):
    """The regions between the marker lines ``begin`` and ``end`` of ``text``, in order.

    Every marker of the four kinds is checked, so that a hidden region opened inside a solution
    (or the other way round) is an error, not a region that swallows the rest of the file.
    """
    regions, opened = [], None   # opened: (marker, line number, indentation) of the region now open
    for number, line in enumerate(text.splitlines(), start=1):
        marker = line.strip()
        if marker not in _MARKERS:
            continue
        if marker.startswith("### BEGIN"):
            if opened is not None:
                raise MarkerError(f"{path}:{number}: {marker} inside the region opened on line {opened[1]} "
                                  f"({opened[0]}); regions do not nest")
            opened = (marker, number, line[:len(line) - len(line.lstrip())])
            continue
        expected = opened[0].replace("BEGIN", "END") if opened else None
        if marker != expected:
            where = f"the region opened on line {opened[1]} needs {expected}" if opened else "no region is open"
            raise MarkerError(f"{path}:{number}: {marker} without its BEGIN ({where})")
        if opened[0] == begin:
            regions.append(Region(opened[1], number, opened[2]))
        opened = None
    if opened is not None:
        raise MarkerError(f"{path}:{opened[1]}: {opened[0]} is never closed")
    return regions


def solution_regions(text, path="<text>"):
    return find_regions(text, BEGIN_SOLUTION, END_SOLUTION, path)


def hidden_regions(text, path="<text>"):
    return find_regions(text, BEGIN_HIDDEN, END_HIDDEN, path)


def replace_solutions(text, stub_for, path="<text>"):
    """``text`` with each solution region replaced by the lines ``stub_for(region)``, each at the
    region's indentation."""
    lines = text.splitlines(keepends=True)
    for region in reversed(solution_regions(text, path)):
        lines[region.begin - 1:region.end] = [f"{region.indent}{line}\n" for line in stub_for(region)]
    return "".join(lines)


def remove_hidden(text, path="<text>"):
    """``text`` without its hidden regions (markers included)."""
    lines = text.splitlines(keepends=True)
    for region in reversed(hidden_regions(text, path)):
        del lines[region.begin - 1:region.end]
    return "".join(lines)


def lines_inside(text, regions):
    """The stripped, non-blank lines strictly between each region's markers."""
    lines = text.splitlines()
    return [line.strip() for region in regions for line in lines[region.begin:region.end - 1] if line.strip()]


def lines_outside(text, path="<text>"):
    """The stripped, non-blank lines of ``text`` outside every solution and hidden region."""
    inside = set()
    for region in solution_regions(text, path) + hidden_regions(text, path):
        inside.update(range(region.begin, region.end + 1))
    return [line.strip() for number, line in enumerate(text.splitlines(), start=1)
            if number not in inside and line.strip()]
