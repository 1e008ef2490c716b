"""How a classifier's error grows under common corruptions, and its corruption error (CE).

    report = robustness_report(model, test_set, normalize=normalize, baseline=other_report)
    print(report.table())            # error per corruption and severity, CE, mCE

Hendrycks and Dietterich (2019) measure the top-1 error E_{s,c} of a classifier f on the test
images corrupted by c at severity s (``minidl.visualize.corruptions``), and normalise it by a
baseline model's errors (AlexNet in the paper), so that easy and hard corruptions weigh alike:

    CE_c  = sum_{s=1..5} E^f_{s,c} / sum_{s=1..5} E^base_{s,c}
    mCE   = the mean of CE_c over the corruptions
    relative CE_c = sum_s (E^f_{s,c} - E^f_clean) / sum_s (E^base_{s,c} - E^base_clean)

A CE under 1 (100%) means fewer errors than the baseline; the relative CE asks how much the error
*grows* under the corruption, whatever the clean error. The mCE here is the mean over the
benchmark corruptions implemented (``BENCHMARK``, 9 of the paper's 15) on these small images,
so it cannot be compared with published ImageNet-C numbers; the extra corruptions get a CE but
stay out of the mean, as in the paper.

The test set is read in batches; each batch is corrupted with a generator seeded by (seed, the
corruption, the severity, the batch's first index), so that the model and a baseline evaluated
with the same seed and batch size see exactly the same images, and nothing but one batch is
held in memory.
"""

from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure

from minidl.explain.attribution import class_scores, inspecting
from minidl.grad_mode import no_grad
from minidl.plots import save_figure
from minidl.tensor import Tensor
from minidl.visualize.corruptions import BENCHMARK, CORRUPTIONS, SEVERITIES, corrupt
from minidl.visualize.inputs import Preprocess, batches, check_pictures, model_dtype

__all__ = ["RobustnessReport", "robustness_report", "corruption_errors"]


@dataclass
class RobustnessReport:
    """Errors of a model under corruptions, and its CE against a baseline (module docstring).

    Attributes:
        kinds: the corruptions measured; severities: (1, ..., 5).
        images: how many test images.
        clean_error: the error on the clean images.
        errors: {kind: [E_1, ..., E_5]}.
        baseline: the baseline's ``RobustnessReport`` (without a baseline of its own), or None.
        name: what to call the model in tables and figures.
        figure: error against severity, per corruption (None until drawn).
    """

    kinds: tuple
    severities: tuple
    images: int
    clean_error: float
    errors: dict
    baseline: "RobustnessReport | None" = None
    name: str = "model"
    figure: Figure | None = field(default=None, repr=False)

    def ce(self, kind):
        """CE_c: the summed errors over the baseline's; None without a baseline (or if its sum is 0)."""
        if self.baseline is None or sum(self.baseline.errors[kind]) == 0:
            return None
        return sum(self.errors[kind]) / sum(self.baseline.errors[kind])

    def relative_ce(self, kind):
        """Relative CE_c: the summed growth of the error over the baseline's; None if undefined."""
        if self.baseline is None:
            return None
        growth = sum(e - self.baseline.clean_error for e in self.baseline.errors[kind])
        return None if growth <= 0 else sum(e - self.clean_error for e in self.errors[kind]) / growth

    def mce(self, relative=False):
        """The mean CE (or relative CE) over the benchmark corruptions measured; None if undefined."""
        values = [(self.relative_ce if relative else self.ce)(kind) for kind in self.kinds if kind in BENCHMARK]
        return None if not values or any(v is None for v in values) else float(np.mean(values))

    def table(self):
        """The Markdown table: one row per corruption, its error at each severity, CE and relative CE
        (with a baseline), then the clean error and the means."""
        with_ce = self.baseline is not None
        headers = ["corruption"] + [f"severity {s}" for s in self.severities] + ["mean"]
        if with_ce:
            headers += [f"{self.baseline.name} mean", "CE", "relative CE"]
        lines = ["| " + " | ".join(headers) + " |", "|---|" + "---:|" * (len(headers) - 1)]
        for kind in self.kinds:
            name = kind.replace("_", " ") + ("" if kind in BENCHMARK else " (extra)")
            cells = [name] + [_percent(e) for e in self.errors[kind]] + [_percent(np.mean(self.errors[kind]))]
            if with_ce:
                cells += [_percent(np.mean(self.baseline.errors[kind])), _percent(self.ce(kind)),
                          _percent(self.relative_ce(kind))]
            lines.append("| " + " | ".join(cells) + " |")
        summary = [f"Clean error of {self.name}: {_percent(self.clean_error)} on {self.images} images."]
        if with_ce:
            summary[0] += f" Clean error of {self.baseline.name}: {_percent(self.baseline.clean_error)}."
            benchmark = [kind for kind in self.kinds if kind in BENCHMARK]
            summary.append(f"mCE over the {len(benchmark)} benchmark corruptions implemented: "
                           f"{_percent(self.mce())}; relative mCE {_percent(self.mce(relative=True))} "
                           f"(baseline {self.baseline.name} = 100%).")
        return "\n".join(lines) + "\n\n" + " ".join(summary) + "\n"

    def to_dict(self):
        """The numbers as plain Python values (for JSON)."""
        record = {"name": self.name, "images": self.images, "clean_error": self.clean_error,
                  "errors": {kind: list(map(float, values)) for kind, values in self.errors.items()}}
        if self.baseline is not None:
            record.update(baseline=self.baseline.to_dict(), ce={kind: self.ce(kind) for kind in self.kinds},
                          relative_ce={kind: self.relative_ce(kind) for kind in self.kinds},
                          mce=self.mce(), relative_mce=self.mce(relative=True))
        return record


