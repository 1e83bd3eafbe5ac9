"""Compile rendered kernel source with Numba's CUDA target, call it, or emit PTX.

One kernel class, :class:`CudaKernel`, runs every graph: an elementwise graph as one
map kernel over the broadcast inputs (:func:`.render.render`), an array graph as the
program of its plan for each binding of its symbolic sizes (:mod:`.array_jit`). One
cache holds what is compiled (Python functions by source text, Numba dispatchers,
array programs), keyed by graph, options and layout or sizes, least recently used
dropped first; :func:`clear_cache` empties it.

Numba is imported here, lazily, on first use: ``import graphc`` and
``graphc.backends.cuda`` work without it, and asking for the CUDA target without it
raises :class:`graphc.BackendUnavailableError` saying ``pip install 'graphc[cuda]'``.

The generated source (see :mod:`.render`) is compiled with Python's ``compile`` and
run in a namespace holding only ``math``, ``np`` and ``cuda``; it contains no user
text, only identifiers and float literals this backend writes (user strings stay
data, as the project's rules ask).
"""

from __future__ import annotations

import builtins
import hashlib
import linecache
import math
import threading
from collections import OrderedDict
from typing import Any, Callable, Sequence

import numpy as np

from ...ir import BackendUnavailableError, Graph, InputError, LoweringError
from ..common import NP_DTYPES, as_input_array, bind_arguments
from .render import FLAT, SCALAR, KernelSource, render

INSTALL_HINT = "pip install 'graphc[cuda]'"

DEFAULT_CC = (9, 0)
"""Compute capability PTX is generated for when none is given (sm_90, Hopper)."""


def numba_cuda():
    """The ``numba.cuda`` module (the simulator's when ``NUMBA_ENABLE_CUDASIM=1``).

    Raises:
        BackendUnavailableError: Numba or numba-cuda is not installed.
    """
    try:
        from numba import cuda
    except ImportError as exc:
        raise BackendUnavailableError(
            f"the CUDA target needs Numba with CUDA support ({exc}); install it with: "
            f"{INSTALL_HINT}") from None
    return cuda


def _sim_enabled() -> bool:
    """True when Numba's CUDA simulator is on (``NUMBA_ENABLE_CUDASIM=1``)."""
    try:
        from numba.cuda.core import config
    except ImportError:  # pragma: no cover - older numba-cuda
        from numba.core import config
    return bool(getattr(config, "ENABLE_CUDASIM", 0))


_lock = threading.Lock()
_cache: "OrderedDict[tuple, Any]" = OrderedDict()
MAX_CACHE_ENTRIES = 2048
"""Entries of the one CUDA cache (functions, dispatchers, array programs) kept; the
least recently used is dropped first."""


def cached(key: tuple, make: Callable[[], Any]) -> Any:
    """The cache entry ``key`` (a tuple whose first item says what it holds), made by
    ``make()`` on a miss. Least recently used entries beyond
    :data:`MAX_CACHE_ENTRIES` are dropped. Thread-safe; ``make`` runs unlocked (two
    threads may both make an entry; the first stored wins)."""
    with _lock:
        value = _cache.get(key)
        if value is not None:
            _cache.move_to_end(key)
            return value
    value = make()
    with _lock:
        value = _cache.setdefault(key, value)
        _cache.move_to_end(key)
        while len(_cache) > MAX_CACHE_ENTRIES:
            _cache.popitem(last=False)
    return value


def cache_info() -> dict[str, int]:
    """How many entries the CUDA cache holds, by kind (``function``, ``dispatcher``,
    ``map``, ``launch`` (dispatchers specialised to argument types), ``program``,
    ``serial`` (one-thread programs of array graphs with long loops)), and ``total``."""
    with _lock:
        kinds = [k[0] for k in _cache]
    info = {kind: kinds.count(kind)
            for kind in ("function", "dispatcher", "map", "launch", "program", "serial")}
    info["total"] = len(kinds)
    return info


