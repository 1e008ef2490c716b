"""A block of outputs kept in vector registers while a long sum runs: the inner loop of the
direct convolution (``minidl.kernels.direct``), written where Numba's Python cannot reach.

Every convolution output is a sum over k = (channel, kernel row, kernel column) of a weight
times an input value. A tile computes a block of outputs at once, R x S vectors of V numbers
(V = the CPU's vector width: 16 float32 with AVX-512, 8 with AVX2), in one of two layouts:

- ``pixel_tile_kernel``: R filters x S vectors of V neighbouring pixels of an output row,

      acc[r][s] = bias[r] + sum over k of  w[k, r] * x[x_starts[s] + offsets[k] : ... + V]

  one step of k loading S vectors of input pixels and R single weights;
- ``filter_tile_kernel``: R pixels x S vectors of V filters, for output rows too short to
  fill a vector (an 8x8 feature map, 7x7, 10x10),

      acc[r][s] = bias[sV : sV + V] + sum over k of  x[x_starts[r] + offsets[k]] * w[k, sV : sV + V]

  one step loading S vectors of weights and R single input values.

Either way a step does R*S fused multiply-adds of whole vectors. The R*S accumulators stay in
registers for the whole sum and are written to memory once, at the end; the sum over k is
taken in order, k = 0, 1, 2, ..., so every output is rounded the same way whichever thread
computes it, and whichever tile it falls in.

Why not in Numba's Python: written as loops, the accumulators are array elements, and Numba's
compiler (LLVM) cannot prove that storing them does not change the input or the weights (all
are pointers into arrays), so it loads and stores every accumulator at every k, or gives up on
vectors altogether: about a tenth of the speed. ``tile_kernel`` builds the loop in LLVM's own
language instead (Numba's ``intrinsic``), with the accumulators as values, which is what a C
programmer gets from vector intrinsics. It is compiled once per machine and dtype and cached
with the kernels that call it. (So Numba's cache does not notice a change to this file alone:
after editing it, delete the ``*.nbi``/``*.nbc`` files of ``direct.py`` in the cache folder,
``threads.kernel_cache_dirs``.)

The vector width follows the CPU Numba compiles for (``cpu.vector_bytes``): 64 bytes (zmm
registers) where it has AVX-512F, 32 bytes (ymm) otherwise. With 32 vector registers
(AVX-512) a tile of 8 x 2 or 4 x 4 or 6 x 4 vectors fits with room for the loads; with 16
(AVX2) 6 x 2 or 4 x 3.

Arguments are whole arrays and start indices, not slices: a slice made in compiled code costs
two atomic reference-count updates, as much as a short tile's arithmetic.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from minidl.kernels.cpu import vector_bytes

VECTOR_BYTES = vector_bytes()


def lanes(dtype):
    """Numbers of ``dtype`` in one vector: V."""
    return VECTOR_BYTES // dtype.itemsize


def _splat(builder, value, vector_type):
    """A vector with ``value`` in every lane."""
    lane0 = ir.Constant(ir.IntType(32), 0)
    first = builder.insert_element(ir.Constant(vector_type, ir.Undefined), value, lane0)
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), vector_type.count), [0] * vector_type.count)
    return builder.shuffle_vector(first, ir.Constant(vector_type, ir.Undefined), zeros)


def _check_types(floats, tables):
    """Whether the arguments are what a tile takes: 1-D C-contiguous arrays, the floats all
    float32 or all float64, the tables int64."""
    if not all(isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C" for a in floats + tables):
        return False
    if len({a.dtype for a in floats}) != 1 or floats[0].dtype not in (types.float32, types.float64):
        return False
    return all(a.dtype == types.int64 for a in tables)


class _Emitter:
    """The LLVM pieces both tile layouts use, for one compiled function and element type."""

    def __init__(self, context, builder, element_type):
        self.builder = builder
        element = context.get_data_type(element_type)
        self.itemsize = context.get_abi_sizeof(element)
        self.width = VECTOR_BYTES // self.itemsize
        self.vector = ir.VectorType(element, self.width)
        name = f"v{self.width}f{8 * self.itemsize}"
        self.fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(self.vector, [self.vector] * 3),
                                                  f"llvm.fma.{name}")
        mask_type = ir.VectorType(ir.IntType(1), self.width)
        self.masked_store_function = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [self.vector, self.vector.as_pointer(), ir.IntType(32), mask_type]),
            f"llvm.masked.store.{name}.p0")
        self.lane_index = ir.Constant(ir.VectorType(ir.IntType(64), self.width), list(range(self.width)))

    @staticmethod
    def i64(n):
        return ir.Constant(ir.IntType(64), n)

    def load(self, data, index):
        """data[index], one number."""
        return self.builder.load(self.builder.gep(data, [index]))

    def load_vector(self, data, index):
        """data[index : index + V], one vector (any alignment)."""
        pointer = self.builder.bitcast(self.builder.gep(data, [index]), self.vector.as_pointer())
        return self.builder.load(pointer, align=self.itemsize)

    def splat(self, value):
        return _splat(self.builder, value, self.vector)

    def masked_store(self, value, data, index, count):
        """data[index + t] = value[t] for the lanes t < count.

        A whole vector (count >= V) is written with a plain store, only a part with a masked
        one: AVX2's masked store (vmaskmovps) is slow on AMD's processors. On a Zen 4 running
        AVX2 only, the tiles' masked stores took most of a layer with few input channels, whose
        sums are short: a 3 -> 32 channel 3x3 layer on 32x32 maps went from 48 to 30 us an
        image (from 32 to 12 us with one input channel). AVX-512's masked stores are cheap."""
        builder = self.builder
        pointer = builder.bitcast(builder.gep(data, [index]), self.vector.as_pointer())
        with builder.if_else(builder.icmp_signed(">=", count, self.i64(self.width))) as (whole, part):
            with whole:
                builder.store(value, pointer, align=self.itemsize)
            with part:
                limit = _splat(builder, count, ir.VectorType(ir.IntType(64), self.width))
                mask = builder.icmp_signed("<", self.lane_index, limit)
                builder.call(self.masked_store_function, [value, pointer, ir.Constant(ir.IntType(32), self.itemsize), mask])

    def sum_over_k(self, taps, initial, step):
        """The loop over k = 0, ..., taps - 1 that adds ``step(k, sums)`` to the accumulators,
        which start at ``initial``. They are phi values, that is registers, not memory.
        Returns their final values (``initial`` when taps is 0)."""
        builder = self.builder
        entry = builder.block
        body = builder.append_basic_block("tile.k")
        done = builder.append_basic_block("tile.store")
        builder.cbranch(builder.icmp_signed(">", taps, self.i64(0)), body, done)
        builder.position_at_end(body)
        k = builder.phi(ir.IntType(64))
        k.add_incoming(self.i64(0), entry)
        sums = []
        for value in initial:
            phi = builder.phi(self.vector)
            phi.add_incoming(value, entry)
            sums.append(phi)
        updated = step(k, sums)
        next_k = builder.add(k, self.i64(1))
        k.add_incoming(next_k, body)
        for phi, value in zip(sums, updated):
            phi.add_incoming(value, body)
        builder.cbranch(builder.icmp_signed("<", next_k, taps), body, done)
        builder.position_at_end(done)
        results = []
        for start, value in zip(initial, updated):
            phi = builder.phi(self.vector)
            phi.add_incoming(start, entry)
            phi.add_incoming(value, body)
            results.append(phi)
        return results


