"""The loop examples of issue 14, part 6, at CI size, and loops in diagrams.

* ``examples/rk4_pendulum.py``: RK4 of a damped pendulum in ``gc.scan``; its gradient
  against central differences of an independent NumPy RK4 and against SciPy's
  ``solve_ivp`` forward sensitivities (differing by RK4's O(h^4) error, checked by
  halving h), and a BFGS fit with graphc's gradient as ``jac``.
* ``examples/lstm_chars.py``: a character LSTM in ``gc.scan``; loss and every gradient
  entry against ``torch.nn.LSTM`` (float64) with the same weights; a short Adam run.
* Diagrams: every primitive of ``HIGHER_ORDER`` (scan, while_loop, switch; both
  dtypes, from the registry's examples) draws each body once, in a cluster captioned
  with its trip count and checkpoint policy, that Graphviz lays out; a golden DOT file
  of a traced loop (``tests/viz/golden/loop_scan_euler.dot``, regenerate with
  ``GRAPHC_REGEN_GOLDEN=1``).
"""

import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import graphc as gc  # noqa: E402
from graphc.ir import apply, ops  # noqa: E402
from graphc.ir import control_flow as cf  # noqa: E402
from graphc.ir.primitive import HIGHER_ORDER  # noqa: E402
from graphc.viz import graph_to_dot, render_dot  # noqa: E402
from graphc.viz.dot import loop_captions  # noqa: E402

GOLDEN = Path(__file__).resolve().parents[1] / "viz" / "golden"
HAVE_DOT = shutil.which("dot") is not None

# -- RK4 pendulum ----------------------------------------------------------------------


def test_rk4_pendulum_gradient_matches_differences_and_solve_ivp_sensitivities():
    pytest.importorskip("scipy")
    import rk4_pendulum as rk
    r = rk.check_gradient(steps=100, h=0.05)
    assert r["value_vs_numpy"] < 1e-13
    assert r["fd"] < 1e-7           # central differences, eps 1e-5: ~6e-10 measured
    # the continuous model's derivative differs from the RK4 loss's by O(h^4):
    assert r["ode_h"] < 1e-3        # ~9e-5 measured at h = 0.05
    assert 8.0 < r["ratio"] < 32.0  # halving h: ~15 (16 for a fourth-order method)


@pytest.mark.parametrize("policy", ["sqrt", 7, "recursive"])
def test_rk4_pendulum_gradient_is_the_same_under_every_checkpoint_policy(policy):
    pytest.importorskip("scipy")
    import rk4_pendulum as rk
    data = rk.observations(60, 0.05)
    want = rk.graphc_gradient(data, 0.05, checkpoint="all")(8.0, 0.5)
    got = rk.graphc_gradient(data, 0.05, checkpoint=policy)(8.0, 0.5)
    assert float(got[0]) == float(want[0])
    assert (float(got[1].a), float(got[1].c)) == (float(want[1].a), float(want[1].c))


def test_rk4_pendulum_fit_recovers_the_parameters():
    pytest.importorskip("scipy")
    import rk4_pendulum as rk
    res = rk.fit(steps=100, h=0.05)
    assert res.success or res.fun < 1e-10
    # data: the exact ODE solution; model: RK4 at h = 0.05, so a small bias remains
    np.testing.assert_allclose(res.x, rk.TRUE, rtol=1e-4)


# -- character LSTM --------------------------------------------------------------------


@pytest.mark.parametrize("hidden,chars,seed", [(16, 40, 0), (20, 25, 1), (3, 12, 2)])
def test_lstm_chars_loss_and_gradients_match_pytorch(hidden, chars, seed):
    pytest.importorskip("torch")
    import lstm_chars as lc
    r = lc.check_against_torch(hidden, chars, seed)
    assert r["loss"] < 1e-12
    assert r["grads"] < 1e-10, r["per_weight"]


@pytest.mark.slow
def test_both_examples_agree_on_the_llvm_backend():
    """The same checks with the loops compiled by LLVM (about 5-15 s of compiling on
    the 2-core test machine, hence slow)."""
    pytest.importorskip("torch")
    pytest.importorskip("scipy")
    import lstm_chars as lc
    import rk4_pendulum as rk
    r = lc.check_against_torch(16, 40, 0, target="llvm")
    assert r["loss"] < 1e-12 and r["grads"] < 1e-10, r["per_weight"]
    p = rk.check_gradient(steps=100, h=0.05, target="llvm")
    assert p["value_vs_numpy"] < 1e-12 and p["fd"] < 1e-7 and 8.0 < p["ratio"] < 32.0


def test_lstm_chars_trains():
    import lstm_chars as lc
    _params, losses, _secs = lc.train(hidden=16, chars=60, steps=20, lr=0.02)
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.75 * losses[0]


# -- loops in diagrams -----------------------------------------------------------------

CASES = [(p, i) for p in HIGHER_ORDER.values() for i in range(len(p.examples))]


