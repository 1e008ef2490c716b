"""Thread control (one number for minidl's threads, BLAS on one thread), shared matrix products and the
first-run notice."""

import importlib.util
import os
import sys
import threading
import time

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info

from minidl.kernels import threads


@pytest.fixture(autouse=True)
def restore_threads():
    """Each test leaves the thread count as it found it."""
    before = threads.get_num_threads()
    yield
    threads.set_num_threads(before)


def blas_threads():
    """The thread count of every BLAS library loaded in this process, as the libraries report it."""
    counts = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    if not counts:
        pytest.skip("NumPy's BLAS library is not one threadpoolctl can see")
    return counts


@pytest.mark.parametrize("n", sorted({1, threads.max_threads()}))
def test_set_num_threads_sets_numba_and_keeps_blas_on_one_thread(n):
    threads.set_num_threads(n)
    assert threads.get_num_threads() == n
    assert numba.get_num_threads() == n
    assert blas_threads() == [1] * len(blas_threads())


def test_blas_is_set_to_one_thread_again_after_someone_raised_it():
    from threadpoolctl import threadpool_limits

    threadpool_limits(2, user_api="blas")
    threads.set_num_threads(threads.max_threads())
    assert set(blas_threads()) == {1}


@pytest.mark.parametrize("shape", [
    ((300, 2000), (2000, 40)),          # rows cut into blocks
    ((16, 3000), (3000, 700)),          # columns cut into blocks
    ((1, 400, 1000), (1000, 300)),      # a batch of one: its rows
    ((5, 200, 700), (5, 700, 150)),     # a batch: split along it
    ((6, 300, 800), (800, 100)),        # a batch against a broadcast matrix
    ((1, 5, 200, 700), (700, 150)),     # a batch of one holding a batch (a grouped layer's chunk)
    ((2, 100, 700), (1, 2, 700, 300)),  # leading unit axis from the broadcast operand
    ((1, 200, 700), (5, 700, 150)),     # the first operand broadcast along the batch
])
def test_matmul_is_the_product_and_bit_for_bit_the_same_at_every_thread_count(shape):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s, dtype=np.float32) for s in shape)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    assert int(np.prod(batch)) * a.shape[-2] * b.shape[-1] * a.shape[-1] \
        >= threads.PARALLEL_MIN_MULTIPLY_ADDS      # large enough to be shared out
    results = []
    for n in sorted({1, threads.max_threads()}):
        threads.set_num_threads(n)
        results.append(threads.matmul(a, b))
    # Against float64 to within float32's rounding of K products (a BLAS may round a block of a
    # product differently from the whole, so bit equality is asked only across thread counts).
    exact = np.matmul(a.astype(np.float64), b.astype(np.float64))
    np.testing.assert_allclose(results[0], exact, rtol=0, atol=1e-4 * np.sqrt(a.shape[-1]))
    for result in results[1:]:
        np.testing.assert_array_equal(result, results[0])