def _arrays(context, builder, signature, args, indices):
    """The data pointers of the array arguments at ``indices``."""
    return [context.make_array(signature.args[i])(context, builder, args[i]).data for i in indices]


def pixel_tile_kernel(rows, vectors):
    """An intrinsic computing ``rows`` filters x ``vectors`` vectors of pixels.

    Called from compiled code as

        tile(w, w_start, bias, bias_start, x, x_starts, x_shift, offsets, out, out_starts, out_shift,
             lanes, first, valid_rows, row_stride)

    with 1-D C-contiguous arrays w, bias, x, out (float32 or float64, all the same) and
    x_starts, offsets, out_starts, lanes (int64), and int64 numbers. Vector s of the tile is
    entry first + s of the tables x_starts, out_starts and lanes. For r < rows, s < vectors
    and lane t < V:

        acc = bias[bias_start + r] + sum over k < len(offsets) of
              w[w_start + k*rows + r] * x[x_starts[first + s] + x_shift + offsets[k] + t]

    is stored to out[out_starts[first + s] + out_shift + r*row_stride + t] for r < valid_rows
    and t < lanes[first + s] (a masked store: lanes 0 stores nothing). The loads read whole
    vectors, so x must extend V - 1 numbers past the last one a tile needs.
    """

    @intrinsic
    def tile(typingctx, w, w_start, bias, bias_start, x, x_starts, x_shift, offsets, out, out_starts, out_shift,
             lanes, first, valid_rows, row_stride):
        if not _check_types((w, bias, x, out), (x_starts, offsets, out_starts, lanes)):
            return None
        signature = types.void(w, w_start, bias, bias_start, x, x_starts, x_shift, offsets, out, out_starts,
                               out_shift, lanes, first, valid_rows, row_stride)
        return signature, _pixel_codegen(rows, vectors)

    return tile


