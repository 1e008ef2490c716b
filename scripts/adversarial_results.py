"""Measure every attack of ``minidl.explain`` on the shipped MNIST and SyntheticShapes models.

    python scripts/adversarial_results.py                       # writes results/adversarial.md
    python scripts/adversarial_results.py --count 64 --out /tmp/adversarial.md   # a quicker look

For each model (``lenet5-mnist`` on the built-in MNIST test images, ``lenet5-synthetic-shapes``
on the SyntheticShapes test split), the first ``--count`` test images are attacked by FGSM,
untargeted PGD (L∞ and L2), targeted PGD towards random wrong classes, CS231n's fooling image,
Szegedy et al.'s minimal perturbation and Nguyen et al.'s images from noise
(``minidl.explain.adversarial_report.evaluate_attack``), with seed 0 throughout. A third table
repeats Madry et al.'s targeted MNIST attack (L∞, ε = 0.3, 40 steps of 0.01, random start) with
other seeds, for the spread of its success rate. The results file records the command, the
date, the CPU, minidl's version and each table's wall time.
"""

import argparse
import os
import shlex
import sys
import time

import numpy as np

import minidl
from minidl.data import load_dataset
from minidl.explain.adversarial import predict, random_targets
from minidl.explain.adversarial_report import evaluate_attack, format_attack_table
from minidl.files import atomic_write
from minidl.machine import describe_cpu
from minidl.zoo import load_pretrained

# (model, dataset, the attacks: (row name, method, options, targeted with random wrong classes)).
# ε in pixel units: MNIST as Madry et al. (0.3, and 0.1 for comparison), the colour shapes
# 8/255 as CIFAR-10's usual L∞ budget. PGD steps are 2.5 ε / steps unless Madry's 0.01.
SETUPS = [
    ("lenet5-mnist", "builtin", [
        ("fgsm ε=0.1", "fgsm", dict(eps=0.1), False),
        ("fgsm ε=0.3", "fgsm", dict(eps=0.3), False),
        ("pgd L∞ ε=0.1, 40×0.01", "pgd", dict(eps=0.1, alpha=0.01, steps=40), False),
        ("pgd L∞ ε=0.3, 40×0.01", "pgd", dict(eps=0.3, alpha=0.01, steps=40), False),
        ("pgd L2 ε=2, 40×0.125", "pgd", dict(eps=2.0, alpha=0.125, steps=40, norm="l2"), False),
        ("targeted pgd L∞ ε=0.1, 40×0.01", "pgd", dict(eps=0.1, alpha=0.01, steps=40), True),
        ("targeted pgd L∞ ε=0.3, 40×0.01 (Madry)", "pgd", dict(eps=0.3, alpha=0.01, steps=40), True),
        ("fooling image (lr 0.1, ≤ 200 steps)", "fooling", dict(lr=0.1, max_iter=200), True),
        ("minimal (c search 6 × 100 Adam steps)", "minimal", dict(search_steps=6, steps=100), True),
        ("noise ≥ 99% (lr 1, ≤ 500 steps)", "noise", dict(lr=1.0, max_iter=500), None),
    ]),
    ("lenet5-synthetic-shapes", "synthetic-shapes", [
        ("fgsm ε=8/255", "fgsm", dict(eps=8 / 255), False),
        ("pgd L∞ ε=8/255, 40 steps", "pgd", dict(eps=8 / 255, alpha=2.5 * 8 / 255 / 40, steps=40), False),
        ("pgd L2 ε=0.5, 40 steps", "pgd", dict(eps=0.5, alpha=2.5 * 0.5 / 40, steps=40, norm="l2"), False),
        ("targeted pgd L∞ ε=8/255, 40 steps", "pgd", dict(eps=8 / 255, alpha=2.5 * 8 / 255 / 40, steps=40), True),
        ("fooling image (lr 0.1, ≤ 200 steps)", "fooling", dict(lr=0.1, max_iter=200), True),
        ("minimal (c search 6 × 100 Adam steps)", "minimal", dict(search_steps=6, steps=100), True),
        ("noise ≥ 99% (lr 1, ≤ 500 steps)", "noise", dict(lr=1.0, max_iter=500), None),
    ]),
]
# Noise images per class (Nguyen et al.'s attack starts from nothing, so it has no test images).
NOISE_PER_CLASS = 10
MADRY_SEEDS = (0, 1, 2, 3, 4)


