"""Compiling and calling kernels from many threads, and compile-and-discard cycles
that must not grow memory without bound (the LLVM engines are freed)."""

import gc as pygc
import resource
import threading

import numpy as np
import pytest

import graphc as gc
from graphc.corpus import scale_aware_rel_diff


def test_eight_threads_compile_and_call_at_once():
    sources = [f"sin(x*{k}) + exp(-y/{k + 1}) * x^{k % 4 + 1}" for k in range(8)]
    x = np.linspace(0.1, 2.0, 1001)
    y = np.linspace(-1.0, 1.0, 1001)
    results, errors = {}, []
    barrier = threading.Barrier(8)

    def work(k):
        try:
            barrier.wait()
            vg = gc.value_and_grad(gc.parse(sources[k]))
            for _ in range(3):
                results[k] = gc.compile(vg)(x=x, y=y)
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k in range(8):
        want = gc.evaluate(gc.value_and_grad(gc.parse(sources[k])), x=x, y=y)
        for a, b in zip([results[k][0], *results[k][1]], [want[0], *want[1]]):
            assert scale_aware_rel_diff(a, b) <= 1e-9


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cycles(n: int) -> list[float]:
    x = np.linspace(0.1, 1.0, 64)
    samples = []
    for i in range(n):
        # a new structure every cycle, so no cache can serve it
        g = gc.value_and_grad(gc.parse(f"sin(x * {1 + i * 1e-6!r}) + x^3"))
        k = gc.compile(g)
        k(x=x)
        del k, g
        if i % max(1, n // 10) == 0:
            pygc.collect()
            samples.append(_rss_mb())
    return samples


def test_compile_and_discard_does_not_grow_memory(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    _cycles(50)  # warm-up: allocator pools, first-use caches
    samples = _cycles(300)
    growth = samples[-1] - samples[0]
    assert growth < 40, f"RSS grew {growth:.1f} MB over 300 compile cycles: {samples}"


@pytest.mark.slow
def test_ten_thousand_compile_cycles(monkeypatch, tmp_path):
    """The issue's figure: 10^4 compile-and-discard cycles."""
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    _cycles(100)
    samples = _cycles(10_000)
    print("RSS MB over 10^4 cycles:", [round(s, 1) for s in samples])
    assert samples[-1] - samples[0] < 100
