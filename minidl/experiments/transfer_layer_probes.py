"""Experiment 3, per-layer probes: a linear classifier on each layer's features, softmax and SVM.

The lecture's table trains linear classifiers (softmax and SVM) on the features of AlexNet's
conv1 ... fc7 and finds accuracy rising with depth: higher layers hold more semantic features.
Here: the ResNet-20 source, probed at the output of its stem and of each residual block (the
maps averaged over space: global average pooling, said in the table's ``pool`` column) and at
the pooled features its head receives, on the similar target and on the different one, with
200 training and 1,000 test images per target.
"""

import os

from minidl.cli.common import load_source
from minidl.cli.target import prepare_target
from minidl.experiments.transfer_setup import DIFFERENT, SIMILAR, SOURCE, markdown_table
from minidl.plots import save_figure
from minidl.transfer import probe_layers

TITLE = "Transfer learning: linear probes (softmax and SVM) on every layer of the source network"

LAYERS = ("relu", "layer1.0", "layer1.1", "layer1.2", "layer2.0", "layer2.1", "layer2.2", "layer3.0", "layer3.1",
          "layer3.2", "avgpool")


def run(out, quick=False, data_root=None, log=print):
    source = load_source(SOURCE)
    known = dict(source.model.named_modules())
    layers = [layer for layer in LAYERS if layer in known]
    if quick:
        layers = layers[:2]
    results, sections = {}, []
    for kind, dataset in (("similar", SIMILAR), ("different", DIFFERENT)):
        train, test, transform, _ = prepare_target(source, dataset, labels_per_class=2 if quick else 40,
                                                   test_limit=40 if quick else 1000, seed=0)
        rows = probe_layers(source.model, train, test, layers, pool="avg", transform=transform, progress=False,
                            epochs=5 if quick else 100)
        results[kind] = rows
        if log is not None:
            log(f"probed {len(layers)} layers on {dataset}")
        table = markdown_table(["layer", "dimensions", "pool", "softmax", "SVM", "softmax (train)"],
                               [[r["layer"], r["dimensions"], r["pool"] or "-", r["softmax"], r["svm"],
                                 r["softmax_train"]] for r in rows])
        sections.append(f"**{kind} target, `{dataset}`** ({len(train)} training images)\n\n{table}")

    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(8, 4))
    for kind, rows in results.items():
        for loss, style in (("softmax", "-"), ("svm", "--")):
            axes.plot(range(len(rows)), [r[loss] for r in rows], style, marker="o", label=f"{kind}, {loss}")
    axes.set_xticks(range(len(layers)), layers, rotation=45, ha="right")
    axes.set(ylabel="test accuracy of a linear probe", title=f"Linear probes on {SOURCE}")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    save_figure(figure, os.path.join(out, "layer_probes.png"))

    def trend(rows):
        best = max(rows, key=lambda r: r["softmax"])
        return f"best layer {best['layer']} ({100 * best['softmax']:.1f}%), last {100 * rows[-1]['softmax']:.1f}%"

    return (f"Source `{SOURCE}`. Convolutional features are averaged over space before the probe (pool = avg). "
            f"Probes: a linear layer trained by minidl on standardised features, cross-entropy (softmax) or "
            f"multiclass hinge (SVM), 100 epochs of AdamW.\n\n" + "\n\n".join(sections)
            + f"\n\nSimilar: {trend(results['similar'])}. Different: {trend(results['different'])}.\n\n"
            f"![layer probes](layer_probes.png)\n")