def clear_cache() -> int:
    """Empty the CUDA cache (compiled functions, dispatchers, array programs) and
    forget the matrix-product library chosen by ``matmul="auto"``; returns the number
    of entries removed. Kernels keep working: they compile again on next use."""
    import sys
    with _lock:
        removed = len(_cache)
        _cache.clear()
    array_jit = sys.modules.get(__name__.rsplit(".", 1)[0] + ".array_jit")
    if array_jit is not None:
        array_jit.forget_library()
    return removed


def graph_key(graph: Graph) -> tuple:
    """The structural identity of a graph for the cache: input names and keys, output
    keys (the keys encode every node's op, parameters, dtype and shape)."""
    return (tuple((x.name, x.key) for x in graph.inputs),
            tuple(o.key for o in graph.outputs))


def python_function(source: KernelSource):
    """The Python function the rendered ``source`` defines (cached by its text).

    The text is compiled under a file name derived from its hash and registered with
    :mod:`linecache`, so Numba's error messages and tracebacks can show it.
    """
    return cached(("function", source.text), lambda: _define(source))


def _define(source: KernelSource):
    cuda = numba_cuda()
    digest = hashlib.sha1(source.text.encode()).hexdigest()[:12]
    filename = f"<graphc-cuda-{digest}>"
    lines = source.text.splitlines(keepends=True)
    linecache.cache[filename] = (len(source.text), None, lines, filename)
    namespace = {"math": math, "np": np, "cuda": cuda, "fma": _fma_for(cuda),
                 "__name__": "graphc.backends.cuda.generated"}
    # the text is our own rendering (no user strings; see the module docstring)
    exec(builtins.compile(source.text, filename, "exec"), namespace)  # noqa: S102
    return namespace[source.name]


_device_fma: list = []


def _fma_for(cuda):
    """What the name ``fma`` of generated kernels is: a device function wrapping
    ``numba.cuda.fma`` (one ``fma.rn`` instruction after inlining; the intrinsic itself
    cannot be bound to another global name), or on the simulator, whose ``cuda.fma``
    computes ``a*b + c`` with two roundings, :func:`simulated_fma`."""
    if _sim_enabled():
        return simulated_fma
    if not _device_fma:
        def fma(a, b, c):
            return cuda.fma(a, b, c)
        _device_fma.append(cuda.jit(device=True, inline="always")(fma))
    return _device_fma[0]


def _round_to(x, dtype):
    """The ``dtype`` (float32/float64 NumPy type) value nearest the exact rational
    ``x`` (a :class:`fractions.Fraction`), ties to even; +-inf beyond the range."""
    try:
        f = float(x)                   # int / int: correctly rounded to float64
    except OverflowError:
        return dtype(math.inf if x > 0 else -math.inf)
    if dtype is np.float64:
        return np.float64(f)
    from fractions import Fraction
    # float32: the nearest of the neighbours of f rounded to float32 (float64 first
    # would round twice)
    big = Fraction(float(np.finfo(np.float32).max)) + Fraction(2) ** 103  # max + ulp/2
    if abs(x) >= big:
        return np.float32(math.copysign(math.inf, f))
    c = np.float32(min(max(f, -3.4028234663852886e38), 3.4028234663852886e38))
    best = None
    for cand in (np.nextafter(c, np.float32(-np.inf)), c, np.nextafter(c, np.float32(np.inf))):
        if not np.isfinite(cand):
            continue
        err = abs(Fraction(float(cand)) - x)
        key = (err, int(np.array(cand).view(np.uint32)) & 1)
        if best is None or key < best[0]:
            best = (key, cand)
    return best[1]


