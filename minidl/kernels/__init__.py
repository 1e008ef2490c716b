"""Array kernels: NumPy in, NumPy out, no autograd. The layers in ``minidl.layers`` call these.

- ``shapes``: argument checks and the output-size formula of sliding-window layers
- ``im2col``: patch extraction (im2col), its adjoint (col2im), padding and window views;
  ``im2col_numba`` holds the compiled twins of im2col and col2im
- ``depthwise``: depthwise convolution (groups = channels) computed directly, and its gradients
- ``direct``: convolution summed straight from the input, in tiles of outputs held in vector
  registers (``register_tile``); ``cpu``: the vector widths of those tiles and of the BLAS library
- ``elementwise``: ReLU, its gradient, and the sum of two arrays
- ``channels``: per-channel statistics and affine maps (batch normalisation's passes)
- ``winograd``: the tile transforms of Winograd's F(2x2, 3x3) for stride-1 3x3 convolutions
- ``backend``: which twin runs, the NumPy reference or the compiled Numba version
- ``allocator``: keeps freed memory in the process between training steps (set on import)

``matmul`` is ``np.matmul`` with a large product (or a batch of them) shared among minidl's
threads, and
``for_each_chunk`` shares the chunks of a layer's batch among them (see ``threads``);
they have no twins, as they compute the same under both backends.

Every kernel below that has two implementations is made by ``backend.dispatch``: calling it
runs the Numba version under the "numba" backend (the default) and the NumPy reference under
"numpy"; ``kernel.reference`` and ``kernel.fast`` are the two versions themselves.
"""

from minidl.kernels import channels as _channels
from minidl.kernels import depthwise as _depthwise
from minidl.kernels import direct as _direct
from minidl.kernels import elementwise as _elementwise
from minidl.kernels import im2col_numba as _im2col_numba
from minidl.kernels import winograd as _winograd
from minidl.kernels.allocator import keep_freed_memory
from minidl.kernels.backend import dispatch, get_backend, set_backend, use_backend
from minidl.kernels.cpu import blas_vector_bytes, vector_bytes
from minidl.kernels.im2col import col2im as _col2im_reference
from minidl.kernels.im2col import im2col as _im2col_reference
from minidl.kernels.im2col import pad2d, sliding_windows
from minidl.kernels.threads import for_each_chunk, matmul
from minidl.kernels.shapes import check_non_negative, check_positive, is_int, output_size, pair
from minidl.kernels.winograd import winograd_tiles, winograd_weight, winograd_weight_grad

keep_freed_memory()          # see ``allocator``: a training step stops faulting its memory in

im2col = dispatch(_im2col_reference, _im2col_numba.im2col)
col2im = dispatch(_col2im_reference, _im2col_numba.col2im)

direct_conv2d = dispatch(_direct.direct_conv2d_reference, _direct.direct_conv2d_fast)
direct_conv2d_weight_grad = dispatch(_direct.direct_conv2d_weight_grad_reference,
                                     _direct.direct_conv2d_weight_grad_fast)

depthwise_conv2d = dispatch(_depthwise.depthwise_conv2d_reference, _depthwise.depthwise_conv2d_fast)
depthwise_conv2d_input_grad = dispatch(_depthwise.depthwise_conv2d_input_grad_reference,
                                       _depthwise.depthwise_conv2d_input_grad_fast)
depthwise_conv2d_weight_grad = dispatch(_depthwise.depthwise_conv2d_weight_grad_reference,
                                        _depthwise.depthwise_conv2d_weight_grad_fast)

relu = dispatch(_elementwise.relu_reference, _elementwise.relu_fast)
relu_grad = dispatch(_elementwise.relu_grad_reference, _elementwise.relu_grad_fast)
add = dispatch(_elementwise.add_reference, _elementwise.add_fast)

channel_moments = dispatch(_channels.channel_moments_reference, _channels.channel_moments_fast)
channel_sum = dispatch(_channels.channel_sum_reference, _channels.channel_sum_fast)
channel_sums = dispatch(_channels.channel_sums_reference, _channels.channel_sums_fast)
channel_affine = dispatch(_channels.channel_affine_reference, _channels.channel_affine_fast)
channel_affine_pair = dispatch(_channels.channel_affine_pair_reference, _channels.channel_affine_pair_fast)
batch_norm_input_grad = dispatch(_channels.batch_norm_input_grad_reference, _channels.batch_norm_input_grad_fast)

winograd_input = dispatch(_winograd.winograd_input_reference, _winograd.winograd_input_fast)
winograd_output = dispatch(_winograd.winograd_output_reference, _winograd.winograd_output_fast)
winograd_output_grad = dispatch(_winograd.winograd_output_grad_reference, _winograd.winograd_output_grad_fast)
winograd_input_grad = dispatch(_winograd.winograd_input_grad_reference, _winograd.winograd_input_grad_fast)

__all__ = ["col2im", "im2col", "pad2d", "sliding_windows", "check_non_negative", "check_positive",
           "is_int", "output_size", "pair", "direct_conv2d", "direct_conv2d_weight_grad", "vector_bytes", "blas_vector_bytes", "depthwise_conv2d", "depthwise_conv2d_input_grad",
           "depthwise_conv2d_weight_grad", "winograd_tiles", "winograd_weight", "winograd_weight_grad",
           "winograd_input", "winograd_output", "winograd_output_grad", "winograd_input_grad",
           "relu", "relu_grad", "add", "channel_moments", "channel_sum", "channel_sums", "channel_affine", "channel_affine_pair", "batch_norm_input_grad", "matmul", "for_each_chunk", "dispatch", "get_backend", "set_backend", "use_backend"]
