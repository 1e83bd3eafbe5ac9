"""benchmarks/loops.py (issue 14 part 7): at --quick sizes every peer's CNN step and ODE
gradient agree and the report has a row for each; the ODE it defines is the plain
NumPy RK4 loop (value and a central difference)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import load_module

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "loops.py"


def _module():
    return load_module(SCRIPT, "bench_loops")


def test_ode_graph_is_the_numpy_rk4_loop():
    """graphc's scan formulation (NumPy interpreter) against the benchmark's NumPy loop:
    the loss, and d/da[3], d/dy0[7] by central differences of the NumPy loop."""
    m = _module()
    T = 30
    args = m.ode_args()
    loss, grads = m.ode_reference(T, args)
    assert loss == pytest.approx(m.ode_numpy(**args, T=T), rel=1e-12)
    for name, i, g in (("a", 3, grads[1]), ("y0", 7, grads[0])):
        e = 1e-6
        hi, lo = dict(args), dict(args)
        hi[name] = args[name].copy()
        lo[name] = args[name].copy()
        hi[name][i] += e
        lo[name][i] -= e
        fd = (m.ode_numpy(**hi, T=T) - m.ode_numpy(**lo, T=T)) / (2 * e)
        assert g[i] == pytest.approx(fd, rel=1e-6, abs=1e-9)


@pytest.mark.slow
def test_quick_run_has_every_peer_and_all_agree():
    pytest.importorskip("jax")
    pytest.importorskip("torch")
    # --torch-limit 0: PyTorch runs the first T, is skipped at the second (its row says so)
    r = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", "-",
                        "--torch-limit", "0"], capture_output=True, text=True, timeout=300,
                       cwd=ROOT, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    text = r.stdout
    assert not [ln for ln in text.splitlines() if ln.startswith("|") and "✗" in ln]
    cnn = [ln for ln in text.splitlines() if re.match(r"\| 4 \|", ln)]
    assert len(cnn) == 1 and cnn[0].count("µs") + cnn[0].count("ms") >= 3, cnn
    rows = {ln.split("|")[1].strip(): ln for ln in text.splitlines()
            if ln.startswith(("| graphc ", "| jax ", "| pytorch "))}
    assert set(rows) == {"graphc auto", "graphc sqrt", "graphc all", "jax", "pytorch"}
    m = _module()
    T1 = m.QUICK_STEPS[0]
    for name, ln in rows.items():
        cells = [c.strip() for c in ln.split("|")[2:-1]]
        assert len(cells) == 2, ln
        if name == "pytorch":
            assert re.search(r"[\d.]+ (ms|s|µs)", cells[0]) and "skipped" in cells[1], ln
        else:
            assert all(re.match(r"[\d.]+ (ms|s|µs)", c) for c in cells), ln
    # the reported loss is the plain NumPy loop's
    loss = re.search(r"Loss values: ([\d.e+-]+) at T", text)
    assert float(loss.group(1)) == pytest.approx(m.ode_numpy(**m.ode_args(), T=T1),
                                                 rel=1e-9)
    # compile times of the three policies (with their scan-node counts) and of JAX
    assert re.search(r"\| 10² \| ([\d.]+ (ms|s) \(\d+\) \| ){3}[\d.]+ (ms|s) \| ", text), text
