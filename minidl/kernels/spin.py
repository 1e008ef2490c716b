"""Waiting without sleeping: compiled loops that watch a flag shared between threads.

A thread that sleeps on a lock and is woken by another costs both of them dearly on the
virtual machines this project runs on: on the 2-core Zen 4 of benchmarks/RESULTS.md, the
thread that wakes another spends 15-20 us in the kernel (the sleeper's CPU must be
interrupted), and the sleeper runs 20-30 us later. minidl's kernel calls inside one training
step are often only tens of microseconds apart, so between them a thread of
``threads._Team`` watches a flag in compiled code instead, with the GIL released, and only
sleeps on its lock when nothing has come for a while (as OpenMP's threads do).

The flags are the elements of a shared int64 array. Loads and stores of them are atomic
(acquire and release): the compiler may then neither hoist the load out of the waiting loop
nor move a thread's writes to its results past the store that says it has finished.
"""

from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def _load_acquire(typingctx, flags, index):
    """flags[index], read atomically: later reads of this thread see what the writer had
    written before it stored the flag."""
    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, signature.args[0], array, [args[1]])
        return builder.load_atomic(pointer, ordering="acquire", align=8)

    return types.int64(flags, index), codegen


@intrinsic
def _store_release(typingctx, flags, index, value):
    """flags[index] = value, written atomically after every write this thread made before it."""
    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, signature.args[0], array, [args[1]])
        builder.store_atomic(args[2], pointer, ordering="release", align=8)
        return context.get_dummy_value()

    return types.void(flags, index, value), codegen


@njit(cache=True, nogil=True)
def store_and_watch(flags, store_at, value, watch_at, old, spins):
    """Set flags[store_at] = value, then watch flags[watch_at] for at most ``spins`` reads
    until it differs from ``old``; return what it holds (``old`` when it never changed)."""
    _store_release(flags, store_at, value)
    for _ in range(spins):
        now = _load_acquire(flags, watch_at)
        if now != old:
            return now
    return old


@njit(cache=True, nogil=True)
def watch_until(flags, index, value, spins):
    """Watch flags[index] for at most ``spins`` reads until it holds ``value``; True if it did."""
    for _ in range(spins):
        if _load_acquire(flags, index) == value:
            return True
    return False