def attack_table(model_name, dataset, attacks, count, log):
    """The markdown table of one model's attacks on its first ``count`` test images, its seconds,
    and the reports by row name."""
    started = time.perf_counter()
    model = load_pretrained(model_name)
    test_set = load_dataset(dataset, train=False)
    images, labels = test_set.images[:count], np.asarray(test_set.targets)[:count]
    classes = len(test_set.classes)
    targets = random_targets(labels, classes, seed=0)
    accuracy = np.mean(predict(model, images)[0] == labels)
    rows = []
    for name, method, options, targeted in attacks:
        if method == "noise":
            noise_targets = np.repeat(np.arange(classes), NOISE_PER_CLASS)
            _, report = evaluate_attack(model, method, target=noise_targets, seed=0, **options)
        else:
            seeded = dict(options, seed=0) if method == "pgd" else options
            _, report = evaluate_attack(model, method, images, labels, targets if targeted else None, **seeded)
        log(f"  {model_name}: {name}: {report['success_rate']:.1%} in {report['time_s']:.1f} s")
        rows.append((name, report))
    intro = (f"`{model_name}` on the first {count} `{dataset}` test images (clean accuracy {accuracy:.1%}); "
             f"targeted rows aim each image at a random wrong class (seed 0); noise: {NOISE_PER_CLASS} images per "
             f"class from uniform noise, a success being the class at ≥ 99%.")
    return f"{intro}\n\n{format_attack_table(rows)}", time.perf_counter() - started, dict(rows)


def madry_seeds(count, log):
    """Targeted PGD in Madry et al.'s MNIST setting with each seed of MADRY_SEEDS (the targets and
    the random start), on the first ``count`` images and on the whole built-in test set: the
    table, its seconds, and the rates at ε = 0.3 as {(images, seed): rate}."""
    started = time.perf_counter()
    model = load_pretrained("lenet5-mnist")
    test_set = load_dataset("builtin", train=False)
    lines = ["| images | seed | ε = 0.3 | ε = 0.1 |", "|---:|---:|---:|---:|"]
    strong = {}
    for images in (count, len(test_set)):
        x, y = test_set.images[:images], np.asarray(test_set.targets)[:images]
        for seed in MADRY_SEEDS if images == count else MADRY_SEEDS[:1]:
            targets = random_targets(y, 10, seed=seed)
            rates = [evaluate_attack(model, "pgd", x, y, targets, eps=eps, alpha=0.01, steps=40, seed=seed)[1]
                     ["success_rate"] for eps in (0.3, 0.1)]
            log(f"  madry: {images} images, seed {seed}: {rates[0]:.1%}, {rates[1]:.1%}")
            lines.append(f"| {images} | {seed} | {rates[0]:.1%} | {rates[1]:.1%} |")
            strong[images, seed] = rates[0]
    return "\n".join(lines), time.perf_counter() - started, strong


