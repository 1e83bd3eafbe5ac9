"""Layer (a): run the simulator cases (``cuda_sim_cases.py`` for scalar graphs,
``cuda_sim_array_cases.py`` for array graphs) in their own process.

``NUMBA_ENABLE_CUDASIM=1`` has to be set before Numba is first imported, and a process
running the simulator cannot generate PTX, so the cases run in a child pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _cuda_helpers import REQUIRE_TOOLS, ROOT, has_module  # noqa: E402


@pytest.mark.parametrize("cases", ["cuda_sim_cases.py", "cuda_sim_array_cases.py"])
def test_simulator_cases_pass(cases):
    if not has_module("numba") or not has_module("numba.cuda"):
        if REQUIRE_TOOLS:
            pytest.fail("numba-cuda is not installed (GRAPHC_CUDA_TOOLCHAIN=required)")
        pytest.skip("numba-cuda is not installed: pip install 'graphc[cuda]'")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(HERE / cases), "-q",
         "-p", "no:cacheprovider", "-o", "addopts=", "-W", "ignore::DeprecationWarning"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, f"simulator cases {cases} failed:\n{tail}"
    last = proc.stdout.strip().splitlines()[-1]
    assert " passed" in last and "skipped" not in last and "failed" not in last, tail
