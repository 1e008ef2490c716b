"""The convolution kernels: compiled twins against the NumPy references, and the algorithms of conv2d.

Every fast kernel must give what its NumPy twin gives (float64, 1e-10) on hypothesis-drawn
configurations: batch 1..2, odd and even sizes, non-square kernels, stride 1..3, padding 0..2,
dilation 1..3, channel multipliers for depthwise, groups for the direct tiles in both their
layouts and every tile shape. conv2d's four algorithms (im2col, direct, depthwise, Winograd)
must agree with each other on both backends, and processing the batch in chunks must not
change the result.
"""

import re
from dataclasses import dataclass

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import kernels
from minidl.gradcheck import gradcheck
from minidl.kernels import direct
from minidl.layers import conv
from minidl.layers.conv import conv2d_algorithm, conv2d_backward, conv2d_forward

BACKENDS = ("numba", "numpy")
ALGORITHMS = ("im2col", "direct", "depthwise", "winograd")


def assert_close(actual, expected, atol=1e-10):
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=0)


def random(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------------------- configurations


@dataclass
class Window:
    """A sliding-window configuration: input (N, C, H, W), kernel, stride, padding, dilation."""

    x_shape: tuple
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple

    @property
    def out_hw(self):
        return kernels.output_size("test", self.x_shape[2:], self.kernel, self.stride, self.padding, self.dilation)

    def args(self):
        return self.kernel, self.stride, self.padding, self.dilation, self.out_hw


@st.composite
def windows(draw, kernel=None, stride=None, most_images=2):
    """A Window whose kernel fits the padded input (sizes up to 7, so odd and even ones)."""
    kernel = kernel or draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    stride = stride or draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    padding = draw(st.tuples(st.integers(0, 2), st.integers(0, 2)))
    dilation = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    h, w = (draw(st.integers(max(1, span - 2 * p), 7)) for span, p in zip(spans, padding))
    return Window((draw(st.integers(1, most_images)), draw(st.integers(1, 4)), h, w), kernel, stride, padding,
                  dilation)


# The compiled Winograd transforms keep the images innermost: batches of up to 5 images check
# that each lands in its own place.
winograd_windows = windows(kernel=(3, 3), stride=(1, 1), most_images=5)


@pytest.fixture(params=BACKENDS)
def backend(request):
    with kernels.use_backend(request.param):
        yield request.param


# ---------------------------------------------------------------------------- im2col / col2im


@given(window=windows())
def test_im2col_and_col2im_twins_agree(window):
    x = random(window.x_shape)
    cols = kernels.im2col.fast(x, *window.args())
    assert_close(cols, kernels.im2col.reference(x, *window.args()))
    dcols = random(cols.shape, seed=1)
    assert_close(kernels.col2im.fast(dcols, x.shape, *window.args()),
                 kernels.col2im.reference(dcols, x.shape, *window.args()))


@given(window=windows())
def test_col2im_is_the_adjoint_of_im2col(window):
    # <im2col(x), y> = <x, col2im(y)>: col2im adds every column back where im2col copied it from.
    x = random(window.x_shape)
    y = random((window.x_shape[0], window.x_shape[1] * np.prod(window.kernel), np.prod(window.out_hw)), seed=1)
    np.testing.assert_allclose(np.sum(kernels.im2col.fast(x, *window.args()) * y),
                               np.sum(x * kernels.col2im.fast(y, x.shape, *window.args())), atol=1e-10, rtol=0)


@pytest.mark.parametrize("version", ["reference", "fast"])
def test_im2col_and_col2im_write_into_out_and_keep_float32(version):
    window = Window((2, 3, 5, 6), (3, 2), (2, 1), (1, 1), (1, 2))
    x = random(window.x_shape, dtype=np.float32)
    cols = np.full((2, 3 * 3 * 2, np.prod(window.out_hw)), np.nan, dtype=np.float32)
    assert getattr(kernels.im2col, version)(x, *window.args(), out=cols) is cols
    assert_close(cols, kernels.im2col.reference(x, *window.args()), atol=0)
    dx = np.full(x.shape, np.nan, dtype=np.float32)
    assert getattr(kernels.col2im, version)(cols, x.shape, *window.args(), out=dx) is dx
    assert_close(dx, kernels.col2im.reference(cols, x.shape, *window.args()), atol=1e-6)


@pytest.mark.parametrize("out, fragment", [
    (np.empty((2, 27, 24)), "shape (2, 27, 25), got float64 array of shape (2, 27, 24)"),
    (np.empty((2, 27, 25), dtype=np.float32), "got float32 array of shape (2, 27, 25)"),
    (np.empty((2, 25, 27)).transpose(0, 2, 1), "(not contiguous)"),
])
def test_fast_kernels_refuse_an_out_array_that_does_not_fit(out, fragment):
    with pytest.raises(ValueError, match="im2col: out must be a C-contiguous .*" + re.escape(fragment)):
        kernels.im2col.fast(np.zeros((2, 3, 5, 5)), (3, 3), (1, 1), (1, 1), (1, 1), (5, 5), out=out)


# ---------------------------------------------------------------------------- depthwise


@st.composite
def depthwise_configs(draw):
    """A Window and the channel multiplier M (F = M*C filters, filter f reading channel f // M)."""
    return draw(windows()), draw(st.integers(1, 3))


@given(config=depthwise_configs(), with_bias=st.booleans())
def test_depthwise_twins_agree(config, with_bias):
    window, multiplier = config
    n, c = window.x_shape[:2]
    x, w = random(window.x_shape), random((c * multiplier, 1, *window.kernel), seed=1)
    bias = random((c * multiplier,), seed=3) if with_bias else None
    stride, padding, dilation = window.stride, window.padding, window.dilation
    out = kernels.depthwise_conv2d.fast(x, w, bias, stride, padding, dilation, window.out_hw)
    assert_close(out, kernels.depthwise_conv2d.reference(x, w, bias, stride, padding, dilation, window.out_hw))

    dout = random(out.shape, seed=2)
    assert_close(kernels.depthwise_conv2d_input_grad.fast(dout, w, x.shape, stride, padding, dilation),
                 kernels.depthwise_conv2d_input_grad.reference(dout, w, x.shape, stride, padding, dilation))
    assert_close(kernels.depthwise_conv2d_weight_grad.fast(dout, x, w.shape, stride, padding, dilation),
                 kernels.depthwise_conv2d_weight_grad.reference(dout, x, w.shape, stride, padding, dilation))


@given(config=depthwise_configs())
def test_depthwise_reference_is_one_convolution_per_channel(config):
    # Filter f alone on channel f // M is an ordinary single-channel convolution.
    window, multiplier = config
    c = window.x_shape[1]
    x, w = random(window.x_shape), random((c * multiplier, 1, *window.kernel), seed=1)
    options = dict(stride=window.stride, padding=window.padding, dilation=window.dilation)
    out = kernels.depthwise_conv2d.reference(x, w, None, window.stride, window.padding, window.dilation, window.out_hw)
    for f in range(c * multiplier):
        channel = x[:, f // multiplier:f // multiplier + 1]
        expected, _ = conv2d_forward(channel, w[f:f + 1], None, algorithm="im2col", **options)
        assert_close(out[:, f:f + 1], expected)


# ---------------------------------------------------------------------------- direct


@st.composite
def direct_configs(draw):
    """A Window, groups (1 or 2), filters per group (1..9: partial tiles of any size), with or
    without bias, and the tiles to run: either layout, any of its shapes."""
    window = draw(windows(most_images=3))
    groups = draw(st.sampled_from([g for g in (1, 2) if window.x_shape[1] % g == 0]))
    layout = draw(st.sampled_from(["pixels", "filters"]))
    shapes = direct.PIXEL_TILES if layout == "pixels" else direct.FILTER_TILES
    return window, groups, draw(st.integers(1, 9)) * groups, draw(st.booleans()), (layout,
                                                                                  draw(st.integers(0, len(shapes) - 1)))


@settings(max_examples=60)
@given(config=direct_configs())
def test_direct_twins_agree(config):
    window, groups, filters, has_bias, tiles = config
    c = window.x_shape[1]
    x, w = random(window.x_shape), random((filters, c // groups, *window.kernel), seed=1)
    b = random(filters, seed=2) if has_bias else None
    args = (window.stride, window.padding, window.dilation, window.out_hw, groups)
    out = direct.direct_conv2d_fast(x, w, b, *args, tiles=tiles)
    assert_close(out, direct.direct_conv2d_reference(x, w, b, *args))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tiles", [("pixels", k) for k in range(3)] + [("filters", k) for k in range(3)])
def test_direct_tiles_write_whole_and_partial_vectors(tiles, dtype):
    """Rows of two whole vectors and a part of one (pixel layout), filters likewise (filter
    layout): whole vectors are stored plainly, the last part with a mask; both must land
    exactly where they belong and nothing past them."""
    lanes = direct.VECTOR_BYTES // np.dtype(dtype).itemsize
    x = random((2, 3, 5, 2 * lanes + 3), dtype=dtype)
    w = random((2 * lanes + 1, 3, 3, 3), seed=1, dtype=dtype)
    b = random(2 * lanes + 1, seed=2, dtype=dtype)
    args = ((1, 1), (1, 1), (1, 1), (5, 2 * lanes + 3), 1)
    out = direct.direct_conv2d_fast(x, w, b, *args, tiles=tiles)
    np.testing.assert_allclose(out, direct.direct_conv2d_reference(x, w, b, *args),
                               rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5 if dtype == np.float32 else 1e-12)


@given(config=direct_configs())
def test_direct_reference_is_the_im2col_convolution(config):
    window, groups, filters, has_bias, _ = config
    x, w = random(window.x_shape), random((filters, window.x_shape[1] // groups, *window.kernel), seed=1)
    b = random(filters, seed=2) if has_bias else None
    options = dict(stride=window.stride, padding=window.padding, dilation=window.dilation, groups=groups)
    with kernels.use_backend("numpy"):
        expected, _ = conv2d_forward(x, w, b, algorithm="im2col", **options)
    assert_close(direct.direct_conv2d_reference(x, w, b, window.stride, window.padding, window.dilation,
                                                window.out_hw, groups), expected)


@settings(max_examples=60)
@given(config=direct_configs())
def test_direct_weight_grad_twins_agree(config):
    window, groups, filters, _, _ = config
    x = random(window.x_shape)
    w_shape = (filters, window.x_shape[1] // groups, *window.kernel)
    dout = random((window.x_shape[0], filters, *window.out_hw), seed=1)
    args = (w_shape, window.stride, window.padding, window.dilation, groups)
    assert_close(direct.direct_conv2d_weight_grad_fast(dout, x, *args),
                 direct.direct_conv2d_weight_grad_reference(dout, x, *args))


def test_direct_weight_grad_chunks_give_the_unchunked_result(monkeypatch):
    # One image per chunk: the parts are added in chunk order, whatever the threads.
    window = Window((5, 3, 9, 8), (3, 3), (2, 1), (1, 1), (1, 2))
    x, dout = random(window.x_shape), random((5, 7, *window.out_hw), seed=1)
    args = ((7, 3, 3, 3), window.stride, window.padding, window.dilation, 1)
    whole = direct.direct_conv2d_weight_grad_fast(dout, x, *args)
    monkeypatch.setattr(direct, "GRAD_CHUNK_BYTES", 1)
    direct.grad_plan.cache_clear()
    try:
        assert direct.grad_plan(x.shape, *args[:1], 1, *args[1:4], window.out_hw, 8).chunk == 1
        assert_close(direct.direct_conv2d_weight_grad_fast(dout, x, *args), whole, atol=1e-12)
    finally:
        direct.grad_plan.cache_clear()


@pytest.mark.parametrize("tiles", [("pixels", 0), ("filters", 0)])
def test_direct_tiles_keep_float32_and_write_into_out(tiles):
    window = Window((3, 4, 11, 9), (3, 2), (2, 1), (1, 1), (1, 2))
    x, w, b = random(window.x_shape, dtype=np.float32), random((5, 4, 3, 2), 1, np.float32), random(5, 2, np.float32)
    out = np.full((3, 5, *window.out_hw), np.nan, dtype=np.float32)
    args = (window.stride, window.padding, window.dilation, window.out_hw)
    assert direct.direct_conv2d_fast(x, w, b, *args, out=out, tiles=tiles) is out
    expected = direct.direct_conv2d_reference(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), *args)
    np.testing.assert_allclose(out, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("blas", [16, 64], ids=["tiles", "blas"])
def test_strided_direct_input_grad_by_tiles_or_blas(monkeypatch, blas):
    # With a stride, dx comes from d(cols) = W^T @ dout, as 1x1 tiles or as BLAS products.
    monkeypatch.setattr(kernels, "blas_vector_bytes", lambda: blas)
    monkeypatch.setattr(kernels, "vector_bytes", lambda: 32)
    x, w = random((3, 4, 9, 8)), random((6, 2, 3, 2), seed=1)
    options = dict(stride=(2, 3), padding=(1, 1), dilation=(1, 2), groups=2)
    results = forward_backward("direct", x, w, None, options)
    with kernels.use_backend("numpy"):
        expected = forward_backward("im2col", x, w, None, options)
    for result, reference in zip(results[:3], expected[:3]):
        assert_close(result, reference)


@pytest.mark.parametrize("algorithm", ["direct", "im2col"])
def test_strided_1x1_runs_on_the_sampled_input(algorithm):
    # The input's every second row and third column, as a stride-1 1x1 convolution; the
    # gradient lands on those rows and columns only.
    x, w, b = random((3, 4, 9, 8)), random((5, 4, 1, 1), seed=1), random(5, seed=2)
    options = dict(stride=(2, 3), padding=(0, 0), dilation=(1, 1), groups=1)
    _, cache = conv2d_forward(x, w, b, algorithm=algorithm, **options)
    assert cache[0] is conv.SAMPLED and cache[1] == x.shape
    with kernels.use_backend("numpy"):
        expected = forward_backward("im2col", x, w, b, options)
    results = forward_backward(algorithm, x, w, b, options)
    for result, reference in zip(results, expected):
        assert_close(result, reference)
    assert not results[1][:, :, 1::2].any() and not results[1][:, :, :, 1::3].any()


@pytest.mark.parametrize("images, tiles, threads, parts", [
    (64, 16, 2, 1),          # whole images make enough blocks
    (1, 16, 2, 8),           # one image: its tiles are shared out
    (3, 16, 2, 3),
    (1, 2, 2, 2),            # never more parts than tiles
    (0, 16, 2, 1),           # an empty batch
])
def test_small_batches_are_cut_into_parts_of_images(images, tiles, threads, parts):
    assert direct.image_parts(images, tiles, threads) == parts


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two threads")
def test_one_image_shared_by_two_threads_gives_the_one_thread_result():
    x, w = random((1, 3, 40, 37)), random((10, 3, 3, 3), seed=1)
    args = ((1, 1), (1, 1), (1, 1), (40, 37))
    threads = md.get_num_threads()
    try:
        md.set_num_threads(1)
        one_thread = direct.direct_conv2d_fast(x, w, None, *args)
        md.set_num_threads(2)
        np.testing.assert_array_equal(direct.direct_conv2d_fast(x, w, None, *args), one_thread)
    finally:
        md.set_num_threads(threads)


@pytest.mark.parametrize("filters, out_hw, expected", [
    (6, (28, 28), ("pixels", (6, 4))),       # LeNet's first layer: 6 filters fill a 6-row tile
    (32, (32, 32), ("pixels", (4, 4))),
    (16, (10, 10), ("pixels", (8, 2))),       # 10 vectors a map: 8 x 2 tiles waste none
    (96, (55, 55), ("pixels", (4, 4))),       # the filter layout would save 14%: not enough
    (64, (8, 8), ("filters", (16, 1))),       # 8-pixel rows fill half a vector: filters instead
])
def test_tiles_are_chosen_by_the_lanes_they_waste(filters, out_hw, expected):
    if direct.VECTOR_BYTES != 64:
        pytest.skip("the tile shapes listed are those of AVX-512")
    layout, shape = direct.choose_tiles(filters, out_hw, 16)
    assert (layout, (direct.PIXEL_TILES if layout == "pixels" else direct.FILTER_TILES)[shape]) == expected


@pytest.mark.parametrize("filters, out_hw, expected", [
    (6, (28, 28), ("pixels", (6, 2))),       # 4 x 3 would compute 8 filters for 6
    (32, (32, 32), ("pixels", (4, 3))),      # wastes 1% of its lanes where 4 x 2 wastes none
    (96, (55, 55), ("pixels", (4, 3))),
])
def test_avx2_tiles_prefer_more_accumulators_when_they_waste_little(filters, out_hw, expected):
    if direct.VECTOR_BYTES != 32:
        pytest.skip("the tile shapes listed are those of AVX2")
    layout, shape = direct.choose_tiles(filters, out_hw, 8)
    assert (layout, (direct.PIXEL_TILES if layout == "pixels" else direct.FILTER_TILES)[shape]) == expected


# ---------------------------------------------------------------------------- Winograd


def tiles_of(window):
    return kernels.winograd_tiles(window.out_hw, window.dilation)


def winograd_arrays(window):
    """The input, and the shape (16, C, T) of its transformed tiles: T = N * DH*DW * TH*TW."""
    n, c = window.x_shape[:2]
    return random(window.x_shape), (16, c, n * np.prod(window.dilation) * np.prod(tiles_of(window)))


def assert_winograd_twins_agree(window):
    x, v_shape = winograd_arrays(window)
    tiles, padding, dilation = tiles_of(window), window.padding, window.dilation
    assert_close(kernels.winograd_input.fast(x, padding, dilation, tiles),
                 kernels.winograd_input.reference(x, padding, dilation, tiles))

    m = random((16, 3, v_shape[2]), seed=1)
    assert_close(kernels.winograd_output.fast(m, window.out_hw, dilation),
                 kernels.winograd_output.reference(m, window.out_hw, dilation))

    dout = random((window.x_shape[0], 3, *window.out_hw), seed=2)
    assert_close(kernels.winograd_output_grad.fast(dout, dilation),
                 kernels.winograd_output_grad.reference(dout, dilation))

    dv = random(v_shape, seed=3)
    assert_close(kernels.winograd_input_grad.fast(dv, x.shape, padding, dilation, tiles),
                 kernels.winograd_input_grad.reference(dv, x.shape, padding, dilation, tiles))


@given(window=winograd_windows)
def test_winograd_twins_agree(window):
    assert_winograd_twins_agree(window)


@pytest.mark.parametrize("window", [
    Window((5, 3, 9, 6), (3, 3), (1, 1), (1, 2), (1, 1)),
    Window((6, 2, 11, 13), (3, 3), (1, 1), (2, 1), (2, 3)),
    Window((7, 2, 8, 8), (3, 3), (1, 1), (0, 0), (1, 1)),
], ids=["odd-width", "dilated", "unpadded"])
def test_winograd_twins_agree_on_larger_batches(window):
    # The compiled transforms keep the images of a call innermost: batches larger than the
    # drawn ones (1 or 2) check that every image lands in its own place.
    assert_winograd_twins_agree(window)


@given(window=winograd_windows)
def test_winograd_backward_transforms_are_adjoints_of_the_forward_ones(window):
    # <T(a), b> = <a, T*(b)> for each pair: the input transform and dx, the output transform
    # and dM, the filter transform and dw. That is what makes the backward pass exact.
    x, v_shape = winograd_arrays(window)
    tiles, padding, dilation = tiles_of(window), window.padding, window.dilation
    dv = random(v_shape, seed=1)
    np.testing.assert_allclose(np.sum(kernels.winograd_input.fast(x, padding, dilation, tiles) * dv),
                               np.sum(x * kernels.winograd_input_grad.fast(dv, x.shape, padding, dilation, tiles)),
                               atol=1e-10, rtol=0)
    m, dout = random((16, 3, v_shape[2]), seed=2), random((x.shape[0], 3, *window.out_hw), seed=3)
    np.testing.assert_allclose(np.sum(kernels.winograd_output.fast(m, window.out_hw, dilation) * dout),
                               np.sum(m * kernels.winograd_output_grad.fast(dout, dilation)), atol=1e-10, rtol=0)
    w, du = random((3, x.shape[1], 3, 3), seed=4), random((16, 3, x.shape[1]), seed=5)
    np.testing.assert_allclose(np.sum(kernels.winograd_weight(w) * du), np.sum(w * kernels.winograd_weight_grad(du)),
                               atol=1e-10, rtol=0)


def test_winograd_of_one_tile_is_the_textbook_formula():
    # Y = A^T [(G g G^T) * (B^T d B)] A equals the 2x2 "valid" correlation of d with g.
    d, g = random((1, 1, 4, 4)), random((1, 1, 3, 3), seed=1)
    u = kernels.winograd_weight(g)
    v = kernels.winograd_input.reference(d, (0, 0), (1, 1), (1, 1))
    y = kernels.winograd_output.reference(u * v, (2, 2), (1, 1))
    expected = [[np.sum(d[0, 0, i:i + 3, j:j + 3] * g[0, 0]) for j in range(2)] for i in range(2)]
    np.testing.assert_allclose(y[0, 0], expected, atol=1e-12, rtol=0)


# ---------------------------------------------------------------------------- conv2d algorithms


@st.composite
def algorithm_configs(draw):
    """(algorithm, x_shape, w_shape, options): a convolution that ``algorithm`` can compute."""
    algorithm = draw(st.sampled_from(ALGORITHMS))
    kernel = (3, 3) if algorithm == "winograd" else None
    stride = (1, 1) if algorithm == "winograd" else None
    window = draw(windows(kernel=kernel, stride=stride))
    n, c = window.x_shape[:2]
    if algorithm == "depthwise":
        groups, filters = c, c * draw(st.integers(1, 2))
    else:
        groups = draw(st.sampled_from([g for g in (1, 2) if c % g == 0]))
        filters = groups * draw(st.integers(1, 2))
    options = dict(stride=window.stride, padding=window.padding, dilation=window.dilation, groups=groups)
    return algorithm, window.x_shape, (filters, c // groups, *window.kernel), options


def forward_backward(algorithm, x, w, b, options):
    out, cache = conv2d_forward(x, w, b, algorithm=algorithm, **options)
    return (out, *conv2d_backward(random(out.shape, seed=3, dtype=out.dtype), cache))


@given(config=algorithm_configs())
def test_every_algorithm_agrees_with_im2col_on_both_backends(config):
    algorithm, x_shape, w_shape, options = config
    x, w, b = random(x_shape), random(w_shape, seed=1), random(w_shape[:1], seed=2)
    with kernels.use_backend("numpy"):
        expected = forward_backward("im2col", x, w, b, options)
    for backend in BACKENDS:
        with kernels.use_backend(backend):
            for result, reference in zip(forward_backward(algorithm, x, w, b, options), expected):
                assert_close(result, reference)


@pytest.mark.parametrize("backend_name", BACKENDS)
@settings(max_examples=10)
@given(config=algorithm_configs())
def test_every_algorithm_passes_gradcheck(backend_name, config):
    algorithm, x_shape, w_shape, options = config
    arrays = [random(x_shape), random(w_shape, seed=1), random(w_shape[:1], seed=2)]
    with kernels.use_backend(backend_name):
        assert gradcheck((conv2d_forward, conv2d_backward), arrays, options=dict(options, algorithm=algorithm))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_keeps_float32_and_matches_float64(backend, algorithm):
    # Winograd's transforms add and subtract more numbers than a direct sum: check that
    # float32 still agrees with float64 as closely as the PyTorch parity tests demand.
    c, groups = (16, 16) if algorithm == "depthwise" else (16, 1)
    x, w, b = random((2, c, 9, 8)), random((16, c // groups, 3, 3), seed=1) / 4, random(16, seed=2)
    options = dict(stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=groups)
    results = forward_backward(algorithm, *(a.astype(np.float32) for a in (x, w, b)), options)
    for result, reference in zip(results, forward_backward("im2col", x, w, b, options)):
        assert result.dtype == np.float32
        np.testing.assert_allclose(result, reference, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("algorithm, w_shape, options", [
    ("im2col", (4, 3, 3, 2), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=1)),
    ("im2col", (6, 1, 1, 1), dict(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=3)),
    ("winograd", (4, 3, 3, 3), dict(stride=(1, 1), padding=(2, 1), dilation=(2, 1), groups=1)),
    ("depthwise", (6, 1, 3, 3), dict(stride=(1, 2), padding=(1, 1), dilation=(1, 1), groups=3)),
    ("direct", (4, 3, 3, 2), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=1)),
], ids=["im2col", "pointwise", "winograd", "depthwise", "direct"])
def test_chunks_of_the_batch_give_the_unchunked_result(backend, monkeypatch, algorithm, w_shape, options):
    x, w, b = random((5, 3, 7, 6)), random(w_shape, seed=1), random(w_shape[:1], seed=2)
    whole_batch = forward_backward(algorithm, x, w, b, options)
    monkeypatch.setattr(conv, "SCRATCH_BYTES", 1)      # one image per chunk
    for chunked, whole in zip(forward_backward(algorithm, x, w, b, options), whole_batch):
        assert_close(chunked, whole, atol=1e-12)


@pytest.mark.parametrize("w_shape, options", [
    ((3, 2, 3, 2), dict(stride=(2, 1), padding=(1, 0), output_padding=(1, 0), dilation=(1, 2), groups=1)),
    ((3, 2, 1, 1), dict(stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1), groups=3)),
], ids=["strided", "pointwise"])
def test_transposed_conv_chunks_give_the_unchunked_result(backend, monkeypatch, w_shape, options):
    x, w, b = random((5, 3, 4, 5)), random(w_shape, seed=1), random(w_shape[1] * options["groups"], seed=2)

    def forward_backward_transposed():
        out, cache = conv.conv_transpose2d_forward(x, w, b, **options)
        return (out, *conv.conv_transpose2d_backward(random(out.shape, seed=3), cache))

    whole_batch = forward_backward_transposed()
    monkeypatch.setattr(conv, "SCRATCH_BYTES", 1)      # one image per chunk
    for chunked, whole in zip(forward_backward_transposed(), whole_batch, strict=True):
        assert_close(chunked, whole, atol=1e-12)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two threads")
@pytest.mark.parametrize("scratch_bytes", [None, 60_000], ids=["kernels-split", "chunks-shared"])
@pytest.mark.parametrize("algorithm, w_shape, groups", [
    ("im2col", (16, 16, 3, 3), 1), ("im2col", (16, 16, 1, 1), 1), ("winograd", (16, 8, 3, 3), 2),
    ("direct", (16, 16, 3, 3), 1), ("direct", (24, 8, 3, 3), 2),
    ("depthwise", (32, 1, 3, 3), 16),
])
def test_threads_share_the_work_without_changing_the_result(monkeypatch, algorithm, w_shape, groups, scratch_bytes):
    # Large enough for the kernels and matrix products to split their work among threads; with
    # a small scratch size the batch is cut into chunks that the threads share instead. Either
    # way every number must be the same as with one thread, to the last bit.
    if scratch_bytes:
        monkeypatch.setattr(conv, "SCRATCH_BYTES", scratch_bytes)
    x, w, b = random((4, 16, 32, 32)), random(w_shape, seed=1), random(w_shape[:1], seed=2)
    options = dict(stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=groups)
    threads = md.get_num_threads()
    try:
        md.set_num_threads(1)
        one_thread = forward_backward(algorithm, x, w, b, options)
        md.set_num_threads(2)
        for result, expected in zip(forward_backward(algorithm, x, w, b, options), one_thread, strict=True):
            np.testing.assert_array_equal(result, expected)
    finally:
        md.set_num_threads(threads)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two threads")
def test_transposed_conv_threads_do_not_change_the_result(monkeypatch):
    monkeypatch.setattr(conv, "SCRATCH_BYTES", 60_000)             # several chunks, shared out
    x, w = random((6, 8, 9, 9)), random((8, 4, 3, 3), seed=1)
    options = dict(stride=(2, 2), padding=(1, 1), output_padding=(1, 1), dilation=(1, 1), groups=2)
    threads = md.get_num_threads()

    def forward_backward_transposed():
        out, cache = conv.conv_transpose2d_forward(x, w, None, **options)
        return (out, *conv.conv_transpose2d_backward(random(out.shape, seed=3), cache)[:2])

    try:
        md.set_num_threads(1)
        one_thread = forward_backward_transposed()
        md.set_num_threads(2)
        for result, expected in zip(forward_backward_transposed(), one_thread, strict=True):
            np.testing.assert_array_equal(result, expected)
    finally:
        md.set_num_threads(threads)


@pytest.mark.parametrize("n, bytes_per_image, min_chunks, sizes", [
    (64, conv.SCRATCH_BYTES // 37, 1, [32, 32]),       # 37 fit: two chunks of 32, not 37 + 27
    (10, conv.SCRATCH_BYTES // 3, 1, [2, 3, 2, 3]),     # never more than fit, sizes differ by <= 1
    (5, 1, 1, [5]),
    (3, 10 * conv.SCRATCH_BYTES, 1, [1, 1, 1]),         # an image larger than the scratch: one each
    (64, conv.SCRATCH_BYTES // 37, 8, [8] * 8),         # at least MIN_CHUNKS chunks ...
    (20, 1, 8, [2, 3, 2, 3, 2, 3, 2, 3]),
    (5, 1, 8, [1] * 5),                                 # ... where the batch has the images
])
def test_chunks_cover_the_batch_in_near_equal_parts(monkeypatch, n, bytes_per_image, min_chunks, sizes):
    monkeypatch.setattr(conv, "MIN_CHUNKS", min_chunks)
    chunks = conv._chunks(n, bytes_per_image)
    assert [c.stop - c.start for c in chunks] == sizes
    assert chunks[0].start == 0 and chunks[-1].stop == n
    assert all(a.stop == b.start for a, b in zip(chunks, chunks[1:]))


def test_weight_gradients_are_summed_in_waves_in_chunk_order(monkeypatch):
    # Many chunks: the parts are added wave by wave, and the sum is the same as adding all
    # parts left to right (what one thread would do).
    monkeypatch.setattr(conv, "CHUNKS_PER_WAVE", 3)
    parts = [random((4, 5), seed=k) for k in range(10)]
    total = conv._summed_over_chunks(lambda k: parts[k].copy(), len(parts))
    expected = parts[0].copy()
    for part in parts[1:]:
        expected += part
    np.testing.assert_array_equal(total, expected)


def test_the_cache_keeps_the_input_not_the_columns():
    # Backward rebuilds the columns chunk by chunk: nothing in the cache is larger than x.
    x, w = random((4, 3, 8, 8)), random((5, 3, 3, 3), seed=1)
    _, cache = conv2d_forward(x, w, None, padding=(1, 1))
    arrays = [a for a in cache if isinstance(a, np.ndarray)]
    assert any(a is x for a in arrays) and max(a.size for a in arrays) == x.size


AVX512, AVX2 = 64, 32


@pytest.mark.parametrize("x_shape, w_shape, stride, groups, tiles, blas, expected", [
    ((2, 8, 9, 9), (8, 1, 3, 3), (1, 1), 8, AVX512, AVX2, "depthwise"),
    ((2, 8, 9, 9), (16, 1, 5, 5), (2, 2), 8, AVX2, AVX2, "depthwise"),
    ((2, 1, 9, 9), (6, 1, 5, 5), (1, 1), 1, AVX2, AVX2, "direct"),           # LeNet's greyscale first layer
    ((2, 64, 9, 9), (64, 64, 3, 3), (1, 1), 1, AVX512, AVX2, "direct"),     # AVX-512 tiles beat Winograd
    ((2, 64, 9, 9), (64, 64, 3, 3), (1, 1), 1, AVX512, AVX512, "direct"),
    ((2, 64, 9, 9), (64, 64, 3, 3), (1, 1), 1, AVX2, AVX2, "winograd"),
    ((2, 128, 9, 9), (128, 64, 3, 3), (1, 1), 2, AVX2, AVX2, "winograd"),  # 64 channels a group
    ((2, 64, 9, 9), (64, 32, 3, 3), (1, 1), 2, AVX2, AVX2, "direct"),       # 32 a group: too few
    ((2, 16, 9, 9), (16, 16, 3, 3), (1, 1), 1, AVX2, AVX2, "direct"),       # too few channels for Winograd
    ((2, 64, 9, 9), (64, 64, 3, 3), (2, 2), 1, AVX2, AVX2, "direct"),       # stride 2
    ((2, 16, 9, 9), (16, 16, 5, 5), (1, 1), 1, AVX2, AVX2, "direct"),       # 5x5 kernel
    ((2, 16, 9, 9), (32, 16, 1, 1), (1, 1), 1, AVX2, AVX2, "im2col"),       # pointwise: a BLAS product
    ((2, 16, 9, 9), (32, 16, 1, 1), (2, 2), 1, AVX512, AVX512, "im2col"),
    ((2, 16, 9, 9), (32, 16, 1, 1), (1, 1), 1, AVX512, AVX2, "direct"),     # ... unless BLAS is narrower
])
def test_auto_picks_the_algorithm(monkeypatch, x_shape, w_shape, stride, groups, tiles, blas, expected):
    monkeypatch.setattr(kernels, "vector_bytes", lambda: tiles)
    monkeypatch.setattr(kernels, "blas_vector_bytes", lambda: blas)
    assert conv2d_algorithm(x_shape, w_shape, stride, groups) == expected


@pytest.mark.parametrize("algorithm, w_shape, stride, groups, message", [
    ("fft", (4, 2, 3, 3), (1, 1), 1,
     "conv2d: algorithm must be one of ('auto', 'im2col', 'winograd', 'depthwise', 'direct'), got 'fft'"),
    ("winograd", (4, 2, 5, 5), (1, 1), 1,
     "conv2d: algorithm='winograd' needs a 3x3 kernel and stride 1, got kernel (5, 5) and stride (1, 1)"),
    ("winograd", (4, 2, 3, 3), (2, 2), 1,
     "conv2d: algorithm='winograd' needs a 3x3 kernel and stride 1, got kernel (3, 3) and stride (2, 2)"),
    ("depthwise", (4, 1, 3, 3), (1, 1), 1,
     "conv2d: algorithm='depthwise' needs groups equal to the number of input channels, got groups=1 for 2 channels"),
])
def test_an_algorithm_that_does_not_apply_is_refused(algorithm, w_shape, stride, groups, message):
    x = np.zeros((1, 2, 6, 6))
    with pytest.raises(ValueError, match=re.escape(message)):
        conv2d_forward(x, np.zeros(w_shape), None, stride=stride, groups=groups, algorithm=algorithm)


def test_compiled_winograd_transforms_accept_read_only_inputs():
    # A gradient or input handed in read-only (a frozen buffer, say) is only read, never written.
    def frozen(shape, seed):
        a = random(shape, seed=seed)
        a.flags.writeable = False
        return a

    x, tiles = frozen((2, 3, 6, 6), 0), (3, 3)
    v, dout = frozen((16, 3, 18), 1), frozen((2, 3, 6, 6), 2)
    assert_close(kernels.winograd_input.fast(x, (1, 1), (1, 1), tiles),
                 kernels.winograd_input.reference(x, (1, 1), (1, 1), tiles))
    assert_close(kernels.winograd_output.fast(v, (6, 6), (1, 1)), kernels.winograd_output.reference(v, (6, 6), (1, 1)))
    assert_close(kernels.winograd_output_grad.fast(dout, (1, 1)), kernels.winograd_output_grad.reference(dout, (1, 1)))
    assert_close(kernels.winograd_input_grad.fast(v, x.shape, (1, 1), (1, 1), tiles),
                 kernels.winograd_input_grad.reference(v, x.shape, (1, 1), (1, 1), tiles))
