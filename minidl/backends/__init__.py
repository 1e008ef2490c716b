"""``minidl.backends``: the switches PyTorch scripts set for GPU libraries, accepted and ignored.

``minidl.backends.mps.is_available()`` is False, and lines such as
``minidl.backends.cudnn.deterministic = True`` run unchanged: minidl's CPU kernels are
deterministic already (the same results at any thread count).
"""

import types

mps = types.SimpleNamespace(is_available=lambda: False, is_built=lambda: False)
cudnn = types.SimpleNamespace(deterministic=True, benchmark=False, enabled=False, is_available=lambda: False)
