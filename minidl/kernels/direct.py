"""Direct convolution: every output summed straight from the input, without im2col's columns.

    out[n, f, y, x] = b[f] + sum over c, i, j of  w[f, c, i, j] * xp[n, c, y*SH + i*DH, x*SW + j*DW]

with xp the zero-padded input. The im2col method first copies every receptive field into a
column (KH*KW copies of each input value) and then runs one matrix product; for the layers
with few input channels or a stride (a 1- or 3-channel first layer, a downsampling layer)
the copies cost as much as the product, and the product (few rows, or a short sum) runs far
from the machine's peak. The direct method reads each tap's inputs where they are.

Two versions, held equal by the tests:

- ``direct_conv2d_reference``: the formula above in NumPy, one kernel tap (c, i, j) at a
  time: every output plane adds the tap's weight times the shifted, strided input plane.
- ``direct_conv2d_fast``: the same sum, in the same order (bias first, then k = (c, i, j) in
  row-major order), computed in tiles whose sums stay in vector registers (``register_tile``):
  R filters x S vectors of V neighbouring pixels of an output row (V = 16 float32 with
  AVX-512, 8 with AVX2), or, where output rows are shorter than a vector would want (8x8 or
  7x7 feature maps), R pixels x S vectors of V filters. One step of the sum does R*S vector
  multiply-adds: the input is read in place, not copied KH*KW times.

How the fast version finds a tap's pixels. With stride 1, the V outputs x0 ... x0+V-1 of
row y read, for tap (c, i, j), the V neighbouring inputs xp[c, y*SH + i*DH, x0 + j*DW ...]:
one vector load, at an offset that depends on the tap only, (c*Hp + i*DH)*Wp + j*DW, from
xp[0, y*SH, x0] (Hp, Wp: the padded height and width). With stride S > 1 the inputs of
neighbouring outputs are S apart; the input is therefore first split by column phase:
``split_phases`` writes

    xs[c, r, p, m] = xp[c, r, m*S + p]          (p < S: the columns with remainder p)

so that output x reads column x*S + j*DW = (x + (j*DW)//S)*S + (j*DW)%S, that is
xs[c, r, (j*DW)%S, x + (j*DW)//S]: neighbouring outputs read neighbouring numbers again. The
split copy is also where the zero padding is made, so it is done for every layer (a copy of
the input, 1/(KH*KW) of what im2col writes). Each image's copy is made just before its tiles
run, so it is in the core's cache when they read it.

Which layout and tile shape (``choose_tiles``): the one that computes the fewest lanes beyond
the layer's own outputs (filters rounded up to a tile's filters, a row's pixels to whole
vectors; a larger tile wasting up to 5% more is preferred), the pixel layout unless the filter
layout saves more than a third (FILTER_LAYOUT_GAIN): it writes each
pixel's filters side by side, in a scratch that is then transposed into the (F, H', W')
layout, and it reads input values one at a time. The filter layout needs no phase split
either: a single input value can be read from any column.

Every output is one tile's sum, taken in a fixed order, so results do not depend on the
number of threads (blocks of images are shared among them, ``threads.launch``) nor on the
tile shape.
"""

import functools
import math

import numpy as np
from numba import njit

from minidl.kernels.im2col import pad2d
from minidl.kernels.im2col_numba import result_array
from minidl.kernels.register_tile import VECTOR_BYTES, filter_tile_kernel, pixel_tile_kernel
from minidl.kernels.threads import for_each_chunk, get_num_threads, launch

