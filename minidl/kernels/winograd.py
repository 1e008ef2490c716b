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
columns of V are ordered (phase, ty, tx, n): the images innermost (see the compiled section).

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
from minidl.kernels.im2col_numba import result_array
from minidl.kernels.threads import launch

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)


def winograd_tiles(out_hw, dilation):
    """(TH, TW): tiles per phase. Each phase has ceil(H'/DH) output rows, 2 per tile."""
    return tuple(-(-size // (2 * d)) for size, d in zip(out_hw, dilation))


# Entry (a, b) of G g G^T is sum_ij G[a, i] g[i, j] G[b, j], so with g flattened to 9 numbers
# (row 3i + j) and U to 16 (row 4a + b) the transform is one matrix, the Kronecker product:
# GG[4a + b, 3i + j] = G[a, i] * G[b, j]. All F*C filters are then transformed by one matrix
# product, GG @ g, instead of two products of 4x3 and 3x3 matrices per filter.
GG = np.kron(G, G)


def winograd_weight(weight):
    """U = G g G^T for every filter: (F, C, 3, 3) -> (16, F, C), row ab = 4*a + b."""
    f, c = weight.shape[:2]
    return (GG.astype(weight.dtype) @ weight.reshape(f * c, 9).T).reshape(16, f, c)


def winograd_weight_grad(du):
    """dg = G^T dU G: the adjoint of ``winograd_weight``, (16, F, C) -> (F, C, 3, 3)."""
    f, c = du.shape[1:]
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
    blocks = columns.reshape(side, side, k, dh * dw, th, tw, n)
    return blocks.transpose(6, 2, 3, 4, 5, 0, 1)


def _as_columns(blocks):
    """(N, K, phases, TH, TW, s, s) -> (s*s, K, T): the inverse of ``_as_tiles``."""
    n, k, phases, th, tw, side, _ = blocks.shape
    return blocks.transpose(5, 6, 1, 2, 3, 4, 0).reshape(side * side, k, n * phases * th * tw)


def winograd_input_reference(x, padding, dilation, tiles, out=None):
    """V = B^T d B for every 4x4 input tile d.

    Args:
        x: (N, C, H, W) input; padding, dilation: pairs; tiles: (TH, TW) from ``winograd_tiles``.
        out: optional (16, C, T) array to write V into, T = N * DH*DW * TH * TW.
    Returns:
        V: (16, C, T); V[4*a + b, c, t] is entry (a, b) of tile t of channel c, transformed.
    """
    n, c = x.shape[:2]
    p = dilation[0] * dilation[1]
    phases = _phase_planes(x, padding, dilation, tiles)
    planes = phases.reshape(n, c * p, *phases.shape[-2:])
    d = sliding_windows(planes, (4, 4), (2, 2), (1, 1), tiles)          # (N, C*P, 4, 4, TH, TW)
    d = d.reshape(n, c, p, 4, 4, *tiles).transpose(0, 1, 2, 5, 6, 3, 4)  # (N, C, P, TH, TW, 4, 4)
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
# The compiled transforms work on one channel (or filter) at a time, for all the images of the
# call at once: the T columns are ordered (phase, ty, tx, n), the images innermost, so "entry
# (a, b) of every tile of every image" is one long run, m = (phase*TH*TW + ty*TW + tx)*N + n,
# and each pass of a transform is a single loop over m that the compiler turns into vector
# instructions. (With the images outermost, a small plane such as 8x8 gives loops of 16 tiles,
# too short to pay for their start.) The 4x4 transforms are separable (B^T d B = B^T (d B)) and
# are done in two such passes, one combining the columns of every tile and one its rows.
#
# For the column pass to run over the tiles of a whole tile row of all images at once, the
# input channel is first copied into a padded buffer where each pixel's N images lie side by
# side and the columns are split by parity (``_interleave``): column j of every tile of a tile
# row is then one run. The column pass writes
#
#     db[e, b, ((phase*(TH + 1) + u)*TW + tx)*N + n]      (row 2u + e of the phase, column b)
#
# Rows are split by parity e: tile row ty starts at row 2ty, so its rows 0..3 are rows u = ty
# and ty + 1 of the even and odd halves, at m and m + TW*N, and the row pass is one loop over
# all the tiles of a phase. The backward pass goes through the same layout in reverse, and the
# output blocks (2x2, no overlap) are written to and read from the planes pixel by pixel.
#
# Loops write at most 4 arrays and index with their own counter plus offsets that max(0, ...)
# proves non-negative, and divide nothing: with 16 outputs per iteration, or indices Numba must
# check for wraparound, the compiler gives up on vector instructions, and an integer division
# in an inner loop costs more than the rest of its body.


@njit(cache=True)
def _column_run(s, parity, pw, dw, w, halves):
    """(z0, lo, count): the input columns stored at padded[., s, parity, half*N + .] are
    z = z0 + 2*DW*k at half lo + k, for k < count. Padded column s + DW*(2*half + parity) is
    input column z = s + DW*(2*half + parity) - PW; the halves with 0 <= z < W are a run."""
    step = 2 * dw
    lo = max(0, -((s + dw * parity - pw) // step))              # ceil((PW - s - DW*parity) / step)
    hi = min(halves, -((s + dw * parity - pw - w) // step))     # ceil((W + PW - s - DW*parity) / step)
    return s + dw * (2 * lo + parity) - pw, lo, max(hi - lo, 0)


@njit(cache=True)
def _interleave(x, ch, ph, pw, dw, padded):
    """Channel ch of every image, zero-padded, laid out so that the tile entries read in runs:

        padded[y, s, parity, half*N + n] = zero-padded x[n, ch] at row y, column s + DW*(2*half + parity)

    (s is the column phase, 2*half + parity the column within that phase, n the image). Column
    2tx + j of the phase's tiles is then entry tx*N + n of run j % 2 shifted by (j // 2)*N: for
    every j, the tiles of a tile row and all images form one run. The border is never written
    and stays zero."""
    n, _, h, w = x.shape
    n, ph, dw = max(n, 1), max(ph, 0), max(dw, 1)
    rows = min(h, padded.shape[0] - ph)
    for s in range(dw):
        for parity in range(2):
            z0, lo, count = _column_run(s, parity, pw, dw, w, padded.shape[3] // n)
            z0, lo = max(z0, 0), max(lo, 0)
            for image in range(n):
                for y in range(rows):
                    for k in range(count):
                        padded[ph + y, s, parity, (lo + k) * n + image] = x[image, ch, y, z0 + 2 * dw * k]


@njit(cache=True)
def _deinterleave(padded, ch, ph, pw, dw, x):
    """The adjoint of ``_interleave``: x[n, ch] from the middle of ``padded`` (zero where the
    padded planes stop short of the input: its last pixels, which no tile reads)."""
    n, _, h, w = x.shape
    n, ph, dw = max(n, 1), max(ph, 0), max(dw, 1)
    rows = min(h, padded.shape[0] - ph)
    for image in range(n):
        x[image, ch] = 0
    for s in range(dw):
        for parity in range(2):
            z0, lo, count = _column_run(s, parity, pw, dw, w, padded.shape[3] // n)
            z0, lo = max(z0, 0), max(lo, 0)
            for image in range(n):
                for y in range(rows):
                    for k in range(count):
                        x[image, ch, y, z0 + 2 * dw * k] = padded[ph + y, s, parity, (lo + k) * n + image]


@njit(cache=True)
def _input_columns(padded, dh, dw, th, tw, n, db):
    """d B for every row of every tile: the tile's columns d0..d3 give d0 - d2, d1 + d2, d2 - d1,
    d1 - d3, written to db[e, b, ((p*(TH + 1) + u)*TW + tx)*N + n] for row 2u + e of phase p."""
    dh, dw, n = max(dh, 1), max(dw, 1), max(n, 1)
    for p in range(dh * dw):
        r, s = p // dw, p % dw
        for row in range(2 * th + 2):
            y, e = max(r + dh * row, 0), row % 2
            base = max(((p * (th + 1) + row // 2) * tw) * n, 0)
            for k in range(tw * n):
                d0, d1 = padded[y, s, 0, k], padded[y, s, 1, k]
                d2, d3 = padded[y, s, 0, n + k], padded[y, s, 1, n + k]
                db[e, 0, base + k] = d0 - d2
                db[e, 1, base + k] = d1 + d2
                db[e, 2, base + k] = d2 - d1
                db[e, 3, base + k] = d1 - d3


@njit(cache=True)
def _gather(grid, dh, dw, th, tw, n, padded):
    """Add every grid entry grid[e, j, ((p*(TH + 1) + u)*TW + tx)*N + n], column j of a tile's
    row 2u + e, back onto the pixel of ``padded`` it stands for (the adjoint of reading the
    tiles' columns from ``padded`` as ``_input_columns`` does)."""
    dh, dw, n = max(dh, 1), max(dw, 1), max(n, 1)
    padded[:] = 0
    for p in range(dh * dw):
        r, s = p // dw, p % dw
        for row in range(2 * th + 2):
            y, e = max(r + dh * row, 0), row % 2
            base = max(((p * (th + 1) + row // 2) * tw) * n, 0)
            for j in range(4):
                shift = (j // 2) * n
                for k in range(tw * n):
                    padded[y, s, j % 2, shift + k] += grid[e, j, base + k]


@njit(cache=True)
def _input_rows(db, b, start, below, v, ch, t, count):
    """Column b of B^T (d B) for ``count`` tile entries from db[:, b, start] (rows 0, 1 there,
    rows 2, 3 ``below`` further on) to V from column t: rows 0 - 2, 1 + 2, 2 - 1 and 1 - 3."""
    start, below, t = max(start, 0), max(below, 0), max(t, 0)
    for m in range(count):
        d0, d1 = db[0, b, start + m], db[1, b, start + m]
        d2, d3 = db[0, b, start + below + m], db[1, b, start + below + m]
        v[b, ch, t + m] = d0 - d2
        v[4 + b, ch, t + m] = d1 + d2
        v[8 + b, ch, t + m] = d2 - d1
        v[12 + b, ch, t + m] = d1 - d3


@njit(cache=True, nogil=True)
def _winograd_input(x, ph, pw, dh, dw, th, tw, v, start, stop):
    n = x.shape[0]
    phases, tiles = dh * dw, th * tw * n                 # tile entries per phase, all images
    padded = np.zeros((dh * (2 * th + 2), dw, 2, (tw + 1) * n), dtype=x.dtype)
    db = np.empty((2, 4, phases * (th + 1) * tw * n), dtype=x.dtype)
    for ch in range(start, stop):
        _interleave(x, ch, ph, pw, dw, padded)
        _input_columns(padded, dh, dw, th, tw, n, db)
        for p in range(phases):
            for b in range(4):
                _input_rows(db, b, p * (th + 1) * tw * n, tw * n, v, ch, p * tiles, tiles)


@njit(cache=True)
def _output_rows(m, fo, s):
    """A^T M for every tile: rows 0 + 1 + 2 and 1 - 2 - 3 of each of its columns b."""
    for b in range(4):
        for k in range(m.shape[2]):
            m0, m1, m2, m3 = m[b, fo, k], m[4 + b, fo, k], m[8 + b, fo, k], m[12 + b, fo, k]
            s[0, b, k] = m0 + m1 + m2
            s[1, b, k] = m1 - m2 - m3


@njit(cache=True)
def _output_columns(s, y):
    """(A^T M) A: columns 0 + 1 + 2 and 1 - 2 - 3 of each row a, the outputs y[2a + column]."""
    for a in range(2):
        for k in range(s.shape[2]):
            s0, s1, s2, s3 = s[a, 0, k], s[a, 1, k], s[a, 2, k], s[a, 3, k]
            y[2 * a, k] = s0 + s1 + s2
            y[2 * a + 1, k] = s1 - s2 - s3


@njit(cache=True)
def _blocks_to_plane(y, dh, dw, th, tw, n, image, plane):
    """Output (DH*(2ty + a) + r, DW*(2tx + c) + s) of image n is y[2a + c] of its tile entry;
    outputs beyond the plane's edge are dropped."""
    oh, ow = plane.shape
    for p in range(dh * dw):
        r, s = p // dw, p % dw
        for ty in range(th):
            for a in range(2):
                row = dh * (2 * ty + a) + r
                if row >= oh:
                    continue
                base = max(((p * th + ty) * tw) * n + image, 0)
                for c in range(2):
                    first = dw * c + s                  # column of tx = 0; every 2*DW further on
                    count = min(tw, (ow - first + 2 * dw - 1) // (2 * dw)) if first < ow else 0
                    for tx in range(count):
                        plane[row, first + 2 * dw * tx] = y[2 * a + c, base + tx * n]


@njit(cache=True)
def _plane_to_blocks(plane, dh, dw, th, tw, n, image, y):
    """The adjoint of ``_blocks_to_plane``: y[2a + c] of each tile entry from the plane (the
    entries beyond the plane's edge are left as they are: zero)."""
    oh, ow = plane.shape
    for p in range(dh * dw):
        r, s = p // dw, p % dw
        for ty in range(th):
            for a in range(2):
                row = dh * (2 * ty + a) + r
                if row >= oh:
                    continue
                base = max(((p * th + ty) * tw) * n + image, 0)
                for c in range(2):
                    first = dw * c + s
                    count = min(tw, (ow - first + 2 * dw - 1) // (2 * dw)) if first < ow else 0
                    for tx in range(count):
                        y[2 * a + c, base + tx * n] = plane[row, first + 2 * dw * tx]


@njit(cache=True, nogil=True)
def _winograd_output(m, dh, dw, th, tw, out, start, stop):
    n = out.shape[0]
    s = np.empty((2, 4, m.shape[2]), dtype=out.dtype)
    y = np.empty((4, m.shape[2]), dtype=out.dtype)
    for fo in range(start, stop):
        _output_rows(m, fo, s)
        _output_columns(s, y)
        for image in range(n):
            _blocks_to_plane(y, dh, dw, th, tw, n, image, out[image, fo])


@njit(cache=True)
def _output_grad_rows(g, r):
    """A dY for every 2x2 block: its rows g0, g1 give g0, g0 + g1, g0 - g1 and -g1, per column c."""
    for c in range(2):
        for k in range(g.shape[1]):
            g0, g1 = g[c, k], g[2 + c, k]
            r[0, c, k] = g0
            r[1, c, k] = g0 + g1
            r[2, c, k] = g0 - g1
            r[3, c, k] = -g1


@njit(cache=True)
def _output_grad_columns(r, dm, fo):
    """Row a of (A dY) A^T for every tile: columns g0, g0 + g1, g0 - g1 and -g1."""
    for a in range(4):
        for k in range(r.shape[2]):
            g0, g1 = r[a, 0, k], r[a, 1, k]
            dm[4 * a, fo, k] = g0
            dm[4 * a + 1, fo, k] = g0 + g1
            dm[4 * a + 2, fo, k] = g0 - g1
            dm[4 * a + 3, fo, k] = -g1


@njit(cache=True, nogil=True)
def _winograd_output_grad(dout, dh, dw, th, tw, dm, start, stop):
    n = dout.shape[0]
    g = np.zeros((4, dm.shape[2]), dtype=dout.dtype)    # entries beyond dout's edge stay zero
    r = np.empty((4, 2, dm.shape[2]), dtype=dout.dtype)
    for fo in range(start, stop):
        for image in range(n):
            _plane_to_blocks(dout[image, fo], dh, dw, th, tw, n, image, g)
        _output_grad_rows(g, r)
        _output_grad_columns(r, dm, fo)


@njit(cache=True)
def _input_grad_columns(dv, ch, q):
    """Row a of dV B^T for every tile: columns v0, v1 - v2 + v3, -v0 + v1 + v2 and -v3."""
    for a in range(4):
        for k in range(dv.shape[2]):
            v0, v1 = dv[4 * a, ch, k], dv[4 * a + 1, ch, k]
            v2, v3 = dv[4 * a + 2, ch, k], dv[4 * a + 3, ch, k]
            q[a, 0, k] = v0
            q[a, 1, k] = v1 - v2 + v3
            q[a, 2, k] = -v0 + v1 + v2
            q[a, 3, k] = -v3


@njit(cache=True)
def _input_grad_rows(q, t, count, rows):
    """B (dV B^T) for ``count`` tile entries from column t of q: row i of column j of each tile
    into rows[i, j], from the rows q0..q3: q0, q1 - q2 + q3, -q0 + q1 + q2 and -q3."""
    t = max(t, 0)
    for j in range(4):
        for k in range(count):
            q0, q1, q2, q3 = q[0, j, t + k], q[1, j, t + k], q[2, j, t + k], q[3, j, t + k]
            rows[0, j, k] = q0
            rows[1, j, k] = q1 - q2 + q3
            rows[2, j, k] = -q0 + q1 + q2
            rows[3, j, k] = -q3


@njit(cache=True)
def _place_tile_rows(rows, count, below, grid, g):
    """Put the tiles' rows on the grid from entry g. Rows 0 and 1 of a tile lie in half 0 and 1
    at its own entry, rows 2 and 3 one tile row further on (``below`` = TW*N entries), where
    rows 0 and 1 of the tile below lie too: each grid entry is the sum of (at most) two rows.
    Each is written once, after both are known, so no pass adds onto another's result."""
    g, count = max(g, 0), max(count, 0)
    first = max(min(below, count), 0)                  # the entries of one tile row
    rest = max(count - first, 0)                       # the tile rows below the first
    for e in range(2):
        for j in range(4):
            for k in range(first):                     # the top tile row: no tile above
                grid[e, j, g + k] = rows[e, j, k]
            for k in range(rest):                      # tile k + TW*N, below tile k
                grid[e, j, g + first + k] = rows[e, j, first + k] + rows[e + 2, j, k]
            for k in range(first):                     # below the last tile row: its rows 2, 3 only
                grid[e, j, g + rest + first + k] = rows[e + 2, j, rest + k]


@njit(cache=True, nogil=True)
def _winograd_input_grad(dv, ph, pw, dh, dw, th, tw, dx, start, stop):
    n = dx.shape[0]
    phases, tiles = dh * dw, th * tw * n
    padded = np.empty((dh * (2 * th + 2), dw, 2, (tw + 1) * n), dtype=dx.dtype)
    grid = np.empty((2, 4, phases * (th + 1) * tw * n), dtype=dx.dtype)
    q = np.empty((4, 4, dv.shape[2]), dtype=dx.dtype)
    rows = np.empty((4, 4, tiles), dtype=dx.dtype)
    for ch in range(start, stop):
        _input_grad_columns(dv, ch, q)
        for p in range(phases):
            _input_grad_rows(q, p * tiles, tiles, rows)
            _place_tile_rows(rows, tiles, tw * n, grid, p * (th + 1) * tw * n)
        _gather(grid, dh, dw, th, tw, n, padded)
        _deinterleave(padded, ch, ph, pw, dw, dx)


def winograd_input_fast(x, padding, dilation, tiles, out=None):
    """Compiled twin of ``winograd_input_reference``."""
    (ph, pw), (dh, dw), (th, tw) = padding, dilation, tiles
    n, c = x.shape[:2]
    v = result_array(out, (16, c, n * dh * dw * th * tw), x.dtype, "winograd_input")
    if n == 0:  # no tiles; the loops, which skip bounds checks, assume at least one image
        return v
    launch(__file__, _winograd_input, c, v.size, np.ascontiguousarray(x), ph, pw, dh, dw, th, tw, v)
    return v


def winograd_output_fast(m, out_hw, dilation, out=None):
    """Compiled twin of ``winograd_output_reference``."""
    (dh, dw), (th, tw) = dilation, winograd_tiles(out_hw, dilation)
    n = m.shape[2] // (dh * dw * th * tw)
    result = result_array(out, (n, m.shape[1], *out_hw), m.dtype, "winograd_output")
    launch(__file__, _winograd_output, m.shape[1], m.size, np.ascontiguousarray(m), dh, dw, th, tw, result)
    return result


def winograd_output_grad_fast(dout, dilation, out=None):
    """Compiled twin of ``winograd_output_grad_reference``."""
    n, f, oh, ow = dout.shape
    (dh, dw), (th, tw) = dilation, winograd_tiles((oh, ow), dilation)
    dm = result_array(out, (16, f, n * dh * dw * th * tw), dout.dtype, "winograd_output_grad")
    launch(__file__, _winograd_output_grad, f, dm.size, np.ascontiguousarray(dout), dh, dw, th, tw, dm)
    return dm


def winograd_input_grad_fast(dv, x_shape, padding, dilation, tiles, out=None):
    """Compiled twin of ``winograd_input_grad_reference``."""
    (ph, pw), (dh, dw), (th, tw) = padding, dilation, tiles
    dx = result_array(out, x_shape, dv.dtype, "winograd_input_grad")
    if x_shape[0] == 0:  # no tiles; the loops, which skip bounds checks, assume at least one image
        return dx
    launch(__file__, _winograd_input_grad, x_shape[1], dv.size, np.ascontiguousarray(dv), ph, pw, dh,
           dw, th, tw, dx)
    return dx
