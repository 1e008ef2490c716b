"""Task 4.4: one cell of the four-case table, measured.

The lecture's advice on what to do with a pretrained network, by how much labelled target data
there is and how much the target's images look like the source's:

                      similar source                          different source
    little data       a linear classifier on the top layer    in trouble: a linear classifier on earlier features
    much data         fine-tune a few layers                  fine-tune a larger number of layers

The cell measured here is "little data, similar source": 10 labelled images per class of five
new shapes (``synthetic-shapes-new``), with LeNet-5 trained on five other shapes as the source.
The advised linear classifier on the top layer (your Task 4.3 probe on the features the head
receives) against fine-tuning all layers (``minidl.transfer.finetune``'s loop, which is not
what this homework teaches: use it).
"""

import copy

from minidl.data import TensorDataset
from minidl.transfer import finetune
from probes import layer_features, ridge_probe

ADVICE = {("little", "similar"): "a linear classifier on the top layer",
          ("little", "different"): "a linear classifier on earlier features",
          ("much", "similar"): "fine-tune a few layers",
          ("much", "different"): "fine-tune a larger number of layers"}


def advice(data, source):
    """The lecture's advice for ``data`` in ("little", "much") and ``source`` in ("similar", "different"):
    one of the four strings of ADVICE."""
    ### BEGIN SOLUTION
    return ADVICE[(data, source)]
    ### END SOLUTION


def little_data_similar_source(model, top_layer, train_images, train_labels, test_images, test_labels, epochs=10):
    """The cell's two test accuracies.

    Args:
        model: the pretrained source network (not changed: fine-tuning works on a copy).
        top_layer: the module whose output the head receives (LeNet-5: "classifier.act4").
        train_images, test_images: (N, C, H, W) float32, normalised as the source expects;
        train_labels, test_labels: (N,) ints in 0 .. K - 1, every class among the training labels.
        epochs: the fine-tuning's epochs.
    Returns:
        {"probe": the test accuracy of ``ridge_probe`` (reg 1.0) on ``top_layer``'s features,
         "fine-tune": the test accuracy of ``finetune`` on a copy of the model, strategy
         "fine-tune-all", ``epochs`` epochs, batches of 10, the data as ``minidl.data.TensorDataset``s}.
    """
    ### BEGIN SOLUTION
    probe = ridge_probe(layer_features(model, train_images, top_layer), train_labels,
                        layer_features(model, test_images, top_layer), test_labels)
    tuned = finetune(copy.deepcopy(model), TensorDataset(train_images, train_labels),
                     TensorDataset(test_images, test_labels), strategy="fine-tune-all",
                     num_classes=int(train_labels.max()) + 1, epochs=epochs, batch_size=10)
    return {"probe": probe, "fine-tune": tuned["test_accuracy"]}
    ### END SOLUTION
