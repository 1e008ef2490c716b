"""The student version of an assignment: stubs instead of solutions, no hidden tests, a notebook.

    release("hw1", source="assignments", out="/tmp/x")    # writes /tmp/x/hw1/

From the instructor's folder ``source/hw1``:

- each graded module (``assignment.json``'s ``module``) gets every solution region replaced by a
  stub, ``raise NotImplementedError("Task 1.2: conv_forward_naive (...)")``, the task found from
  the function the region lies in (a region outside the tasks' functions is an error);
- every other ``.py`` file loses its hidden-test regions (and may hold no solution region);
- the notebook source (jupytext percent) becomes ``hw1.ipynb`` (and ``assignment.json`` says so);
- ``hidden/`` (the hidden cases and their expected values) is left out, and so are caches.

The release is then checked (``check_release``), and refused when a check fails:

- no solution or hidden-test text survives: every non-blank line of a solution or hidden region
  of any source file that does not also occur outside those regions is searched for in every
  released file (notebooks included, cell by cell);
- the graded modules import cleanly, in a fresh Python process.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from minidl.homework.assignment import DESCRIPTION, HIDDEN_FOLDER, load_assignment
from minidl.homework.markers import (hidden_regions, lines_inside, lines_outside, remove_hidden, replace_solutions,
                                     solution_regions)
from minidl.homework.notebooks import notebook_of_text, write_notebook

__all__ = ["release", "check_release", "ReleaseError", "Release", "stub_lines"]

_SKIPPED = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", HIDDEN_FOLDER}


class ReleaseError(ValueError):
    """The release could not be made, or made one that leaks or does not import; the message says where."""


@dataclass(frozen=True)
class Release:
    """What a release wrote: its folder, its files (relative), and how many stubs and hidden regions."""

    folder: str
    files: tuple
    stubs: int
    hidden_removed: int


def _source_files(folder):
    """The files of an assignment folder (relative paths, sorted), caches and hidden/ left out."""
    found = []
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if f not in _SKIPPED)
        found += [os.path.relpath(os.path.join(root, name), folder) for name in sorted(files)
                  if not name.endswith((".pyc", ".ipynb"))]
    return found


def _enclosing(tree, line):
    """The qualified name ("f" or "Class.method") of the innermost function holding ``line``, or None."""
    best, names, body = None, [], tree.body
    while True:
        inside = [node for node in body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                  and node.lineno <= line <= node.end_lineno]
        if not inside:
            return best
        node = inside[0]
        names.append(node.name)
        if not isinstance(node, ast.ClassDef):
            best = ".".join(names)
        body = node.body


def stub_lines(task, qualified_name):
    """The lines that replace a solution region of ``qualified_name``, one of ``task``'s functions."""
    message = f"Task {task.id}: {qualified_name} ({task.title})"
    return ["# YOUR CODE HERE", f"raise NotImplementedError({json.dumps(message)})"]


def _stubbed_module(assignment, module, text, path):
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as error:
        raise ReleaseError(f"{path}:{error.lineno}: does not parse: {error.msg}") from error
    regions = solution_regions(text, path)

    def stub_for(region):
        name = _enclosing(tree, region.begin)
        task = assignment.task_of(module, name) if name else None
        if task is None:
            raise ReleaseError(f"{path}:{region.begin}: a solution region outside the functions of the tasks "
                               f"({', '.join(t.id for t in assignment.tasks if t.module == module)}) of {module}")
        return stub_lines(task, name)

    return replace_solutions(remove_hidden(text, path), stub_for, path), len(regions)


