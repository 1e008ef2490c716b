"""Experiments: the lectures' claims, each rerun by one command and written down with its numbers.

    minidl experiment --list
    minidl experiment four-cases --out results/transfer/four-cases --record results/transfer.md

Each experiment is one module of this package with a ``TITLE`` and ``run(out, quick=False,
data_root=None, log=print)``: it trains and measures what it needs, writes its figures into the
folder ``out`` and returns its report as Markdown (tables, figure links relative to ``out``, and
what came out, including where a lecture's claim does not hold on this data). ``quick=True``
shrinks every setting to a smoke test of a few seconds: its numbers mean nothing.

``run_experiment`` adds what makes a result reproducible: the command, the date, the machine, the
time it took and minidl's version, writes ``out/report.md`` and, with ``record``, puts the report
into a results file between markers, replacing the previous run of that experiment.
Experiments sit beside the command line, on top of every other layer: they may use all of minidl.
"""

import importlib
import os
import re
import time

import minidl
from minidl.files import atomic_write
from minidl.machine import describe_cpu

__all__ = ["EXPERIMENTS", "run_experiment", "get_experiment"]

# Name -> module of this package.
EXPERIMENTS = {
    "four-cases": "transfer_four_cases",
    "four-cases-fashion": "transfer_four_cases_fashion",
    "learning-curves": "transfer_learning_curves",
    "layer-probes": "transfer_layer_probes",
    "layer-rates": "transfer_layer_rates",
    "convergence": "transfer_convergence",
    "explain-localisation": "explain_localisation",
    "explain-sanity": "explain_sanity",
    "ablation": "visualize_ablation",
    "evolution": "visualize_evolution",
}


def get_experiment(name):
    """The module of experiment ``name``; an unknown name is a KeyError listing the known ones."""
    if name not in EXPERIMENTS:
        raise KeyError(f"no experiment named {name!r}; the experiments: {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"minidl.experiments.{EXPERIMENTS[name]}")


def run_experiment(name, out, quick=False, data_root=None, record=None, command=None, log=print):
    """Run experiment ``name``, write ``out/report.md`` and return the report's text.

    Args:
        name: a key of ``EXPERIMENTS``.
        out: the folder for the report and the figures (made if missing).
        quick: tiny settings, a smoke test (the report says so).
        data_root: folder with dataset files, for experiments that can use real datasets.
        record: a results file (Markdown) to put the report in, between the markers
            ``<!-- experiment NAME -->`` and ``<!-- /experiment NAME -->`` (replacing what was
            there, or appended); figure links are rewritten relative to that file.
        command: the command line to record (default: ``minidl experiment NAME``).
    """
    module = get_experiment(name)
    os.makedirs(out, exist_ok=True)
    started = time.perf_counter()
    body = module.run(out, quick=quick, data_root=data_root, log=log)
    seconds = time.perf_counter() - started
    command = command or f"minidl experiment {name}"
    mode = " (--quick: a smoke test, its numbers mean nothing)" if quick else ""
    report = (f"## {module.TITLE}{mode}\n\n"
              f"`{command}` · {time.strftime('%Y-%m-%d')} · {describe_cpu()} · {seconds:.0f} s · "
              f"minidl {minidl.__version__}\n\n{body.strip()}\n")
    with atomic_write(os.path.join(out, "report.md"), "w") as file:
        file.write(report)
    if record is not None:
        _record(record, name, report, out)
    return report


def _record(path, name, report, out):
    """Put ``report`` into the results file ``path`` between the markers of experiment ``name``."""
    relative = os.path.relpath(os.path.abspath(out), os.path.dirname(os.path.abspath(path)))
    # Figure links in the report are relative to ``out``; in the results file, to its own folder.
    report = re.sub(r"\]\((?!https?://|/)([^)]+)\)", lambda m: f"]({relative}/{m.group(1)})", report)
    begin, end = f"<!-- experiment {name} -->", f"<!-- /experiment {name} -->"
    section = f"{begin}\n{report}{end}\n"
    text = open(path).read() if os.path.exists(path) else ""
    if begin in text and end in text:
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end) + 1:]
    else:
        text = text + ("\n" if text and not text.endswith("\n\n") else "") + section
    with atomic_write(path, "w") as file:
        file.write(text)
