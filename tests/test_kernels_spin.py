"""The compiled waiting loops of kernels/spin.py, watched by another thread as the team uses them."""

import threading
import time

import numpy as np
import pytest

from minidl.kernels import spin, threads


def test_store_and_watch_stores_then_returns_old_when_nothing_changes():
    flags = np.zeros(3, np.int64)
    assert spin.store_and_watch(flags, 2, 7, 0, 0, 1000) == 0
    assert flags.tolist() == [0, 0, 7]


def test_store_and_watch_returns_the_value_another_thread_stored():
    flags = np.zeros(2, np.int64)
    seen = []
    watcher = threading.Thread(target=lambda: seen.append(spin.store_and_watch(flags, 1, 1, 0, 0, 10 ** 12)))
    watcher.start()
    while flags[1] != 1:                 # the watcher has stored its flag and is watching
        time.sleep(0.001)
    flags[0] = 5
    watcher.join(10)
    assert not watcher.is_alive() and seen == [5]


def test_watch_until_sees_the_value_or_gives_up():
    flags = np.array([0, 3], np.int64)
    assert spin.watch_until(flags, 1, 3, 1)
    assert not spin.watch_until(flags, 0, 1, 1000)
    assert not spin.watch_until(flags, 1, 3, 0)        # no read at all


def test_watch_until_waits_for_another_thread():
    flags = np.zeros(1, np.int64)
    setter = threading.Timer(0.02, lambda: flags.__setitem__(0, 9))
    setter.start()
    assert spin.watch_until(flags, 0, 9, 10 ** 12)
    setter.join()


def test_spins_are_measured_and_none_without_numba(monkeypatch):
    assert threads._spins(0) == 0
    assert threads._spins(1000) > threads._spins(10) > 0
    monkeypatch.setattr(threads.numba.config, "DISABLE_JIT", True)
    assert threads._spins(1000) == 0


@pytest.mark.skipif(threads.max_threads() < 2, reason="needs two threads")
@pytest.mark.parametrize("pause", [0.0, 0.002])   # within a helper's watch, and after it slept
@pytest.mark.parametrize("spin_microseconds", [0, 300])
def test_a_team_runs_jobs_back_to_back_and_after_its_helper_slept(monkeypatch, pause, spin_microseconds):
    """Each job's blocks are all done, once, before run returns, whether the helper was
    watching for the job, asleep, or not there in time."""
    monkeypatch.setattr(threads, "SPIN_MICROSECONDS", spin_microseconds)
    team = threads._Team(1)
    helpers_ran = 0
    for job_number in range(40):
        done = np.zeros(64, np.int64)
        counter = iter(range(64))
        names = set()

        def job():
            names.add(threading.current_thread().name)
            for k in counter:            # next() on a range iterator is atomic under the GIL
                time.sleep(0.0001)
                done[k] += 1

        team.run(job)
        assert done.tolist() == [1] * 64, job_number
        helpers_ran += "minidl-kernel-0" in names
        time.sleep(pause)
    assert helpers_ran > 0               # the helper did take part
