"""``minidl summary``: the table of a zoo model's layers, as ``minidl.summary`` prints it.

    minidl summary vgg16                                # at the model's own input size
    minidl summary lenet5 --input-shape 3 32 32 --num-classes 10 --depth 1
"""

import inspect

from minidl.cli.common import UsageError, model_name
from minidl.zoo import MODELS, get_model


def add_parser(commands):
    parser = commands.add_parser(
        "summary",
        help="table of a zoo model's layers: output shapes, parameters, MACs, receptive fields",
        description="Build a model from the zoo and print one row per layer: its output shape for one "
                    "image, parameters, multiply-accumulates (MACs; FLOPs = 2 x MACs) and receptive "
                    "field, then the totals and the memory of one forward/backward pass.",
    )
    parser.add_argument("model", type=model_name, metavar="MODEL",
                        help=f"model from the zoo: {', '.join(sorted(MODELS))}")
    parser.add_argument("--input-shape", type=int, nargs=3, metavar=("C", "H", "W"),
                        help="shape of one image (default: the model's in_channels and image_size)")
    parser.add_argument("--num-classes", type=int, help="class scores out (default: the model's)")
    parser.add_argument("--depth", type=int,
                        help="one row per module at this depth of the names (1: features, classifier), "
                             "its layers folded in (default: one row per layer)")
    return parser


def run(args):
    from minidl.analysis import summary

    kwargs = {} if args.num_classes is None else {"num_classes": args.num_classes}
    if args.input_shape is None:   # the builder's own defaults (every zoo builder has both)
        defaults = inspect.signature(MODELS[args.model]).parameters
        channels, size = defaults["in_channels"].default, defaults["image_size"].default
        shape = (channels, size, size)
    else:
        shape = tuple(args.input_shape)
        if min(shape) < 1 or shape[1] != shape[2]:
            raise UsageError(f"--input-shape must be C H W with positive sizes and H = W (the zoo's models "
                             f"take square images), got {' '.join(map(str, shape))}")
        kwargs.update(in_channels=shape[0], image_size=shape[1])
    if args.depth is not None and args.depth < 1:
        raise UsageError(f"--depth must be at least 1, got {args.depth}")
    if args.num_classes is not None and args.num_classes < 1:
        raise UsageError(f"--num-classes must be at least 1, got {args.num_classes}")
    try:
        model = get_model(args.model, **kwargs)
    except ValueError as error:   # e.g. an image too small for the model
        raise UsageError(error) from error
    summary(model, shape, depth=args.depth)
    return 0
