"""SciPy interop: compiled value-and-gradient, Hessian and Hessian-vector product
callbacks for :func:`scipy.optimize.minimize`.

A graph with one scalar output ``f(x1, ..., xn)`` is an objective over the vector
``x = (x1, ..., xn)``. :func:`scipy_objective` compiles, once:

* ``fun_and_grad(x) -> (f, ∇f)``: reverse mode (one adjoint sweep), for ``jac=True``;
* ``hess(x) -> ∇²f`` (n×n): forward over reverse (Griewank & Walther 2008, §5.4),
  for Newton-type methods (``trust-exact``, ``trust-krylov``, ``Newton-CG``...);
* ``hessp(x, p) -> ∇²f·p``: one forward sweep over the gradient graph, without forming
  the matrix, for ``Newton-CG``/``trust-ncg``/``trust-krylov`` with ``hessp=``.

::

    fg, hess = gc.scipy_objective(gc.parse("100*(x2 - x1^2)^2 + (1 - x1)^2"))
    scipy.optimize.minimize(fg, [-1.2, 1.0], jac=True, hess=hess, method="trust-exact")

SciPy is not imported by this module: the callbacks take and return NumPy arrays.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np

from ..ir import Graph, GraphcError


class _Callbacks:
    """The compiled kernels behind a :class:`ScipyObjective`, built on first use, with
    evaluation counters (``nfev``, ``nhev``, ``nhvp``)."""

    def __init__(self, graph: Graph, wrt: Sequence[str] | None, fixed: Mapping[str, Any],
                 target: str):
        if len(graph.outputs) != 1 or graph.outputs[0].shape != ():
            raise GraphcError(f"scipy_objective needs a graph with one scalar output; this "
                              f"one has outputs {', '.join(graph.output_names)}")
        self.graph = graph
        self.wrt = list(graph.input_names if wrt is None else wrt)
        unknown = [n for n in list(self.wrt) + list(fixed) if n not in graph.input_names]
        if unknown:
            raise GraphcError(f"unknown input(s) {', '.join(unknown)}; the graph's inputs "
                              f"are {', '.join(graph.input_names)}")
        missing = [n for n in graph.input_names if n not in self.wrt and n not in fixed]
        if missing:
            raise GraphcError(f"input(s) {', '.join(missing)} are neither optimised (wrt) "
                              f"nor given a value (fixed=)")
        self.fixed = dict(fixed)
        self.target = target
        self.n = len(self.wrt)
        self._vg = self._h = self._hvp = self._f = None
        self._tangent_names: list[str] = []
        self.nfev = self.nhev = self.nhvp = 0

    # -- kernels, compiled on first use -------------------------------------------
    def _compile(self, graph: Graph):
        from ..api import compile as compile_graph
        return compile_graph(graph, self.target)

    def _bind(self, x) -> dict[str, Any]:
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if x.shape[0] != self.n:
            raise GraphcError(f"expected a vector of {self.n} values "
                              f"({', '.join(self.wrt)}), got {x.shape[0]}")
        kw = dict(self.fixed)
        kw.update(zip(self.wrt, x))
        return kw

    def fun(self, x) -> float:
        """``f(x)`` alone (for methods or comparisons without derivatives)."""
        if self._f is None:
            self._f = self._compile(self.graph)
        self.nfev += 1
        return float(self._f(**self._bind(x)))

    def fun_and_grad(self, x) -> tuple[float, np.ndarray]:
        """``(f(x), ∇f(x))`` for ``minimize(..., jac=True)``; shapes ``()`` and ``(n,)``."""
        if self._vg is None:
            from ..passes import value_and_grad
            self._vg = self._compile(value_and_grad(self.graph, self.wrt))
        self.nfev += 1
        f, g = self._vg(**self._bind(x))
        return float(f), np.array(g, dtype=np.float64).reshape(self.n)

    def jac(self, x) -> np.ndarray:
        """``∇f(x)``, shape ``(n,)``."""
        return self.fun_and_grad(x)[1]

    def hess(self, x) -> np.ndarray:
        """``∇²f(x)``, shape ``(n, n)``, symmetric."""
        if self._h is None:
            from ..passes import hessian
            self._h = self._compile(hessian(self.graph, self.wrt))
        self.nhev += 1
        return np.array(self._h(**self._bind(x)), dtype=np.float64).reshape(self.n, self.n)

    def hessp(self, x, p) -> np.ndarray:
        """``∇²f(x)·p`` without forming the Hessian, shape ``(n,)``."""
        if self._hvp is None:
            from ..passes import grad, jvp
            g = grad(self.graph, self.wrt)
            hv = jvp(g, self.wrt)
            self._tangent_names = list(hv.input_names[len(g.inputs):])
            self._hvp = self._compile(hv)
        p = np.asarray(p, dtype=np.float64).reshape(-1)
        if p.shape[0] != self.n:
            raise GraphcError(f"hessp: direction has {p.shape[0]} values, expected {self.n}")
        kw = self._bind(x)
        kw.update(zip(self._tangent_names, p))
        self.nhvp += 1
        _, hp = self._hvp(**kw)
        return np.array(hp, dtype=np.float64).reshape(self.n)


class ScipyObjective(NamedTuple):
    """``(fun_and_grad, hess)`` for ``minimize(fun_and_grad, x0, jac=True, hess=hess)``.

    Unpacks as a pair; the other callbacks are attributes: ``fun``, ``jac``, ``hessp``,
    and ``callbacks`` (with the counters ``nfev``, ``nhev``, ``nhvp``).
    """

    fun_and_grad: Callable[[Any], tuple[float, np.ndarray]]
    hess: Callable[[Any], np.ndarray]

    @property
    def callbacks(self) -> _Callbacks:
        return self.fun_and_grad.__self__  # type: ignore[attr-defined]

    @property
    def fun(self) -> Callable[[Any], float]:
        return self.callbacks.fun

    @property
    def jac(self) -> Callable[[Any], np.ndarray]:
        return self.callbacks.jac

    @property
    def hessp(self) -> Callable[[Any, Any], np.ndarray]:
        return self.callbacks.hessp


def scipy_objective(graph: Graph, wrt: Sequence[str] | None = None, *,
                    fixed: Mapping[str, Any] | None = None,
                    target: str = "llvm") -> ScipyObjective:
    """Callbacks for :func:`scipy.optimize.minimize` from a scalar graph.

    Args:
        graph: a graph with one scalar output (``gc.parse``, ``gc.function(...).graph``,
            ``gc.from_sympy``...).
        wrt: the inputs forming the vector ``x``, in order (default: all inputs).
        fixed: values of the other inputs (parameters held constant).
        target: backend of the kernels (``"llvm"`` default, ``"numpy"``).

    Returns:
        A :class:`ScipyObjective`: ``fun_and_grad, hess = scipy_objective(g)``; also
        ``.fun``, ``.jac``, ``.hessp``. Kernels compile on first call.

    Raises:
        GraphcError: more than one output or a non-scalar output, unknown names, or
            an input that is neither in ``wrt`` nor ``fixed``; a wrong-length vector at
            call time.
    """
    cb = _Callbacks(graph, wrt, fixed or {}, target)
    return ScipyObjective(cb.fun_and_grad, cb.hess)


__all__ = ["ScipyObjective", "scipy_objective"]
