"""Splitting large batches across CPU cores.

Compiled kernels release the GIL while they run (see :mod:`.jit`), so a batch split into
contiguous chunks runs on several threads at once: the chunks go to a module-level pool
of ``num_threads - 1`` worker threads and the calling thread runs one itself. Chunk
boundaries are multiples of :data:`ALIGN` elements, so every SIMD block but the last is
full and every element goes through the same instructions whatever the thread count:
results are bit-identical with 1 or n threads.

The thread count is ``graphc.set_num_threads(n)``, else the environment variable
``GRAPHC_NUM_THREADS``, else the number of CPUs this process may run on. On a machine
whose CPUs other processes keep busy, a call uses only as many threads as there are
idle CPUs plus its own (at least one; :func:`usable_threads`), as OpenMP's
``OMP_DYNAMIC`` does: a thread that has to share a core with another process makes
every fork-join wait for it.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from ...ir import GraphcError

ENV_THREADS = "GRAPHC_NUM_THREADS"
ALIGN = 64
"""Chunk boundaries are multiples of this many elements (a multiple of every SIMD
width: 16 float32 lanes of AVX-512)."""

_lock = threading.Lock()
_num_threads: int | None = None
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _default_threads() -> int:
    env = os.environ.get(ENV_THREADS, "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            raise GraphcError(f"{ENV_THREADS}={env!r} is not a whole number") from None
        if n < 1:
            raise GraphcError(f"{ENV_THREADS}={env!r} must be at least 1")
        return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def get_num_threads() -> int:
    """The number of threads a large batch is split across (at least 1)."""
    global _num_threads
    if _num_threads is None:
        with _lock:
            if _num_threads is None:
                _num_threads = _default_threads()
    return _num_threads


def set_num_threads(n: int | None) -> int:
    """Set how many threads compiled kernels may use for one large batch.

    Args:
        n: a whole number >= 1, or None to go back to the default
            (``$GRAPHC_NUM_THREADS``, else the CPUs available to this process).

    Returns:
        The previous setting.

    Raises:
        GraphcError: ``n`` is not a whole number >= 1.
    """
    global _num_threads
    previous = get_num_threads()
    if n is None:
        value = _default_threads()
    else:
        if isinstance(n, bool) or not isinstance(n, int) and not hasattr(n, "__index__"):
            raise GraphcError(f"set_num_threads takes a whole number, got {n!r}")
        value = int(n.__index__())
        if value < 1:
            raise GraphcError(f"set_num_threads needs at least 1 thread, got {value}")
    with _lock:
        _num_threads = value
    return previous


ENV_DYNAMIC = "GRAPHC_DYNAMIC_THREADS"
_dynamic: bool | None = None
_busy_cache: list = [0.0, 0, None]   # [time of the reading, others runnable, CPU counts]
BUSY_REFRESH_S = 0.002
"""How long a reading of the machine's runnable tasks is reused (reading
``/proc/loadavg`` costs a few microseconds; a program's threaded steps ask each time)."""


def set_dynamic_threads(on: bool | None) -> bool:
    """Whether calls reduce their thread count to the idle CPUs (see
    :func:`usable_threads`; on by default, ``$GRAPHC_DYNAMIC_THREADS=0`` turns it off).

    Args:
        on: True or False, or None for the default.

    Returns:
        The previous setting.
    """
    global _dynamic
    previous = dynamic_threads()
    _dynamic = None if on is None else bool(on)
    return previous


def dynamic_threads() -> bool:
    """True when calls adapt their thread count to the load (:func:`set_dynamic_threads`)."""
    if _dynamic is not None:
        return _dynamic
    return os.environ.get(ENV_DYNAMIC, "1").strip() not in ("0", "false", "no", "off")


def _others_runnable() -> int | None:
    """Tasks other than the calling thread that are running or waiting for a CPU right
    now (the ``running`` count of ``/proc/loadavg`` less one), or None where it cannot
    be read (not Linux)."""
    now = time.monotonic()
    if now - _busy_cache[0] < BUSY_REFRESH_S:
        return _busy_cache[1]
    try:
        with open("/proc/loadavg", "rb") as f:
            running = int(f.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return None
    _busy_cache[0], _busy_cache[1], _busy_cache[2] = now, max(0, running - 1), None
    return _busy_cache[1]


def _cpu_counts() -> tuple[int, int]:
    """``(CPUs this process may run on, CPUs of the machine)``, read with the runnable
    count (so a threaded step does not pay two system calls per call)."""
    if _busy_cache[2] is None:
        total = os.cpu_count() or 1
        try:
            cpus = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):  # pragma: no cover - non-Linux
            cpus = total
        _busy_cache[2] = (cpus, total)
    return _busy_cache[2]


def usable_threads(threads: int) -> int:
    """``threads`` reduced to the CPUs that are idle now plus the caller's own (at least
    1), when :func:`dynamic_threads` is on: with ``k`` other tasks running or runnable
    on ``c`` CPUs (the instantaneous count of ``/proc/loadavg``, not the 1-minute
    average that GNU libgomp's ``OMP_DYNAMIC`` uses, which counts this process's own
    threads), at most ``c - k`` threads, at least one. Where this process may run on
    fewer CPUs than the machine has (a container's CPU set), ``k`` is scaled by the
    share of the machine's CPUs it may use. Results do not depend on the thread count
    (see :func:`run_chunks`)."""
    if threads <= 1 or not dynamic_threads():
        return threads
    load = _busy_cpus()
    if load is None:
        return threads
    busy, cpus = load
    return max(1, min(threads, int(cpus - busy + 0.5)))


