"""Experiment 1, the four cases of transfer learning: little or much target data, a source like the target or not.

The lecture's advice, one line per case:
- little data, similar source: a linear classifier on the top layer (freeze everything);
- little data, different source: "you're in trouble": a linear classifier on earlier features;
- much data, similar source: fine-tune a few layers;
- much data, different source: fine-tune a larger number of layers (or all).

Every strategy runs in every case from the same source (``transfer_setup``): 10 labelled images
per class for "little", 300 for "much"; the similar target is ``synthetic-shapes-new``, the
different one ``synthetic-shapes-outline``; test accuracy on 1,000 of the target's test images.
``four-cases-fashion`` (``transfer_four_cases_fashion``) runs the same cases on real images.
"""

from minidl.experiments.transfer_setup import DIFFERENT, SIMILAR, SOURCE, markdown_table, run_strategy
from minidl.transfer import STRATEGIES

TITLE = "Transfer learning: the four cases (target data small/large x source similar/different)"

ADVICE = {("small", "similar"): ("linear-probe", "feature-extractor"),
          ("small", "different"): ("linear-probe", "feature-extractor"),
          ("large", "similar"): ("fine-tune-last-k",),
          ("large", "different"): ("fine-tune-all",)}
ADVICE_TEXT = {("small", "similar"): "linear classifier on the top layer",
               ("small", "different"): "in trouble: a linear classifier on earlier features",
               ("large", "similar"): "fine-tune a few layers",
               ("large", "different"): "fine-tune a larger number of layers"}


def run(out, quick=False, data_root=None, log=print):
    return four_cases(SOURCE, SIMILAR, DIFFERENT, quick=quick, data_root=data_root, log=log)


def four_cases(source, similar, different, quick=False, data_root=None, log=print):
    """The report of every strategy in the four cases, from ``source`` to the ``similar`` and
    ``different`` target datasets."""
    sizes = {"small": 2, "large": 4} if quick else {"small": 10, "large": 300}
    targets = {"similar": similar, "different": different}
    rows, agree = [], 0
    for size, labels in sizes.items():
        for kind, dataset in targets.items():
            accuracy = {}
            for strategy in STRATEGIES:
                result = run_strategy(strategy, dataset, labels_per_class=labels, test_limit=40 if quick else 1000,
                                      epochs=1 if quick else None, source=source, data_root=data_root, log=log)
                accuracy[strategy] = result["test_accuracy"]
            best = max(accuracy, key=accuracy.get)
            advised = ADVICE[(size, kind)]
            # The advice holds when an advised strategy is the best or within a point of it.
            holds = max(accuracy[s] for s in advised) >= accuracy[best] - 0.01
            agree += holds
            rows.append([f"{size} ({labels}/class), {kind} ({dataset})"] + [accuracy[s] for s in STRATEGIES]
                        + [best, ADVICE_TEXT[(size, kind)], "yes" if holds else "no"])
    table = markdown_table(["case"] + list(STRATEGIES) + ["best", "lecture's advice", "advice holds"], rows)
    return (f"Source `{source}`; test accuracy on 1,000 target test images. 'Advice holds' when an advised "
            f"strategy is within one point of the best. fine-tune-last-k trains the last two groups (the last "
            f"stage and the new head); fine-tune-all every group, each earlier group 3x slower. The linear probe "
            f"uses the features the head receives.\n\n{table}\n\n"
            f"The lecture's advice held in {agree} of the 4 cases on this data.\n")
