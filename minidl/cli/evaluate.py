"""``minidl evaluate``: the test accuracy and confusion matrix of a model trained by ``minidl train``.

    minidl evaluate runs/20250101-120000-lenet5-builtin/checkpoint.npz
    minidl evaluate runs/20250101-120000-lenet5-builtin --dataset mnist --data-root ~/data

The model is rebuilt from what the checkpoint records (architecture, image size, channels,
classes, normalisation); the test images are resized to the model's size, so a model trained on
the built-in subset can be tested on the full MNIST. A dataset with other channels or classes
than the model's is refused.
"""

import numpy as np

from minidl import data
from minidl.cli.common import EVAL_BATCH_SIZE, UsageError, load_dataset, load_run_checkpoint
from minidl.cli.images import resize_transforms
from minidl.data import transforms
from minidl.train import confusion_matrix, evaluate
from minidl.zoo import get_model


def add_parser(commands):
    parser = commands.add_parser(
        "evaluate",
        help="test accuracy and confusion matrix of a trained checkpoint",
        description="Rebuild the model saved by minidl train, score it on the test set of its "
                    "dataset (or --dataset, with the same channels and classes) and print the "
                    "accuracy and confusion matrix.",
    )
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint.npz (or its run folder)")
    parser.add_argument("--dataset", choices=data.DATASETS, metavar="NAME",
                        help=f"test on this dataset: {', '.join(data.DATASETS)} (default: the one trained on)")
    parser.add_argument("--data-root", help="folder with the dataset files")
    parser.add_argument("--download", action="store_true", help="download missing dataset files")
    return parser


def run(args):
    checkpoint, path = load_run_checkpoint(args.checkpoint)
    run_record = checkpoint["run"]
    kwargs = run_record["model_kwargs"]
    dataset = args.dataset or run_record["config"]["dataset"]
    test_set = load_dataset(dataset, False, args.data_root, args.download)
    _, channels, height, width = test_set.images.shape
    if channels != kwargs["in_channels"]:
        raise UsageError(
            f"{path} holds a model for images of {kwargs['in_channels']} channel(s), but {dataset}'s have "
            f"{channels}; evaluate it on a dataset with {kwargs['in_channels']}-channel images, such as "
            f"{run_record['config']['dataset']}")
    if list(test_set.classes) != list(run_record["classes"]):
        raise UsageError(
            f"{path} holds a model for the classes of {run_record['config']['dataset']} "
            f"({', '.join(map(str, run_record['classes'][:3]))}, ...), but {dataset} has other classes "
            f"({', '.join(map(str, list(test_set.classes)[:3]))}, ...); evaluate it on a dataset with the same classes")
    model = get_model(run_record["config"]["model"], **kwargs)
    model.load_state_dict(checkpoint["model"])
    evaluation = transforms.Compose(resize_transforms((height, width), kwargs["image_size"])
                                    + [transforms.Normalize(**run_record["normalize"])])
    loader = data.DataLoader(test_set, EVAL_BATCH_SIZE, transform=evaluation)
    loss, accuracy, predictions = evaluate(model, loader)
    correct = int(np.sum(predictions == np.asarray(test_set.targets)))
    print(f"{run_record['config']['model']} on the {dataset} test set: accuracy {accuracy:.4f} "
          f"({correct} of {len(test_set)} images), loss {loss:.4f}")
    print(format_confusion(confusion_matrix(test_set.targets, predictions, len(run_record["classes"])),
                           run_record["classes"]))
    return 0


def format_confusion(matrix, class_names):
    """The confusion matrix as a text table: rows true classes, columns predicted ones by number."""
    width = max(len(str(matrix.max())), len(str(len(class_names) - 1))) + 1
    name_width = max(len(str(name)) for name in class_names) + 5
    lines = ["confusion matrix (rows: true class, columns: predicted class)",
             " " * name_width + "".join(f"{j:>{width}}" for j in range(len(class_names)))]
    for i, name in enumerate(class_names):
        lines.append(f"{i:>2}: {name}".ljust(name_width) + "".join(f"{n:>{width}}" for n in matrix[i]))
    return "\n".join(lines)
