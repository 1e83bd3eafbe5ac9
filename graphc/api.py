"""The public API: parse, differentiate, compile, evaluate.

This module sits on top of the layers (``ir``, ``frontend``, ``passes``, ``backends``,
``viz``) and only forwards to them; see each function's docstring for shapes and
errors. Its differentiation functions take Graphs (they are the passes);
``graphc.grad`` and the other names exported by the package come from
:mod:`graphc.transforms`, which also takes Python functions and expression strings.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .backends.numpy_interp import evaluate
from .frontend import parse
from .ir import BackendUnavailableError, Graph, GraphcError
from .ir.custom import inline_custom
from .passes import (decompose, grad, hessian, jacobian, jvp, optimize, run_passes,
                     value_and_grad, vjp)

TARGETS = ("llvm", "numpy", "cuda")


def compile(graph: Graph, target: str = "llvm", *, optimize_graph: bool = True,
            shapes: Mapping[str, Sequence[int]] | None = None, **options: Any):
    """Compile ``graph`` to a callable kernel.

    When compilation happens: the graph passes (inlining, decomposition, clean-up) run
    here; machine code is generated (or loaded from the caches) on the first call for
    each new binding of the graph's symbolic sizes (array graphs) or each pattern of
    scalar and array inputs (elementwise graphs: any batch size N, no recompilation).
    With ``shapes`` the code for those input shapes is generated now, so the first
    call costs only the call.

    Args:
        graph: any graph (from :func:`parse`, :func:`value_and_grad`, ...); also an
            expression string (parsed with :func:`parse`'s defaults) or anything with
            a Graph as its ``graph`` attribute (a :class:`~graphc.Function` from
            ``@gc.function``, a transformed function such as ``gc.grad(f)``).
        target: ``"llvm"`` (CPU machine code through llvmlite, the default),
            ``"numpy"`` (the reference interpreter) or ``"cuda"`` (GPU kernels through
            Numba; needs ``pip install graphc[cuda]``).
        optimize_graph: run the clean-up passes (:func:`graphc.optimize`) first.
        shapes: ``{input name: shape}`` of the arrays the first call will pass (every
            input of an array graph with symbolic sizes; inputs left out count as
            scalars): compile for them now ("llvm", "cuda"; "numpy" only checks them).
        **options: backend options (see the backend's ``compile``).

    Returns:
        A kernel: call it with the graph's inputs by position or keyword (NumPy arrays
        or scalars, broadcast like a ufunc); it returns the outputs arranged like
        ``graph.structure``, e.g. ``f, (df/dx1, df/dx2)`` for ``value_and_grad``. The
        ``"llvm"`` and ``"numpy"`` kernels also take ``out=`` (arrays arranged like the
        result), which may overlap the inputs: the result is then NumPy's ufunc result
        (see docs/limits.md).

    Raises:
        GraphcError: unknown target.
        InputError: ``shapes`` names an unknown input or a shape the graph's declared
            shapes do not accept.
        BackendUnavailableError: the target's dependencies are missing.
    """
    kernel = _compile(graph, target, optimize_graph, options)
    if shapes is not None:
        _compile_for(kernel, shapes)
    return kernel


def _compile_for(kernel: Any, shapes: Mapping[str, Sequence[int]]) -> None:
    """Generate ``kernel``'s code for inputs of ``shapes`` now (see :func:`compile`)."""
    from .ir import InputError
    from .ir.shapes import bind, is_array_graph
    g = kernel.graph
    unknown = sorted(set(shapes) - set(g.input_names))
    if unknown:
        raise InputError(f"compile(shapes=...): no input {', '.join(map(repr, unknown))}; "
                         f"the inputs are {', '.join(g.input_names)}")
    try:
        dims = [tuple(int(d) for d in shapes.get(x.name, ())) for x in g.inputs]
    except (TypeError, ValueError):
        raise InputError("compile(shapes=...) takes {input name: tuple of ints}") from None
    if is_array_graph(g):
        env = bind(g, [np.empty(d) for d in dims])
        if hasattr(kernel, "warm_up"):
            kernel.warm_up(**env)
        elif hasattr(kernel, "program"):
            kernel.program(env)
    elif hasattr(kernel, "warm_up"):
        kernel.warm_up(tuple(d == () for d in dims))


def _compile(graph: Graph, target: str, optimize_graph: bool, options: dict):
    if isinstance(graph, str):
        graph = parse(graph)
    elif not isinstance(graph, Graph) and isinstance(getattr(graph, "graph", None), Graph):
        graph = graph.graph  # gc.function's Function, a transformed function
    if not isinstance(graph, Graph):
        raise GraphcError(f"compile() takes a graphc.Graph, an expression string or a "
                          f"function with a .graph (@gc.function, gc.grad(f)), got "
                          f"{type(graph).__name__}")
    graph = inline_custom(graph)  # gc.custom_jvp/custom_vjp bodies: registered ops only
    graph = expand_unlowered(graph, target)
    if optimize_graph:
        graph = optimize(graph)
    if target == "llvm":
        try:
            from .backends import llvm
        except ImportError as exc:  # pragma: no cover - llvmlite is a core dependency
            raise BackendUnavailableError(f"the LLVM backend needs llvmlite ({exc}); "
                                          f"pip install llvmlite") from None
        return llvm.compile(graph, **options)
    if target == "numpy":
        from .backends.numpy_interp import NumpyKernel
        return NumpyKernel(graph)
    if target == "cuda":
        try:
            from .backends import cuda
        except ImportError as exc:
            raise BackendUnavailableError(
                f"the CUDA target needs Numba's CUDA support ({exc}); "
                f"install it with: pip install 'graphc[cuda]'") from None
        return cuda.compile(graph, **options)
    raise GraphcError(f"unknown target {target!r}; targets are {', '.join(TARGETS)}")


def expand_unlowered(graph: Graph, target: str) -> Graph:
    """``graph`` with every elementwise op that names no lowering for ``target`` (its
    record's ``llvm`` or ``cuda`` field is None) but has a ``decompose`` rule replaced
    by that rule's expansion (:func:`graphc.passes.decompose`), so that such an op
    needs no backend code: ``gc.compile`` calls this before lowering. Other targets
    (``"numpy"`` runs every record's ``impl``) and other graphs come back unchanged.

    Args:
        graph: any graph.
        target: a name of :data:`TARGETS`.
    """
    if target not in ("llvm", "cuda"):
        return graph
    names = {n.prim.name for n in graph.nodes
             if n.prim.elementwise and n.prim.decompose is not None
             and getattr(n.prim, target, None) is None}
    return decompose(graph, names) if names else graph


def clear_cache() -> int:
    """Empty the caches of compiled kernels of every backend: the LLVM backend's
    in-memory and on-disk caches (:func:`graphc.backends.llvm.clear_cache`) and, when
    the CUDA backend has been imported, its cache of compiled functions, dispatchers
    and array programs (:func:`graphc.backends.cuda.clear_cache`; never imports
    Numba). Kernels already compiled keep working.

    Returns:
        The number of on-disk LLVM cache files removed.
    """
    import sys
    from .backends.llvm import clear_cache as clear_llvm
    cuda_jit = sys.modules.get("graphc.backends.cuda.jit")
    if cuda_jit is not None:
        cuda_jit.clear_cache()
    return clear_llvm()


__all__ = ["TARGETS", "clear_cache", "compile", "evaluate", "grad", "hessian", "jacobian", "jvp", "optimize",
           "parse", "run_passes", "value_and_grad", "vjp"]