def _percent(value):
    return "n/a" if value is None else f"{100 * value:.1f}%"


def corruption_errors(models, dataset, kinds=CORRUPTIONS, severities=SEVERITIES, seed=0, batch_size=256,
                      progress=True):
    """The errors of several models on the same corrupted images.

    Args:
        models: a list of (model, preprocess) pairs, ``preprocess`` a ``Preprocess``.
        dataset: ``(image, label)`` pairs, images in [0, 1].
    Returns:
        (clean errors [one per model], {kind: [[E_1..E_S] per model]}), each error in [0, 1].
    """
    wrong_clean = np.zeros(len(models))
    wrong = {kind: np.zeros((len(models), len(severities))) for kind in kinds}
    count = 0
    for start, images, labels in batches(dataset, batch_size, progress, desc="corruptions"):
        check_pictures("robustness_report", images, "the dataset's images")
        count += len(images)
        for m, (model, preprocess) in enumerate(models):
            wrong_clean[m] += _mistakes(model, preprocess(images), labels)
        for k, kind in enumerate(kinds):
            for s, severity in enumerate(severities):
                rng = np.random.default_rng([seed, k, severity, start])
                corrupted = corrupt(images, kind, severity, rng)
                for m, (model, preprocess) in enumerate(models):
                    wrong[kind][m, s] += _mistakes(model, preprocess(corrupted), labels)
    return list(wrong_clean / count), {kind: (values / count).tolist() for kind, values in wrong.items()}


def _mistakes(model, x, labels):
    with inspecting(model), no_grad():
        scores = class_scores("robustness_report", model, Tensor(x)).numpy()
    return int((scores.argmax(axis=1) != labels).sum())


