"""Ready-made models, built by name.

    from minidl.zoo import get_model, lenet5
    model = lenet5()                                 # the same as get_model("lenet5")
    model = get_model("lenet5", in_channels=3, image_size=32, num_classes=10)

Every builder takes the keywords ``num_classes``, ``in_channels`` and ``image_size``, so that
``minidl train --model NAME`` can fit any model to any dataset; other keywords are the model's own.
"""

from minidl.zoo.lenet import LeNet5, lenet5
from minidl.zoo.small_vgg import SmallVGG, small_vgg

__all__ = ["MODELS", "get_model", "lenet5", "LeNet5", "small_vgg", "SmallVGG"]

# name -> builder; ``minidl train --model`` offers these names.
MODELS = {
    "lenet5": lenet5,
    "small_vgg": small_vgg,
}


def get_model(name, **kwargs):
    """Build the model registered as ``name`` with the builder's keyword arguments."""
    if name not in MODELS:
        raise KeyError(f"get_model: unknown model {name!r}; known models: {', '.join(sorted(MODELS))}")
    return MODELS[name](**kwargs)
