"""Task 4.1: a pretrained network as a fixed feature extractor, or fine-tuned as a whole.

Both start the same way: the source's last layer (its head, scoring the *source's* classes) is
replaced by a fresh one for the target's classes (``minidl.transfer.replace_head`` does that;
use it). Then:

- feature extractor: every other parameter is frozen (``requires_grad = False``): the optimiser
  changes the head only, and the rest of the network is a fixed function of the image;
- fine-tuning: every parameter trains, the pretrained ones starting from where the source left them.

Freezing a batch-norm layer takes more than its gamma and beta: in training mode it would still
normalise with each batch's statistics and overwrite its running averages, so the frozen body
would drift. ``set_train_mode`` puts the model in training mode *except* for batch-norm layers
whose parameters are all frozen, which stay in evaluation mode (their running statistics fixed).
"""

from minidl import nn
from minidl.transfer import replace_head


def feature_extractor(model, num_classes):
    """Replace the head of ``model`` (in place) by a new Linear layer for ``num_classes`` and freeze
    every parameter but the new head's. Returns the model."""
    ### BEGIN SOLUTION
    for parameter in model.parameters():
        parameter.requires_grad = False
    return replace_head(model, num_classes)
    ### END SOLUTION


def fine_tuning(model, num_classes):
    """Replace the head of ``model`` (in place) for ``num_classes``; every parameter trains. Returns the model."""
    ### BEGIN SOLUTION
    for parameter in model.parameters():
        parameter.requires_grad = True
    return replace_head(model, num_classes)
    ### END SOLUTION


def trainable_parameters(model):
    """The number of parameter values (elements) that require a gradient."""
    ### BEGIN SOLUTION
    return sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
    ### END SOLUTION


def set_train_mode(model):
    """``model.train()``, then every BatchNorm2d whose parameters are all frozen back to ``eval()``.
    Returns the model."""
    ### BEGIN SOLUTION
    model.train()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d) and not any(p.requires_grad for p in module.parameters()):
            module.eval()
    return model
    ### END SOLUTION
