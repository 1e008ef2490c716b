"""The fully connected layer and flatten on Tensors, named as in ``torch.nn.functional`` / ``torch``.

The math of ``linear`` lives in ``minidl.layers.linear``; ``flatten`` only reshapes, so it is
the Tensor's own ``flatten``.
"""

from minidl.function import from_pair
from minidl.functional.checks import float_tensor
from minidl.layers.linear import linear_backward, linear_forward
from minidl.tensor import Tensor

__all__ = ["linear", "flatten"]

Linear = from_pair("Linear", linear_forward, linear_backward)


def linear(input, weight, bias=None):
    """input @ weight^T + bias, for input (..., in_features), weight (out_features, in_features)
    and bias (out_features,) or None. Returns (..., out_features)."""
    x = float_tensor("linear", input)
    weight = float_tensor("linear", weight, "weight", like=x)
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must have shape (out_features, in_features), got shape {weight.shape}")
    out_features, in_features = weight.shape
    if x.ndim == 0 or x.shape[-1] != in_features:
        features = "no dimensions" if x.ndim == 0 else f"{x.shape[-1]} features in its last dimension"
        raise ValueError(
            f"linear: input of shape {x.shape} has {features}, but weight of shape {weight.shape} "
            f"expects in_features={in_features}"
        )
    if bias is not None:
        bias = float_tensor("linear", bias, "bias", like=x)
        if bias.shape != (out_features,):
            raise ValueError(
                f"linear: bias must have shape (out_features,) = ({out_features},) to match weight "
                f"of shape {weight.shape}, got shape {bias.shape}"
            )
    return Linear.apply(x, weight, bias)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dimensions start_dim..end_dim (inclusive) into one, as ``torch.flatten``.

    The defaults flatten everything; ``nn.Flatten`` (and a CNN before its classifier) uses
    start_dim=1 to keep the batch dimension: (N, C, H, W) -> (N, C*H*W).
    """
    x = input if isinstance(input, Tensor) else Tensor(input)
    return x.flatten(start_dim, end_dim)