def simulated_fma(a, b, c):
    """``a*b + c`` rounded once (IEEE 754 fusedMultiplyAdd, round to nearest even) in
    the dtype of the arguments, computed exactly with :class:`fractions.Fraction`: the
    stand-in for ``numba.cuda.fma`` under Numba's CUDA simulator, whose own ``fma``
    computes ``a * b + c`` with two roundings (and Python 3.11 has no ``math.fma``). Zeros, infinities and NaN follow IEEE: a product
    or sum that is exactly zero takes the sign rules of ``a*b + c`` evaluated in
    floating point (exact when a factor is zero), +0 when nonzero terms cancel."""
    from fractions import Fraction
    dt = np.float32 if all(isinstance(v, np.float32) for v in (a, b, c)) else np.float64
    a, b, c = dt(a), dt(b), dt(c)
    with np.errstate(all="ignore"):
        if np.isinf(c) and np.isfinite(a) and np.isfinite(b):
            return c                       # a finite product cannot cancel an infinity
        if not (np.isfinite(a) and np.isfinite(b) and np.isfinite(c)) or a == 0 or b == 0:
            return dt(a * b + c)           # exact product (a zero factor) or IEEE specials
    if dt is np.float32:
        # the float64 product of two float32 is exact; if the float64 sum is exact too
        # (TwoSum error 0), one rounding to float32 is the fused result
        p, fc = float(a) * float(b), float(c)
        s = p + fc
        bb = s - p
        if math.isfinite(s) and (p - (s - bb)) + (fc - bb) == 0.0:
            with np.errstate(over="ignore"):
                return np.float32(s)
    exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    if exact == 0:
        return dt(0.0)
    return _round_to(exact, dt)


def dispatcher(source: KernelSource, fastmath: bool = False):
    """The ``numba.cuda.jit`` dispatcher of a rendered kernel (cached by its text)."""
    return cached(("dispatcher", source.text, bool(fastmath)),
                  lambda: numba_cuda().jit(fastmath=bool(fastmath))(python_function(source)))


def signature(graph: Graph, source: KernelSource):
    """The Numba signature ``void(...)`` of a rendered kernel: inputs as the graph's
    dtype (scalar, 1-D C-contiguous or N-D strided arrays per the layout), outputs as
    1-D C-contiguous arrays of their dtype, ``n`` and ``dim*`` as int64."""
    from numba import types
    nb = {"float64": types.float64, "float32": types.float32}
    args = []
    for x, entry in zip(graph.inputs, source.layout):
        if entry == SCALAR:
            args.append(nb[x.dtype])
        elif entry == FLAT:
            args.append(types.Array(nb[x.dtype], 1, "C"))
        else:
            args.append(types.Array(nb[x.dtype], max(len(entry), 1), "A"))
    args += [types.Array(nb[o.dtype], 1, "C") for o in graph.outputs]
    args += [types.int64] * (1 + source.ndim)
    return types.void(*args)


def ptx(graph: Graph, cc: tuple[int, int] = DEFAULT_CC, *, layout: Sequence | None = None,
        ndim: int | None = None, fastmath: bool = False) -> str:
    """PTX assembly of ``graph``'s kernel, generated without a GPU.

    Uses ``numba.cuda.compile_ptx`` (NVVM through the ``nvidia-nvvm`` wheel; NVRTC is
    needed too), so it works on machines without a GPU, but not in a process that
    runs the simulator.

    Args:
        graph: a graph of scalar nodes.
        cc: target compute capability, e.g. ``(9, 0)`` for sm_90.
        layout, ndim: the input layout (default: every input a 1-D array), see
            :func:`graphc.backends.cuda.render.normalize_layout`.
        fastmath: let NVVM use fast, less accurate math (off by default).

    Returns:
        The PTX text (``.target sm_XY``, one ``.entry``). For an array graph of
        concrete shapes: the PTX modules of all its kernels, one after another, each
        after a ``// ---- graphc kernel NAME`` line (see
        :func:`~.array_jit.array_ptx` for symbolic sizes and one module each).

    Raises:
        BackendUnavailableError: Numba/numba-cuda missing, or running under the
            simulator (which cannot emit PTX).
        LoweringError: the graph cannot be lowered.
    """
    cuda = numba_cuda()
    if _sim_enabled():
        raise BackendUnavailableError("PTX cannot be generated while Numba's CUDA simulator "
                                      "is enabled (unset NUMBA_ENABLE_CUDASIM)")
    from ...ir.shapes import is_array_graph
    from .loops import is_per_point
    if is_array_graph(graph) and not is_per_point(graph):
        # an array graph with concrete shapes: every kernel, each a separate PTX module
        # (array_jit.array_ptx gives them one by one, and takes symbol sizes)
        from .array_jit import array_ptx
        texts = array_ptx(graph, None, cc, fastmath=fastmath)
        return "\n".join(f"// ---- graphc kernel {name} (a separate PTX module)\n{text}"
                         for name, text in texts.items())
    src = render(graph, layout, ndim)
    text, _ = cuda.compile_ptx(python_function(src), signature(graph, src),
                               cc=tuple(cc), fastmath=fastmath)
    return text


