"""The layers as plain NumPy forward/backward pairs, in the style of a course's ``layers.py``.

Every layer is two functions on ndarrays:

    out, cache = <layer>_forward(x, params..., **options)
    grads      = <layer>_backward(dout, cache)          # one gradient per array input

Their docstrings give the shapes, what the cache holds and the math of the backward pass.
``minidl.functional`` wraps each pair into an autograd Function; the ``*_naive`` modules hold
the loop versions a student writes first, kept as a readable reference.
"""