def reading(reports, strong, count):
    """What the tables show, as sentences built from their numbers."""
    mnist, shapes = reports["lenet5-mnist"], reports["lenet5-synthetic-shapes"]

    def rate(table, name):
        return f"{table[name]['success_rate']:.1%}"

    def median_l2(table, name):
        return f"{table[name]['l2']['median']:.2f}"

    seeded = [rate for (images, _), rate in strong.items() if images == count]
    whole = [rate for (images, _), rate in strong.items() if images != count]
    return "\n".join([
        "## Reading the tables", "",
        f"- One step against forty: at ε = 0.1 on MNIST, FGSM fools {rate(mnist, 'fgsm ε=0.1')} of the digits and "
        f"PGD {rate(mnist, 'pgd L∞ ε=0.1, 40×0.01')}; at ε = 0.3 PGD fools {rate(mnist, 'pgd L∞ ε=0.3, 40×0.01')}, "
        f"and the model's mean confidence in its answers afterwards is "
        f"{mnist['pgd L∞ ε=0.3, 40×0.01']['confidence_after']:.3f}. On the colour shapes at ε = 8/255: FGSM "
        f"{rate(shapes, 'fgsm ε=8/255')}, PGD {rate(shapes, 'pgd L∞ ε=8/255, 40 steps')}.",
        f"- Madry et al.'s targeted attack (ε = 0.3, 40 × 0.01) reaches the random target on "
        f"{min(seeded):.1%} to {max(seeded):.1%} of the first {count} digits over {len(seeded)} seeds "
        f"({', '.join(f'{r:.1%}' for r in whole)} of all {len(load_dataset('builtin', train=False))}); the test "
        f"suite holds seed 0 at ≥ 95%. At ε = 0.1 the same attack reaches "
        f"{rate(mnist, 'targeted pgd L∞ ε=0.1, 40×0.01')}.",
        f"- The smallest perturbations: Szegedy et al.'s minimal perturbation needs a median ‖r‖₂ of "
        f"{median_l2(mnist, 'minimal (c search 6 × 100 Adam steps)')} on MNIST and "
        f"{median_l2(shapes, 'minimal (c search 6 × 100 Adam steps)')} on the shapes, CS231n's fooling image "
        f"{median_l2(mnist, 'fooling image (lr 0.1, ≤ 200 steps)')} and "
        f"{median_l2(shapes, 'fooling image (lr 0.1, ≤ 200 steps)')}; both stop just across the boundary, so the "
        f"model's confidence after them is low "
        f"({mnist['minimal (c search 6 × 100 Adam steps)']['confidence_after']:.3f} and "
        f"{mnist['fooling image (lr 0.1, ≤ 200 steps)']['confidence_after']:.3f} on MNIST), where PGD's "
        f"fixed budget pushes far past it.",
        f"- Uniform noise becomes a ≥ 99% confident digit or shape of every class: "
        f"{rate(mnist, 'noise ≥ 99% (lr 1, ≤ 500 steps)')} and {rate(shapes, 'noise ≥ 99% (lr 1, ≤ 500 steps)')} "
        f"of the noise images (Nguyen et al.).",
        "",
    ])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=256, help="test images per model (default 256)")
    parser.add_argument("--out", default=os.path.join("results", "adversarial.md"), help="the results file to write")
    args = parser.parse_args()
    command = " ".join(["python scripts/adversarial_results.py", *map(shlex.quote, sys.argv[1:])])
    started = time.perf_counter()
    sections, reports = [], {}
    for model_name, dataset, attacks in SETUPS:
        print(f"attacking {model_name} ...")
        table, seconds, reports[model_name] = attack_table(model_name, dataset, attacks, args.count, print)
        sections.append(f"## {model_name}\n\nTable time {seconds:.0f} s.\n\n{table}\n")
    print("targeted pgd with other seeds ...")
    table, seconds, strong = madry_seeds(args.count, print)
    sections.append("## Madry et al.'s targeted MNIST attack, seed by seed\n\n"
                    f"L∞, ε = 0.3 (and 0.1), 40 steps of 0.01 from a random start, towards random wrong classes; "
                    f"the seed draws both the targets and the start. Table time {seconds:.0f} s.\n\n{table}\n")
    sections.append(reading(reports, strong, args.count))
    total = time.perf_counter() - started
    header = (f"# Adversarial and fooling images: success rates and perturbation sizes\n\n"
              f"`{command}` · {time.strftime('%Y-%m-%d')} · {describe_cpu()} · {total:.0f} s · "
              f"minidl {minidl.__version__}\n\n"
              "Written by the command above (`scripts/adversarial_results.py`); the methods are described in "
              "docs/adversarial.md. Perturbation sizes are in pixel units (images in [0, 1]; the models' "
              "normalisation is applied inside), summarised over the *successful* attacks: ‖r‖₂ over all pixels "
              "and channels, ‖r‖∞ the largest change of one pixel. Confidence: the mean softmax probability of "
              "the predicted class over all images, before → after. Times are wall-clock seconds on a machine "
              "shared with other jobs, so they are noisy.\n")
    with atomic_write(args.out, "w") as file:
        file.write(header + "\n" + "\n".join(sections))
    print(f"wrote {args.out} after {total:.0f} s")


if __name__ == "__main__":
    main()