class OutputLibrary:
    """Allocates a map kernel's outputs with the array library of its GPU inputs (its
    caching allocator: no ``cudaMalloc`` per call) and so returns that library's arrays.

    Attributes:
        name: ``"torch"`` or ``"cupy"``.
        empty: ``empty(n, numpy_dtype)``, a 1-D array of ``n`` elements on the input's
            device (it exports ``__cuda_array_interface__``).
    """

    def __init__(self, name: str, empty: Callable):
        self.name = name
        self.empty = empty


def output_library(value: Any) -> OutputLibrary | None:
    """The :class:`OutputLibrary` for a GPU input ``value``: PyTorch CUDA tensors and
    CuPy arrays (recognised by their class's module, without importing either library)
    give outputs of the same library on the same device; anything else (Numba device
    arrays, other ``__cuda_array_interface__`` objects) gives None (Numba device
    arrays)."""
    module = type(value).__module__.split(".", 1)[0]
    if module == "torch":
        import torch
        device = value.device
        tdt = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}
        return OutputLibrary("torch", lambda n, dt: torch.empty(
            n, dtype=tdt[np.dtype(dt)], device=device))
    if module == "cupy":
        import cupy
        device = value.device

        def empty(n, dt):
            with device:
                return cupy.empty(n, dtype=dt)
        return OutputLibrary("cupy", empty)
    return None


def _is_device_array(value: Any) -> bool:
    return bool(getattr(value, "__cuda_ndarray__", False)) or \
        hasattr(value, "__cuda_array_interface__")


