"""Convolution and transposed convolution: im2col + matrix product, and three faster methods.

Convolution (really cross-correlation, as in every deep-learning library) of an input x of
shape (N, C, H, W) with filters w of shape (F, C/G, KH, KW) computes

    out[n, f, y, x] = b[f] + sum_{c, i, j} w[f, c, i, j] * xp[n, g*C/G + c, y*SH + i*DH, x*SW + j*DW]

where xp is x zero-padded by (PH, PW) and g = f // (F/G) is the group filter f belongs to.
``kernels.im2col`` copies every receptive field into a column, so the whole layer becomes one
matrix product per group:

    cols = im2col(x)                          # (N, C*KH*KW, H'*W'), rows ordered (c, i, j)
    out  = w.reshape(F, C*KH*KW) @ cols       # (N, F, H'*W')           (groups = 1)

Groups split the channels into G independent blocks: input channels [g*C/G, (g+1)*C/G) only
meet filters [g*F/G, (g+1)*F/G). Because the rows of ``cols`` are ordered channel first, block
g of the channels is block g of the rows, so reshaping ``cols`` to (N, G, C/G*KH*KW, H'*W') and
the weight to (G, F/G, C/G*KH*KW) turns the G convolutions into one batched matmul. Depthwise
convolution is the case G = C (each channel is filtered on its own); a 1x1 convolution is
KH = KW = 1, a matrix product over channels at every pixel.

Choosing the algorithm. ``conv2d_forward`` computes the same convolution in one of four ways,
picked by ``conv2d_algorithm`` (or forced with ``algorithm=``); they differ in speed and memory:

- "depthwise" when groups = C > 1: a direct loop over the kernel taps, each adding a scaled,
  shifted copy of the input (``kernels.depthwise_conv2d``). im2col would copy every input value
  KH*KW times only for matrix products too small (M x KH*KW) to pay for the copies.
- "direct" (``kernels.direct_conv2d``): every output summed straight from the input in tiles
  of outputs held in vector registers; no columns at all. The default for everything below.
- "im2col" for 1x1 kernels, when the BLAS library runs vectors as wide as the direct tiles
  (``kernels.blas_vector_bytes() >= kernels.vector_bytes()``): a 1x1 convolution is a plain
  matrix product (stride 1 and no padding need no im2col at all: its columns are the input
  itself), and a whole-width BLAS product beats the tiles, whose sums over so few channels
  are short.
- "winograd" for 3x3 kernels with stride 1 (any padding and dilation) and at least
  WINOGRAD_MIN_CHANNELS input and output channels per group, when the direct tiles are
  256-bit (AVX2): Winograd's F(2x2, 3x3) gets every 2x2 block of outputs with 16
  multiplications instead of 36 and still runs them as matrix products
  (``minidl.kernels.winograd`` explains it). With few channels those products are small and
  the tile transforms cost more than they save.

The rules come from measurements on two machines and two imitations of others (CPU time of
one forward pass on one thread, the benchmark's shapes a-h and ResNet-20's, VGG's and
LeNet's layers): an AMD Zen 5 with AVX-512 whose OpenBLAS runs 256-bit (Haswell) kernels;
the same with OpenBLAS's AVX-512 kernels (OPENBLAS_CORETYPE=SkylakeX, as on Intel's AVX-512
Xeons); and the same compiled for AVX2 only (NUMBA_CPU_NAME=znver3 without AVX-512, PyTorch
and OpenBLAS at AVX2). On all three "direct" beat im2col on every layer but the 1x1 ones
(2-5x on LeNet's, AlexNet's and the small-channel layers, 1.2-2.3x on the strided ones); with
AVX-512 tiles it beat Winograd on every 3x3 layer (1.3-1.9x with the 256-bit OpenBLAS, 0.98-1.6x
with the AVX-512 one); with AVX2 tiles Winograd won from 32 channels on (1.1-1.4x) and lost
at 16 (0.75x). Those AVX2 tiles wrote their sums with masked stores, which AMD's processors
run slowly; with plain stores (``register_tile``), measured on a real AVX2-only Zen 4, they
are level with Winograd at 32 channels and behind from 48 (WINOGRAD_MIN_CHANNELS). A 1x1
layer went 1.2x faster as a BLAS product than as tiles where BLAS was
AVX-512, and 1.5x slower where BLAS was 256-bit on an AVX-512 CPU.

Memory. The columns of a whole batch are big: N*C*KH*KW*H'*W' numbers, nine times the input for
a 3x3 kernel (151 MB for 64 images of 64 x 32 x 32). So the batch is processed in chunks of
images whose scratch arrays (the columns, or Winograd's transformed tiles) fit in
SCRATCH_BYTES. The cache keeps the input x, not the columns: backward builds them again, chunk
by chunk. That costs one more im2col (a copy, cheap next to the matrix products) and spares
holding all the columns from forward to backward.

Threads. The chunks go to ``kernels.for_each_chunk``, which shares them among minidl's threads,
each thread doing all the steps of its chunks: the columns a core has just written are still
in its cache when its matrix product reads them, and only one chunk's scratch per thread is in
memory at a time. Results do not depend on the number of threads: the chunks are the same
whatever it is, each writes its own images, and the weight gradient's parts, one per chunk,
are added in chunk order (``_summed_over_chunks``, which also bounds how many are kept).

The transposed convolution is the adjoint of this map: its forward pass is conv2d's backward
pass for the input (columns W^T x, then col2im), and its backward pass for the input is a plain
conv2d (im2col of dout, then W @ columns). Its columns too are made chunk by chunk, each
chunk's at most SCRATCH_BYTES.
"""

