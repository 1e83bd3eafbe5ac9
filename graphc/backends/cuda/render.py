"""Render an elementwise graph to the Python source of a Numba CUDA kernel (text only).

This module imports nothing from Numba: it only writes text, so its output can be
golden-tested anywhere. :mod:`graphc.backends.cuda.jit` compiles the text with
``numba.cuda.jit``.

An elementwise graph of scalar nodes evaluated at ``n`` points is the one-loop case
of the array plan (:class:`.arrays.Plan` with a :class:`.arrays.Batch`): one map
kernel, one thread per element, a grid-stride loop ``while i < n`` that is also the
bounds check (NVIDIA, *CUDA C++ Programming Guide*, "grid-stride loops"), every
output (the value and all partials of ``value_and_grad``) stored by the same thread
in the same pass, so each input element is read from memory once. Unlike the array
kernels, ``n`` and the broadcast shape are run-time parameters (one compiled kernel
for every ``n``), and inputs may be scalars (passed by value), flat arrays or
strided N-D arrays broadcast against each other. Values that do not depend on the
element index (scalar inputs, size-1 broadcast inputs, every operation on them only)
are computed once before the loop (loop-invariant code motion).

Safety: the source contains only text the plan writes (variable names it builds,
Python float literals from ``repr``) and the templates of registered primitives.
Input names, labels and other user strings never appear in it, so compiling it
cannot execute user text.
"""

from __future__ import annotations

import keyword
import math
from dataclasses import dataclass
from typing import Sequence

from ...ir import Graph, LoweringError, Node

KERNEL_NAME = "graphc_kernel"

SCALAR = "scalar"
"""Input layout: a number, passed by value (a broadcast scalar)."""
FLAT = "flat"
"""Input layout: a C-contiguous array of the full broadcast shape, read as 1-D ``[i]``."""

NP_NAMES = {"float64": "np.float64", "float32": "np.float32"}


@dataclass(frozen=True)
class KernelSource:
    """A rendered kernel.

    Attributes:
        text: Python source defining ``def graphc_kernel(...)``.
        name: the function name (``graphc_kernel``).
        params: parameter names in order: ``in0..``, ``out0..``, ``n``, ``dim0..``.
        layout: the normalised per-input layout used.
        ndim: rank of the broadcast shape (number of ``dim`` parameters; 0 when
            every array input is ``flat``).
    """

    text: str
    name: str
    params: tuple[str, ...]
    layout: tuple
    ndim: int


def normalize_layout(graph: Graph, layout: Sequence | None = None,
                     ndim: int | None = None) -> tuple[tuple, int]:
    """Check a per-input layout and return ``(layout, ndim)``.

    Args:
        graph: the graph whose inputs the layout describes.
        layout: one entry per input (default: all ``"flat"``): ``"scalar"``;
            ``"flat"``; or a tuple of booleans, one per dimension of that input's
            array, aligned with the *trailing* dimensions of the broadcast shape: True
            where the dimension is indexed by the element's multi-index, False where it
            has size 1 and is broadcast (read at index 0).
        ndim: rank of the broadcast shape; required (and checked) when some input is
            given as a tuple.

    Raises:
        LoweringError: wrong number of entries, an unknown entry, or an input of
            higher rank than ``ndim``.
    """
    n_in = len(graph.inputs)
    if layout is None:
        layout = (FLAT,) * n_in
    layout = tuple(layout)
    if len(layout) != n_in:
        raise LoweringError(f"layout has {len(layout)} entries for {n_in} input(s)")
    out = []
    max_rank = 0
    for k, entry in enumerate(layout):
        if entry in (SCALAR, FLAT):
            out.append(entry)
            continue
        if isinstance(entry, tuple) and all(isinstance(b, bool) for b in entry):
            out.append(entry)
            max_rank = max(max_rank, len(entry))
            continue
        raise LoweringError(f"layout entry {k} is {entry!r}; expected 'scalar', 'flat' or "
                            f"a tuple of booleans")
    if any(isinstance(e, tuple) for e in out):
        if ndim is None:
            ndim = max_rank
        if max_rank > ndim:
            raise LoweringError(f"an input has rank {max_rank} > the broadcast rank {ndim}")
    else:
        ndim = 0
    return tuple(out), int(ndim)


def format_float(value: float) -> str:
    """A Python expression for ``value`` that Numba types as a float64 constant."""
    if not isinstance(value, float):
        raise LoweringError(f"expected a float constant, got {value!r}")
    if math.isnan(value):
        return "math.nan"
    if math.isinf(value):
        return "math.inf" if value > 0 else "(-math.inf)"
    text = repr(value)
    return f"({text})" if text.startswith("-") else text


