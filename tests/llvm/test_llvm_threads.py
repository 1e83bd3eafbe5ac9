"""Splitting batches across threads: identical results, controls, chunking."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import threads

MIXED = gc.value_and_grad(gc.parse("exp(-x*x/2)*sin(3*y) + log(1 + x*x) / (y*y + 0.5)"))


@pytest.fixture
def restore_threads():
    before = gc.get_num_threads()
    yield
    gc.set_num_threads(before)


@pytest.mark.parametrize("n", [100_000, 300_001, 1_000_003])
def test_two_threads_give_bit_identical_results(n, restore_threads, monkeypatch):
    splits = []
    real = threads.run_chunks
    monkeypatch.setattr(threads, "run_chunks",
                        lambda run, n, t, **kw: (splits.append(t), real(run, n, t, **kw)))
    rng = np.random.default_rng(n)
    x, y = rng.uniform(-3, 3, n), rng.uniform(-3, 3, n)
    k = gc.compile(MIXED)
    gc.set_num_threads(1)
    one = k(x, y)
    gc.set_num_threads(2)
    two = k(x, y)
    four = gc.compile(MIXED, threads=4)(x, y)
    assert splits and max(splits) >= 2  # the batch really was split
    for a, b, c in zip((one[0], *one[1]), (two[0], *two[1]), (four[0], *four[1])):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    ref = gc.evaluate(MIXED, x[:5000], y[:5000])
    np.testing.assert_allclose(one[0][:5000], ref[0], rtol=1e-13, atol=1e-15)


def test_kernels_release_the_gil_and_run_concurrently(restore_threads):
    """Python threads calling one kernel at the same time all get correct results."""
    gc.set_num_threads(1)
    k = gc.compile(MIXED)
    rng = np.random.default_rng(1)
    data = [(rng.uniform(-3, 3, 200_000), rng.uniform(-3, 3, 200_000)) for _ in range(4)]
    expected = [k(*d)[0] for d in data]
    results = [None] * 4

    def work(i):
        for _ in range(3):
            results[i] = k(*data[i])[0]
    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for got, exp in zip(results, expected):
        np.testing.assert_array_equal(got, exp)


def test_set_num_threads_validates_and_returns_previous(restore_threads):
    previous = gc.set_num_threads(3)
    assert gc.get_num_threads() == 3
    assert gc.set_num_threads(previous) == 3
    for bad in (0, -1, 2.5, "2", True):
        with pytest.raises(gc.GraphcError):
            gc.set_num_threads(bad)
    with pytest.raises(gc.GraphcError):
        gc.compile(MIXED, threads=0)


def test_environment_variable_sets_the_default():
    code = "import graphc; print(graphc.get_num_threads())"
    env = dict(os.environ, GRAPHC_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "3"


@pytest.mark.parametrize("n,parts", [(1, 2), (63, 2), (64, 2), (65, 2), (1000, 3),
                                     (10**6 + 7, 2), (10**6, 16)])
def test_chunks_cover_the_range_on_block_boundaries(n, parts):
    cs = threads.chunks(n, parts)
    assert cs[0][0] == 0 and cs[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(cs, cs[1:]))
    assert all(s % threads.ALIGN == 0 for s, _ in cs)
    assert all(e > s for s, e in cs) and len(cs) <= parts


@pytest.mark.parametrize("n,t", [(1, 2), (1000, 2), (10**6 + 7, 3), (64 * 5, 8)])
def test_run_chunks_runs_each_chunk_exactly_once(n, t):
    seen, lock = [], threading.Lock()

    def run(s, e):
        with lock:
            seen.append((s, e))

    threads.run_chunks(run, n, t)
    assert sorted(seen) == threads.chunks(n, t * threads.OVERSPLIT)


def test_a_stalled_thread_holds_back_one_chunk_not_its_share():
    """Self-scheduling: while the first chunk's thread is stalled (as a descheduled
    thread on a loaded machine), the other thread takes all the remaining chunks."""
    n, t = 64 * 80, 2
    done, ran = threading.Event(), []

    def run(s, e):
        if s == 0:
            assert done.wait(10), "the other thread did not finish the rest"
            ran.append((s, e))
            return
        ran.append((s, e))
        if len(ran) == len(threads.chunks(n, t * threads.OVERSPLIT)) - 1:
            done.set()

    threads.run_chunks(run, n, t)
    assert sorted(ran) == threads.chunks(n, t * threads.OVERSPLIT)
    assert ran[-1][0] == 0  # the stalled chunk finished last


def test_run_chunks_reraises_the_first_error_after_all_threads_stop():
    def run(s, e):
        if s > 0:
            raise ValueError(f"chunk at {s}")

    with pytest.raises(ValueError, match="chunk at"):
        threads.run_chunks(run, 10**5, 3)


def test_usable_threads_follow_the_idle_cpus(monkeypatch):
    """With k other runnable tasks on c CPUs a call uses max(1, c - k) threads (scaled
    by this process's share of the machine's CPUs); with dynamic threads off, or where
    /proc/loadavg cannot be read, the thread count asked for; run_chunks then splits
    into that many threads' chunks."""
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda _: set(range(4)))
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(threads, "_busy_cache", [0.0, 0, None])   # CPU counts read again
    threads.set_dynamic_threads(True)
    try:
        for others, want in ((0, 4), (1, 3), (3, 1), (9, 1)):
            monkeypatch.setattr(threads, "_others_runnable", lambda o=others: o)
            assert threads.usable_threads(4) == want
            assert threads.usable_threads(1) == 1
        monkeypatch.setattr(threads.os, "cpu_count", lambda: 16)   # 4 of 16 CPUs ours
        threads._busy_cache[2] = None
        monkeypatch.setattr(threads, "_others_runnable", lambda: 8)
        assert threads.usable_threads(4) == 2
        monkeypatch.setattr(threads, "_others_runnable", lambda: None)
        assert threads.usable_threads(3) == 3
        monkeypatch.setattr(threads, "_others_runnable", lambda: 2)
        monkeypatch.setattr(threads.os, "cpu_count", lambda: 4)
        threads._busy_cache[2] = None
        seen = []
        threads.run_chunks(lambda s, e: seen.append((s, e)), 64 * 100, 4)
        assert sorted(seen) == threads.chunks(64 * 100, 2 * threads.OVERSPLIT)
        threads.set_dynamic_threads(False)
        assert threads.usable_threads(4) == 4
    finally:
        threads.set_dynamic_threads(None)


def test_the_runnable_count_is_read_from_proc_loadavg():
    """On Linux the reading is a count of other runnable tasks (>= 0), reused for
    BUSY_REFRESH_S."""
    import os
    if not os.path.exists("/proc/loadavg"):
        pytest.skip("no /proc/loadavg")
    threads._busy_cache[0] = 0.0
    k = threads._others_runnable()
    assert isinstance(k, int) and k >= 0
    assert threads._others_runnable() == k
