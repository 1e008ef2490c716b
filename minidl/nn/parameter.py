"""``Parameter``: a Tensor that a Module learns.

Assigning a Parameter to an attribute of a Module registers it (``module.weight = Parameter(w)``),
so that ``module.parameters()`` hands it to the optimiser and ``state_dict()`` saves it. A plain
Tensor assigned the same way is just an attribute: the type is the signal.
"""

import numpy as np

from minidl.tensor import Tensor


class Parameter(Tensor):
    """A learnable Tensor: ``requires_grad`` is True unless asked otherwise.

    Args:
        data: an ndarray, a Tensor (its array is shared, not copied) or anything ``np.asarray``
            accepts. float64 arrays stay float64; Python floats become float32.
        requires_grad: whether backward should compute ``grad`` for it (False freezes it).
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty(0, dtype=np.float32)
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
