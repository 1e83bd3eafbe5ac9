"""The benchmark workloads of issue 4: expressions, their inputs' boxes, and the Feynman
corpus.

Every workload is value and gradient (with respect to every input) of an elementwise
expression over N points; all inputs are batched arrays drawn uniformly from a box with
a fixed seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

MIXTURE = """log(exp(-4.9324 - 0.5*(((x1 - 0.38)/0.8)^2 + ((x2 - 1.19)/1.37)^2
        + ((x3 - 0.83)/0.51)^2 + ((x4 + 0.82)/1.32)^2))
  + exp(-5.6394 - 0.5*(((x1 + 0.1)/0.95)^2 + ((x2 + 0.59)/1.02)^2
        + ((x3 + 0.66)/1.05)^2 + ((x4 + 0.74)/1.5)^2))
  + exp(-4.5238 - 0.5*(((x1 - 0.37)/1.11)^2 + ((x2 - 1.47)/0.54)^2
        + ((x3 + 0.85)/0.54)^2 + ((x4 + 1.02)/1.01)^2))
  + exp(-4.9256 - 0.5*(((x1 - 1.25)/0.75)^2 + ((x2 - 0.39)/0.51)^2
        + ((x3 - 0.04)/0.69)^2 + ((x4 + 0.01)/1.19)^2))
  + exp(-5.7613 - 0.5*(((x1 + 0.39)/0.77)^2 + ((x2 + 1.49)/1.38)^2
        + ((x3 - 0.99)/1.01)^2 + ((x4 + 1.04)/1.35)^2))
  + exp(-5.3955 - 0.5*(((x1 - 0.73)/1.37)^2 + ((x2 + 1.23)/0.86)^2
        + ((x3 - 0.12)/1.1)^2 + ((x4 - 0.02)/0.56)^2))
  + exp(-6.0501 - 0.5*(((x1 + 0.53)/1.48)^2 + ((x2 + 1.05)/1.09)^2
        + ((x3 - 0.95)/1.11)^2 + ((x4 + 0.36)/1.14)^2)))"""
"""The log-density of a mixture of seven diagonal Gaussians in four dimensions,
log Σₖ exp(log wₖ − Σᵢ log σₖᵢ − 2 log 2π − ½ Σᵢ ((xᵢ − μₖᵢ)/σₖᵢ)²), written out with
its constants (wₖ, μₖᵢ, σₖᵢ drawn once with NumPy's generator, seed 7, and rounded):
133 operations (also after graphc's clean-up passes), 263 for value and gradient."""


@dataclass(frozen=True)
class Workload:
    """One benchmark: ``source`` parsed with inputs ``variables`` sampled in
    ``[low, high]``."""

    name: str
    source: str
    variables: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    group: str = "main"

    def inputs(self, n: int, seed: int = 0) -> list[np.ndarray]:
        """``n`` points, one contiguous float64 array per variable."""
        rng = np.random.default_rng(seed)
        return [rng.uniform(lo, hi, n) for lo, hi in zip(self.low, self.high)]


MAIN = [
    Workload("baydin", "ln(x1) + x1*x2 - sin(x2)", ("x1", "x2"), (0.5, -3.0), (3.0, 3.0)),
    Workload("deisenroth", "sqrt(x^2 + exp(x^2)) + cos(x^2 + exp(x^2))", ("x",), (-1.5,),
             (1.5,)),
    Workload("regression", "(w2*sigmoid(w1*x + b1) + b2 - y)^2",
             ("x", "y", "w1", "b1", "w2", "b2"), (-2.0, -2.0, -1.0, -1.0, -1.0, -1.0),
             (2.0, 2.0, 1.0, 1.0, 1.0, 1.0)),
    Workload("mixture", MIXTURE, ("x1", "x2", "x3", "x4"), (-2.0,) * 4, (2.0,) * 4),
]
"""The workloads of the issue's table (baydin at N = 1000 is the N = 10³ row)."""


def feynman_path() -> Path:
    """The Feynman corpus: graphc's packaged copy, else ``../shared/corpus``."""
    try:
        from graphc.corpus import packaged_corpus
        p = packaged_corpus("feynman.csv")
        if p.exists():
            return p
    except Exception:  # noqa: BLE001 - fall back to the shared checkout
        pass
    return Path(__file__).resolve().parents[2] / "shared" / "corpus" / "feynman.csv"


def feynman() -> list[Workload]:
    """Every formula of the Feynman corpus as a workload (its own variable box)."""
    from graphc.corpus import read_corpus
    out = []
    for row in read_corpus(feynman_path()):
        if not row.variables or len(row.low) != len(row.variables):
            continue
        out.append(Workload(f"feynman {row.id}", row.formula, tuple(row.variables),
                            tuple(row.low), tuple(row.high), group="feynman"))
    return out
