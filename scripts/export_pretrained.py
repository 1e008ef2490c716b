"""Turn a ``minidl train`` run folder into a pretrained weights file for ``minidl/zoo/pretrained/``.

    python scripts/export_pretrained.py RUN_FOLDER NAME --command "minidl train ..." \
        [--data-root DATA_ROOT] [--also builtin]
    python scripts/export_pretrained.py --refresh [NAME ...]

Reads the run's ``checkpoint.npz`` (model weights and what the run recorded: architecture,
dataset, classes, input normalisation) and ``metrics.json`` (training time), measures the test
accuracy again on the run's dataset (and on each ``--also`` dataset), and writes
``minidl/zoo/pretrained/NAME.safetensors`` with all of it in the metadata. It prints the file's
SHA-256 for the registry in ``minidl/zoo/pretrained.py``.

``--refresh`` rewrites shipped files (the named ones, or all in the registry) in the current file
format, e.g. to add the checksum of their tensors: the tensors and the recorded metadata
(command, training time, accuracies) are copied unchanged, nothing is trained or measured again.
Each file must match its registered SHA-256 first; put the printed new ones in the registry.
"""

import argparse
import hashlib
import json
import os

from minidl.checkpoint import load_checkpoint
from minidl.data import DataLoader, load_dataset, transforms
from minidl.train import evaluate
from minidl.zoo import get_model
from minidl.zoo.pretrained import FOLDER, PRETRAINED, pretrained_path
from minidl.zoo.weights import read_weights, save_weights, write_weights


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", help="run folder written by minidl train")
    parser.add_argument("name", nargs="?", help="registry name, e.g. lenet5-mnist")
    parser.add_argument("--command", help="the command that trained the run")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--also", action="append", default=[], help="another dataset to record the accuracy on")
    parser.add_argument("--refresh", nargs="*", metavar="NAME",
                        help="rewrite these shipped files (default: all) in the current format, keeping "
                             "their tensors and metadata")
    args = parser.parse_args()
    if args.refresh is not None:
        if args.run or args.command:
            parser.error("--refresh takes registry names only, no run folder or --command")
        for name in args.refresh or sorted(PRETRAINED):
            refresh(name)
        return
    if not (args.run and args.name and args.command):
        parser.error("RUN_FOLDER, NAME and --command are required (or --refresh)")
    export(args)


def export(args):
    checkpoint = load_checkpoint(os.path.join(args.run, "checkpoint.npz"))
    with open(os.path.join(args.run, "metrics.json")) as file:
        metrics = json.load(file)
    run = checkpoint["run"]
    model = get_model(run["config"]["model"], **run["model_kwargs"])
    model.load_state_dict(checkpoint["model"])

    accuracies = {}
    for dataset in [run["config"]["dataset"], *args.also]:
        test_set = load_dataset(dataset, train=False, root=args.data_root)
        loader = DataLoader(test_set, 256, transform=transforms.Normalize(**run["normalize"]))
        accuracies[dataset] = evaluate(model, loader)[1]
        print(f"{dataset}: test accuracy {accuracies[dataset]:.4f} on {len(test_set)} images")

    path = os.path.join(FOLDER, f"{args.name}.safetensors")
    save_weights(
        model, path, architecture=run["config"]["model"], architecture_kwargs=run["model_kwargs"],
        dataset=run["config"]["dataset"], classes=run["classes"], normalize=run["normalize"],
        test_accuracy=accuracies, epochs=checkpoint["epoch"], command=args.command,
        train_time_s=round(metrics["train_time_s"], 1), training_config=run["config"],
    )
    report(path)


def refresh(name):
    """Rewrite the shipped file ``name`` with its own tensors and metadata, in today's format.

    The file must first match the SHA-256 in the registry, so that a damaged file is never
    rewritten with a checksum that vouches for it.
    """
    path = pretrained_path(name)
    arrays, metadata = read_weights(path)
    write_weights(path, arrays, metadata)
    report(path)


def report(path):
    with open(path, "rb") as file:
        print(f"wrote {path} ({os.path.getsize(path)} bytes), sha256 {hashlib.sha256(file.read()).hexdigest()}")


if __name__ == "__main__":
    main()