def _busy_cpus() -> tuple[float, int] | None:
    """``(CPUs that other tasks keep busy now, CPUs this process may use)``: the other
    runnable tasks scaled by this process's share of the machine's CPUs; None where
    the load cannot be read."""
    others = _others_runnable()
    if others is None:
        return None
    cpus, total = _cpu_counts()
    return others * cpus / max(total, cpus), cpus


def crowded(threads: int) -> bool:
    """True when ``threads`` threads of this call and the tasks running or waiting for a
    CPU right now (see :func:`usable_threads`) outnumber the CPUs: a thread waiting
    for another should then not spin for long."""
    load = _busy_cpus()
    return load is not None and load[0] + threads > load[1]


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < workers:
            old = _pool
            _pool = ThreadPoolExecutor(max_workers=workers,
                                       thread_name_prefix="graphc-kernel")
            _pool_size = workers
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def chunks(n: int, parts: int, align: int = ALIGN) -> list[tuple[int, int]]:
    """Split ``range(n)`` into at most ``parts`` contiguous ``(start, end)`` chunks of
    near-equal size whose inner boundaries are multiples of ``align`` (default
    :data:`ALIGN` elements; 1 for the outer loop of an array kernel's loop nest)."""
    blocks = -(-n // align)
    parts = max(1, min(parts, blocks))
    out, start = [], 0
    for p in range(parts):
        stop = min(n, ((p + 1) * blocks // parts) * align)
        if stop > start:
            out.append((start, stop))
        start = stop
    return out


OVERSPLIT = 4
"""A parallel call is cut into up to this many chunks per thread, taken from a shared
queue: a thread the OS deschedules (a busy neighbour process, another thread pool)
holds back one small chunk, not a 1/threads share of the batch."""


CHUNK_MIN_NS = 1_000_000
"""A threaded step is cut into more chunks than threads (self-scheduled, see
:func:`run_chunks`) only as far as each chunk keeps about
this much estimated work: with shorter chunks the hand-offs between pool threads cost
more than the balancing saves (the PINN training step of benchmarks/pinn.py, whose
steps take 0.1-0.5 ms, ran 14.3 ms with one chunk per thread and 17.2 ms with four)."""


def oversplit_for(work_ns: float, parts: int) -> int:
    """Chunks per thread for a call of estimated single-thread time ``work_ns`` split
    ``parts`` ways: up to :data:`OVERSPLIT`, as long as each chunk keeps about
    :data:`CHUNK_MIN_NS` of work (at least 1)."""
    return max(1, int(min(OVERSPLIT, work_ns // (max(parts, 1) * CHUNK_MIN_NS))))


def run_chunks(run: Callable[[int, int], object], n: int, threads: int,
               align: int = ALIGN, oversplit: int = OVERSPLIT) -> None:
    """Call ``run(start, end)`` over chunks of ``range(n)`` (boundaries multiples of
    ``align``, see :func:`chunks`), up to :data:`OVERSPLIT` chunks per thread handed
    out dynamically (self-scheduling, as OpenMP's ``schedule(dynamic)``): the calling
    thread and ``threads - 1`` pool workers each take the next chunk until none is
    left (``oversplit`` chunks per thread at most: taking a chunk costs a few
    microseconds of Python under the GIL, so callers with short steps pass fewer); returns when all are done, re-raising the first error. The chunk boundaries
    depend only on ``n``, ``threads`` and ``align``, never on timing, and each element
    is computed by the same instructions in any chunk, so results are bit-identical
    whatever the thread count or scheduling. ``threads`` is first reduced to the idle
    CPUs (:func:`usable_threads`)."""
    threads = usable_threads(threads)
    if threads <= 1:
        run(0, n)
        return
    parts = chunks(n, threads * max(1, oversplit), align)
    if len(parts) == 1:
        run(0, n)
        return
    taken = iter(parts)
    lock = threading.Lock()
    failed: list[BaseException] = []

    def worker() -> None:
        while not failed:
            with lock:
                part = next(taken, None)
            if part is None:
                return
            try:
                run(*part)
            except BaseException as exc:  # re-raised on the calling thread
                failed.append(exc)
                return

    helpers = min(threads, len(parts)) - 1
    pool = _executor(helpers)
    futures = [pool.submit(worker) for _ in range(helpers)]
    try:
        worker()
    finally:
        for f in futures:
            f.result()
    if failed:
        raise failed[0]


def run_region(run: Callable[[int, int], object], threads: int) -> None:
    """Call ``run(tid, threads)`` once on each of ``threads`` threads at the same time
    (the calling thread is ``tid`` 0, pool workers the others) and return when all
    have returned: a parallel region whose threads coordinate among themselves (the
    barriers of an array program's ``threaded`` driver), so every ``tid`` must run.
    ``run`` must release the GIL (a ctypes call of compiled code does).

    One region runs at a time: while another holds the pool, the caller runs
    ``run(0, 1)`` alone (the region's work on one thread). Two regions sharing the
    pool could each hold a worker while waiting at a barrier for a task queued behind
    the other's: a deadlock."""
    if threads <= 1 or not _region_lock.acquire(blocking=False):
        run(0, 1)
        return
    try:
        pool = _executor(threads - 1)
        futures = [pool.submit(run, tid, threads) for tid in range(1, threads)]
        try:
            run(0, threads)
        finally:
            for f in futures:
                f.result()
    finally:
        _region_lock.release()


_region_lock = threading.Lock()
