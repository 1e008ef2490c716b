"""An assignment's description: its tasks, the files students write, and the rules each task keeps.

An assignment is a folder (``assignments/hw1``) holding ``assignment.json``:

    {
      "title": "Convolution from scratch",
      "notebook": "notebook.py",
      "tasks": [
        {"id": "1.2", "title": "Naive convolution: forward pass", "module": "naive_conv.py",
         "functions": ["conv_forward_naive"],
         "forbidden_imports": ["minidl.layers", "minidl.functional"],
         "vectorised": {"im2col": ["x"]},
         "must_call": {"conv_backward_flipped": ["conv_forward_naive"]},
         "time_limit_s": 20}
      ]
    }

- ``module``: the graded file the student edits; ``functions``: the functions (or classes) of
  that file that make up the task. Their bodies hold the solutions (``markers.py``).
- ``forbidden_imports``: modules the task's code may not use (``ast_rules.py``).
- ``vectorised``: for each function that must be vectorised, its data arguments (a name, or
  ``cache[i]`` for one element of a tuple argument); loops whose length depends on them are
  refused.
- ``must_call``: functions a task's function must compute its result with.
- ``time_limit_s``: the time all of the task's tests may take together.

The points live with the tests (``@pytest.mark.task("1.2", points=2)``), the hidden tests between
``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``, and the hidden tests' expected values in
``hidden/`` (``expected.py``), which students never get.
"""

import json
import os
import re
from dataclasses import dataclass, field

__all__ = ["Assignment", "Task", "AssignmentError", "load_assignment", "data_argument", "DESCRIPTION", "HIDDEN_FOLDER",
           "TESTS_FOLDER"]

DESCRIPTION = "assignment.json"
# Instructor-only files (the hidden tests' inputs and expected values): never released.
HIDDEN_FOLDER = "hidden"
TESTS_FOLDER = "tests"

_TASK_ID = re.compile(r"^\d+\.\d+$")
_DATA_ARGUMENT = re.compile(r"^(?P<name>[A-Za-z_]\w*)(\[(?P<index>\d+)\])?$")
_TASK_KEYS = {"id", "title", "module", "functions", "forbidden_imports", "vectorised", "must_call", "time_limit_s"}


class AssignmentError(ValueError):
    """An assignment folder or its ``assignment.json`` is not usable; the message says where and why."""


@dataclass(frozen=True)
class Task:
    """One graded task: which functions of which module, and the rules its code keeps."""

    id: str
    title: str
    module: str
    functions: tuple
    forbidden_imports: tuple = ()
    vectorised: dict = field(default_factory=dict)   # function -> tuple of data arguments
    must_call: dict = field(default_factory=dict)    # function -> tuple of function names
    time_limit_s: float = 30.0

    @property
    def module_name(self):
        """The import name of the task's module ("naive_conv" for "naive_conv.py")."""
        return self.module[:-3]


@dataclass(frozen=True)
class Assignment:
    """An assignment folder and its task table."""

    name: str
    folder: str
    title: str
    notebook: str
    tasks: tuple

    @property
    def modules(self):
        """The graded files, in the order the tasks first name them."""
        return tuple(dict.fromkeys(task.module for task in self.tasks))

    def task(self, task_id):
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise AssignmentError(f"{self.name} has no task {task_id!r}; its tasks are "
                              f"{', '.join(task.id for task in self.tasks)}")

    def task_of(self, module, qualified_name):
        """The task whose functions include ``qualified_name`` ("f", or "Class.method") of ``module``,
        or None."""
        parts = qualified_name.split(".")
        for task in self.tasks:
            if task.module == module and any(part in task.functions for part in parts):
                return task
        return None

    @property
    def time_limit_s(self):
        """The time all of the tasks may take together."""
        return sum(task.time_limit_s for task in self.tasks)


