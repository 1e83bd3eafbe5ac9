"""Golden-file helper for the viz tests.

Golden files live in tests/viz/golden/. Regenerate them after an intended change with

    GRAPHC_REGEN_GOLDEN=1 python3 -m pytest tests/viz -q -p no:cacheprovider

and review the diff before committing. A missing golden file is a failure (never
created silently), so a test cannot pass by writing its own expectation.
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("GRAPHC_REGEN_GOLDEN", "") not in ("", "0")

# The textbook examples every viz test file uses.
BAYDIN = "ln(x1) + x1*x2 - sin(x2)"
BAYDIN_AT = {"x1": 2, "x2": 5}
DEISENROTH = "sqrt(x^2 + exp(x^2)) + cos(x^2 + exp(x^2))"
DEISENROTH_AT = {"x": 2}
REGRESSION = "u = w1*x + b1; h = relu(u); F = w2*h + b2; l = (F - y)^2"
REGRESSION_AT = {"w1": 5, "w2": -1, "b1": 0, "b2": 1, "x": 3, "y": -12}


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with golden/``name`` (or rewrite it when regenerating)."""
    from helpers import check_golden as check
    check(GOLDEN / name, text)
