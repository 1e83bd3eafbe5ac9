"""Bridges to the libraries researchers already use.

* :mod:`graphc.interop.sympy`: graphs to SymPy expressions and back.
* :mod:`graphc.interop.scipy`: value, gradient and Hessian callbacks for
  ``scipy.optimize.minimize``.
* :mod:`graphc.interop.latex`: LaTeX for graphs (Jupyter's ``_repr_latex_``).
* :mod:`graphc.interop.dask`: compiled kernels applied chunk by chunk to Dask arrays.

Each bridge imports its library lazily: ``import graphc`` never needs SymPy, SciPy or
Dask, and calling a bridge without its library raises
:class:`~graphc.BackendUnavailableError` with the ``pip install`` line.
"""

from .dask import dask_map
from .latex import to_latex
from .scipy import scipy_objective
from .sympy import from_sympy, to_sympy

__all__ = ["dask_map", "from_sympy", "scipy_objective", "to_latex", "to_sympy"]
