"""Graph-to-graph passes: clean-ups, the automatic-differentiation transforms and the
lowering steps, all named in one registry (:data:`graphc.passes.pipeline.PASSES`)."""

from . import ad
from .ad import grad, hessian, jacobian, jvp, value_and_grad, vjp
from .pipeline import PASSES, Pass, run_passes
from .rewrite import decompose, specialize
from .simplify import cse, dce, fold_constants, optimize, simplify

__all__ = ["PASSES", "Pass", "ad", "cse", "dce", "decompose", "fold_constants", "grad",
           "hessian", "jacobian", "jvp", "optimize", "run_passes", "simplify", "specialize",
           "value_and_grad", "vjp"]
