"""Winograd's minimal filtering F(2x2, 3x3): a 3x3 convolution with 2.25 times fewer multiplications.

Computed directly, a 2x2 block of outputs of a 3x3 filter g costs 4*9 = 36 multiplications;
it reads a 4x4 block d of the input (a "tile"). Winograd's algorithm (Lavin and Gray, 2016,
"Fast Algorithms for Convolutional Neural Networks") gets the same 4 outputs with 16:

    Y = A^T [ (G g G^T) * (B^T d B) ] A          (* is the elementwise product of 4x4 matrices)

    B^T = [[1,  0, -1,  0],      G = [[1,    0,   0  ],      A^T = [[1, 1,  1,  0],
           [0,  1,  1,  0],           [1/2,  1/2, 1/2],             [0, 1, -1, -1]]
           [0, -1,  1,  0],           [1/2, -1/2, 1/2],
           [0,  1,  0, -1]]           [0,    0,   1  ]]

The transforms B^T d B and A^T (.) A only add and subtract, and G g G^T is computed once per
filter. In a layer, output channel f sums over the input channels c, so at each of the 16
positions (a, b) of the 4x4 tile the sum over c is a matrix product over all T tiles:

    U[ab] = (G g G^T)[a, b]   of shape (F, C)       (the filters, transformed)
    V[ab] = (B^T d B)[a, b]   of shape (C, T)       (the input tiles, transformed)
    M[ab] = U[ab] @ V[ab]     of shape (F, T),      then Y = A^T M A for every tile

16 matrix products with C multiply-adds per entry, against im2col's one with 9*C, each of
them 4 times larger (one entry per 2x2 output block instead of per output): 16 / (4*9) = 1/2.25.
The results equal the direct convolution's up to rounding.

Tiles. The output is cut into 2x2 blocks; tile (ty, tx) reads rows 2ty..2ty+3 and columns
2tx..2tx+3 of the padded input, so neighbouring input tiles overlap by 2. When H' or W' is odd
the last tiles hang over the edge: the input is zero-padded further and the extra outputs are
dropped (their gradient is zero).

Dilation D (stride must be 1). Output row y = D*u + r reads padded input rows y + i*D =
D*(u + i) + r: the rows of "phase" r, xp[r::D], convolved with the undilated kernel. So a dilated
convolution is D*D undilated ones, one per phase (r, s), and each is done with tiles as above.
Tiles are counted per phase: TH = ceil(H' / (2*DH)) rows of them, likewise TW, and the T
columns of V are ordered (n, phase, ty, tx).

Backward, the same 16 matrix products transposed (dM is the gradient of M):

    dM[ab] = (A dY A^T)[a, b]   for every 2x2 block dY of dout
    dU[ab] = dM[ab] @ V[ab]^T   then  dg = G^T dU G     (summed over all tiles by the product)
    dV[ab] = U[ab]^T @ dM[ab]   then  dd = B dV B^T, added back onto the overlapping input tiles

This module holds the transforms; ``minidl.layers.conv`` does the matrix products. Each
transform of the tiles exists twice: the NumPy reference (``*_reference``), written with
``sliding_windows`` and matrix products of 4x4 blocks, and compiled loops (``*_fast``).
The filter transforms are small and exist once, in NumPy.
"""

import numpy as np
from numba import njit

from minidl.kernels.im2col import col2im, sliding_windows
from minidl.kernels.im2col_numba import launch, result_array, single_threaded_blas

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)