def release(name, source="assignments", out=".", force=False):
    """Write the student version of assignment ``name`` to ``out/name`` and check it.

    Args:
        name: the assignment ("hw1").
        source: the folder of the instructor's assignments.
        out: where the release folder goes.
        force: replace an existing ``out/name``.
    Returns:
        a Release. Raises ReleaseError (nothing is left behind) when the source's markers, the
        stubs or the checks fail.
    """
    assignment = load_assignment(source, name)
    target = os.path.join(out, name)
    if os.path.exists(target) and not force:
        raise ReleaseError(f"{target} exists; remove it or choose another --out")
    os.makedirs(out, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{name}.release-", dir=out)
    try:
        written, stubs, removed = [], 0, 0
        for relative in _source_files(assignment.folder):
            path = os.path.join(assignment.folder, relative)
            destination = os.path.join(staging, relative)
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            if relative == DESCRIPTION:
                _write_description(path, destination, f"{name}.ipynb")
                written.append(relative)
                continue
            if not relative.endswith(".py"):
                shutil.copy2(path, destination)
                written.append(relative)
                continue
            with open(path) as file:
                text = file.read()
            removed += len(hidden_regions(text, path))
            if relative in assignment.modules:
                text, count = _stubbed_module(assignment, relative, text, path)
                stubs += count
            elif solution_regions(text, path):
                raise ReleaseError(f"{path}:{solution_regions(text, path)[0].begin}: a solution region outside "
                                   "the graded modules; solutions belong in the tasks' functions")
            else:
                text = remove_hidden(text, path)
            if relative == assignment.notebook:
                relative = f"{name}.ipynb"
                write_notebook(notebook_of_text(text), os.path.join(staging, relative))
            else:
                with open(destination, "w") as file:
                    file.write(text)
            written.append(relative)
        check_release(assignment, staging)
        if os.path.exists(target):
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging)
    return Release(target, tuple(sorted(written)), stubs, removed)


def _write_description(path, destination, notebook):
    """assignment.json as released: the notebook is the generated ``.ipynb``."""
    with open(path) as file:
        description = json.load(file)
    description["notebook"] = notebook
    with open(destination, "w") as file:
        json.dump(description, file, indent=2)
        file.write("\n")


def _secret_lines(assignment):
    """The lines of the solution and hidden regions of every source file that occur nowhere outside them."""
    inside, outside = set(), set()
    for root, folders, files in os.walk(assignment.folder):
        folders[:] = [f for f in folders if f not in _SKIPPED]
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            with open(path) as file:
                text = file.read()
            inside.update(lines_inside(text, solution_regions(text, path) + hidden_regions(text, path)))
            outside.update(lines_outside(text, path))
    return inside - outside


def _released_lines(path):
    """(where, line) for every stripped non-blank line of a released file; a notebook's cells one by one."""
    if path.endswith(".ipynb"):
        with open(path) as file:
            cells = json.load(file)["cells"]
        for index, cell in enumerate(cells):
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for number, line in enumerate(source.splitlines(), start=1):
                yield f"{path} cell {index + 1} line {number}", line.strip()
        return
    try:
        with open(path) as file:
            lines = file.read().splitlines()
    except UnicodeDecodeError:   # a binary file (a picture) holds no source line
        return
    for number, line in enumerate(lines, start=1):
        yield f"{path}:{number}", line.strip()


def check_release(assignment, folder):
    """Refuse (ReleaseError) a release folder that holds hidden files or solution text, or whose
    graded modules do not import."""
    if os.path.exists(os.path.join(folder, HIDDEN_FOLDER)):
        raise ReleaseError(f"{folder} holds {HIDDEN_FOLDER}/, the instructor-only cases")
    secrets = _secret_lines(assignment)
    for root, _, files in os.walk(folder):
        for name in sorted(files):
            for where, line in _released_lines(os.path.join(root, name)):
                if line in secrets:
                    raise ReleaseError(f"{where} is a line of a solution or a hidden test: {line!r}")
    modules = [module[:-3] for module in assignment.modules]
    result = subprocess.run([sys.executable, "-c", f"import {', '.join(modules)}"], cwd=folder, capture_output=True,
                            text=True, env=dict(os.environ, PYTHONPATH=folder, PYTHONDONTWRITEBYTECODE="1",
                                                MPLBACKEND="Agg"), timeout=300)
    if result.returncode != 0:
        last = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit status {result.returncode}"
        raise ReleaseError(f"the released modules of {assignment.name} do not import: {last}")