import numpy as np

from minidl import kernels

ALGORITHMS = ("auto", "im2col", "winograd", "depthwise", "direct")
# Largest scratch data of one chunk of images (columns, or Winograd's V and M; in backward
# also each image's weight gradient before they are added up). Small enough
# that a chunk's columns or tiles are still in the processor's cache when the matrix product
# reads them back, large enough for products big enough to run well and for the Winograd
# transforms to see several images at once. Measured with one and two threads: ResNet-20's
# layers ran 16% faster with 4 MB than with 16 MB and as fast as with 2 MB, the benchmark's
# 64- and 128-channel layers 5-14% faster with 4 MB than with 2 or 8 MB.
SCRATCH_BYTES = 4 * 2**20
# ... and a batch is cut into at least this many chunks (when it has the images), whatever the
# number of threads, so that threads which each take whole chunks finish close together: with
# two chunks, a thread that starts its chunk late (waking it costs tens of microseconds) keeps
# the other waiting for all of it. Measured on a 2-core Zen 4 (AVX2), whose 64-channel 8x8
# ResNet-20 layers fit 32 images in a chunk: a two-thread step, medians of 15 interleaved rounds,
# 221 ms with 2 chunks and 212 ms with 8; at one thread 264 and 260 ms.
MIN_CHUNKS = 8
# Backward passes keep one weight-gradient part per chunk until they are added up: they run in
# waves of this many chunks (enough to keep two threads busy), which bounds that memory.
CHUNKS_PER_WAVE = 8
# Marks the cache of a strided 1x1 convolution run on its sampled input (``conv2d_forward``).
SAMPLED = "sampled"
# Winograd pays off once the matrix products are large enough next to the tile transforms.
# Measured on a 2-core Zen 4 with AVX2 only (fwd+bwd, ResNet-20's shapes, batch 64): at 32
# channels the direct tiles were level or ahead (16x16 maps: 13.3-14.1 ms against 13.4-16.3 on
# one thread, 7.8-9.1 against 7.8-10.2 on two), at 48 Winograd won (23.8 against 28.8 ms), at
# 64 and 128 by 1.3-1.6x.
WINOGRAD_MIN_CHANNELS = 48
# Vector bytes of the direct tiles from which they beat Winograd (AVX-512's zmm registers).
DIRECT_OVER_WINOGRAD_BYTES = 64


