"""The GradBench tests import graphc's tool from ``benchmarks/gradbench`` (not a
package): put that folder on ``sys.path``."""

from __future__ import annotations

import sys
from pathlib import Path

_TOOL_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "gradbench"
if str(_TOOL_DIR) not in sys.path:
    sys.path.insert(0, str(_TOOL_DIR))
