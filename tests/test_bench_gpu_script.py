"""benchmarks/gpu.py: without a GPU it says so and exits 2; its report formats rows
(the timings themselves need an NVIDIA GPU and are recorded in benchmarks/GPU.md)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_benchmark_refuses_clearly_without_a_gpu():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the benchmark would run")
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--out", "-"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "needs a CUDA GPU" in r.stderr


def test_gpu_report_marks_wrong_results_and_ratios():
    pytest.importorskip("torch")
    pytest.importorskip("numba")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gpu
    finally:
        sys.path.pop(0)
    rows = [{"workload": "baydin", "n": 10 ** 6, "peer": "graphc (CUDA)", "diff": 1e-16,
             "run_s": 2e-4},
            {"workload": "baydin", "n": 10 ** 6, "peer": "JAX", "diff": 1e-3, "run_s": 1e-4}]
    text = gpu.report(rows, "python benchmarks/gpu.py", 1.0)
    lines = [ln for ln in text.splitlines() if ln.startswith("| baydin")]
    assert "| 1.00 |" in lines[0] and "| 0.50 |" in lines[1]
    assert "(wrong)" in lines[1] and "(wrong)" not in lines[0]
