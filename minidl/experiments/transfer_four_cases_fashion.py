"""Experiment 1 on real images: the four cases from a small VGG that saw half of Fashion-MNIST's classes.

The source ``small_vgg-fashion-mnist-a`` was trained on Fashion-MNIST's classes 0-4 only. The
similar target is the other five classes (sandal, shirt, sneaker, bag, ankle boot: photographs
of the same kind), the different one MNIST's handwritten digits. It needs the Fashion-MNIST and
MNIST files: ``minidl experiment four-cases-fashion --data-root FOLDER`` (or ``$MINIDL_DATA``).
"""

from minidl.experiments.transfer_four_cases import four_cases
from minidl.experiments.transfer_setup import FASHION

TITLE = "Transfer learning: the four cases on real images (Fashion-MNIST classes 0-4 -> 5-9, and -> MNIST)"


def run(out, quick=False, data_root=None, log=print):
    return four_cases(FASHION["source"], FASHION["similar"], FASHION["different"], quick=quick, data_root=data_root,
                      log=log)
