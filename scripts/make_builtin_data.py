"""Cut the built-in data subset (minidl/data/builtin/<dataset>.npz) from the original files.

    python scripts/make_builtin_data.py DATA_ROOT [--dataset mnist] [--train-per-class 800]
                                        [--test-per-class 200] [--seed 0] [--out PATH]

DATA_ROOT is the folder that holds ``mnist/`` (or ``fashion-mnist/``) with the four original
``.gz`` files; they are read with ``minidl.data.MNIST`` (or ``FashionMNIST``), which checks their
published MD5s first. The recipe, all from ``np.random.default_rng(seed)``:

1. training split: for each class c = 0..9 in turn, ``train_per_class`` distinct images drawn
   uniformly (``rng.choice(..., replace=False)``) among the official training images of class c;
2. test split: the same with ``test_per_class`` images from the official test set;
3. each split keeps the order of the official file (the chosen positions sorted).

The archive (``np.savez_compressed``) holds, for split in train and test: ``<split>_images``
uint8 (N, 28, 28), ``<split>_labels`` uint8 (N,) and ``<split>_indices`` int32 (N,), the
positions of the images in the official file. It prints the file's size and SHA-256, and the
SHA-256 of every array's bytes, for the README next to it. (The arrays' hashes identify the
content even where another zlib version compresses it into different bytes.)
"""

import argparse
import hashlib
from pathlib import Path

import numpy as np

from minidl.checkpoint import atomic_write
from minidl.data.mnist import MNIST, FashionMNIST

DATASETS = {"mnist": MNIST, "fashion-mnist": FashionMNIST}
PACKAGE_DATA = Path(__file__).resolve().parents[1] / "minidl" / "data" / "builtin"


def balanced_sample(labels, per_class, rng):
    """Sorted positions of ``per_class`` distinct random samples of every class in ``labels``."""
    chosen = []
    for c in range(int(labels.max()) + 1):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(f"class {c} has only {len(members)} samples, {per_class} were asked for")
        chosen.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path, help="folder holding mnist/ or fashion-mnist/")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="mnist")
    parser.add_argument("--train-per-class", type=int, default=800)
    parser.add_argument("--test-per-class", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="default: minidl/data/builtin/<dataset>.npz")
    args = parser.parse_args()
    out = args.out or PACKAGE_DATA / f"{args.dataset}.npz"

    rng = np.random.default_rng(args.seed)
    arrays = {}
    for split, train, per_class in (("train", True, args.train_per_class),
                                    ("test", False, args.test_per_class)):
        dataset = DATASETS[args.dataset](root=args.root, train=train)
        indices = balanced_sample(dataset.targets, per_class, rng)
        arrays[f"{split}_images"] = dataset.data[indices]
        arrays[f"{split}_labels"] = dataset.targets[indices].astype(np.uint8)
        arrays[f"{split}_indices"] = indices.astype(np.int32)
        print(f"{split}: {len(indices)} images from {dataset.folder}, "
              f"per class {np.bincount(dataset.targets[indices]).tolist()}")

    with atomic_write(out) as file:
        np.savez_compressed(file, **arrays)
    sha256 = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"wrote {out}: {out.stat().st_size} bytes, sha256 {sha256}")
    for key, array in arrays.items():
        print(f"  {key}: {array.dtype} {array.shape}, sha256 of the bytes "
              f"{hashlib.sha256(array.tobytes()).hexdigest()}")


if __name__ == "__main__":
    main()