def _pixel_codegen(rows, vectors):
    def codegen(context, builder, signature, args):
        (_, w_start, _, bias_start, _, _, x_shift, offsets, _, _, out_shift, _, first, valid_rows, row_stride) = args
        w, bias, x, x_starts, offset_table, out, out_starts, lanes = _arrays(context, builder, signature, args,
                                                                            (0, 2, 4, 5, 7, 8, 9, 11))
        taps = context.make_array(signature.args[7])(context, builder, offsets).nitems
        emit = _Emitter(context, builder, signature.args[0].dtype)
        i64 = emit.i64

        entries = [builder.add(first, i64(s)) for s in range(vectors)]
        starts = [builder.add(emit.load(x_starts, entry), x_shift) for entry in entries]
        weights = builder.gep(w, [w_start])
        initial = [emit.splat(emit.load(bias, builder.add(bias_start, i64(r)))) for r in range(rows)
                   for _ in range(vectors)]

        def step(k, sums):
            offset = emit.load(offset_table, k)
            pixels = [emit.load_vector(x, builder.add(start, offset)) for start in starts]
            updated = []
            at_k = builder.mul(k, i64(rows))
            for r in range(rows):
                weight = emit.splat(emit.load(weights, builder.add(at_k, i64(r))))
                updated += [builder.call(emit.fma, [weight, pixels[s], sums[r * vectors + s]]) for s in range(vectors)]
            return updated

        results = emit.sum_over_k(taps, initial, step)
        out_bases = [builder.add(emit.load(out_starts, entry), out_shift) for entry in entries]
        counts = [emit.load(lanes, entry) for entry in entries]
        for r in range(rows):
            with builder.if_then(builder.icmp_signed("<", i64(r), valid_rows)):
                for s in range(vectors):
                    index = builder.add(out_bases[s], builder.mul(i64(r), row_stride))
                    emit.masked_store(results[r * vectors + s], out, index, counts[s])
        return context.get_dummy_value()

    return codegen


def filter_tile_kernel(pixels, vectors):
    """An intrinsic computing ``pixels`` pixels x ``vectors`` vectors of filters.

    Called from compiled code as

        tile(w, w_start, w_step, bias, bias_start, x, x_starts, x_shift, offsets, out, out_starts,
             out_shift, first, valid_pixels, valid_filters)

    with arrays as for ``pixel_tile_kernel``. Pixel r of the tile is entry first + r of the
    tables x_starts and out_starts. For r < pixels, s < vectors and lane t < V, with
    f = s*V + t:

        acc = bias[bias_start + f] + sum over k < len(offsets) of
              x[x_starts[first + r] + x_shift + offsets[k]] * w[w_start + k*w_step + f]

    is stored to out[out_starts[first + r] + out_shift + f] for r < valid_pixels and
    f < valid_filters: the tile writes each pixel's filters side by side (a pixel-major
    layout). w and bias must extend to a whole number of vectors. (The weight gradient uses
    the same tile with the roles turned round: its "pixels" are the kernel taps, its k the
    positions of the images, its w the output gradient, ``direct.direct_conv2d_weight_grad``.)
    """

    @intrinsic
    def tile(typingctx, w, w_start, w_step, bias, bias_start, x, x_starts, x_shift, offsets, out, out_starts,
             out_shift, first, valid_pixels, valid_filters):
        if not _check_types((w, bias, x, out), (x_starts, offsets, out_starts)):
            return None
        signature = types.void(w, w_start, w_step, bias, bias_start, x, x_starts, x_shift, offsets, out, out_starts,
                               out_shift, first, valid_pixels, valid_filters)
        return signature, _filter_codegen(pixels, vectors)

    return tile


def _filter_codegen(pixels, vectors):
    def codegen(context, builder, signature, args):
        (_, w_start, w_step, _, bias_start, _, _, x_shift, offsets, _, _, out_shift, first, valid_pixels,
         valid_filters) = args
        w, bias, x, x_starts, offset_table, out, out_starts = _arrays(context, builder, signature, args,
                                                                     (0, 3, 5, 6, 8, 9, 10))
        taps = context.make_array(signature.args[8])(context, builder, offsets).nitems
        emit = _Emitter(context, builder, signature.args[0].dtype)
        i64, width = emit.i64, emit.width

        entries = [builder.add(first, i64(r)) for r in range(pixels)]
        starts = [builder.add(emit.load(x_starts, entry), x_shift) for entry in entries]
        weights = builder.gep(w, [w_start])
        biases = [emit.load_vector(bias, builder.add(bias_start, i64(s * width))) for s in range(vectors)]
        initial = [biases[s] for _ in range(pixels) for s in range(vectors)]

        def step(k, sums):
            offset = emit.load(offset_table, k)
            at_k = builder.mul(k, w_step)
            filters = [emit.load_vector(weights, builder.add(at_k, i64(s * width))) for s in range(vectors)]
            updated = []
            for r in range(pixels):
                value = emit.splat(emit.load(x, builder.add(starts[r], offset)))
                updated += [builder.call(emit.fma, [value, filters[s], sums[r * vectors + s]]) for s in range(vectors)]
            return updated

        results = emit.sum_over_k(taps, initial, step)
        for r in range(pixels):
            with builder.if_then(builder.icmp_signed("<", i64(r), valid_pixels)):
                base = builder.add(emit.load(out_starts, entries[r]), out_shift)
                for s in range(vectors):
                    emit.masked_store(results[r * vectors + s], out, builder.add(base, i64(s * width)),
                                      builder.sub(valid_filters, i64(s * width)))
        return context.get_dummy_value()

    return codegen