# The tile shapes a layer chooses from: (filters R, pixel vectors S) for the pixel layout,
# (pixels R, filter vectors S) for the filter layout. R*S accumulators plus the S vectors and
# one broadcast value of a step must fit the vector registers (32 with AVX-512, 16 with AVX2).
# Within a layout, the order is the one measured fastest where shapes waste alike (AVX-512
# pixel tiles: 4 x 4 and 8 x 2 within 5% of each other on ResNet's and the benchmark's layers,
# 6 x 4 for the 6 filters of LeNet's first layer). AVX-512 filter tiles, on a Zen 4 at one
# thread: 16 x 1 (one vector of filters, 16 pixels) and 4 x 4 ran 20-30% faster than 8 x 2,
# in the forward pass of 64 filters on 8x8 maps (3.4 against 4.3 ms) and in every weight
# gradient (ResNet-20's 32x16x16 layer 3.3 against 4.7 ms, shape d of the benchmarks 49
# against 64 ms); at two threads they were level. 16 x 1 comes first as it wastes no lanes
# for 16 or 32 filters, where 4 x 4 does.
PIXEL_TILES = {64: ((4, 4), (8, 2), (6, 4)), 32: ((4, 3), (6, 2), (4, 2))}[VECTOR_BYTES]
FILTER_TILES = {64: ((16, 1), (4, 4), (8, 2)), 32: ((6, 2), (4, 3), (12, 1))}[VECTOR_BYTES]
# A tile shape listed earlier is taken over one that wastes fewer lanes unless it computes more
# than this share of lanes beyond that one's: the earlier shapes hold more accumulators, which
# share each step's loads among more multiply-adds. On the 2-core Zen 4 with AVX2 only, 4 x 3
# tiles ran ResNet's 3-channel first layer (32 filters, 32x32 maps) in 1.83 ms where the 4 x 2
# tiles, which waste no lanes there (4 x 3 waste 1%), took 2.37.
SHAPE_WASTE_TOLERANCE = 0.05
# The filter layout must save more than this share of the lanes to be chosen: it costs
# about a third more per lane (a load per input value, the transposed scratch). Measured on
# AVX-512: it is 1.5x faster for 64 filters on 8x8 and 7x7 maps (half the pixel layout's
# lanes), 10-40% slower where it saves 10-30% (AlexNet's 55x55, LeNet's 10x10).
FILTER_LAYOUT_GAIN = 0.35
# How many of a convolution's multiply-adds take as long as one element of a simple pass
# (~0.1 ns), which is what ``launch`` weighs a call's work in. At the peak of AVX-512 (16 a
# vector instruction, two a cycle) it would be 8; LeNet-5's layers run at a third of that
# (6 filters on 28x28 maps: 200 us for 7.5 million; 16 filters on 10x10: 510 us for 15
# million, batch 64 on one Zen 4 core).
MULTIPLY_ADDS_PER_UNIT = 3
_pixel0, _pixel1, _pixel2 = (pixel_tile_kernel(r, s) for r, s in PIXEL_TILES)
_filter0, _filter1, _filter2 = (filter_tile_kernel(r, s) for r, s in FILTER_TILES)


# ---------------------------------------------------------------------------- NumPy reference


def direct_conv2d_reference(x, weight, bias, stride, padding, dilation, out_hw, groups=1, out=None):
    """The direct convolution in NumPy, one kernel tap at a time.

    Args:
        x: (N, C, H, W) input.
        weight: (F, C/groups, KH, KW) filters.
        bias: (F,) or None.
        stride, padding, dilation: pairs (vertical, horizontal).
        out_hw: (H', W') from ``shapes.output_size``.
        groups: filters [g*F/G, (g+1)*F/G) read channels [g*C/G, (g+1)*C/G) only.
        out: optional (N, F, H', W') array to write into.
    Returns:
        out: (N, F, H', W'), out[n, f, y, x] = b[f] + sum_{c,i,j} w[f,c,i,j] xp[n, g*C/G + c, y*SH + i*DH, x*SW + j*DW]
            for the group g of filter f, the terms added in the order c, i, j.
    """
    n, f = x.shape[0], weight.shape[0]
    result = np.zeros((n, f, *out_hw), dtype=x.dtype)
    if bias is not None:
        result += bias.reshape(1, f, 1, 1)
    for filters, ch, i, j, tap in _taps(pad2d(x, padding), weight.shape, groups, stride, dilation, out_hw):
        result[:, filters] += weight[filters, ch, i, j].reshape(1, -1, 1, 1) * tap[:, None]
    if out is None:
        return result
    out[...] = result
    return out


