"""minidl.functional (``import minidl.functional as F``): the stateless layers on Tensors.

Each function validates its arguments, then calls the autograd wrapper of a ``minidl.layers``
forward/backward pair. Names and arguments follow ``torch.nn.functional``.
"""

from minidl.functional.activation import *  # noqa: F401,F403
from minidl.functional.conv import *  # noqa: F401,F403
from minidl.functional.dropout import *  # noqa: F401,F403
from minidl.functional.encoding import *  # noqa: F401,F403
from minidl.functional.linear import *  # noqa: F401,F403
from minidl.functional.loss import *  # noqa: F401,F403
from minidl.functional.norm import *  # noqa: F401,F403
from minidl.functional.pad import *  # noqa: F401,F403
from minidl.functional.pool import *  # noqa: F401,F403
from minidl.functional.resize import *  # noqa: F401,F403