def robustness_report(model, dataset, baseline=None, kinds=CORRUPTIONS, severities=SEVERITIES, transform=None,
                      normalize=None, baseline_transform=None, baseline_normalize=None, seed=0, batch_size=256,
                      progress=True, name="model", baseline_name="baseline", path=None, title=None):
    """Errors of ``model`` on ``dataset`` under each corruption and severity, with CE against ``baseline``.

    Args:
        model: a classifier; dataset: its test images in [0, 1] with labels.
        baseline: None; another model (evaluated on the very same corrupted images, with
            ``baseline_transform`` and ``baseline_normalize``, by default the model's); or a
            ``RobustnessReport`` computed before with the same kinds, severities, seed, batch size
            and dataset.
        kinds: corruptions (``minidl.visualize.corruptions.CORRUPTIONS``); severities: from 1..5.
        transform, normalize: how images become the model's input (``minidl.visualize.inputs``).
        seed, batch_size: the corruptions' randomness and the batches (module docstring).
        progress: a progress bar; name, baseline_name: labels in tables and figures.
        path: where to write the figure; title: heads it.
    Returns:
        a ``RobustnessReport`` with its figure.
    """
    kinds = tuple(kinds)
    unknown = [kind for kind in kinds if kind not in CORRUPTIONS]
    if unknown or not kinds:
        raise ValueError(f"robustness_report: unknown corruption {unknown[0] if unknown else None!r}; the "
                         f"corruptions: {', '.join(CORRUPTIONS)}")
    severities = tuple(severities)
    if not severities or any(isinstance(s, bool) or s not in SEVERITIES for s in severities):
        raise ValueError(f"robustness_report: severities must be integers from 1 to 5, got {severities!r}")
    models = [(model, Preprocess("robustness_report", transform, normalize, model_dtype(model)))]
    if isinstance(baseline, RobustnessReport):
        if baseline.kinds != kinds or baseline.severities != severities or baseline.images != len(dataset):
            raise ValueError("robustness_report: the baseline report was measured on other corruptions, "
                             "severities or images; measure both the same way")
    elif callable(baseline):   # a model: run on the same corrupted batches
        models.append((baseline, Preprocess("robustness_report", baseline_transform or transform,
                                            baseline_normalize or normalize, model_dtype(baseline))))
    elif baseline is not None:
        raise ValueError(f"robustness_report: baseline must be None, a model or a RobustnessReport, got "
                         f"{type(baseline).__name__}")
    clean, errors = corruption_errors(models, dataset, kinds, severities, seed, batch_size, progress)
    reports = [RobustnessReport(kinds, severities, len(dataset), clean[m], {kind: errors[kind][m] for kind in kinds},
                                name=label) for m, label in enumerate((name, baseline_name)[:len(models)])]
    report = reports[0]
    report.baseline = reports[1] if len(reports) > 1 else baseline
    report.figure = _draw(report, title)
    if path is not None:
        save_figure(report.figure, path)
    return report


def _draw(report, title):
    """Error against severity (0 = clean) for each corruption: the model solid, the baseline dashed."""
    columns = min(4, len(report.kinds))
    rows = -(-len(report.kinds) // columns)
    figure = Figure(figsize=(3.2 * columns + 0.4, 2.6 * rows + 0.8), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False, sharey=True)
    for axes in grid.flat[len(report.kinds):]:
        axes.set_axis_off()
    steps = (0, *report.severities)
    for axes, kind in zip(grid.flat, report.kinds):
        for what, style in ((report, "-o"), (report.baseline, "--s")):
            if what is not None:
                axes.plot(steps, [100 * what.clean_error] + [100 * e for e in what.errors[kind]], style,
                          markersize=4, label=what.name)
        ce = report.ce(kind)
        axes.set_title(kind.replace("_", " ") + ("" if ce is None else f" (CE {100 * ce:.0f}%)"), fontsize="medium")
        axes.set(xticks=steps, xlabel="severity", ylim=(0, 100))
        axes.grid(alpha=0.3)
    grid[0, 0].set_ylabel("top-1 error (%)")
    grid[0, 0].legend(fontsize="small")
    heading = f"{report.name}: error under corruptions ({report.images} test images)"
    if report.baseline is not None and report.mce() is not None:
        heading += f"; mCE {100 * report.mce():.1f}% of {report.baseline.name}'s"
    figure.suptitle(f"{title}\n{heading}" if title else heading, fontsize="medium")
    return figure