def test_matmul_shares_a_large_product_in_blocks_that_depend_on_the_shape_only(monkeypatch):
    cut = []
    monkeypatch.setattr(threads, "_share", lambda function, items: (cut.append(items), function(0, items)))
    a = np.ones((300, 2000), np.float32)
    b = np.ones((2000, 40), np.float32)
    out = threads.matmul(a, b)
    assert cut == [min(threads.MATMUL_MAX_BLOCKS, 300 * 40 * 2000 // threads.PARALLEL_MIN_MULTIPLY_ADDS)]
    np.testing.assert_array_equal(out, np.full((300, 40), 2000, np.float32))
    cut.clear()
    threads.matmul(np.ones((8, 8), np.float32), np.ones((8, 8), np.float32))
    assert cut == []                     # a small product runs whole, where it is called
    a = np.ones((1100, 4096), np.float32)
    threads.matmul(a, np.ones((4096, 4096), np.float32), out=a)
    assert cut == []                     # and so does one written over an operand, as np.matmul does
    np.testing.assert_array_equal(a, np.full((1100, 4096), 4096, np.float32))


def test_a_grouped_convolution_of_one_large_image_shares_its_products():
    # A chunk of one image of a grouped layer is a batch of one holding one product per group.
    import minidl
    from minidl import nn

    x = minidl.Tensor(np.random.default_rng(0).standard_normal((1, 256, 64, 64)).astype(np.float32),
                      requires_grad=True)
    layer = nn.Conv2d(256, 256, 1, groups=2)
    grads = []
    for n in sorted({1, threads.max_threads()}):
        threads.set_num_threads(n)
        x.grad = None
        layer(x).sum().backward()
        grads.append(x.grad.numpy().copy())
    for grad in grads[1:]:
        np.testing.assert_array_equal(grad, grads[0])


def test_max_threads_is_numbas_pool_size():
    assert threads.max_threads() == numba.config.NUMBA_NUM_THREADS >= 1


@pytest.mark.parametrize("n", [0, -1])
def test_set_num_threads_below_one(n):
    with pytest.raises(ValueError, match=rf"set_num_threads: n must be between 1 and \d+ .*got {n}"):
        threads.set_num_threads(n)


def test_set_num_threads_above_the_machine():
    too_many = threads.max_threads() + 1
    with pytest.raises(ValueError, match=rf"between 1 and {too_many - 1} \(the CPUs.*got {too_many}"):
        threads.set_num_threads(too_many)


@pytest.mark.parametrize("n", [1.0, "2", True, None])
def test_set_num_threads_needs_an_int(n):
    with pytest.raises(TypeError, match="set_num_threads: n must be an int"):
        threads.set_num_threads(n)


def test_a_rejected_count_changes_nothing():
    threads.set_num_threads(1)
    with pytest.raises(ValueError):
        threads.set_num_threads(threads.max_threads() + 1)
    assert threads.get_num_threads() == 1
    assert set(blas_threads()) == {1}


# ---------------------------------------------------------------- first-run compile notice

KERNEL_SOURCE = '''
from numba import njit


@njit(cache=True)
def double(x):
    return 2 * x
'''

NOTICE = "minidl: compiling kernels for this machine (first run only"


@pytest.fixture
def kernel_module(tmp_path, monkeypatch):
    """A module with one cached Numba kernel, its disk cache in an empty NUMBA_CACHE_DIR,
    and the notice's memory of this process wiped."""
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "numba_cache"))
    monkeypatch.setattr(threads, "_checked_modules", set())
    monkeypatch.setattr(threads, "_notice_shown", False)
    path = tmp_path / "toy_kernels.py"
    path.write_text(KERNEL_SOURCE)
    spec = importlib.util.spec_from_file_location("toy_kernels", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, "toy_kernels", module)
    return module


def test_cache_dir_is_the_one_numba_writes_to(kernel_module):
    assert not threads.is_compiled(kernel_module.__file__)
    assert kernel_module.double(21) == 42
    assert threads.is_compiled(kernel_module.__file__)
    [folder] = threads.kernel_cache_dirs(kernel_module.__file__)
    assert folder.startswith(numba.config.CACHE_DIR)


def test_notice_before_the_first_compile_only_once(kernel_module, capsys):
    threads.compile_notice(kernel_module.__file__, seconds=7)
    threads.compile_notice(kernel_module.__file__, seconds=7)
    threads.compile_notice(__file__)  # a second module asking later: still one line in all
    err = capsys.readouterr().err
    assert err == "minidl: compiling kernels for this machine (first run only, ~7 s)...\n"


def test_no_notice_once_the_kernels_are_on_disk(kernel_module, capsys):
    kernel_module.double(1)
    threads.compile_notice(kernel_module.__file__)
    assert NOTICE not in capsys.readouterr().err


def test_notice_for_a_module_still_to_compile_after_a_cached_one(kernel_module, capsys):
    kernel_module.double(1)
    threads.compile_notice(kernel_module.__file__)
    threads.compile_notice(__file__)  # this file holds no cached kernel
    assert capsys.readouterr().err.startswith(NOTICE)


def test_no_notice_when_jit_is_disabled(kernel_module, capsys, monkeypatch):
    monkeypatch.setattr(numba.config, "DISABLE_JIT", True)
    threads.compile_notice(kernel_module.__file__)
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------------- chunks of a batch
two_threads = pytest.mark.skipif(threads.max_threads() < 2, reason="needs two threads")