def _load(k: int, entry, dtype: str, ndim: int) -> str:
    """The expression reading input ``k`` at element ``i`` (multi-index ``j0..``) as
    its ``layout`` ``entry`` says, converted to ``dtype``."""
    if entry == SCALAR:
        ref = f"in{k}"
    elif entry == FLAT:
        ref = f"in{k}[i]"
    elif not entry:
        ref = f"in{k}[()]"
    else:
        # trailing alignment: dimension d of the input is dimension ndim-len+d overall
        off = ndim - len(entry)
        idx = [f"j{off + d}" if used else "0" for d, used in enumerate(entry)]
        ref = f"in{k}[{', '.join(idx)}]"
    return f"{NP_NAMES[dtype]}({ref})"


def render(graph: Graph, layout: Sequence | None = None, ndim: int | None = None,
           *, name: str = KERNEL_NAME) -> KernelSource:
    """Render ``graph`` as the source of a Numba CUDA kernel.

    The kernel's parameters are ``in0, in1, ...`` (the graph's inputs, in input
    order, laid out as ``layout`` says), ``out0, out1, ...`` (1-D C-contiguous arrays
    of ``n`` elements, one per output, written in C order of the broadcast shape),
    ``n`` (the number of elements, an integer) and, when some input is an N-D array,
    ``dim0 ... dim{ndim-1}`` (the broadcast shape). The source refers to the globals
    ``math``, ``np`` (NumPy) and ``cuda`` (``numba.cuda``).

    The body is written by the array plan's map-kernel writer (:class:`.arrays.Plan`
    with a :class:`.arrays.Batch`). Every value is converted to its node's dtype (``np.float64(...)`` /
    ``np.float32(...)`` on loads, float32 results are rounded to float32), so a
    float32 graph keeps float32 values between operations.

    A graph of scalar inputs and outputs holding loops or branches (``gc.scan``,
    ``gc.fori_loop``, ``gc.while_loop``, ``gc.cond``: see
    :func:`.loops.is_per_point`) is rendered with the same parameters by
    :func:`.loops.render_per_point`: each thread runs the loops for its point, as
    Python loops in the source (whose size does not grow with the trip count).

    Args:
        graph: a graph of scalar (shape ``()``) nodes, float64 or float32.
        layout, ndim: see :func:`normalize_layout` (default: every input ``flat``).
        name: the kernel function's name (a Python identifier).

    Returns:
        A :class:`KernelSource`.

    Raises:
        LoweringError: a node with a non-scalar shape (array graphs need the tensor
            lowering) outside a per-point program, or a primitive without a ``cuda``
            template.
    """
    if not name.isidentifier() or keyword.iskeyword(name):
        raise LoweringError(f"kernel name {name!r} is not an identifier")
    layout, ndim = normalize_layout(graph, layout, ndim)
    from .loops import is_per_point, render_per_point
    if is_per_point(graph):   # scalar inputs and outputs around loops: one thread a point
        return render_per_point(graph, layout, ndim, name)
    nums = graph.numbers
    for n in graph.nodes:
        if n.shape != () or not n.prim.elementwise:
            what = f"has shape {n.shape}" if n.shape != () else "is an array op"
            raise LoweringError(
                f"this renderer writes elementwise kernels of scalars; node "
                f"{_describe(n, nums)} {what}: array graphs are rendered by "
                f"graphc.backends.cuda.render_arrays(graph, sizes)")

    # the one-loop case of the array plan: one map kernel over n points
    from .arrays import Batch, Plan
    plan = Plan(graph, None, name, batch=Batch(layout, ndim))
    return plan.kernels[0].source


def _describe(n: Node, nums: dict) -> str:
    if n in nums:
        return f"v{nums[n]} ({n.prim.name})"
    return repr(n)


def missing_lowerings() -> list[str]:
    """Names of registered primitives (other than the leaves ``input``/``const``)
    that the CUDA backend cannot lower: elementwise ops without a usable template,
    array ops whose ``cuda`` key :mod:`.arrays` does not lower."""
    from ...ir import PRIMITIVES
    from .arrays import supports
    out = []
    for name, prim in PRIMITIVES.items():
        if name in ("input", "const"):
            continue
        if not prim.elementwise:
            if not supports(prim):
                out.append(name)
            continue
        if not prim.cuda:
            out.append(name)
            continue
        try:
            prim.cuda.format(*(f"a{k}" for k in range(prim.arity)),
                             **{p: "1.0" for p in prim.param_names})
        except (IndexError, KeyError):
            out.append(name)
    return out