class CudaKernel:
    """A graph compiled for NVIDIA GPUs through Numba; call it like the other kernels.

    Every graph compiles to this class: an elementwise graph of scalars to one map
    kernel over its (broadcast) inputs, an array graph (non-scalar shapes,
    reductions, matrix products...) to the kernels of its plan, specialised per
    binding of its symbolic dimensions.

    ``k(*inputs, **inputs)`` takes the graph's inputs by position or keyword: real
    numbers, NumPy arrays (copied to the GPU) or GPU arrays (Numba device arrays, or
    any object with ``__cuda_array_interface__``: CuPy arrays, PyTorch CUDA tensors;
    used in place, without a copy, through ``numba.cuda.as_cuda_array``). The result
    is arranged by ``graph.output_tree`` (e.g. ``f, (df/dx1, df/dx2)`` for
    ``value_and_grad``): NumPy arrays (0-d for scalar results, as the NumPy
    interpreter gives) when every input was on the host; when an input was on the GPU,
    for an elementwise graph arrays of the library of the first GPU input (PyTorch
    CUDA tensors for a tensor, CuPy arrays for a CuPy array, allocated by that
    library's caching allocator on that input's device: see :func:`output_library`),
    else (Numba device arrays, other ``__cuda_array_interface__`` objects, and array
    graphs) Numba device arrays; all export ``__cuda_array_interface__``. The kernels
    run on Numba's default stream (the legacy stream, which is also PyTorch's and
    CuPy's default): with ``synchronize=False`` and a non-default current stream in
    PyTorch/CuPy, synchronise before using the outputs there.

    * Elementwise graphs: inputs broadcast against each other like a ufunc's; inputs
      of size 1 are passed as scalars (by value), others are read with their own
      strides, so no broadcast copy is made. Every output has the broadcast shape.
      One kernel per input layout (scalar / flat / strided per input), for every
      number of points.
    * Graphs of scalar inputs and outputs holding loops or branches (``gc.scan``,
      ``gc.while_loop``, ``gc.cond``...): called like elementwise graphs, one thread
      per point running the loops as loops (:mod:`.loops`).
    * Array graphs: inputs of the declared shapes, symbolic dimensions (``("B",
      64)``) bound from them; inputs of another real dtype are converted on load.
      Class labels (of ``cross_entropy``, ``one_hot``) are checked to be integers in
      ``[0, C)`` on the host before any kernel is launched. Matrix products go to
      cuBLAS (CuPy, else PyTorch) when available, else a tiled kernel.

    Compiled kernels live in the module's one cache (:func:`clear_cache`), keyed by
    the graph's structure, the options and the layout or sizes; Numba compiles each
    kernel on its first launch.

    Args:
        graph: any graph the CUDA backend lowers (float64 / float32).
        threads_per_block: block size of map kernels (1..1024, default 256; small
            grids use fewer).
        max_blocks: cap on a map kernel's grid; the grid-stride loop covers the rest.
        reduce_threads: threads of a block reduction (a power of two).
        reduce_blocks: target grid size of a block reduction.
        serial_reduce: reduced lengths up to this take one thread per result.
        tile: the tiled matrix product's tile size (1..32).
        matmul: ``"auto"`` (cuBLAS through CuPy, else PyTorch, when importable with a
            GPU; else the tiled kernel), ``"tiled"``, ``"cupy"``, ``"torch"``, or a
            :class:`~.array_jit.MatmulLibrary`.
        fastmath: NVVM fast math (off: results follow IEEE 754 like NumPy's).
        synchronize: wait for the GPU before returning device outputs (default True,
            so arrays handed to other libraries or streams are complete).

    Raises:
        BackendUnavailableError: Numba/numba-cuda is not installed (at construction),
            no GPU is present (at call; the simulator counts as one), or a named
            matmul library is missing (at call).
        LoweringError: the graph cannot be lowered, or bad options (at construction).
        InputError / ShapeError: missing, unknown, non-numeric, non-broadcastable or
            wrongly shaped inputs, bad class labels (at call).
    """

    def __init__(self, graph: Graph, *, threads_per_block: int = 256,
                 max_blocks: int = 65535, reduce_threads: int = 256,
                 reduce_blocks: int = 1024, serial_reduce: int = 32, tile: int = 16,
                 matmul: Any = "auto", fastmath: bool = False, synchronize: bool = True):
        from ...ir.shapes import is_array_graph
        from .arrays import Options, supports
        from .array_jit import MATMUL_CHOICES
        from .loops import is_per_point, needs_serial
        self.options = Options(threads_per_block, max_blocks, reduce_threads, reduce_blocks,
                               serial_reduce, tile)      # checks every value
        if not (isinstance(matmul, str) and matmul in MATMUL_CHOICES) and not (
                hasattr(matmul, "matmul") and hasattr(matmul, "wrap")):
            raise LoweringError(f"matmul must be one of {', '.join(MATMUL_CHOICES)} or a "
                                f"MatmulLibrary, got {matmul!r}")
        self.graph = graph
        # scalar inputs and outputs around loops: evaluated per point like an
        # elementwise graph, each thread running the loops (graphc.backends.cuda.loops)
        self.is_array = is_array_graph(graph) and not is_per_point(graph)
        # array graphs whose loops would unroll past the limit: one thread's program
        self.serial = self.is_array and needs_serial(graph)
        self.threads_per_block = int(threads_per_block)
        self.max_blocks = int(max_blocks)
        self.matmul = matmul
        self.fastmath = bool(fastmath)
        self.synchronize = bool(synchronize)
        self._key = graph_key(graph)
        if self.is_array:
            for n in graph.nodes:
                if n.args and not supports(n.prim):
                    raise LoweringError(f"the CUDA backend cannot lower {n.prim.name} "
                                        f"(cuda={n.prim.cuda!r})")
            self.source = None
        else:
            self.source = render(graph)        # the all-flat kernel; lowering errors now
        self._cuda = numba_cuda()
        self._available: bool | None = None
        self._library: list = []
        self.matmul_backend: str | None = None
        """``"tiled"`` or the library's name once a matrix product has run."""

    def __repr__(self) -> str:
        what = "array kernel" if self.is_array else "kernel"
        return f"<graphc cuda {what} ({', '.join(self.graph.input_names)})>"

    # -- code ----------------------------------------------------------------------------
    def render(self, **sizes: int):
        """The kernel source: a :class:`~.render.KernelSource` (all inputs flat) for an
        elementwise graph, the :class:`~.arrays.ArrayProgramSource` for the symbol sizes
        given (``B=32``) for an array graph."""
        if not self.is_array:
            return self.source
        if self.serial:
            from .loops import render_serial
            return render_serial(self.graph, sizes)[0]
        from .arrays import render_arrays
        return render_arrays(self.graph, sizes, self.options)

    def ptx(self, cc: tuple[int, int] = DEFAULT_CC, **sizes: int):
        """PTX for compute capability ``cc``: the text of the all-flat kernel of an
        elementwise graph (see :func:`ptx`); ``{kernel name: text}`` of an array
        graph's kernels for the symbol sizes given (see :func:`~.array_jit.array_ptx`)."""
        if not self.is_array:
            return ptx(self.graph, cc, fastmath=self.fastmath)
        if self.serial:
            from numba import types
            from .loops import render_serial
            src, g = render_serial(self.graph, sizes)
            nb = {"float64": types.float64, "float32": types.float32}
            sig = types.void(*[types.Array(nb[x.dtype], 1, "C")
                               for x in list(g.inputs) + list(g.outputs)])
            text, _ = self._cuda.compile_ptx(python_function(src), sig, cc=tuple(cc),
                                             fastmath=self.fastmath)
            return {src.name: text}
        from .array_jit import array_ptx
        return array_ptx(self.graph, sizes, cc, fastmath=self.fastmath, options=self.options)

    def dispatcher(self, layout: Sequence | None = None, ndim: int | None = None):
        """The ``numba.cuda.jit`` dispatcher of an elementwise graph's kernel for one
        input layout (cached)."""
        from .render import normalize_layout
        layout, ndim = normalize_layout(self.graph, layout, ndim)
        return cached(("map", self._key, layout, ndim, self.fastmath),
                      lambda: dispatcher(render(self.graph, layout, ndim), self.fastmath))

    def program(self, env: dict):
        """The :class:`~.array_jit.ArrayProgram` of an array graph for the sizes ``env``
        (rendered on first use, then cached)."""
        from ...ir.shapes import env_key
        from .array_jit import ArrayProgram
        from .arrays import render_arrays
        return cached(("program", self._key, env_key(env), self.options, self.fastmath),
                      lambda: ArrayProgram(render_arrays(self.graph, env, self.options),
                                           self.fastmath))

    def library(self):
        """The matrix-product library used (None: the tiled kernel)."""
        from .array_jit import resolve_library
        if not self._library:
            self._library.append(resolve_library(self.matmul))
        return self._library[0]

    def _check_device(self) -> None:
        if self._available is None:
            self._available = bool(self._cuda.is_available())
        if not self._available:
            raise BackendUnavailableError(
                "no usable CUDA GPU (numba.cuda.is_available() is False); PTX can still "
                "be generated with .ptx(), and NUMBA_ENABLE_CUDASIM=1 runs kernels on "
                "Numba's CPU simulator")

    # -- calls ---------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        graph, cuda = self.graph, self._cuda
        bound = bind_arguments(graph, args, kwargs, "kernel")
        self._check_device()
        staged, any_device, owner = [], False, None
        for x, v in zip(graph.inputs, bound):
            if _is_device_array(v):
                any_device = True
                if owner is None:
                    owner = output_library(v)
                d = v if getattr(v, "__cuda_ndarray__", False) else cuda.as_cuda_array(v)
                if np.dtype(d.dtype).kind not in "biuf":
                    raise InputError(f"input {x.name!r} is a device array of dtype "
                                     f"{d.dtype}, expected real numbers ({x.dtype})")
                staged.append(("device", d))
            else:
                staged.append(("host", as_input_array(v, x.name, x.dtype)))
        if self.serial:
            results, shapes = self._run_serial(staged)
        elif self.is_array:
            results, shapes = self._run_program(staged)
        else:
            results, shapes = self._run_map(staged, owner)
        if any_device:
            if self.synchronize:
                cuda.synchronize()
            results = [o.reshape(s) if len(s) != 1 else o for o, s in zip(results, shapes)]
        else:
            results = [o.copy_to_host().reshape(s) for o, s in zip(results, shapes)]
        return graph.output_tree(results)

    def _run_map(self, staged: list, owner=None):
        """Launch the map kernel of an elementwise graph; returns the flat outputs and
        their (broadcast) shapes. ``owner`` (see :func:`output_library`) allocates the
        outputs; None: Numba device arrays."""
        graph, cuda = self.graph, self._cuda
        shapes = [tuple(a.shape) for _, a in staged]
        try:
            shape = np.broadcast_shapes(*shapes) if shapes else ()
        except ValueError:
            raise InputError("input shapes " + ", ".join(
                f"{x.name}{s}" for x, s in zip(graph.inputs, shapes))
                + " cannot be broadcast together") from None
        n = math.prod(shape)
        layout, kargs = [], []
        for x, (where, a), s in zip(graph.inputs, staged, shapes):
            size = math.prod(s)
            if where == "host":
                if size == 1:
                    layout.append(SCALAR)
                    kargs.append(NP_DTYPES[x.dtype](a.reshape(-1)[0]))
                elif s == shape:
                    layout.append(FLAT)
                    kargs.append(cuda.to_device(np.ascontiguousarray(a).reshape(-1)))
                else:
                    layout.append(tuple(d != 1 for d in s))
                    kargs.append(cuda.to_device(np.ascontiguousarray(a)))
            else:
                if len(s) == 0:
                    a = a.reshape(1)
                    s = (1,)
                if s == shape and a.is_c_contiguous():
                    layout.append(FLAT)
                    kargs.append(a.reshape(n) if len(s) != 1 else a)
                else:
                    layout.append(tuple(d != 1 for d in s))
                    kargs.append(a)
        if owner is None:
            outs = [cuda.device_array(n, dtype=NP_DTYPES[o.dtype]) for o in graph.outputs]
            views = outs
        else:
            outs = [owner.empty(n, NP_DTYPES[o.dtype]) for o in graph.outputs]
            views = [o if getattr(o, "__cuda_ndarray__", False) else cuda.as_cuda_array(o)
                     for o in outs]
        if n > 0:
            strided = any(isinstance(e, tuple) for e in layout)
            ndim = len(shape) if strided else None
            args = [*kargs, *views, np.int64(n), *([np.int64(d) for d in shape] if strided
                                                   else [])]
            tpb = min(self.threads_per_block, -(-n // 32) * 32)
            blocks = min(-(-n // tpb), self.max_blocks)
            self.launcher(layout, ndim, args)[blocks, tpb](*args)
        return outs, [shape] * len(outs)

    def launcher(self, layout, ndim, args: list):
        """The dispatcher to launch for ``args`` (the kernel's arguments, laid out as
        ``layout`` says): when every array argument is a C-contiguous Numba device
        array, the dispatcher specialised (``Dispatcher.specialize``) to their types,
        cached by ``(layout, dtypes, ranks)``, so a launch does not type its arguments
        again; otherwise (non-contiguous arrays, whose Numba type depends on their
        strides, or the simulator, which has no specialisation) the general one."""
        kern = self.dispatcher(layout, ndim)
        if not hasattr(kern, "specialize") or _sim_enabled():
            return kern
        sig = []
        for a in args:
            if getattr(a, "__cuda_ndarray__", False):
                if not a.is_c_contiguous():
                    return kern
                sig.append((a.dtype.str, a.ndim))
            elif isinstance(a, np.generic):
                sig.append(a.dtype.str)
            else:
                return kern
        return cached(("launch", self._key, tuple(layout), ndim, self.fastmath, tuple(sig)),
                      lambda: kern.specialize(*args))

    def _run_serial(self, staged: list):
        """Run an array graph with long loops as one thread's program
        (:func:`.loops.render_serial`, cached per binding of the sizes); returns the
        flat outputs and their shapes."""
        from ...ir.shapes import bind as bind_shapes
        from ...ir.shapes import env_key
        from .loops import render_serial
        cuda = self._cuda
        env = bind_shapes(self.graph, [a for _, a in staged])

        def make():
            src, g = render_serial(self.graph, env)
            return src, g, dispatcher(src, self.fastmath)
        src, g, kern = cached(("serial", self._key, env_key(env), self.fastmath), make)
        inputs = []
        for x, (where, a) in zip(g.inputs, staged):
            dt = NP_DTYPES[x.dtype]
            size = max(1, math.prod(a.shape))
            if where == "device" and a.is_c_contiguous() and np.dtype(a.dtype) == dt:
                inputs.append(a.reshape(size))
                continue
            host = a if where == "host" else a.copy_to_host()
            inputs.append(cuda.to_device(np.ascontiguousarray(host, dt).reshape(size)))
        outs = [cuda.device_array(max(1, math.prod(o.shape)), dtype=NP_DTYPES[o.dtype])
                for o in g.outputs]
        kern[1, 1](*inputs, *outs)
        return outs, [tuple(o.shape) for o in g.outputs]

    def _run_program(self, staged: list):
        """Launch the program of an array graph for the sizes its inputs bind; returns
        the flat outputs and their shapes."""
        from ...ir.shapes import bind as bind_shapes
        from .arrays import MatmulStep
        cuda = self._cuda
        env = bind_shapes(self.graph, [a for _, a in staged])
        prog = self.program(env)
        check = prog.check_labels
        if check is not None:  # class indices in [0, C), on the host before any launch
            check([(a if where == "host" else a.copy_to_host()) if k in check.needs
                   else None for k, (where, a) in enumerate(staged)])
        inputs = []
        for where, a in staged:
            if where == "host":
                a = cuda.to_device(np.ascontiguousarray(a.reshape(1) if a.ndim == 0 else a))
            elif len(a.shape) == 0:
                a = a.reshape(1)
            inputs.append(a)
        lib = None
        if any(isinstance(st, MatmulStep) for st in prog.source.plan.steps):
            lib = self.library()
            self.matmul_backend = "tiled" if lib is None else lib.name
        return prog.run(cuda, inputs, lib), prog.out_shapes


def compile(graph: Graph, **options: Any) -> CudaKernel:  # noqa: A001
    """Compile any graph (elementwise or array) to a :class:`CudaKernel` (options: see
    its docstring).

    Raises:
        BackendUnavailableError: Numba or numba-cuda is not installed
            (``pip install 'graphc[cuda]'``).
        LoweringError: a node the CUDA backend cannot lower, or bad options.
    """
    numba_cuda()
    return CudaKernel(graph, **options)
