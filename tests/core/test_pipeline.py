"""Passes are one pipeline (issue 12, part 4): every ``Graph -> Graph`` pass is a
registered :class:`graphc.passes.pipeline.Pass`, runnable by name from
:func:`graphc.run_passes` and ``graphc graph --pass NAME``; and which derivative rule
applies to a node is decided by one function,
:func:`graphc.passes.ad.derivative_rule`, which the AD sweeps and the evaluation
traces both call.

Generated from the registries: every registered pass (on a scalar and an array
expression), every primitive with a ``decompose`` rule on every example of its record
in float64 and float32 (ground truth: the primitive's NumPy implementation), and every
primitive's derivative rule (ground truth for the partials: central differences of the
NumPy implementation)."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc import tracing
from graphc.cli import main
from graphc.ir import PRIMITIVES, Graph, NotDifferentiableError, apply, ops, to_text
from graphc.ir.primitive import Primitive, local_partials
from graphc.passes import ad
from graphc.passes.pipeline import PASSES, Pass, run_passes
from helpers import sample_arguments

BAYDIN = "ln(x1) + x1*x2 - sin(x2)"
ARRAY = "l = sum(softmax(W @ x, 0) * x)"
ARRAY_AT = ["W=[[0.5, -0.3], [0.8, 0.2]]", "x=[[1.5], [-2]]"]
ARRAY_VALUES = {"W": np.array([[0.5, -0.3], [0.8, 0.2]]), "x": np.array([[1.5], [-2.0]])}


def _array_graph():
    return gc.parse(ARRAY, W=(2, 2), x=(2, 1))


# -- the registry ---------------------------------------------------------------------

def test_the_registry_names_every_pass_once_with_a_doc():
    for want in ("fold", "simplify", "cse", "dce", "optimize", "jvp", "vjp", "grad",
                 "specialize", "decompose"):
        assert want in PASSES
    for name, p in PASSES.items():
        assert isinstance(p, Pass) and p.name == name
        assert p.doc and "\n" not in p.doc
        assert callable(p.fn)


@pytest.mark.parametrize("name", list(PASSES))
@pytest.mark.parametrize("expr, at", [(BAYDIN, []), (ARRAY, ARRAY_AT)],
                         ids=["baydin", "array"])
def test_graph_cli_draws_any_pass(name, expr, at, tmp_path, capsys):
    out = tmp_path / "out.dot"
    argv = ["graph", expr, "--pass", name, "-o", str(out)]
    if at:
        argv += ["--at", *at]
    assert main(argv) == 0, capsys.readouterr().err
    dot = out.read_text(encoding="utf-8")
    assert dot.startswith("digraph") and f"after {name}" in dot


def test_graph_cli_help_and_choices_come_from_the_registry(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["graph", "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for p in PASSES.values():
        assert f"{p.name}: {' '.join(p.doc.split())}" in text
    with pytest.raises(SystemExit) as exc:
        main(["graph", BAYDIN, "--pass", "no_such_pass"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no_such_pass" in err


@pytest.mark.parametrize("name", list(PASSES))
@pytest.mark.parametrize("make", [lambda: gc.parse(BAYDIN), _array_graph],
                         ids=["baydin", "array"])
def test_run_passes_equals_calling_the_pass(name, make):
    g = make()
    via = run_passes(g, [name])
    direct = PASSES[name].fn(g)
    assert to_text(via) == to_text(direct)
    assert via.output_names == direct.output_names
    assert all(a is b for a, b in zip(via.outputs, direct.outputs))
    _, history = run_passes(g, [name], snapshots=True)
    assert [n for n, _ in history] == ["input", name]


def test_pass_parameters():
    g = gc.parse(BAYDIN)
    assert to_text(run_passes(g, [("grad", {"wrt": "x1"})])) == to_text(gc.grad(g, "x1"))
    assert to_text(run_passes(g, [("jvp", {"seed": {"x2": 1.0}})])) == \
        to_text(gc.jvp(g, seed={"x2": 1.0}))
    with pytest.raises(gc.GraphcError, match="takes wrt"):
        run_passes(g, [("grad", {"sizes": {}})])
    with pytest.raises(gc.GraphcError, match="unknown pass 'nope'.*decompose"):
        run_passes(g, ["nope"])
    with pytest.raises(gc.GraphcError, match="not a pass name"):
        run_passes(g, [3])


def test_specialize_binds_sizes_and_keeps_values():
    src = "h = tanh(W @ x); l = sum(softmax(h, 0))"
    g = gc.parse(src, W=("H", "D"), x=("D", 1))
    s = run_passes(g, [("specialize", {"sizes": {"H": 3, "D": 2}})])
    assert all(isinstance(d, int) for n in s.nodes for d in n.shape)
    rng = np.random.default_rng(0)
    W, x = rng.normal(size=(3, 2)), rng.normal(size=(2, 1))
    e = np.exp(np.tanh(W @ x))
    assert float(gc.evaluate(s, W=W, x=x)) == pytest.approx(float(np.sum(e / e.sum(0))))
    with pytest.raises(gc.GraphcError):
        run_passes(g, ["specialize"])   # H and D unbound


# -- decompose, from the registry -----------------------------------------------------

DECOMPOSABLE = [(p, i) for p in PRIMITIVES.values() if p.decompose is not None
                for i in range(len(p.examples))]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", DECOMPOSABLE, ids=lambda c: f"{c[0].name}-{c[1]}")
def test_decompose_pass_keeps_the_value(case, dtype):
    prim, i = case
    shapes, params = prim.examples[i]
    xs = [ops.variable(f"a{k}", dtype, tuple(s)) for k, s in enumerate(shapes)]
    g = Graph(xs, [apply(prim, *xs, **params)])
    d = run_passes(g, ["decompose"])
    assert all(n.prim.decompose is None for n in d.operations), to_text(d)
    assert any(n.prim is prim for n in g.operations)
    rng = np.random.default_rng(i)
    vals = sample_arguments(prim, shapes, params, rng, dtype)
    want = np.asarray(prim.impl(*[v.astype(np.float64) for v in vals],
                                **{k: v for k, v in g.outputs[0].params
                                   if not k.startswith("_")}))
    got = np.asarray(gc.evaluate(d, *vals), dtype=np.float64)
    tol = 1e-12 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


# -- one derivative-rule dispatch -----------------------------------------------------

OPERATIONS = [p for p in PRIMITIVES.values() if p.arity > 0]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("prim", [p for p in OPERATIONS if p.elementwise and p.domain],
                         ids=lambda p: p.name)
def test_dispatch_partials_match_finite_differences(prim, dtype):
    """For every elementwise primitive: the rule ``derivative_rule`` picks gives the
    partials that central differences of the NumPy implementation give (at a point
    inside its test domain), both the AD form and the textbook (trace table) form."""
    xs = [ops.variable(f"a{k}", dtype) for k in range(prim.arity)]
    node = apply(prim, *xs)
    rule = ad.derivative_rule(node)
    params = dict(node.params)
    rng = np.random.default_rng(len(prim.name))
    point = [float(rng.uniform(lo + 0.3 * (hi - lo), hi - 0.3 * (hi - lo)))
             for lo, hi in prim.domain]
    at = {x.name: v for x, v in zip(xs, point)}
    out = ops.variable("__out", dtype)   # the rules may use the result node
    for textbook in (False, True):
        parts = rule.partials(xs, out, params, textbook=textbook)
        assert len(parts) == prim.arity
        for k, p in enumerate(parts):
            if rule.kind == ad.NONE:
                assert p is None
                continue
            h = 1e-6 * max(1.0, abs(point[k]))
            up = list(point)
            dn = list(point)
            up[k] += h
            dn[k] -= h
            fd = (float(prim.impl(*up, **params))
                  - float(prim.impl(*dn, **params))) / (2 * h)
            got = 0.0 if p is None else float(np.asarray(
                gc.evaluate(Graph(xs + [out], [ops.lift(p, out)]), *point,
                            float(prim.impl(*point, **params)))))
            if not prim.smooth and abs(fd - got) > 1e-4:
                continue   # a kink within h of the point
            assert got == pytest.approx(fd, rel=1e-4 if dtype == "float32" else 1e-6,
                                        abs=1e-5), (prim.name, k, textbook, at)
    if rule.kind == ad.PARTIALS:
        mine = rule.partials(xs, node, params)
        record = local_partials(prim, *xs, out=node, **params)
        assert len(mine) == len(record) and all(a is b for a, b in zip(mine, record))


def test_dispatch_kinds_follow_the_records():
    for prim in OPERATIONS:
        if prim.examples:
            shapes, params = prim.examples[0]
            xs = [ops.variable(f"a{k}", "float64", tuple(s)) for k, s in enumerate(shapes)]
        else:
            xs, params = [ops.variable(f"a{k}") for k in range(prim.arity)], {}
        rule = ad.derivative_rule(apply(prim, *xs, **params))
        want = (ad.LINEAR if prim.jvp is not None or prim.vjp is not None else
                ad.NONE if not prim.differentiable else ad.PARTIALS)
        assert rule.kind == want and rule.prim is prim, prim.name


def test_sweeps_and_traces_all_ask_the_one_dispatch(monkeypatch):
    """Monkeypatching ``derivative_rule`` changes jvp, vjp and both trace modes: here
    it declares ``sin`` not differentiable, so d/dx2 loses its -cos(x2) term everywhere."""
    real = ad.derivative_rule
    calls = []

    def patched(node, graph=None):
        calls.append(node.prim.name)
        if node.prim.name == "sin":
            return ad.DerivativeRule(ad.NONE, node.prim)
        return real(node, graph)

    monkeypatch.setattr(ad, "derivative_rule", patched)
    monkeypatch.setattr(tracing, "_TEMPLATES", {})
    g = gc.parse(BAYDIN)
    at = {"x1": 2.0, "x2": 5.0}
    want = {"x1": 1 / 2 + 5, "x2": 2.0}      # without -cos(x2)
    dg = gc.evaluate(gc.grad(g), **at)
    assert [float(v) for v in dg] == pytest.approx([want["x1"], want["x2"]])
    jv = gc.evaluate(gc.jvp(g, seed={"x2": 1.0}), **at)
    assert float(jv[1]) == pytest.approx(want["x2"])
    n_ad = len(calls)
    assert "sin" in calls
    t = gc.trace(g, at=at, mode="rev")
    assert t.gradient["x2"] == pytest.approx(want["x2"])
    sin_node = next(n for n in g.operations if n.prim.name == "sin")
    assert not any(op is sin_node for op, _ in t.partials), "trace printed a sin partial"
    assert calls[n_ad:].count("sin") >= 2     # the sweep and the table's partials
    tf = gc.trace(g, at=at, mode="fwd", seed={"x2": 1.0})
    assert float(tf.tangent[g.outputs[0]]) == pytest.approx(want["x2"])


def test_missing_rule_is_one_error_everywhere():
    """A differentiable primitive without rules: jvp, vjp and trace raise the same
    NotDifferentiableError, naming the node and what to add to the record."""
    bare = Primitive("bare_op", 1, np.sin, "bare_op({0})")   # unregistered, no rules
    x = ops.variable("x")
    g = Graph([x], [ops.add(apply(bare, x), x)])
    messages = set()
    for call in (lambda: gc.jvp(g), lambda: gc.vjp(g), lambda: gc.grad(g),
                 lambda: gc.trace(g, at={"x": 1.0}, mode="fwd"),
                 lambda: gc.trace(g, at={"x": 1.0}, mode="rev")):
        with pytest.raises(NotDifferentiableError) as exc:
            call()
        messages.add(str(exc.value))
    assert len(messages) == 1
    (msg,) = messages
    assert "bare_op has no derivative rule" in msg and "partials=" in msg