def direct_conv2d_weight_grad_reference(dout, x, weight_shape, stride, padding, dilation, groups=1):
    """The weight gradient of the direct convolution in NumPy, one kernel tap at a time.

    Each weight w[f, c, i, j] multiplies, in every output of filter f, the input its tap
    reads, so its gradient is the sum of dout times that input over all images and positions:

        dw[f, c, i, j] = sum over n, y, x of  dout[n, f, y, x] * xp[n, g*C/G + c, y*SH + i*DH, x*SW + j*DW]

    Args:
        dout: (N, F, H', W') upstream gradient.
        x: (N, C, H, W) input of the forward pass.
        weight_shape: (F, C/groups, KH, KW).
        stride, padding, dilation, groups: those of the forward pass.
    Returns:
        dw: weight_shape, in dout's dtype.
    """
    grad = np.zeros(weight_shape, dtype=dout.dtype)
    for filters, ch, i, j, tap in _taps(pad2d(x, padding), weight_shape, groups, stride, dilation, dout.shape[2:]):
        grad[filters, ch, i, j] = np.einsum("nfyx,nyx->f", dout[:, filters], tap)
    return grad


def _taps(xp, weight_shape, groups, stride, dilation, out_hw):
    """For every kernel tap (c, i, j) of every group: (the group's filters as a slice, c, i, j,
    the input each output reads through that tap), the last a strided slice (N, H', W') of the
    padded input xp."""
    f, c, kh, kw = weight_shape
    (sh, sw), (dh, dw), (oh, ow) = stride, dilation, out_hw
    per_group = f // groups
    for g in range(groups):
        for ch in range(c):
            for i in range(kh):
                for j in range(kw):
                    tap = xp[:, g * c + ch, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
                    yield slice(g * per_group, (g + 1) * per_group), ch, i, j, tap


# ---------------------------------------------------------------------------- compiled version


def choose_tiles(filters, out_hw, width):
    """("pixels" or "filters", index into PIXEL_TILES or FILTER_TILES) for a layer with
    ``filters`` filters per group, output (H', W') and vectors of ``width`` numbers.

    The lanes a choice computes: filters rounded up to the tile's R (pixel layout) or to whole
    tiles of S*V filters (filter layout), times the pixels rounded up to whole tiles (each
    output row cut into vectors of V in the pixel layout, R pixels a tile in the filter
    layout). The fewest wins, unless a shape listed before it computes at most
    SHAPE_WASTE_TOLERANCE more; the filter layout only when it saves more than
    FILTER_LAYOUT_GAIN of the pixel layout's choice.
    """
    oh, ow = out_hw
    vectors = oh * -(-ow // width)

    def pixel_lanes(shape):
        r, s = PIXEL_TILES[shape]
        return -(-filters // r) * r * -(-vectors // s) * s * width

    def filter_lanes(shape):
        r, s = FILTER_TILES[shape]
        return -(-filters // (s * width)) * s * width * -(-(oh * ow) // r) * r

    by_pixels = _first_nearly_fewest(range(len(PIXEL_TILES)), pixel_lanes)
    by_filters = _first_nearly_fewest(range(len(FILTER_TILES)), filter_lanes)
    if filter_lanes(by_filters) < (1 - FILTER_LAYOUT_GAIN) * pixel_lanes(by_pixels):
        return "filters", by_filters
    return "pixels", by_pixels


def _first_nearly_fewest(shapes, lanes):
    """The first of ``shapes`` (listed fastest first) computing at most SHAPE_WASTE_TOLERANCE
    more lanes than the fewest any of them computes."""
    fewest = min(lanes(shape) for shape in shapes)
    return next(shape for shape in shapes if lanes(shape) <= (1 + SHAPE_WASTE_TOLERANCE) * fewest)


CACHE_LINE = 64


def odd_cache_lines(count, itemsize):
    """``count`` numbers rounded up to an odd number of 64-byte cache lines.

    A tile reads the same pixels of every channel, one channel after the other. If channels
    lay a multiple of 4 KB apart (32x32 float32 planes do), all those reads would fall into
    the same few sets of the processor's cache and evict each other; an odd number of cache
    lines apart, consecutive channels fall into different sets.
    """
    per_line = CACHE_LINE // itemsize
    lines = -(-count // per_line)
    return (lines + 1 - lines % 2) * per_line


class Plan:
    """Where every tap and every pixel or vector of pixels lies, for one layer shape (``plan``).

    Attributes: layout and shape (``choose_tiles``), tile_rows and tile_vectors (R, S);
    phases (column phases of the split input: the stride for the pixel layout, 1 for the
    filter layout), phase_width, channel_size, split_size (numbers of the split input);
    offsets (one per tap k); x_starts and out_starts (one per vector of pixels, or per pixel,
    padded to whole tiles), and for the pixel layout lanes (pixels used of each vector).
    """

    def __init__(self, channels, input_hw, weight_shape, groups, stride, padding, dilation, out_hw, itemsize,
                 tiles=None):
        width = VECTOR_BYTES // itemsize
        f, c, kh, kw = weight_shape
        (h, w), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = input_hw, stride, padding, dilation, out_hw
        self.layout, self.shape = tiles or choose_tiles(f // groups, out_hw, width)
        self.tile_rows, self.tile_vectors = (PIXEL_TILES if self.layout == "pixels" else FILTER_TILES)[self.shape]
        rows_padded = h + 2 * ph
        self.phases = sw if self.layout == "pixels" else 1
        self.phase_width = -(-(w + 2 * pw) // self.phases)       # columns per phase: ceil(Wp / S)
        row = self.phases * self.phase_width                     # numbers per padded input row
        self.channel_size = odd_cache_lines(rows_padded * row, itemsize)
        # Tap (c, i, j) of the pixel (or vector) starting at split index x_start reads x_start + offset.
        self.offsets = np.array([ch * self.channel_size + i * dh * row + (j * dw) % self.phases * self.phase_width
                                 + (j * dw) // self.phases for ch in range(c) for i in range(kh) for j in range(kw)],
                                dtype=np.int64)
        if self.layout == "pixels":
            # Every output row in vectors of `width` pixels, the last one of a row perhaps partly used.
            vectors = [(y, x0) for y in range(oh) for x0 in range(0, ow, width)]
            unused = [0] * (-len(vectors) % self.tile_vectors)   # a last tile's unused vectors store nothing
            self.x_starts = np.array([y * sh * row + x0 for y, x0 in vectors] + unused, dtype=np.int64)
            self.out_starts = np.array([y * ow + x0 for y, x0 in vectors] + unused, dtype=np.int64)
            self.lanes = np.array([min(width, ow - x0) for _, x0 in vectors] + unused, dtype=np.int64)
        else:
            # Every output pixel, written to row y*W' + x of the (pixels, F) scratch.
            pixels = [(y, x) for y in range(oh) for x in range(ow)]
            unused = [0] * (-len(pixels) % self.tile_rows)
            self.x_starts = np.array([y * sh * row + x * sw for y, x in pixels] + unused, dtype=np.int64)
            self.out_starts = np.array([(y * ow + x) * f for y, x in pixels] + unused, dtype=np.int64)
            self.lanes = np.zeros(0, dtype=np.int64)
        # A vector reads up to width - 1 numbers past the last pixel it needs.
        self.split_size = channels * self.channel_size + width


@functools.lru_cache(maxsize=64)
def plan(channels, input_hw, weight_shape, groups, stride, padding, dilation, out_hw, itemsize, tiles=None):
    """The ``Plan`` of a layer shape; cached, as a network runs the same shapes at every step."""
    return Plan(channels, input_hw, weight_shape, groups, stride, padding, dilation, out_hw, itemsize, tiles)


@njit(cache=True, nogil=True)
def split_phases(x, image, ph, pw, channel_size, phases, phase_width, out):
    """Write x[image] (C, H, W), zero-padded, into out as xs[c, r, p, m] = xp[c, r, m*S + p],
    the channels ``channel_size`` numbers apart.

    Only the positions that hold input are written: ``out`` is zeroed once when allocated,
    and every image of a layer fills the same positions, so the padding stays zero.
    """
    c, h, w = x.shape[1:]
    for ch in range(c):
        for r in range(h):
            row_start = ch * channel_size + (r + ph) * phases * phase_width
            for p in range(phases):
                # Phase p holds padded columns m*S + p, input columns m*S + p - PW.
                lo = max(0, (pw - p + phases - 1) // phases)
                hi = min(phase_width, (w - 1 + pw - p) // phases + 1)
                first = max(lo * phases + p - pw, 0)
                start = max(row_start + p * phase_width + lo, 0)
                if phases == 1:
                    for m in range(hi - lo):
                        out[start + m] = x[image, ch, r, first + m]
                else:
                    for m in range(hi - lo):
                        out[start + m] = x[image, ch, r, first + m * phases]


@njit(cache=True, nogil=True)
def _pixel_tiles(shape, weights, biases, groups, per_group, rows, vectors, split, x_shift_per_group, offsets,
                 x_starts, out_starts, lanes, out, out_start, plane, first_tile, last_tile):
    """Pixel tiles [first_tile, last_tile) of one image in the pixel layout, each with every
    filter tile, written to out[out_start + f*plane + pixel]."""
    taps = offsets.shape[0]
    blocks = -(-per_group // rows)
    for tile in range(first_tile, last_tile):
        first = tile * vectors
        for g in range(groups):
            x_shift = g * x_shift_per_group
            for block in range(blocks):
                panel = g * blocks + block
                w_start, bias_start = panel * taps * rows, panel * rows
                out_shift = out_start + (g * per_group + block * rows) * plane
                valid = min(rows, per_group - block * rows)
                # Each tile shape is its own compiled loop (see PIXEL_TILES).
                if shape == 0:
                    _pixel0(weights, w_start, biases, bias_start, split, x_starts, x_shift, offsets, out, out_starts,
                            out_shift, lanes, first, valid, plane)
                elif shape == 1:
                    _pixel1(weights, w_start, biases, bias_start, split, x_starts, x_shift, offsets, out, out_starts,
                            out_shift, lanes, first, valid, plane)
                else:
                    _pixel2(weights, w_start, biases, bias_start, split, x_starts, x_shift, offsets, out, out_starts,
                            out_shift, lanes, first, valid, plane)


@njit(cache=True, nogil=True)
def _filter_tiles(shape, weights, biases, groups, per_group, rows, vectors, width, split, x_shift_per_group, offsets,
                  x_starts, out_starts, pixels, scratch):
    """Every (pixel tile, filter tile) of one image in the filter layout, written pixel-major
    to scratch[pixel*F + f]."""
    taps = offsets.shape[0]
    span = vectors * width                      # filters per tile
    blocks = -(-per_group // span)
    for g in range(groups):
        x_shift = g * x_shift_per_group
        for first in range(0, x_starts.shape[0], rows):
            valid_pixels = min(rows, pixels - first)
            for block in range(blocks):
                panel = g * blocks + block
                w_start, bias_start = panel * taps * span, panel * span
                out_shift = g * per_group + block * span
                valid = min(span, per_group - block * span)
                if shape == 0:
                    _filter0(weights, w_start, span, biases, bias_start, split, x_starts, x_shift, offsets, scratch,
                             out_starts, out_shift, first, valid_pixels, valid)
                elif shape == 1:
                    _filter1(weights, w_start, span, biases, bias_start, split, x_starts, x_shift, offsets, scratch,
                             out_starts, out_shift, first, valid_pixels, valid)
                else:
                    _filter2(weights, w_start, span, biases, bias_start, split, x_starts, x_shift, offsets, scratch,
                             out_starts, out_shift, first, valid_pixels, valid)


@njit(cache=True, nogil=True)
def _transpose_into(scratch, pixels, filters, out, out_start):
    """out[out_start + f*pixels + p] = scratch[p*filters + f]: pixel-major to filter-major,
    in blocks of 64 pixels so that the rows read stay in the cache."""
    for p0 in range(0, pixels, 64):
        p1 = min(p0 + 64, pixels)
        for f in range(filters):
            row = out_start + f * pixels
            for p in range(p0, p1):
                out[row + p] = scratch[p * filters + f]


@njit(cache=True, nogil=True)
def _direct_images(x, weights, biases, groups, filters, by_filters, shape, rows, vectors, width, ph, pw, phases,
                   phase_width, split_size, channel_size, offsets, x_starts, out_starts, lanes, parts, out, start,
                   stop):
    """out (the (N, F, H', W') result, flat) for work items [start, stop): item i is part
    i % parts of image i // parts. Each image is split once per call that meets it, then its
    part's tiles run (``_pixel_tiles``; with by_filters, parts is 1 and the image's
    ``_filter_tiles`` run whole, then the transpose)."""
    c = x.shape[1]
    plane = out.shape[0] // (x.shape[0] * filters)
    per_group = filters // groups
    split = np.zeros(split_size, x.dtype)
    scratch = np.empty(plane * filters if by_filters else 0, x.dtype)
    tiles = x_starts.shape[0] // vectors if not by_filters else 0
    current = -1
    for item in range(start, stop):
        image, part = item // parts, item % parts
        if image != current:
            split_phases(x, image, ph, pw, channel_size, phases, phase_width, split)
            current = image
        if by_filters:
            _filter_tiles(shape, weights, biases, groups, per_group, rows, vectors, width, split,
                          (c // groups) * channel_size, offsets, x_starts, out_starts, plane, scratch)
            _transpose_into(scratch, plane, filters, out, image * filters * plane)
        else:
            _pixel_tiles(shape, weights, biases, groups, per_group, rows, vectors, split, (c // groups) * channel_size,
                         offsets, x_starts, out_starts, lanes, out, image * filters * plane, plane,
                         tiles * part // parts, tiles * (part + 1) // parts)


def pack_weights(weight, bias, groups, block):
    """The filters in the layout the tiles read: for each group, blocks of ``block`` filters
    (R for the pixel layout, S*V for the filter layout), each block (K, block) with a tap's
    weights side by side, zeros past the group's last filter; the bias likewise in blocks
    (zeros without bias). Returns (weights, biases), both 1-D."""
    f = weight.shape[0]
    per_group, k = f // groups, math.prod(weight.shape[1:])
    blocks = -(-per_group // block)
    padded = np.zeros((groups, blocks * block, k), dtype=weight.dtype)
    padded[:, :per_group] = weight.reshape(groups, per_group, k)
    weights = padded.reshape(groups * blocks, block, k).transpose(0, 2, 1)
    biases = np.zeros((groups, blocks * block), dtype=weight.dtype)
    if bias is not None:
        biases[:, :per_group] = bias.reshape(groups, per_group)
    return np.ascontiguousarray(weights).reshape(-1), biases.reshape(-1)


def direct_conv2d_fast(x, weight, bias, stride, padding, dilation, out_hw, groups=1, out=None, tiles=None):
    """``direct_conv2d_reference`` as compiled tiles; blocks of images shared among threads.

    ``tiles``: ("pixels" or "filters", shape index) to use instead of ``choose_tiles``'s
    choice (the tests run every layout and shape on the same layers).
    """
    n, c, h, w = x.shape
    f = weight.shape[0]
    out = result_array(out, (n, f, *out_hw), x.dtype, "direct_conv2d")
    if n == 0:
        return out                              # nothing to plan or pack (the loops divide by n)
    width = VECTOR_BYTES // x.itemsize
    p = plan(c, (h, w), weight.shape, groups, tuple(stride), tuple(padding), tuple(dilation), tuple(out_hw),
             x.itemsize, tiles)
    by_filters = p.layout == "filters"
    block = p.tile_vectors * width if by_filters else p.tile_rows
    weights, biases = pack_weights(weight.astype(x.dtype, copy=False), bias, groups, block)
    parts = 1 if by_filters else image_parts(n, len(p.x_starts) // p.tile_vectors, get_num_threads())
    # The work in units of a simple pass's element (PARALLEL_MIN_ELEMENTS, ~0.1 ns): each
    # output is K multiply-adds, MULTIPLY_ADDS_PER_UNIT a unit.
    work = out.size * len(p.offsets) // MULTIPLY_ADDS_PER_UNIT
    launch(__file__, _direct_images, n * parts, work, np.ascontiguousarray(x), weights, biases, groups, f,
           by_filters, p.shape, p.tile_rows, p.tile_vectors, width, padding[0], padding[1], p.phases, p.phase_width,
           p.split_size, p.channel_size, p.offsets, p.x_starts, p.out_starts, p.lanes, parts, out.reshape(-1))
    return out


def image_parts(images, tiles, threads):
    """Into how many parts (runs of pixel tiles) each image's work is cut, so that the threads
    have blocks to share: 1 when the batch has at least 4 images a thread (``launch`` shares
    out blocks of whole images then), else enough for 4 blocks a thread, at most one tile a
    part (1 for an empty batch). Which thread computes an output never changes its value, so
    this is free to depend on the number of threads."""
    if images == 0 or images >= 4 * threads:
        return 1
    return max(1, min(tiles, -(-4 * threads // images)))


# ---------------------------------------------------------------------------- weight gradient

# Images whose split input and transposed output gradient take up to this many bytes are
# one chunk of the weight gradient: every tile runs over all the chunk's positions, reading
# the chunk's output gradient again for each block of taps, so it should stay in the core's
# second-level cache (1 MB on the AMD Zen 5 measured, 1-2 MB on Intel's AVX-512 Xeons).
GRAD_CHUNK_BYTES = 2**20
# ... and a batch is cut into at least this many chunks (when it has the images), so that a
# small layer's gradient (LeNet-5's second convolution: the whole batch in 0.9 MB) still has
# parts for the threads to share. The chunks depend on the layer only, never on the threads.
MIN_GRAD_CHUNKS = 4


class GradPlan:
    """Where every kernel tap and every output position lies in a chunk of split images, for
    the weight gradient of one layer shape (``grad_plan``).

    The weight gradient runs the filter layout's tiles with the roles turned round: a tile's
    R "pixels" are R kernel taps (their tap offsets, tap_starts), its vectors are filters,
    and its sum runs over the positions of the chunk's images (position_offsets, each image
    image_size numbers after the previous), multiplying input values by the output gradient
    transposed to (positions, F).
    """

    def __init__(self, input_shape, weight_shape, groups, stride, padding, dilation, out_hw, itemsize):
        width = VECTOR_BYTES // itemsize
        n, channels, h, w = input_shape
        f, c, kh, kw = weight_shape
        (sh, sw), (ph, pw), (dh, dw), (oh, ow) = stride, padding, dilation, out_hw
        per_group, taps = f // groups, c * kh * kw
        self.shape = min(range(len(FILTER_TILES)), key=lambda t: -(-per_group // (FILTER_TILES[t][1] * width))
                         * FILTER_TILES[t][1] * -(-taps // FILTER_TILES[t][0]) * FILTER_TILES[t][0])
        self.tile_rows, self.tile_vectors = FILTER_TILES[self.shape]
        self.row = row = w + 2 * pw
        self.channel_size = odd_cache_lines((h + 2 * ph) * row, itemsize)
        self.image_size = channels * self.channel_size
        unused = [0] * (-taps % self.tile_rows)
        self.tap_starts = np.array([ch * self.channel_size + i * dh * row + j * dw for ch in range(c)
                                    for i in range(kh) for j in range(kw)] + unused, dtype=np.int64)
        self.out_starts = np.arange(len(self.tap_starts), dtype=np.int64) * f      # row t of the (taps, F) result
        per_image = self.image_size + oh * ow * f
        self.chunk = max(1, min(-(-n // MIN_GRAD_CHUNKS), GRAD_CHUNK_BYTES // (per_image * itemsize)))
        self.position_offsets = np.array([image * self.image_size + y * sh * row + x * sw
                                          for image in range(self.chunk) for y in range(oh) for x in range(ow)],
                                         dtype=np.int64)
        # A tile reads whole vectors of filters: up to S*V - 1 numbers past the last filter.
        self.dout_size = self.chunk * oh * ow * f + self.tile_vectors * width


@functools.lru_cache(maxsize=64)
def grad_plan(input_shape, weight_shape, groups, stride, padding, dilation, out_hw, itemsize):
    """The ``GradPlan`` of a layer shape; cached, as a network runs the same shapes at every step."""
    return GradPlan(input_shape, weight_shape, groups, stride, padding, dilation, out_hw, itemsize)


@njit(cache=True, nogil=True)
def _weight_grad_chunk(x, dout, first_image, images, groups, shape, rows, vectors, width, ph, pw, row, channel_size,
                       image_size, tap_starts, position_offsets, out_starts, split, transposed, zeros, grad):
    """grad (taps, F), flat: the weight gradient of images [first_image, first_image + images)
    (each tap's row of F filters), over their positions in order."""
    c = x.shape[1]
    f, positions = dout.shape[1], dout.shape[2]
    per_group = f // groups
    span = vectors * width
    blocks = -(-per_group // span)
    taps = tap_starts.shape[0]
    for image in range(images):
        # Each image's split input in its own slot: split_phases writes a slot that starts at 0.
        split_phases(x, first_image + image, ph, pw, channel_size, 1, row, split[image * image_size:])
        # dout[image] (F, positions) -> rows of F filters per position, in blocks of 64
        # positions so that the rows written stay in the cache.
        for p0 in range(0, positions, 64):
            p1 = min(p0 + 64, positions)
            for f0 in range(f):
                for p in range(p0, p1):
                    transposed[(image * positions + p) * f + f0] = dout[first_image + image, f0, p]
    offsets = position_offsets[:images * positions]
    for g in range(groups):
        x_shift = g * (c // groups) * channel_size
        for first in range(0, taps, rows):
            valid_taps = min(rows, taps - first)
            for block in range(blocks):
                column = g * per_group + block * span
                valid = min(span, per_group - block * span)
                if shape == 0:
                    _filter0(transposed, column, f, zeros, 0, split, tap_starts, x_shift, offsets, grad, out_starts,
                             column, first, valid_taps, valid)
                elif shape == 1:
                    _filter1(transposed, column, f, zeros, 0, split, tap_starts, x_shift, offsets, grad, out_starts,
                             column, first, valid_taps, valid)
                else:
                    _filter2(transposed, column, f, zeros, 0, split, tap_starts, x_shift, offsets, grad, out_starts,
                             column, first, valid_taps, valid)


def direct_conv2d_weight_grad_fast(dout, x, weight_shape, stride, padding, dilation, groups=1):
    """``direct_conv2d_weight_grad_reference`` as compiled tiles.

    The batch is cut into chunks of ``GradPlan.chunk`` images (a number that depends on the
    layer only, never on the threads); the chunks are shared among minidl's threads
    (``for_each_chunk``), each giving its own part of the gradient, and the parts are added
    in chunk order, so the result does not depend on the number of threads.
    """
    n = x.shape[0]
    f, c, kh, kw = weight_shape
    out_hw = dout.shape[2:]
    width = VECTOR_BYTES // dout.itemsize
    if n == 0:
        return np.zeros(weight_shape, dtype=dout.dtype)
    p = grad_plan(tuple(x.shape), tuple(weight_shape), groups, tuple(stride), tuple(padding), tuple(dilation),
                  tuple(out_hw), dout.itemsize)
    x = np.ascontiguousarray(x, dtype=dout.dtype)
    positions = np.ascontiguousarray(dout).reshape(n, f, -1)
    zeros = np.zeros(p.tile_vectors * width, dtype=dout.dtype)
    starts = list(range(0, n, p.chunk))
    parts = [None] * len(starts)

    def chunk_gradient(k):
        images = min(p.chunk, n - starts[k])
        # zeros: the split images' padding must be zero, and stays so (see split_phases).
        split = np.zeros(p.chunk * p.image_size + width, dtype=dout.dtype)
        transposed = np.empty(p.dout_size, dtype=dout.dtype)
        grad = np.empty(len(p.tap_starts) * f, dtype=dout.dtype)
        _weight_grad_chunk(x, positions, starts[k], images, groups, p.shape, p.tile_rows, p.tile_vectors, width,
                           padding[0], padding[1], p.row, p.channel_size, p.image_size, p.tap_starts, p.position_offsets,
                           p.out_starts, split, transposed, zeros, grad)
        parts[k] = grad

    for_each_chunk(chunk_gradient, len(starts))
    total = parts[0]
    for part in parts[1:]:
        total += part
    taps = c * kh * kw
    return np.ascontiguousarray(total.reshape(-1, f)[:taps].T).reshape(weight_shape)
