"""Measure the five assignments as a course would run them, and write assignments/RESULTS.md.

    python assignments/measure.py --data-root ../shared/data          # all five, about 5 minutes
    python assignments/measure.py --names hw3 --data-root ../shared/data --out /tmp/hw3.md

For each assignment: the reference solution's notebook run in full (nbclient, the real settings:
hw3 trains its small ResNet on Fashion-MNIST, and again without the files, on SyntheticShapes), then
``minidl grade`` of the solutions and of a fresh release (the stubs). The file records the
command, the date, the CPU, the load average (the machine may be shared: times are then longer
than on an idle one), each step's wall time and the CPU time of the processes it started, the
lines the notebooks print about their training, and both grade tables.
"""

import argparse
import os
import resource
import shlex
import sys
import tempfile
import time

from minidl.files import atomic_write
from minidl.homework import format_report, grade, release
from minidl.homework.notebooks import run_notebook
from minidl.machine import describe_cpu

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = ("hw1", "hw2", "hw3", "hw4", "hw5")
# The notebook lines worth recording: the training run's result.
RECORDED = ("test accuracy", "linear probe on the top layer")
# Assignments whose notebook changes its run when the dataset files are absent: run again so.
WITHOUT_FILES = {"hw3": "without the Fashion-MNIST files (SyntheticShapes)"}


def children_cpu_s():
    """CPU seconds (user + system) of the finished child processes (kernels, grading runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(name, data_root):
    """The notebook run, the two grades and their times for one assignment."""
    env = {"MINIDL_DATA": os.path.abspath(data_root)} if data_root else {}
    row = {"name": name}
    cpu, started = children_cpu_s(), time.perf_counter()
    run = run_notebook(os.path.join(HERE, name, "notebook.py"), os.path.join(HERE, name), env=env)
    row["notebook_s"], row["notebook_cpu_s"] = time.perf_counter() - started, children_cpu_s() - cpu
    if not run.completed:
        raise RuntimeError(f"{name}'s notebook stopped at code cell {run.cells_run + 1}: {run.error_name}: "
                           f"{run.error_value}")
    row["printed"] = [line for line in run.stdout.splitlines() if any(key in line for key in RECORDED)]
    if name in WITHOUT_FILES:
        with tempfile.TemporaryDirectory() as empty:
            started = time.perf_counter()
            again = run_notebook(os.path.join(HERE, name, "notebook.py"), os.path.join(HERE, name),
                                 env={"MINIDL_DATA": empty})
        row["printed"] += [f"{WITHOUT_FILES[name]}, notebook {time.perf_counter() - started:.0f} s:"] + \
            [line for line in again.stdout.splitlines() if any(key in line for key in RECORDED)]
    cpu, started = children_cpu_s(), time.perf_counter()
    reference = grade(name, HERE)
    row["grade_s"], row["grade_cpu_s"] = time.perf_counter() - started, children_cpu_s() - cpu
    with tempfile.TemporaryDirectory() as out:
        release(name, HERE, out)
        stubs = grade(name, HERE, out)
    row["reference"], row["stubs"] = format_report(reference), format_report(stubs)
    row["scores"] = (reference.score, reference.max_score, stubs.score, stubs.max_score)
    return row


def report(rows, command, load_before, load_after, seconds):
    lines = ["# Assignments: measured runs", "",
             f"Command: `{command}` (from the project folder), run {time.strftime('%Y-%m-%d %H:%M')}, "
             f"{seconds / 60:.1f} minutes in all.",
             f"CPU: {describe_cpu()}. Load average (1 minute) {load_before:.1f} at the start and {load_after:.1f} "
             "at the end: the machine was shared with other jobs, so the wall times are longer than on an idle "
             "machine; the CPU times are those of the processes each step started (the notebook's kernel, the "
             "grading runs).", "",
             "| assignment | notebook (full settings) | grading the solutions | solution run | CPU time | "
             "solutions | stubs |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        total = row["notebook_s"] + row["grade_s"]
        earned, possible, stub, stub_possible = row["scores"]
        lines.append(f"| {row['name']} | {row['notebook_s']:.0f} s | {row['grade_s']:.0f} s | {total:.0f} s "
                     f"({total / 60:.1f} min) | {row['notebook_cpu_s'] + row['grade_cpu_s']:.0f} s | "
                     f"{earned:g}/{possible:g} | {stub:g}/{stub_possible:g} |")
    for row in rows:
        lines += ["", f"## {row['name']}", ""]
        if row["printed"]:
            lines += ["The notebook printed:", "", "```", *row["printed"], "```", ""]
        lines += ["The reference solutions (`minidl grade " + row["name"] + "`):", "", "```", row["reference"], "```",
                  "", "A fresh release, as handed out (`minidl assignment release " + row["name"] + " --out DIR && "
                  "minidl grade " + row["name"] + " --submission DIR`):", "", "```", row["stubs"], "```"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", default=",".join(NAMES), help="the assignments (default: all five)")
    parser.add_argument("--data-root", help="the folder with the Fashion-MNIST files ($MINIDL_DATA for the notebooks)")
    parser.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"), help="the results file")
    args = parser.parse_args(argv)
    command = " ".join(["python assignments/measure.py", *map(shlex.quote, argv if argv is not None else sys.argv[1:])])
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    rows = []
    for name in args.names.split(","):
        rows.append(measure(name, args.data_root))
        print(f"{name}: notebook {rows[-1]['notebook_s']:.0f} s, grading {rows[-1]['grade_s']:.0f} s; "
              + "; ".join(rows[-1]["printed"]), flush=True)
    with atomic_write(args.out, "w") as file:
        file.write(report(rows, command, load_before, os.getloadavg()[0], time.perf_counter() - started))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
