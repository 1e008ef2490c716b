"""Task 4.3: how much each layer knows: per-layer linear probes.

Take the activations of one layer for every image, average a convolution's maps over their
height and width (one number per channel), and fit the simplest classifier on them: a linear map
from the features to the classes. How well it does on held-out images says how linearly
separable the classes already are at that layer (Yosinski et al. 2014; Alain and Bengio 2016).

The probe here is ridge regression to one-hot targets, solved in closed form (deterministic, no
training loop). With the features standardised by the *training* mean and standard deviation
(a constant feature left at 0), a column of ones appended, X (N, D + 1) and Y (N, K) one-hot:

    W = (X^T X + reg * I')^{-1} X^T Y       (I' the identity with 0 for the ones' column: the bias is not shrunk)

and each test image's class is the argmax of its row of X_test W.
"""

import numpy as np

import minidl


def layer_features(model, images, layer):
    """The activations of ``layer`` for ``images``, one row per image.

    Args:
        model: the network (run in evaluation mode, without gradients; its mode restored after).
        images: (N, C, H, W) float32, as the model expects them.
        layer: a module name of ``model.named_modules()``.
    Returns:
        (N, D) float64: a (N, C, h, w) activation averaged over h and w (D = C), any other flattened.
    """
    ### BEGIN SOLUTION
    captured = []
    handle = dict(model.named_modules())[layer].register_forward_hook(
        lambda module, inputs, output: captured.append(output.numpy()))
    was_training = model.training
    model.eval()
    try:
        with minidl.no_grad():
            model(minidl.tensor(images))
    finally:
        handle.remove()
        model.train(was_training)
    activation = captured[-1].astype(np.float64)
    return activation.mean(axis=(2, 3)) if activation.ndim == 4 else activation.reshape(len(activation), -1)
    ### END SOLUTION


def ridge_probe(train_features, train_labels, test_features, test_labels, reg=1.0):
    """The test accuracy of the closed-form ridge probe above (a float in [0, 1])."""
    ### BEGIN SOLUTION
    mean, std = train_features.mean(axis=0), train_features.std(axis=0)
    std = np.where(std > 0, std, 1.0)

    def design(features):
        return np.hstack([(features - mean) / std, np.ones((len(features), 1))])

    x = design(train_features)
    targets = np.eye(int(train_labels.max()) + 1)[train_labels]
    penalty = reg * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0
    weights = np.linalg.solve(x.T @ x + penalty, x.T @ targets)
    predictions = (design(test_features) @ weights).argmax(axis=1)
    return float(np.mean(predictions == test_labels))
    ### END SOLUTION