def winograd_tiles(out_hw, dilation):
    """(TH, TW): tiles per phase. Each phase has ceil(H'/DH) output rows, 2 per tile."""
    return tuple(-(-size // (2 * d)) for size, d in zip(out_hw, dilation))


# Entry (a, b) of G g G^T is sum_ij G[a, i] g[i, j] G[b, j], so with g flattened to 9 numbers
# (row 3i + j) and U to 16 (row 4a + b) the transform is one matrix, the Kronecker product:
# GG[4a + b, 3i + j] = G[a, i] * G[b, j]. All F*C filters are then transformed by one matrix
# product, GG @ g, instead of two products of 4x3 and 3x3 matrices per filter. The product is
# small: BLAS runs it on one thread, faster than waking (and leaving spinning) threads of its own.
GG = np.kron(G, G)


def winograd_weight(weight):
    """U = G g G^T for every filter: (F, C, 3, 3) -> (16, F, C), row ab = 4*a + b."""
    f, c = weight.shape[:2]
    with single_threaded_blas():
        return (GG.astype(weight.dtype) @ weight.reshape(f * c, 9).T).reshape(16, f, c)


def winograd_weight_grad(du):
    """dg = G^T dU G: the adjoint of ``winograd_weight``, (16, F, C) -> (F, C, 3, 3)."""
    f, c = du.shape[1:]
    with single_threaded_blas():
        return (du.reshape(16, f * c).T @ GG.astype(du.dtype)).reshape(f, c, 3, 3)


# ---------------------------------------------------------------------------- NumPy reference


def _phase_planes(x, padding, dilation, tiles):
    """(N, C, DH*DW, 2TH+2, 2TW+2): phase (r, s) is xp[r::DH, s::DW], xp being the zero-padded
    input, cut or zero-extended to exactly what the tiles read."""
    n, c, h, w = x.shape
    (ph, pw), (dh, dw), (th, tw) = padding, dilation, tiles
    rows, cols = 2 * th + 2, 2 * tw + 2
    xp = np.zeros((n, c, dh * rows, dw * cols), dtype=x.dtype)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    phases = xp.reshape(n, c, rows, dh, cols, dw).transpose(0, 1, 3, 5, 2, 4)
    return phases.reshape(n, c, dh * dw, rows, cols)


def _from_phase_planes(phases, x_shape, padding, dilation):
    """The inverse of ``_phase_planes``: interleave the phases again and drop the padding."""
    n, c, h, w = x_shape
    (ph, pw), (dh, dw) = padding, dilation
    rows, cols = phases.shape[-2:]
    xp = phases.reshape(n, c, dh, dw, rows, cols).transpose(0, 1, 4, 2, 5, 3)
    return xp.reshape(n, c, dh * rows, dw * cols)[:, :, ph:ph + h, pw:pw + w]


def _as_tiles(columns, n, dilation, tiles, side):
    """(16, K, T) rows ab -> (N, K, phases, TH, TW, 4, 4): one side x side matrix per tile."""
    (dh, dw), (th, tw) = dilation, tiles
    k = columns.shape[1]
    blocks = columns.reshape(side, side, k, n, dh * dw, th, tw)
    return blocks.transpose(3, 2, 4, 5, 6, 0, 1)


def _as_columns(blocks):
    """(N, K, phases, TH, TW, s, s) -> (s*s, K, T): the inverse of ``_as_tiles``."""
    n, k, phases, th, tw, side, _ = blocks.shape
    return blocks.transpose(5, 6, 1, 0, 2, 3, 4).reshape(side * side, k, n * phases * th * tw)


def winograd_input_reference(x, padding, dilation, tiles, out=None):
    """V = B^T d B for every 4x4 input tile d.

    Args:
        x: (N, C, H, W) input; padding, dilation: pairs; tiles: (TH, TW) from ``winograd_tiles``.
        out: optional (16, C, T) array to write V into, T = N * DH*DW * TH * TW.
    Returns:
        V: (16, C, T); V[4*a + b, c, t] is entry (a, b) of tile t of channel c, transformed.
    """
    n, c = x.shape[:2]
    phases = _phase_planes(x, padding, dilation, tiles)
    planes = phases.reshape(n, -1, *phases.shape[-2:])
    d = sliding_windows(planes, (4, 4), (2, 2), (1, 1), tiles)          # (N, C*P, 4, 4, TH, TW)
    d = d.reshape(n, c, -1, 4, 4, *tiles).transpose(0, 1, 2, 5, 6, 3, 4)  # (N, C, P, TH, TW, 4, 4)
    b_t = B_T.astype(x.dtype)
    v = _as_columns(b_t @ d @ b_t.T)
    if out is None:
        return v
    out[...] = v
    return out


def winograd_output_reference(m, out_hw, dilation, out=None):
    """Y = A^T M A for every tile, the 2x2 blocks put together into the output.

    Args:
        m: (16, F, T), the products U[ab] @ V[ab]; out_hw: (H', W'); dilation: pair.
        out: optional (N, F, H', W') array to write the output into.
    Returns:
        out: (N, F, H', W').
    """
    (dh, dw), (th, tw) = dilation, winograd_tiles(out_hw, dilation)
    f = m.shape[1]
    n = m.shape[2] // (dh * dw * th * tw)
    a_t = A_T.astype(m.dtype)
    y = a_t @ _as_tiles(m, n, dilation, (th, tw), 4) @ a_t.T            # (N, F, P, TH, TW, 2, 2)
    # Block (ty, tx) of phase (r, s) holds outputs (DH*(2ty + k) + r, DW*(2tx + l) + s).
    y = y.reshape(n, f, dh, dw, th, tw, 2, 2).transpose(0, 1, 4, 6, 2, 5, 7, 3)
    result = y.reshape(n, f, 2 * th * dh, 2 * tw * dw)[:, :, :out_hw[0], :out_hw[1]]
    if out is None:
        return result
    out[...] = result
    return out


def winograd_output_grad_reference(dout, dilation, out=None):
    """dM = A dY A^T for every 2x2 block dY of dout (zero beyond its edge): the adjoint of the output transform.

    Args:
        dout: (N, F, H', W'); dilation: pair.
        out: optional (16, F, T) array to write dM into.
    Returns:
        dM: (16, F, T).
    """
    n, f, oh, ow = dout.shape
    (dh, dw), (th, tw) = dilation, winograd_tiles((oh, ow), dilation)
    dy = np.zeros((n, f, 2 * th * dh, 2 * tw * dw), dtype=dout.dtype)
    dy[:, :, :oh, :ow] = dout
    dy = dy.reshape(n, f, th, 2, dh, tw, 2, dw).transpose(0, 1, 4, 7, 2, 5, 3, 6)
    dy = dy.reshape(n, f, dh * dw, th, tw, 2, 2)
    a_t = A_T.astype(dout.dtype)
    dm = _as_columns(a_t.T @ dy @ a_t)
    if out is None:
        return dm
    out[...] = dm
    return out


def winograd_input_grad_reference(dv, x_shape, padding, dilation, tiles, out=None):
    """dx from dV: dd = B dV B^T for every tile, added back onto the input positions it read.

    Args:
        dv: (16, C, T); x_shape: (N, C, H, W); padding, dilation: pairs; tiles: (TH, TW).
        out: optional (N, C, H, W) array to write dx into.
    Returns:
        dx: (N, C, H, W).
    """
    n, c = x_shape[:2]
    (dh, dw), (th, tw) = dilation, tiles
    b_t = B_T.astype(dv.dtype)
    dd = b_t.T @ _as_tiles(dv, n, dilation, tiles, 4) @ b_t             # (N, C, P, TH, TW, 4, 4)
    # The tiles were read with sliding_windows(kernel 4, stride 2); its adjoint is col2im.
    cols = dd.transpose(0, 1, 2, 5, 6, 3, 4).reshape(n, c * dh * dw * 16, th * tw)
    planes = col2im(cols, (n, c * dh * dw, 2 * th + 2, 2 * tw + 2), (4, 4), (2, 2), (0, 0), (1, 1), tiles)
    dx = _from_phase_planes(planes, x_shape, padding, dilation)
    if out is None:
        return dx
    out[...] = dx
    return out


# ---------------------------------------------------------------------------- Numba
#
# Each image plane is handled by one iteration of the outer loop (``im2col_numba.launch``
# shares the planes among threads), phase by phase. The 4x4 transforms are separable
# (B^T d B = B^T (d B)), so each is done in two passes, one combining the columns of every tile
# and one combining the rows. For those passes
# to be long loops over all tiles of a phase at once (loops the compiler turns into vector
# instructions), the phase plane is first copied into a "tile grid" laid out so that every tile
# entry is at a fixed offset from 2*t or t, t = ty*TW + tx being the tile's number:
#
#     grid[e, side, u*2TW + z] = phase plane[2u + e, z + 2*side]
#
# Rows are split by parity e (tile row ty starts at row 2ty, so its rows 0..3 are rows ty and
# ty+1 of the even and odd halves), and columns by "side": columns 0, 1 of tile tx are z = 2tx,
# 2tx + 1 of side 0, its columns 2, 3 the same z of side 1. The output blocks (2x2, no overlap)
# use the same layout with a single side. Loops then write at most 4 arrays and index with
# their own counter plus offsets that max(0, ...) proves non-negative: with 16 outputs per
# iteration, or indices Numba must check for wraparound, the compiler gives up on vectors.


@njit(cache=True)
def _copy_run(grid, phase, e, side, start, plane, y, first, step, count):
    """grid[phase, e, side, start + k] = plane[y, first + k*step] for k < count."""
    start, first, step = max(start, 0), max(first, 0), max(step, 1)
    if step == 1:                                      # no dilation
        for k in range(count):
            grid[phase, e, side, start + k] = plane[y, first + k]
    elif step == 2:                                    # dilation 2, with the step known to the compiler
        for k in range(count):
            grid[phase, e, side, start + k] = plane[y, first + 2 * k]
    else:
        for k in range(count):
            grid[phase, e, side, start + k] = plane[y, first + k * step]


@njit(cache=True)
def _add_run(plane, y, first, step, grid, phase, e, side, start, count):
    """plane[y, first + k*step] += grid[phase, e, side, start + k] for k < count: the adjoint."""
    start, first, step = max(start, 0), max(first, 0), max(step, 1)
    if step == 1:
        for k in range(count):
            plane[y, first + k] += grid[phase, e, side, start + k]
    elif step == 2:
        for k in range(count):
            plane[y, first + 2 * k] += grid[phase, e, side, start + k]
    else:
        for k in range(count):
            plane[y, first + k * step] += grid[phase, e, side, start + k]


@njit(cache=True)
def _grid_plan(h, w, ph, pw, dh, dw, sides, width):
    """The runs that copy an (H, W) plane into its tile grid, the same for every plane: one row
    (y, first input column, phase, e, side, first grid index, count) per input row y, column
    phase s and side, pixels y, first + k*DW going to grid[phase, e, side, start + k]."""
    plan = np.zeros((h * dw * sides, 7), dtype=np.int64)
    for y in range(h):
        r, row = (y + ph) % dh, (y + ph) // dh            # phase row r, row of that phase's plane
        for s in range(dw):
            first = (s - pw) % dw                         # first input column of phase s
            count = (w - 1 - first) // dw + 1 if first < w else 0
            for side in range(sides):
                z = (first + pw) // dw - 2 * side         # grid column of that first pixel
                lo, hi = max(0, -z), min(count, width - z)  # the pixels inside the grid's columns
                plan[(y * dw + s) * sides + side] = (y, first + lo * dw, r * dw + s, row % 2, side,
                                                     (row // 2) * width + z + lo, max(0, hi - lo))
    return plan


@njit(cache=True)
def _run(plan, k):
    """Run k of a plan as a tuple (indexing the numbers one by one; a row view costs more)."""
    return plan[k, 0], plan[k, 1], plan[k, 2], plan[k, 3], plan[k, 4], plan[k, 5], plan[k, 6]


@njit(cache=True)
def _spread_grid(plane, plan, dw, grid):
    """grid[phase, e, side, u*width + z] = padded plane at phase-plane position (2u + e, z + 2*side)."""
    grid[:] = 0
    for k in range(plan.shape[0]):
        y, first, phase, e, side, start, count = _run(plan, k)
        _copy_run(grid, phase, e, side, start, plane, y, first, dw, count)


@njit(cache=True)
def _gather_grid(grid, plan, dw, plane):
    """The adjoint of ``_spread_grid``: each pixel of the plane gets the sum of its grid entries."""
    plane[:] = 0
    for k in range(plan.shape[0]):
        y, first, phase, e, side, start, count = _run(plan, k)
        _add_run(plane, y, first, dw, grid, phase, e, side, start, count)


@njit(cache=True)
def _input_columns(d, db):
    """d B for every row of every tile: the tile's columns d0..d3 give d0 - d2, d1 + d2, d2 - d1, d1 - d3."""
    for q in range(db.shape[1]):
        d0, d1, d2, d3 = d[0, 2 * q], d[0, 2 * q + 1], d[1, 2 * q], d[1, 2 * q + 1]
        db[0, q] = d0 - d2
        db[1, q] = d1 + d2
        db[2, q] = d2 - d1
        db[3, q] = d1 - d3


@njit(cache=True)
def _input_rows(db, b, v, ch, t, tw, count):
    """Column b of B^T (d B) for the tiles t, t+1, ...: rows 0 - 2, 1 + 2, 2 - 1 and 1 - 3."""
    t, tw = max(t, 0), max(tw, 0)
    for k in range(count):
        d0, d1, d2, d3 = db[0, b, k], db[1, b, k], db[0, b, k + tw], db[1, b, k + tw]
        v[b, ch, t + k] = d0 - d2
        v[4 + b, ch, t + k] = d1 + d2
        v[8 + b, ch, t + k] = d2 - d1
        v[12 + b, ch, t + k] = d1 - d3


@njit(cache=True, nogil=True)
def _winograd_input(x, ph, pw, dh, dw, th, tw, v, start, stop):
    n, c, h, w = x.shape
    phases = dh * dw
    d = np.empty((phases, 2, 2, (th + 1) * 2 * tw), dtype=x.dtype)
    db = np.empty((2, 4, (th + 1) * tw), dtype=x.dtype)
    plan = _grid_plan(h, w, ph, pw, dh, dw, 2, 2 * tw)
    for plane in range(start, stop):
        b, ch = plane // c, plane % c
        _spread_grid(x[b, ch], plan, dw, d)
        for p in range(phases):
            _input_columns(d[p, 0], db[0])
            _input_columns(d[p, 1], db[1])
            for col in range(4):
                _input_rows(db, col, v, ch, ((b * phases + p) * th) * tw, tw, th * tw)


@njit(cache=True)
def _output_rows(m, b, fo, t, count, s):
    """Column b of A^T M for the tiles t, t+1, ...: rows 0 + 1 + 2 and 1 - 2 - 3."""
    t = max(t, 0)
    for k in range(count):
        m0, m1, m2, m3 = m[b, fo, t + k], m[4 + b, fo, t + k], m[8 + b, fo, t + k], m[12 + b, fo, t + k]
        s[0, b, k] = m0 + m1 + m2
        s[1, b, k] = m1 - m2 - m3


@njit(cache=True)
def _output_columns(s, y):
    """(A^T M) A: columns 0 + 1 + 2 and 1 - 2 - 3 of each tile, the two outputs of a block row."""
    for k in range(s.shape[1]):
        y[2 * k] = s[0, k] + s[1, k] + s[2, k]
        y[2 * k + 1] = s[1, k] - s[2, k] - s[3, k]


@njit(cache=True, nogil=True)
def _winograd_output(m, dh, dw, th, tw, out, start, stop):
    n, f, oh, ow = out.shape
    phases = dh * dw
    blocks = np.empty((phases, 2, 1, th * 2 * tw), dtype=out.dtype)
    s = np.empty((2, 4, th * tw), dtype=out.dtype)
    plan = _grid_plan(oh, ow, 0, 0, dh, dw, 1, 2 * tw)
    for plane in range(start, stop):
        b, fo = plane // f, plane % f
        for p in range(phases):
            for col in range(4):
                _output_rows(m, col, fo, ((b * phases + p) * th) * tw, th * tw, s)
            _output_columns(s[0], blocks[p, 0, 0])
            _output_columns(s[1], blocks[p, 1, 0])
        _gather_grid(blocks, plan, dw, out[b, fo])


@njit(cache=True)
def _output_grad_rows(g, r):
    """A dY for every 2x2 block: its rows g0, g1 give g0, g0 + g1, g0 - g1 and -g1."""
    for z in range(r.shape[1]):
        g0, g1 = g[0, 0, z], g[1, 0, z]
        r[0, z] = g0
        r[1, z] = g0 + g1
        r[2, z] = g0 - g1
        r[3, z] = -g1


@njit(cache=True)
def _output_grad_columns(r, a, dm, fo, t, count):
    """Row a of (A dY) A^T for the tiles t, t+1, ...: columns g0, g0 + g1, g0 - g1 and -g1."""
    t = max(t, 0)
    for k in range(count):
        g0, g1 = r[a, 2 * k], r[a, 2 * k + 1]
        dm[4 * a, fo, t + k] = g0
        dm[4 * a + 1, fo, t + k] = g0 + g1
        dm[4 * a + 2, fo, t + k] = g0 - g1
        dm[4 * a + 3, fo, t + k] = -g1


@njit(cache=True, nogil=True)
def _winograd_output_grad(dout, dh, dw, th, tw, dm, start, stop):
    n, f, oh, ow = dout.shape
    phases = dh * dw
    g = np.empty((phases, 2, 1, th * 2 * tw), dtype=dout.dtype)
    r = np.empty((4, th * 2 * tw), dtype=dout.dtype)
    plan = _grid_plan(oh, ow, 0, 0, dh, dw, 1, 2 * tw)
    for plane in range(start, stop):
        b, fo = plane // f, plane % f
        _spread_grid(dout[b, fo], plan, dw, g)
        for p in range(phases):
            _output_grad_rows(g[p], r)
            for a in range(4):
                _output_grad_columns(r, a, dm, fo, ((b * phases + p) * th) * tw, th * tw)


@njit(cache=True)
def _input_grad_columns(dv, a, ch, t, count, q):
    """Row a of dV B^T for the tiles t, t+1, ...: columns v0, v1 - v2 + v3, -v0 + v1 + v2, -v3."""
    t = max(t, 0)
    for k in range(count):
        v0, v1 = dv[4 * a, ch, t + k], dv[4 * a + 1, ch, t + k]
        v2, v3 = dv[4 * a + 2, ch, t + k], dv[4 * a + 3, ch, t + k]
        q[a, 0, k] = v0
        q[a, 1, k] = v1 - v2 + v3
        q[a, 2, k] = -v0 + v1 + v2
        q[a, 3, k] = -v3


@njit(cache=True)
def _set_tile_row(grid, e, k, d0, d1, d2, d3):
    """Write one row (d0, d1, d2, d3) at 2k of half e: columns 0-1 on side 0, 2-3 on side 1."""
    k = max(k, 0)
    grid[e, 0, 2 * k] = d0
    grid[e, 0, 2 * k + 1] = d1
    grid[e, 1, 2 * k] = d2
    grid[e, 1, 2 * k + 1] = d3


@njit(cache=True)
def _input_grad_rows(q, grid, tw):
    """B (dV B^T) for every tile, from the rows q0..q3 of dV B^T: rows q0, q1 - q2 + q3,
    -q0 + q1 + q2 and -q3, put onto the grid where they lie. Row i of tile k lies at 2k +
    (i // 2)*2TW of half i % 2: rows 0 and 1 of tile k share grid row u with rows 2 and 3 of
    tile k - TW, the tile above, so each grid entry is the sum of (at most) those two. Each
    entry is written once, after both are known: no pass over the grid adds onto another."""
    count, tw = q.shape[2], max(tw, 0)
    first = min(tw, count)
    for k in range(first):                             # the top tile row: no tile above
        _set_tile_row(grid, 0, k, q[0, 0, k], q[0, 1, k], q[0, 2, k], q[0, 3, k])
    for j in range(count - first):                     # tile k = j + TW, and the tile j above it
        k = j + first
        _set_tile_row(grid, 0, k, q[0, 0, k] - q[0, 0, j] + q[1, 0, j] + q[2, 0, j],
                      q[0, 1, k] - q[0, 1, j] + q[1, 1, j] + q[2, 1, j],
                      q[0, 2, k] - q[0, 2, j] + q[1, 2, j] + q[2, 2, j],
                      q[0, 3, k] - q[0, 3, j] + q[1, 3, j] + q[2, 3, j])
    for j in range(count - first, count):              # below the last tile row: rows 2 of it only
        _set_tile_row(grid, 0, j + first, -q[0, 0, j] + q[1, 0, j] + q[2, 0, j], -q[0, 1, j] + q[1, 1, j] + q[2, 1, j],
                      -q[0, 2, j] + q[1, 2, j] + q[2, 2, j], -q[0, 3, j] + q[1, 3, j] + q[2, 3, j])
    for k in range(first):                             # the same for half 1: rows 1 and 3
        _set_tile_row(grid, 1, k, q[1, 0, k] - q[2, 0, k] + q[3, 0, k], q[1, 1, k] - q[2, 1, k] + q[3, 1, k],
                      q[1, 2, k] - q[2, 2, k] + q[3, 2, k], q[1, 3, k] - q[2, 3, k] + q[3, 3, k])
    for j in range(count - first):
        k = j + first
        _set_tile_row(grid, 1, k, q[1, 0, k] - q[2, 0, k] + q[3, 0, k] - q[3, 0, j],
                      q[1, 1, k] - q[2, 1, k] + q[3, 1, k] - q[3, 1, j],
                      q[1, 2, k] - q[2, 2, k] + q[3, 2, k] - q[3, 2, j],
                      q[1, 3, k] - q[2, 3, k] + q[3, 3, k] - q[3, 3, j])
    for j in range(count - first, count):
        _set_tile_row(grid, 1, j + first, -q[3, 0, j], -q[3, 1, j], -q[3, 2, j], -q[3, 3, j])


@njit(cache=True, nogil=True)
def _winograd_input_grad(dv, ph, pw, dh, dw, th, tw, dx, start, stop):
    n, c, h, w = dx.shape
    phases = dh * dw
    grid = np.empty((phases, 2, 2, (th + 1) * 2 * tw), dtype=dx.dtype)
    q = np.empty((4, 4, th * tw), dtype=dx.dtype)
    plan = _grid_plan(h, w, ph, pw, dh, dw, 2, 2 * tw)
    for plane in range(start, stop):
        b, ch = plane // c, plane % c
        for p in range(phases):
            for a in range(4):
                _input_grad_columns(dv, a, ch, ((b * phases + p) * th) * tw, th * tw, q)
            _input_grad_rows(q, grid[p], tw)
        _gather_grid(grid, plan, dw, dx[b, ch])


def winograd_input_fast(x, padding, dilation, tiles, out=None):
    """Compiled twin of ``winograd_input_reference``."""
    (ph, pw), (dh, dw), (th, tw) = padding, dilation, tiles
    n, c = x.shape[:2]
    v = result_array(out, (16, c, n * dh * dw * th * tw), x.dtype, "winograd_input")
    launch(__file__, _winograd_input, n * c, v.size, np.ascontiguousarray(x), ph, pw, dh, dw, th, tw, v)
    return v


def winograd_output_fast(m, out_hw, dilation, out=None):
    """Compiled twin of ``winograd_output_reference``."""
    (dh, dw), (th, tw) = dilation, winograd_tiles(out_hw, dilation)
    n = m.shape[2] // (dh * dw * th * tw)
    result = result_array(out, (n, m.shape[1], *out_hw), m.dtype, "winograd_output")
    launch(__file__, _winograd_output, n * m.shape[1], result.size, np.ascontiguousarray(m), dh, dw, th, tw, result)
    return result


def winograd_output_grad_fast(dout, dilation, out=None):
    """Compiled twin of ``winograd_output_grad_reference``."""
    n, f, oh, ow = dout.shape
    (dh, dw), (th, tw) = dilation, winograd_tiles((oh, ow), dilation)
    dm = result_array(out, (16, f, n * dh * dw * th * tw), dout.dtype, "winograd_output_grad")
    launch(__file__, _winograd_output_grad, n * f, dm.size, np.ascontiguousarray(dout), dh, dw, th, tw, dm)
    return dm


def winograd_input_grad_fast(dv, x_shape, padding, dilation, tiles, out=None):
    """Compiled twin of ``winograd_input_grad_reference``."""
    (ph, pw), (dh, dw), (th, tw) = padding, dilation, tiles
    dx = result_array(out, x_shape, dv.dtype, "winograd_input_grad")
    launch(__file__, _winograd_input_grad, x_shape[0] * x_shape[1], dv.size, np.ascontiguousarray(dv), ph, pw, dh,
           dw, th, tw, dx)
    return dx
