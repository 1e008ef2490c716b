"""An assignment's notebook: kept as a jupytext "percent" Python file, handed out as ``.ipynb``.

The source is plain Python that diffs and reviews well, and runs as a script:

    # %% [markdown]
    # ## Task 1.2: the naive forward pass
    # %%
    out, _ = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})

``read_notebook`` turns it into a notebook (jupytext), ``run_notebook`` executes one, cell by
cell, in a fresh Jupyter kernel (nbclient) and tells how far it got: a released notebook
stops at the first task the student has not implemented, with that task's
``NotImplementedError``.

jupytext, nbclient, nbformat and ipykernel are the ``assignments`` extra of minidl
(``pip install -e ".[assignments]"``); they are imported when first needed.
"""

import os
import time
from dataclasses import dataclass

from minidl.files import atomic_write

__all__ = ["read_notebook", "notebook_of_text", "write_notebook", "run_notebook", "NotebookRun", "QUICK_ENV"]

# Set to 1, the notebooks take their quick settings (a small subset, one epoch): for CI, which
# checks that they run, not what they reach.
QUICK_ENV = "MINIDL_HOMEWORK_QUICK"


def _require(module):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(f"notebooks need {module}: pip install -e \".[assignments]\" (it installs jupytext, "
                          "nbclient, nbformat and ipykernel)") from error


def read_notebook(path):
    """The notebook of a percent-format source ``path`` (or of an ``.ipynb`` file)."""
    if path.endswith(".ipynb"):
        return _require("nbformat").read(path, as_version=4)
    with open(path) as file:
        return notebook_of_text(file.read())


def notebook_of_text(text):
    """The notebook of percent-format source text, with a Python 3 kernel."""
    notebook = _require("jupytext").reads(text, fmt="py:percent")
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def write_notebook(notebook, path):
    """Write ``notebook`` as ``.ipynb`` (atomically)."""
    text = _require("nbformat").writes(notebook)
    with atomic_write(path, "w") as file:
        file.write(text)


@dataclass(frozen=True)
class NotebookRun:
    """How a notebook's execution went: the code cells that ran without error, of how many, the
    error that stopped it (name and value, "" when it ran to the end), the time taken and what
    the cells printed (their stdout, in order)."""

    cells_run: int
    code_cells: int
    error_name: str
    error_value: str
    seconds: float
    stdout: str = ""

    @property
    def completed(self):
        return not self.error_name


def run_notebook(path, cwd, cell_timeout_s=600, env=None):
    """Execute the notebook ``path`` (.ipynb or percent .py) in a fresh kernel whose working folder is
    ``cwd``, stopping at the first cell that raises.

    Args:
        path: the notebook.
        cwd: the kernel's working folder (where the graded modules are imported from).
        cell_timeout_s: the most one cell may take.
        env: extra environment variables for the kernel (e.g. {QUICK_ENV: "1"}).
    Returns:
        a NotebookRun.
    """
    nbclient = _require("nbclient")
    notebook = read_notebook(path)
    client = nbclient.NotebookClient(notebook, timeout=cell_timeout_s, kernel_name="python3",
                                     resources={"metadata": {"path": cwd}})
    started = time.perf_counter()
    error_name = error_value = ""
    try:
        client.execute(env={**os.environ, "MPLBACKEND": "Agg", **(env or {})})
    except nbclient.exceptions.CellExecutionError as error:
        error_name, error_value = error.ename, error.evalue
    except nbclient.exceptions.CellTimeoutError as error:
        error_name, error_value = "CellTimeoutError", str(error).strip().splitlines()[0]
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    failed = [i for i, cell in enumerate(code)
              if any(out.get("output_type") == "error" for out in cell.get("outputs", []))]
    ran = failed[0] if failed else sum(1 for cell in code if cell.get("execution_count") is not None)
    if error_name and not failed:   # a timeout leaves no error output: the cell that stopped is the first not counted
        ran = max(ran - 1, 0)
    printed = "".join(out.get("text", "") for cell in code for out in cell.get("outputs", [])
                      if out.get("output_type") == "stream" and out.get("name") == "stdout")
    return NotebookRun(ran, len(code), error_name, error_value, time.perf_counter() - started, printed)