@two_threads
def test_every_chunk_runs_once_and_alone_on_its_thread():
    """for_each_chunk calls each chunk exactly once, on more than one thread; inside a chunk,
    kernels and matrix products get one thread (the others are busy with other chunks),
    outside they get all."""
    threads.set_num_threads(2)
    calls, inner, workers = [], [], set()

    def chunk(k):
        calls.append(k)
        inner.append(threads._threads_for(1000))
        workers.add(threading.get_ident())
        time.sleep(0.01)                # long enough for the helper thread to take its share

    threads.for_each_chunk(chunk, 9)
    assert sorted(calls) == list(range(9))
    assert inner == [1] * 9
    assert len(workers) == 2
    assert threads._threads_for(1000) == 2          # the flag does not stay behind


@two_threads
def test_a_single_chunk_keeps_all_threads():
    threads.set_num_threads(threads.max_threads())
    inner = []
    threads.for_each_chunk(lambda k: inner.append(threads._threads_for(1000)), 1)
    assert inner == [threads.max_threads()]


@two_threads
def test_an_error_in_a_chunk_reaches_the_caller():
    threads.set_num_threads(2)

    def chunk(k):
        if k == 3:
            raise ValueError("chunk 3 failed")

    with pytest.raises(ValueError, match="chunk 3 failed"):
        threads.for_each_chunk(chunk, 6)
    # Neither the calling thread nor the helper thread is left marked as working on a chunk.
    seen, both = {}, threading.Barrier(2, timeout=10)

    def job():
        seen[threading.get_ident()] = threads._threads_for(1000)
        both.wait()                     # the job runs on the helper too

    threads._teams[(os.getpid(), 2)].run(job)
    assert list(seen.values()) == [2, 2]


@two_threads
def test_numpy_twins_run_their_chunks_one_after_another():
    """The NumPy twins hold the GIL: under that backend the chunks are not shared out, and the
    matrix products inside each chunk keep every thread."""
    from minidl.kernels.backend import use_backend

    threads.set_num_threads(threads.max_threads())
    inner = []
    with use_backend("numpy"):
        threads.for_each_chunk(lambda k: inner.append(threads._threads_for(1000)), 4)
    assert inner == [threads.max_threads()] * 4


@two_threads
def test_a_team_runs_the_job_on_every_thread_and_raises_a_helpers_error():
    team = threads._Team(1)
    ran, both = [], threading.Barrier(2, timeout=10)

    def job():
        ran.append(threading.current_thread().name)
        both.wait()
        if threading.current_thread().name.startswith("minidl-kernel"):
            raise ValueError("helper failed")

    with pytest.raises(ValueError, match="helper failed"):
        team.run(job)
    assert sorted(ran) == sorted([threading.current_thread().name, "minidl-kernel-0"])
    # The error is not raised twice, and the team still works.
    ran.clear()
    team.run(lambda: ran.append(1))
    assert 1 <= len(ran) <= 2


@two_threads
def test_when_both_threads_fail_the_callers_error_is_raised_and_the_helpers_is_not_kept():
    team = threads._Team(1)
    both = threading.Barrier(2, timeout=10)

    def job():
        both.wait()                     # the helper runs it too
        raise ValueError(threading.current_thread().name)

    with pytest.raises(ValueError, match=threading.current_thread().name):
        team.run(job)
    team.run(lambda: None)              # a later job that fails nowhere raises nothing


@two_threads
def test_no_helper_runs_a_job_after_the_teams_run_returned():
    """A caller that finishes a job before its helper has taken it takes the helper's go back
    instead of waiting for it; then, as when the helper did take part, no helper may run the job
    after run returned."""
    team = threads._Team(1)
    calls = []
    for _ in range(50):
        team.run(lambda: calls.append(threading.current_thread() is threading.main_thread()))
    assert calls.count(True) == 50
    count = len(calls)
    time.sleep(0.05)
    assert len(calls) == count


@two_threads
def test_a_team_busy_with_another_threads_job_leaves_the_caller_to_work_alone():
    team = threads._Team(1)
    started, release, inner = threading.Event(), threading.Event(), []

    def long_job():
        started.set()
        release.wait(5)

    other = threading.Thread(target=team.run, args=(long_job,))
    other.start()
    started.wait(5)
    team.run(lambda: inner.append(threading.current_thread().name))
    release.set()
    other.join(5)
    assert inner == [threading.current_thread().name]