def load_assignment(source, name):
    """The assignment ``name`` in the folder ``source`` (``source/name/assignment.json``).

    Raises AssignmentError, naming the file and the field, when the folder or the description is
    missing or malformed.
    """
    folder = os.path.join(source, name)
    path = os.path.join(folder, DESCRIPTION)
    if not os.path.isdir(folder):
        known = sorted(entry for entry in os.listdir(source)
                       if os.path.isfile(os.path.join(source, entry, DESCRIPTION))) if os.path.isdir(source) else []
        hint = f"the assignments there: {', '.join(known)}" if known else "it holds no assignment"
        raise AssignmentError(f"no assignment {name!r} in {source} ({hint})")
    if not os.path.isfile(path):
        raise AssignmentError(f"{folder} has no {DESCRIPTION}: it is not an assignment folder")
    try:
        with open(path) as file:
            description = json.load(file)
    except json.JSONDecodeError as error:
        raise AssignmentError(f"{path}: not valid JSON: {error}") from error
    for key in ("title", "notebook", "tasks"):
        if key not in description:
            raise AssignmentError(f"{path}: the field {key!r} is missing")
    tasks = tuple(_task(path, entry) for entry in description["tasks"])
    ids = [task.id for task in tasks]
    repeated = sorted({task_id for task_id in ids if ids.count(task_id) > 1})
    if repeated:
        raise AssignmentError(f"{path}: task {repeated[0]} is listed twice")
    for task in tasks:
        if not os.path.isfile(os.path.join(folder, task.module)):
            raise AssignmentError(f"{path}: task {task.id}'s module {task.module} is not in {folder}")
    if not os.path.isfile(os.path.join(folder, description["notebook"])):
        raise AssignmentError(f"{path}: the notebook {description['notebook']} is not in {folder}")
    return Assignment(name, folder, description["title"], description["notebook"], tasks)


def _task(path, entry):
    where = f"{path}: task {entry.get('id', '?')}"
    unknown = sorted(set(entry) - _TASK_KEYS)
    if unknown:
        raise AssignmentError(f"{where}: unknown field {unknown[0]!r}; the fields are {', '.join(sorted(_TASK_KEYS))}")
    for key in ("id", "title", "module", "functions"):
        if key not in entry:
            raise AssignmentError(f"{where}: the field {key!r} is missing")
    if not _TASK_ID.match(str(entry["id"])):
        raise AssignmentError(f"{where}: the id must look like 1.3, got {entry['id']!r}")
    if not entry["module"].endswith(".py") or os.sep in entry["module"]:
        raise AssignmentError(f"{where}: the module must be a .py file in the assignment folder, got "
                              f"{entry['module']!r}")
    functions = tuple(entry["functions"])
    vectorised = {function: tuple(arguments) for function, arguments in entry.get("vectorised", {}).items()}
    must_call = {function: tuple(names) for function, names in entry.get("must_call", {}).items()}
    for function in [*vectorised, *must_call]:
        if function not in functions:
            raise AssignmentError(f"{where}: {function!r} has a rule but is not one of the task's functions "
                                  f"({', '.join(functions)})")
    for arguments in vectorised.values():
        for argument in arguments:
            if not _DATA_ARGUMENT.match(argument):
                raise AssignmentError(f"{where}: a data argument is a name or name[i], got {argument!r}")
    time_limit = entry.get("time_limit_s", 30.0)
    if not (isinstance(time_limit, int | float) and time_limit > 0):
        raise AssignmentError(f"{where}: time_limit_s must be a positive number of seconds, got {time_limit!r}")
    return Task(str(entry["id"]), entry["title"], entry["module"], functions,
                tuple(entry.get("forbidden_imports", ())), vectorised, must_call, float(time_limit))


def data_argument(argument):
    """("cache", 4) for "cache[4]", ("x", None) for "x"."""
    match = _DATA_ARGUMENT.match(argument)
    index = match["index"]
    return match["name"], None if index is None else int(index)
