"""Graph-to-graph passes: clean-ups and the automatic-differentiation transforms."""

from . import ad
from .ad import grad, hessian, jacobian, jvp, value_and_grad, vjp
from .pipeline import PASSES, run_passes
from .simplify import cse, dce, fold_constants, optimize, simplify

__all__ = ["PASSES", "ad", "cse", "dce", "fold_constants", "grad", "hessian", "jacobian",
           "jvp", "optimize", "run_passes", "simplify", "value_and_grad", "vjp"]