def conv2d_algorithm(x_shape, weight_shape, stride, groups):
    """The algorithm ``algorithm="auto"`` uses: "depthwise", "direct", "im2col" or "winograd".

    See the module docstring for the rules and the measurements behind them; every algorithm
    gives the same result up to rounding.
    """
    f, c_per_group, kh, kw = weight_shape
    if groups == x_shape[1] > 1:     # one input channel (a greyscale first layer) is no depthwise layer
        return "depthwise"
    if (kh, kw) == (1, 1) and kernels.blas_vector_bytes() >= kernels.vector_bytes():
        return "im2col"
    if ((kh, kw) == (3, 3) and stride == (1, 1) and min(c_per_group, f // groups) >= WINOGRAD_MIN_CHANNELS
            and kernels.vector_bytes() < DIRECT_OVER_WINOGRAD_BYTES):
        return "winograd"
    return "direct"


def _check_algorithm(algorithm, x_shape, weight_shape, stride, groups):
    if algorithm not in ALGORITHMS:
        raise ValueError(f"conv2d: algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    if algorithm == "depthwise" and groups != x_shape[1]:
        raise ValueError(
            f"conv2d: algorithm='depthwise' needs groups equal to the number of input channels, "
            f"got groups={groups} for {x_shape[1]} channels"
        )
    if algorithm == "winograd" and (weight_shape[2:] != (3, 3) or stride != (1, 1)):
        raise ValueError(
            f"conv2d: algorithm='winograd' needs a 3x3 kernel and stride 1, got kernel "
            f"{weight_shape[2:]} and stride {stride}"
        )


def _chunks(n, bytes_per_image):
    """Slices of the batch, each of at most as many images as fit in SCRATCH_BYTES (at least
    one) and at least MIN_CHUNKS of them where the batch has the images, as few as that allows
    and of sizes that differ by at most one (64 images in two chunks are 32 + 32, not 37 + 27),
    so that threads taking a chunk each finish together."""
    most = max(1, min(n, SCRATCH_BYTES // max(1, bytes_per_image)))
    count = max(-(-n // most), min(n, MIN_CHUNKS))
    bounds = [n * k // count for k in range(count + 1)]
    return [slice(start, stop) for start, stop in zip(bounds, bounds[1:])]


def _is_pointwise(kernel, stride, padding):
    return kernel == (1, 1) and stride == (1, 1) and padding == (0, 0)


def _column_chunks(x, kernel, stride, padding, dilation, out_hw, extra_bytes_per_image=0):
    """Chunks of the batch for im2col: one for a pointwise kernel, whose columns are the input
    itself (no copy, so no scratch to bound), else as many as SCRATCH_BYTES asks for the
    columns and ``extra_bytes_per_image`` (backward: each image's own weight gradient)."""
    n, c = x.shape[:2]
    if _is_pointwise(kernel, stride, padding):
        return [slice(0, n)]
    return _chunks(n, c * kernel[0] * kernel[1] * out_hw[0] * out_hw[1] * x.itemsize + extra_bytes_per_image)


def _columns(x, kernel, stride, padding, dilation, out_hw):
    """The columns of the images x: (images, C*KH*KW, H'*W'); x itself for a pointwise kernel."""
    n, c = x.shape[:2]
    if _is_pointwise(kernel, stride, padding):
        return x.reshape(n, c, -1)
    cols = np.empty((n, c * kernel[0] * kernel[1], out_hw[0] * out_hw[1]), dtype=x.dtype)
    return kernels.im2col(x, kernel, stride, padding, dilation, out_hw, out=cols)


def _sum_in_order(parts):
    """parts[0] + parts[1] + ..., added left to right, so the rounding is always the same."""
    total = parts[0].copy()
    for part in parts[1:]:
        total += part
    return total


def _summed_over_chunks(chunk_gradient, count):
    """Run ``chunk_gradient(k)`` for every chunk k, which does the chunk's share of a backward
    pass and returns its part of the weight gradient (a new array); return the sum of the
    parts, added in chunk order so that the rounding never depends on the number of threads.

    The chunks share the threads CHUNKS_PER_WAVE at a time: each wave's parts are added before
    the next wave starts, so that at most that many parts are in memory at once.
    """
    total = None
    for first in range(0, count, CHUNKS_PER_WAVE):
        parts = [None] * min(CHUNKS_PER_WAVE, count - first)

        def run(j, first=first, parts=parts):
            parts[j] = chunk_gradient(first + j)

        kernels.for_each_chunk(run, len(parts))
        for part in parts:
            if total is None:
                total = part
            else:
                total += part
    return total


def _winograd_chunks(x, filters, dilation, tiles):
    """Chunks of the batch whose V (16, C, T) and M (16, F, T) fit in SCRATCH_BYTES, and the
    number of tiles of one image; T = images * tiles_per_image."""
    c = x.shape[1]
    tiles_per_image = dilation[0] * dilation[1] * tiles[0] * tiles[1]
    return _chunks(x.shape[0], 16 * (c + filters) * tiles_per_image * x.itemsize), tiles_per_image


def conv2d_forward(x, weight, bias, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
                   algorithm="auto"):
    """Forward pass of a 2-D convolution.

    Args:
        x: (N, C, H, W) input.
        weight: (F, C/groups, KH, KW) filters (PyTorch's OIHW layout).
        bias: (F,) or None.
        stride, padding, dilation: pairs of ints (vertical, horizontal); padding is added on
            both sides of each axis.
        groups: number of channel blocks; C and F must both be multiples of it.
        algorithm: "auto" (``conv2d_algorithm`` decides), "direct", "im2col", "winograd" (3x3
            kernels, stride 1) or "depthwise" (groups = C). All compute the same numbers up to
            rounding.
    Returns:
        out: (N, F, H', W') with H' = floor((H + 2*PH - DH*(KH-1) - 1)/SH) + 1, likewise W'.
        cache: (x, weight, has_bias, stride, padding, dilation, groups, out_hw, algorithm):
            the input itself, from which backward rebuilds the columns (or tiles) it needs;
            for a strided 1x1 kernel (SAMPLED, x's shape, stride, the cache of the stride-1
            convolution of the sampled input).
    Raises:
        ValueError from ``kernels.output_size`` when the kernel does not fit the padded input,
        and when ``algorithm`` is unknown or does not apply to this convolution.
    """
    n, c, h, w = x.shape
    f, _, kh, kw = weight.shape
    out_hw = kernels.output_size("conv2d", (h, w), (kh, kw), stride, padding, dilation)
    _check_algorithm(algorithm, x.shape, weight.shape, stride, groups)
    if algorithm == "auto":
        algorithm = conv2d_algorithm(x.shape, weight.shape, stride, groups)
    if (kh, kw) == (1, 1) and padding == (0, 0) and stride != (1, 1) and algorithm in ("direct", "im2col") and n:
        # A strided 1x1 kernel (ResNet's projection shortcuts) reads every SH-th row and SW-th
        # column only: those, copied, are the input of a 1x1 convolution with stride 1 (2.5x
        # faster on ResNet-20's first shortcut than phase-splitting or im2col copying the
        # whole input, 1.2x on its second, measured).
        sampled = np.ascontiguousarray(x[:, :, ::stride[0], ::stride[1]])
        out, inner = conv2d_forward(sampled, weight, bias, (1, 1), padding, dilation, groups, algorithm)
        return out, (SAMPLED, x.shape, stride, inner)

    cache = (x, weight, bias is not None, stride, padding, dilation, groups, out_hw, algorithm)
    out = np.empty((n, f, *out_hw), dtype=x.dtype)
    if n == 0:  # an empty batch, which PyTorch accepts: no image to compute, no chunk to cut
        return out, cache
    if algorithm == "direct":
        # The tiles start their sums at the bias: no pass over the output to add it.
        return kernels.direct_conv2d(x, weight, bias, stride, padding, dilation, out_hw, groups, out=out), cache
    if algorithm == "depthwise":
        # Each plane's sums start at its bias, as in the direct tiles.
        return kernels.depthwise_conv2d(x, weight, bias, stride, padding, dilation, out_hw, out=out), cache
    if algorithm == "winograd":
        _winograd_forward(x, weight, padding, dilation, groups, out)
    else:
        # out = W @ cols for each image, per group: (G, F/G, C/G*KH*KW) @ (G, C/G*KH*KW, L).
        w_by_group = weight.reshape(groups, f // groups, -1)
        out_by_group = out.reshape(n, groups, f // groups, -1)
        chunks = _column_chunks(x, (kh, kw), stride, padding, dilation, out_hw)

        def forward_chunk(k):
            cols = _columns(x[chunks[k]], (kh, kw), stride, padding, dilation, out_hw)
            cols_by_group = cols.reshape(len(cols), groups, -1, cols.shape[-1])
            kernels.matmul(w_by_group, cols_by_group, out=out_by_group[chunks[k]])

        kernels.for_each_chunk(forward_chunk, len(chunks))
    if bias is not None:
        kernels.channel_affine(out, 0, 1, bias, out=out)       # out += bias[f], on all threads
    return out, cache


def _winograd_forward(x, weight, padding, dilation, groups, out):
    """out = A^T [U[ab] @ V[ab]] A with U the filters' and V the input tiles' transforms."""
    c, f = x.shape[1], weight.shape[0]
    tiles = kernels.winograd_tiles(out.shape[2:], dilation)
    u = kernels.winograd_weight(weight).reshape(16, groups, f // groups, -1)   # (16, G, F/G, C/G)
    chunks, tiles_per_image = _winograd_chunks(x, f, dilation, tiles)

    def forward_chunk(k):
        images = chunks[k]
        t = (images.stop - images.start) * tiles_per_image
        v = kernels.winograd_input(x[images], padding, dilation, tiles, out=np.empty((16, c, t), x.dtype))
        # M[ab] = U[ab] @ V[ab] for the 16 positions (a, b) of a tile, per group.
        m = kernels.matmul(u, v.reshape(16, groups, -1, t), out=np.empty((16, groups, f // groups, t), x.dtype))
        kernels.winograd_output(m.reshape(16, f, t), out.shape[2:], dilation, out=out[images])

    kernels.for_each_chunk(forward_chunk, len(chunks))


def conv2d_backward(dout, cache, input_grad=True):
    """Backward pass of ``conv2d_forward``.

    Args:
        dout: (N, F, H', W') upstream gradient.
        cache: from ``conv2d_forward``.
        input_grad: False skips dx (returned as None), as autograd asks when the input needs no
            gradient: a network's first layer, whose input is the images.
    Returns:
        dx: (N, C, H, W) or None; dw: (F, C/groups, KH, KW); db: (F,), or None when there was no bias.
    """
    if cache[0] is SAMPLED:
        # The gradient reaches the sampled rows and columns only.
        _, x_shape, stride, inner = cache
        sampled_dx, dw, db = conv2d_backward(dout, inner, input_grad)
        if sampled_dx is None:
            return None, dw, db
        dx = np.zeros(x_shape, dtype=sampled_dx.dtype)
        dx[:, :, ::stride[0], ::stride[1]] = sampled_dx
        return dx, dw, db
    x, weight, has_bias, stride, padding, dilation, groups, out_hw, algorithm = cache
    dout = np.ascontiguousarray(dout)

    # Each output adds b[f] once: db = sum of dout over N, H', W'.
    db = kernels.channel_sum(dout) if has_bias else None

    if x.shape[0] == 0:  # an empty batch: the weight gradient is a sum over no images
        dx = np.empty(x.shape, dtype=dout.dtype) if input_grad else None
        return dx, np.zeros(weight.shape, dtype=dout.dtype), db
    if algorithm == "depthwise":
        # dx: every tap scatters w * dout back onto the input positions it read (a "full"
        # convolution of dout with the flipped kernel); dw: dout correlated with the input.
        dx = kernels.depthwise_conv2d_input_grad(dout, weight, x.shape, stride, padding, dilation) \
            if input_grad else None
        dw = kernels.depthwise_conv2d_weight_grad(dout, x, weight.shape, stride, padding, dilation)
    elif algorithm == "winograd":
        dx, dw = _winograd_backward(dout, x, weight, padding, dilation, groups, input_grad)
    elif algorithm == "direct":
        dx, dw = _direct_backward(dout, x, weight, stride, padding, dilation, groups, out_hw, input_grad)
    else:
        dx, dw = _im2col_backward(dout, x, weight, stride, padding, dilation, groups, out_hw, input_grad)
    return dx, dw, db


def _im2col_backward(dout, x, weight, stride, padding, dilation, groups, out_hw, input_grad=True):
    """dx (None unless ``input_grad``) and dw from the columns, rebuilt chunk by chunk."""
    n = x.shape[0]
    f, _, kh, kw = weight.shape
    w_by_group = weight.reshape(groups, f // groups, -1)                   # (G, F/G, C/G*KH*KW)
    dout_by_group = dout.reshape(n, groups, f // groups, -1)               # (N, G, F/G, L)
    dx = np.empty(x.shape, dtype=dout.dtype) if input_grad else None
    chunks = _column_chunks(x, (kh, kw), stride, padding, dilation, out_hw, extra_bytes_per_image=weight.nbytes)

    def backward_chunk(k):
        images = chunks[k]
        cols = _columns(x[images], (kh, kw), stride, padding, dilation, out_hw)
        cols_by_group = cols.reshape(len(cols), groups, -1, cols.shape[-1])  # (images, G, C/G*KH*KW, L)

        # out = W @ cols, so dW = dout @ cols^T, summed over the images (the filters are shared).
        dw_by_image = np.empty((len(cols), *w_by_group.shape), dtype=dout.dtype)
        kernels.matmul(dout_by_group[images], cols_by_group.swapaxes(-1, -2), out=dw_by_image)
        dw = _sum_in_order(dw_by_image)
        if not input_grad:
            return dw

        # d(cols) = W^T @ dout; col2im adds each column back onto the pixels it was read from.
        # Together this is a "full" convolution of dout with the flipped kernel: every input pixel
        # collects dout from every output whose window covered it, weighted by the tap that read it.
        if _is_pointwise((kh, kw), stride, padding):
            # The columns are x itself, and col2im of a 1x1 kernel is the identity.
            kernels.matmul(w_by_group.swapaxes(-1, -2), dout_by_group, out=dx.reshape(cols_by_group.shape))
        else:
            # The columns are no longer needed: d(cols) takes their place.
            kernels.matmul(w_by_group.swapaxes(-1, -2), dout_by_group[images], out=cols_by_group)
            kernels.col2im(cols, x[images].shape, (kh, kw), stride, padding, dilation, out_hw, out=dx[images])
        return dw

    dw = _summed_over_chunks(backward_chunk, len(chunks))
    return dx, dw.reshape(weight.shape)


def _direct_backward(dout, x, weight, stride, padding, dilation, groups, out_hw, input_grad=True):
    """dx (None unless ``input_grad``) and dw of a convolution computed directly, without columns.

    dw: ``kernels.direct_conv2d_weight_grad``, the sum over images and positions of dout
    times the input each tap read, in tiles like the forward pass's. (1x1 kernels take
    im2col's gradients instead.)

    dx: with stride 1, every input pixel collects dout from the outputs whose windows covered
    it, weighted by the tap that read it; output y read input y + i*DH - PH through tap i, so

        dx[n, c, y, x] = sum over f, i, j of  w[f, c, i, j] * dout[n, f, y + PH - i*DH, x + PW - j*DW]

    a convolution of dout (F channels) with the kernel flipped (i -> KH-1-i, j -> KW-1-j) and
    its two channel axes exchanged, with padding DH*(KH-1) - PH: the forward pass's direct
    tiles compute it. With a stride, or more padding than that, dx comes from the columns
    (``_im2col_input_grad``).
    """
    f, c_per_group, kh, kw = weight.shape
    if (kh, kw) == (1, 1):
        # A 1x1 kernel's columns need no copying (or a strided one) and its sums over channels
        # are short: as BLAS products its gradients took 0.8x the time of the tiles (measured).
        return _im2col_backward(dout, x, weight, stride, padding, dilation, groups, out_hw, input_grad)
    dw = kernels.direct_conv2d_weight_grad(dout, x, weight.shape, stride, padding, dilation, groups)
    if not input_grad:
        return None, dw
    flipped_padding = tuple(d * (k - 1) - p for d, k, p in zip(dilation, (kh, kw), padding))
    if stride != (1, 1) or min(flipped_padding) < 0:
        return _im2col_input_grad(dout, x.shape, weight, stride, padding, dilation, groups, out_hw), dw
    # (F, C/G, KH, KW) -> (C, F/G, KH, KW): group g's filters become its channels and back.
    flipped = weight[:, :, ::-1, ::-1].reshape(groups, f // groups, c_per_group, kh, kw).swapaxes(1, 2)
    flipped = np.ascontiguousarray(flipped).reshape(groups * c_per_group, f // groups, kh, kw)
    dx = kernels.direct_conv2d(np.ascontiguousarray(dout), flipped, None, (1, 1), flipped_padding, dilation,
                               x.shape[2:], groups)
    return dx, dw


def _im2col_input_grad(dout, x_shape, weight, stride, padding, dilation, groups, out_hw):
    """dx alone from the columns: d(cols) = W^T @ dout, then col2im, chunk by chunk.

    W^T @ dout is a 1x1 convolution of dout (F channels) into C*KH*KW channels, run as
    direct tiles where the BLAS library's vectors are narrower than theirs (the same rule as
    for 1x1 layers, ``conv2d_algorithm``), else as BLAS products.
    """
    n = x_shape[0]
    f, _, kh, kw = weight.shape
    w_by_group = weight.reshape(groups, f // groups, -1)                   # (G, F/G, C/G*KH*KW)
    dout_by_group = dout.reshape(n, groups, f // groups, -1)               # (N, G, F/G, L)
    dx = np.empty(x_shape, dtype=dout.dtype)
    rows = x_shape[1] * kh * kw
    chunks = _chunks(n, rows * out_hw[0] * out_hw[1] * dout.itemsize)
    by_tiles = kernels.blas_vector_bytes() < kernels.vector_bytes()
    # (G*C/G*KH*KW, F/G, 1, 1): group g's transposed weights as 1x1 filters.
    w_transposed = np.ascontiguousarray(w_by_group.swapaxes(-1, -2)).reshape(rows, f // groups, 1, 1)

    def input_grad_chunk(k):
        images = chunks[k]
        count = images.stop - images.start
        cols = np.empty((count, rows, out_hw[0] * out_hw[1]), dout.dtype)
        if by_tiles:
            kernels.direct_conv2d(dout[images], w_transposed, None, (1, 1), (0, 0), (1, 1), out_hw, groups,
                                  out=cols.reshape(count, rows, *out_hw))
        else:
            kernels.matmul(w_by_group.swapaxes(-1, -2), dout_by_group[images],
                           out=cols.reshape(count, groups, rows // groups, -1))
        kernels.col2im(cols, (count, *x_shape[1:]), (kh, kw), stride, padding, dilation, out_hw, out=dx[images])

    kernels.for_each_chunk(input_grad_chunk, len(chunks))
    return dx


def _winograd_backward(dout, x, weight, padding, dilation, groups, input_grad=True):
    """The 16 products of the forward pass, transposed (see ``minidl.kernels.winograd``); dx is
    None unless ``input_grad``."""
    c, f = x.shape[1], weight.shape[0]
    tiles = kernels.winograd_tiles(dout.shape[2:], dilation)
    u = kernels.winograd_weight(weight).reshape(16, groups, f // groups, -1)   # (16, G, F/G, C/G)
    dx = np.empty(x.shape, dtype=dout.dtype) if input_grad else None
    chunks, tiles_per_image = _winograd_chunks(x, f, dilation, tiles)

    def backward_chunk(k):
        images = chunks[k]
        t = (images.stop - images.start) * tiles_per_image
        v = kernels.winograd_input(x[images], padding, dilation, tiles, out=np.empty((16, c, t), x.dtype))
        dm = kernels.winograd_output_grad(dout[images], dilation, out=np.empty((16, f, t), x.dtype))
        v_by_group, dm_by_group = v.reshape(16, groups, -1, t), dm.reshape(16, groups, -1, t)
        # M[ab] = U[ab] @ V[ab], so dU[ab] = dM[ab] @ V[ab]^T (summed over the tiles) ...
        du = kernels.matmul(dm_by_group, v_by_group.swapaxes(-1, -2), out=np.empty_like(u))
        if not input_grad:
            return du
        # ... and dV[ab] = U[ab]^T @ dM[ab], written over V, which is no longer needed.
        kernels.matmul(u.swapaxes(-1, -2), dm_by_group, out=v_by_group)
        kernels.winograd_input_grad(v, x[images].shape, padding, dilation, tiles, out=dx[images])
        return du

    du = _summed_over_chunks(backward_chunk, len(chunks))
    return dx, kernels.winograd_weight_grad(du.reshape(16, f, -1))


def conv_transpose2d_output_size(input_hw, kernel, stride, padding, output_padding, dilation):
    """Output (H_out, W_out) of a transposed convolution; a clear error when it is less than 1.

    H_out = (H - 1)*S - 2P + D*(K - 1) + output_padding + 1: the size of the conv2d input that
    a conv2d with the same kernel, stride, padding and dilation maps to H (output_padding picks
    among the sizes that all give H when the stride does not divide evenly).
    """
    out = []
    for axis, size, k, s, p, op, d in zip(("height", "width"), input_hw, kernel, stride, padding,
                                          output_padding, dilation):
        n = (size - 1) * s - 2 * p + d * (k - 1) + op + 1
        if n < 1:
            letter = "H" if axis == "height" else "W"
            raise ValueError(
                f"conv_transpose2d: the output {axis} is not positive: input {letter}={size}, "
                f"kernel K={k}, stride S={s}, padding P={p}, dilation D={d}, output_padding={op} "
                f"give {letter}_out = ({letter} - 1)*S - 2P + D*(K - 1) + output_padding + 1 = "
                f"({size} - 1)*{s} - 2*{p} + {d}*({k} - 1) + {op} + 1 = {n}, which is less than 1"
            )
        out.append(n)
    return tuple(out)


def conv_transpose2d_forward(x, weight, bias, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                             dilation=(1, 1), groups=1):
    """Forward pass of a 2-D transposed convolution (a "deconvolution", a fractionally strided conv).

    Each input pixel scatters a copy of the kernel, scaled by its value, onto the output: the
    adjoint of conv2d. With the weight read as conv2d filters of shape (C_in, C_out/G, KH, KW),
    that is exactly conv2d's input gradient with x in the role of dout:

        cols = W^T @ x              # (N, C_out*KH*KW, H*W), per group
        out  = col2im(cols)         # (N, C_out, H_out, W_out): overlapping taps add up

    Args:
        x: (N, C_in, H, W) input.
        weight: (C_in, C_out/groups, KH, KW) (PyTorch's transposed-conv layout).
        bias: (C_out,) or None.
        stride, padding, output_padding, dilation: pairs of ints; padding is removed from both
            sides of the output, output_padding is added to its bottom/right.
        groups: number of channel blocks; C_in must be a multiple of it.
    Returns:
        out: (N, C_out, H_out, W_out), H_out = (H-1)*SH - 2*PH + DH*(KH-1) + output_padding_h + 1.
        cache: (x, weight, has_bias, stride, padding, dilation, groups), the input and weight
            being what the backward matrix products need.
    """
    n, c_in, h, w = x.shape
    _, c_out_per_group, kh, kw = weight.shape
    c_out = c_out_per_group * groups
    out_hw = conv_transpose2d_output_size((h, w), (kh, kw), stride, padding, output_padding, dilation)

    x_by_group = np.ascontiguousarray(x).reshape(n, groups, c_in // groups, h * w)   # (N, G, C_in/G, L)
    w_by_group = weight.reshape(groups, c_in // groups, -1)                # (G, C_in/G, C_out/G*KH*KW)
    out = np.empty((n, c_out, *out_hw), dtype=x.dtype)
    cache = (x, weight, bias is not None, stride, padding, dilation, groups)
    if n == 0:  # an empty batch, which PyTorch accepts: no image to compute, no chunk to cut
        return out, cache
    # As in conv2d, the columns are made a chunk of images at a time.
    rows, length = c_out * kh * kw, h * w
    chunks = _chunks(n, rows * length * x.itemsize)

    def forward_chunk(k):
        images = chunks[k]
        count = images.stop - images.start
        cols = kernels.matmul(w_by_group.swapaxes(-1, -2), x_by_group[images],
                              out=np.empty((count, groups, rows // groups, length), x.dtype))
        kernels.col2im(cols.reshape(count, rows, length), (count, c_out, *out_hw), (kh, kw), stride, padding,
                       dilation, (h, w), out=out[images])

    kernels.for_each_chunk(forward_chunk, len(chunks))
    if bias is not None:
        out = out + bias.reshape(1, c_out, 1, 1)
    return out, cache


def conv_transpose2d_backward(dout, cache):
    """Backward pass of ``conv_transpose2d_forward``.

    Args:
        dout: (N, C_out, H_out, W_out) upstream gradient.
        cache: from ``conv_transpose2d_forward``.
    Returns:
        dx: (N, C_in, H, W); dw: (C_in, C_out/groups, KH, KW); db: (C_out,), or None without bias.
    """
    x, weight, has_bias, stride, padding, dilation, groups = cache
    n, c_in, h, w = x.shape
    _, _, kh, kw = weight.shape
    x_by_group = x.reshape(n, groups, c_in // groups, h * w)               # (N, G, C_in/G, L)
    w_by_group = weight.reshape(groups, c_in // groups, -1)                # (G, C_in/G, C_out/G*KH*KW)

    db = kernels.channel_sum(dout) if has_bias else None
    if n == 0:  # an empty batch: the weight gradient is a sum over no images
        return np.empty(x.shape, dtype=dout.dtype), np.zeros(weight.shape, dtype=dout.dtype), db

    # The forward pass was cols = W^T @ x followed by col2im; the adjoint of col2im is im2col,
    # so dcols = im2col(dout) holds, for each input pixel, the dout values its kernel copy landed
    # on. Made a chunk of images at a time, as in the forward pass.
    dout = np.ascontiguousarray(dout)
    dx = np.empty(x.shape, dtype=dout.dtype)
    dx_by_group = dx.reshape(x_by_group.shape)
    chunks = _column_chunks(dout, (kh, kw), stride, padding, dilation, (h, w), extra_bytes_per_image=weight.nbytes)

    def backward_chunk(k):
        images = chunks[k]
        dcols = _columns(dout[images], (kh, kw), stride, padding, dilation, (h, w))
        dcols_by_group = dcols.reshape(len(dcols), groups, -1, h * w)    # (images, G, C_out/G*KH*KW, L)

        # cols = W^T @ x, so dx = W @ dcols: an ordinary conv2d of dout with the same weight.
        kernels.matmul(w_by_group, dcols_by_group, out=dx_by_group[images])

        # ... and dW = x @ dcols^T, summed over the batch.
        dw_by_image = np.empty((len(dcols), *w_by_group.shape), dtype=dout.dtype)
        kernels.matmul(x_by_group[images], dcols_by_group.swapaxes(-1, -2), out=dw_by_image)
        return _sum_in_order(dw_by_image)

    dw = _summed_over_chunks(backward_chunk, len(chunks))
    return dx, dw.reshape(weight.shape), db
