"""Layer (a): run the simulator cases (``cuda_sim_cases.py`` for scalar graphs,
``cuda_sim_array_cases.py`` for array graphs) in their own process.

``NUMBA_ENABLE_CUDASIM=1`` has to be set before Numba is first imported, and a process
running the simulator cannot generate PTX, so the cases run in a child pytest.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _cuda_helpers import run_simulator_cases  # noqa: E402


@pytest.mark.parametrize("cases", ["cuda_sim_cases.py", "cuda_sim_array_cases.py"])
def test_simulator_cases_pass(cases):
    run_simulator_cases(cases)