def _example(prim, i):
    (shape,), params = prim.examples[i]
    b = next(v for k, v in params.items() if k in ("body", "branches"))
    dtype = (b[0] if isinstance(b, tuple) else b).inputs[0].dtype
    node = apply(prim, ops.variable("a", dtype, shape), **params)
    return gc.Graph([node.args[0]], [node]), node


def _cluster_blocks(dot: str) -> dict[str, list[str]]:
    """``{cluster name: its lines}`` (nested clusters' lines included)."""
    out: dict[str, list[str]] = {}
    lines = dot.splitlines()
    for k, line in enumerate(lines):
        m = re.match(r"(\s*)subgraph (cluster_\S+) \{$", line)
        if m:
            ind = m.group(1)
            end = next(j for j in range(k + 1, len(lines)) if lines[j] == ind + "}")
            out[m.group(2)] = lines[k + 1:end]
    return out


@pytest.mark.parametrize("case", CASES, ids=[f"{p.name}-{i}" for p, i in CASES])
def test_every_loop_primitive_draws_each_body_once_captioned(case):
    prim, i = case
    g, node = _example(prim, i)
    caps = loop_captions(node)
    assert [b for b, _ in caps] == cf.bodies(node)  # every body, in parameter order
    p = dict(node.params)
    if prim.name == "scan":
        assert f"× {p['length']} steps" in caps[0][1] and p["checkpoint"] in caps[0][1]
    elif prim.name == "while_loop":
        assert f"at most {p['max_steps']} steps" in caps[0][1]
    else:
        assert [c for _, c in caps] == [f"switch branch {k} of {len(p['branches'])}"
                                        for k in range(len(p["branches"]))]
    dot = graph_to_dot(g, rankdir="LR")
    blocks = _cluster_blocks(dot)
    assert len(blocks) == len(caps)
    for (body, caption), lines in zip(caps, blocks.values()):
        assert caption in lines[0]
        bg = body.graph
        # the body's operations, inputs and outputs exactly once (not per step)
        ops_in = [ln for ln in lines if re.match(r"\s*vm?\d+_b\d+_vm?\d+ \[label=", ln)]
        assert len(ops_in) == len(bg.inputs) + len(bg.operations)
        for x in bg.inputs:
            assert sum(f"<B>{_sub_name(bg, x)}" in ln for ln in ops_in) >= 1
    assert "compound=true" in dot
    flat = graph_to_dot(g, rankdir="LR", loop_bodies=False)
    assert "subgraph" not in flat and "compound" not in flat
    if HAVE_DOT:
        assert render_dot(dot, "svg").count(b'class="cluster"') == len(caps)
    # the reverse trace of sum(loop): the loop's local partial is a whole reverse loop;
    # its edge label stays short enough for Graphviz (16,384 characters per HTML label)
    from graphc.ir import array_ops
    a = g.inputs[0]
    sg = gc.Graph([a], [array_ops.sum(node)])
    x = np.random.default_rng(i).uniform(*prim.domain[0], a.shape)
    tr = gc.trace(sg, {"a": x.astype(a.dtype)}, mode="rev")
    for view in ("adjoint", "combined"):
        d = tr.to_dot(view, rankdir="LR")
        assert len(_cluster_blocks(d)) == len(caps)
        assert max(len(ln) for ln in d.splitlines()) < 4000
        if HAVE_DOT:
            render_dot(d, "svg")


def _sub_name(graph, x):
    from graphc.viz import notation as nt
    return f"{nt.var(graph.numbers[x]).text}  {nt.name(x.name).text}"


def _euler_loss(b, k):
    def step(s, _):
        th, om = s
        return (th + 0.1 * om, om - 0.1 * (b * om + k * gc.sin(th))), None
    (th, om), _ = gc.scan(step, (1.0, 0.0), length=50, checkpoint="sqrt")
    return th * th + 0.5 * om * om


def test_traced_loop_diagram_golden_and_trace_views():
    from helpers import check_golden
    from graphc.frontend.tracer import trace
    g = trace(_euler_loss)
    dot = graph_to_dot(g, rankdir="LR")
    check_golden(GOLDEN / "loop_scan_euler.dot", dot)
    assert dot.count("scan body (drawn once) × 50 steps; checkpoint sqrt") == 1
    # every trace view draws the cluster too (the body in the graph view, no values)
    tr = gc.trace(g, {"b": 0.3, "k": 2.0}, mode="rev")
    for view in ("primal", "adjoint", "combined"):
        d = tr.to_dot(view)
        assert len(_cluster_blocks(d)) == 1
        if HAVE_DOT:
            render_dot(d, "svg")
    # the gradient graph: its reverse scan and the forward scan each get a cluster
    dg = gc.grad(g)
    blocks = _cluster_blocks(graph_to_dot(dg, rankdir="LR"))
    n_loops = sum(len(cf.bodies(n)) for n in dg.operations if cf.is_control(n))
    assert n_loops >= 2 and len([b for b in blocks if b.count("_b") == 1]) == n_loops
