"""The Burgers PINN example (examples/pinn_burgers.py) and its benchmark (benchmarks/pinn.py).

Ground truth from outside graphc: PyTorch's autograd (float64, ``create_graph=True`` for
the input derivatives), the hand-derived NumPy loss checked against it, and central
finite differences of that NumPy loss. Each of graphc's three formulations (nested
``gc.jvp``, nested ``gc.grad``, derivatives by hand in ``graphc.numpy``) is checked at
a tiny size and three seeds; each formulation's kernel is compiled once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import pinn_burgers as pb  # noqa: E402

torch = pytest.importorskip("torch")

FORMULATIONS = {"jvp": pb.VALUE_AND_GRAD, "grad-in-grad": pb.VALUE_AND_GRAD_REVERSE,
                "by-hand": pb.VALUE_AND_GRAD_BY_HAND}
# one size (each new concrete size compiles a kernel, ~1-3 s here), three seeds
CASES = [(4, 16, seed) for seed in (0, 1, 2)]


def _vg(name):
    return FORMULATIONS[name]


def _point(H, N, seed):
    """Random weights (not the init's zero biases) and data."""
    rng = np.random.default_rng(100 + seed)
    P = {k: np.asarray(v + rng.normal(0.0, 0.4, np.shape(v)), dtype=np.float64)
         for k, v in pb.init_params(H, seed).items()}
    return P, pb.make_data(N, seed)


def _torch_loss_and_grad(P, data):
    """The same loss in PyTorch (autograd for u_x, u_t, u_xx and for the weights)."""
    p = [torch.tensor(np.asarray(P[k]), dtype=torch.float64, requires_grad=True)
         for k in pb.PARAMS]
    x, t, xd, td, ud = (torch.tensor(a, dtype=torch.float64) for a in data)
    x.requires_grad_(True)
    t.requires_grad_(True)

    def net(x, t):
        W1, b1, W2, b2, W3, b3 = p
        h = torch.tanh(W1[:, 0:1] * x + W1[:, 1:2] * t + b1)
        return W3 @ torch.tanh(W2 @ h + b2) + b3

    u = net(x, t)
    u_x, u_t = torch.autograd.grad(u.sum(), (x, t), create_graph=True)
    u_xx, = torch.autograd.grad(u_x.sum(), x, create_graph=True)
    r = u_t + u * u_x - pb.NU * u_xx
    m = net(xd, td) - ud
    loss = (r * r).mean() + (m * m).mean()
    grads = torch.autograd.grad(loss, p)
    return float(loss.detach()), [g.detach().numpy() for g in grads]


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300))


@pytest.mark.parametrize("H,N,seed", CASES)
def test_numpy_reference_matches_pytorch(H, N, seed):
    """The hand-derived NumPy loss (the finite-difference reference) is PyTorch's."""
    P, data = _point(H, N, seed)
    ref, _ = _torch_loss_and_grad(P, data)
    assert abs(pb.numpy_loss(P, *data) - ref) <= 1e-12 * abs(ref)


@pytest.mark.parametrize("H,N,seed", CASES)
@pytest.mark.parametrize("name", list(FORMULATIONS))
def test_loss_and_gradient_match_pytorch(name, H, N, seed):
    """Loss and all six weight gradients of the compiled step agree with PyTorch's
    autograd to 1e-10 relative (max-abs over each array, scaled by its max-abs)."""
    P, data = _point(H, N, seed)
    ref_loss, ref_grads = _torch_loss_and_grad(P, data)
    v, g = _vg(name)(*[P[k] for k in pb.PARAMS], *data)
    assert abs(float(v) - ref_loss) <= 1e-10 * abs(ref_loss)
    for k, r in zip(pb.PARAMS, ref_grads):
        got = np.asarray(getattr(g, k), dtype=float).reshape(np.shape(r))
        assert _rel(got, r) <= 1e-10, (name, k, _rel(got, r))


@pytest.mark.parametrize("name", list(FORMULATIONS))
def test_gradient_matches_central_differences(name):
    """Three random entries of each weight: the compiled gradient against central
    differences of the NumPy loss (step 1e-6; truncation and rounding ~1e-9)."""
    H, N = 4, 16
    P, data = _point(H, N, 7)
    _, g = _vg(name)(*[P[k] for k in pb.PARAMS], *data)
    rng = np.random.default_rng(3)
    h = 1e-6
    for k in pb.PARAMS:
        base = np.asarray(P[k], dtype=float)
        for _ in range(3 if base.ndim else 1):
            idx = tuple(int(rng.integers(0, d)) for d in base.shape)
            e = np.zeros_like(base)
            e[idx] = h
            fd = (pb.numpy_loss(dict(P, **{k: base + e}), *data)
                  - pb.numpy_loss(dict(P, **{k: base - e}), *data)) / (2 * h)
            got = float(np.asarray(getattr(g, k))[idx])
            assert abs(got - fd) <= 1e-6 * max(abs(fd), 1e-2), (name, k, idx, got, fd)


def test_interpreter_matches_kernel():
    """graphc's NumPy interpreter (the benchmark's reference) gives the LLVM kernel's
    values."""
    P, data = _point(4, 16, 0)
    v1, g1 = pb.value_and_grad(P, data)
    v2, g2 = pb.value_and_grad(P, data, target="numpy")
    assert abs(v1 - v2) <= 1e-12 * abs(v2)
    assert all(_rel(g1[k], g2[k]) <= 1e-12 for k in pb.PARAMS)


def test_example_trains_at_tiny_size(capsys):
    """``main`` runs end to end (gradient check, 3 Adam steps, H = 4, N = 16), the
    loss stays finite and the summary line is printed; Adam lowers the loss over 30
    steps."""
    assert pb.main(["--steps", "3", "--H", "4", "--N", "16"]) == 0
    out = capsys.readouterr().out
    assert "3 steps in" in out and "max rel diff" in out
    losses = pb.train(4, 16, 30, lr=1e-2)
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_benchmark_checks_every_peer_at_tiny_size(tmp_path):
    """benchmarks/pinn.py's worker at H = 4, N = 16: every peer present agrees with
    graphc's interpreter to 1e-9 and the report has a row with a ratio per peer."""
    import pinn as bench
    out = tmp_path / "r.jsonl"
    bench.worker(1, [(4, 16)], str(out), budget=0.01)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    results = [r for r in records if r["kind"] == "result"]
    peers = {r["peer"] for r in results}
    assert {"graphc", "graphc grad-in-grad", "graphc by hand", "pytorch"} <= peers
    assert all(r["ok"] for r in results), [(r["peer"], r["diff"]) for r in results]
    text = bench.report(records, "test")
    row = next(line for line in text.splitlines() if line.startswith("| 4 | 16 |"))
    assert row.count("(") == len(peers) - 1 and "✗" not in row
