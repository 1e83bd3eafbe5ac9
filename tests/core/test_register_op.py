"""Adding an elementwise op is one record (issue 12 part 7, docs/adding_a_primitive.md).

At test time a NEW op, ``softsign(x) = x/(1 + |x|)``, is registered with
:func:`graphc.ir.register` and run through everything: the parser, every printer style,
forward and reverse mode to second order, the NumPy interpreter, the LLVM kernel, the
CUDA simulator (in a child process) and the generated NumPy-style functions
(``graphc.numpy``, ``graphc.numpy_api``, ``gc.<name>``). The fixture unregisters it, so
no other test sees it.

Two records of the same function show where backend code is still needed:

* ``softsign`` has a ``decompose`` rule (into ``div``, ``add``, ``abs``) and names no
  lowering: ``gc.compile`` expands it for LLVM and CUDA, so it runs everywhere with no
  backend code at all;
* ``softsign_t`` has a CUDA template (the record's ``cuda`` field is the lowering) and
  no ``decompose``: CUDA runs it, the LLVM backend refuses it with a LoweringError that
  names the table to extend (``llvm=`` can only name an LLVM intrinsic, a C library
  function or a composite lowering the backend already has).

Ground truth from outside graphc: NumPy's own arithmetic on the formula, mpmath's
high-precision numerical derivatives, NumPy's long-double (and, for float32, float64)
evaluation of each primitive for the records' ``ulp`` field.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
import graphc.numpy as gnp
from graphc import corpus, numpy_api
from graphc.ir import PRIMITIVES, LoweringError, Primitive, ops, register, unregister
from graphc.ir.numpy_dispatch import numpy_names
from graphc.ir.printer import STYLES, to_text
from graphc.passes import jacobian

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DTYPES = ("float64", "float32")
TOL = {"float64": 1e-9, "float32": 2e-4}  # derivatives vs mpmath (second order in float32)


# ---------------------------------------------------------------------------------
# the records (module level: the CUDA child process registers the same ones)

def _softsign_impl(x):
    """NumPy reference: x / (1 + |x|) in the argument's dtype."""
    return x / (1.0 + np.abs(x))


def _softsign_partials(x, *, out):
    """softsign'(x) = 1/(1 + |x|)²."""
    d = ops.add(1.0, ops.abs(x))
    return (ops.div(1.0, ops.mul(d, d)),)


def _softsign_decompose(x, *, out):
    return ops.div(x, ops.add(1.0, ops.abs(x)))


def records() -> list[Primitive]:
    """The two test records (fresh objects: registration is per process)."""
    common = dict(textbook="softsign {0}", latex=r"\operatorname{{softsign}}\left({0}\right)",
                  partials=_softsign_partials, domain=((-4.0, 4.0),), smooth=False,
                  cost=6, ulp=2, doc="x / (1 + |x|)")
    return [
        Primitive("softsign", 1, _softsign_impl, "softsign({0})",
                  decompose=_softsign_decompose, aliases=("soft_sign",), **common),
        Primitive("softsign_t", 1, _softsign_impl, "softsign_t({0})",
                  cuda="({0} / (1.0 + math.fabs({0})))", **common),
    ]


@pytest.fixture(scope="module")
def softsign():
    """Register the records for this module's tests, unregister them afterwards."""
    regs = [register(r) for r in records()]
    yield regs[0]
    for r in regs:
        unregister(r.name)
    assert "softsign" not in PRIMITIVES and gc.ir.lookup_function("soft_sign") is None
    assert not hasattr(gnp, "softsign") and "softsign" not in numpy_api.NAMES
    with pytest.raises(AttributeError):
        gc.softsign  # noqa: B018
    with pytest.raises(gc.ParseError):
        gc.parse("softsign(x)")


def _points(dtype, n=64, seed=0):
    """Points of the domain away from the kink at 0 (where finite differences of the
    second derivative would straddle the jump)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 4.0, n) * rng.choice([-1.0, 1.0], n)
    return x.astype(dtype)


def _graph(dtype, src="softsign(x)"):
    return gc.parse(src, dtype=dtype)


# ---------------------------------------------------------------------------------
# registry mechanics

def test_registering_twice_or_a_non_record_is_an_error(softsign):
    with pytest.raises(gc.GraphcError, match="already registered"):
        register(records()[0])
    with pytest.raises(gc.GraphcError, match="Primitive"):
        register("softsign")
    with pytest.raises(gc.GraphcError, match="no primitive"):
        unregister("no_such_op")


def test_record_fields_are_derived(softsign):
    plain = Primitive("p", 1, np.negative, "p({0})")  # not registered
    assert plain.cost == 30 and plain.ulp == 4.0  # no llvm name: a library call's cost
    assert softsign.cost == 6 and softsign.ulp == 2


# ---------------------------------------------------------------------------------
# parse and print

@pytest.mark.parametrize("style", sorted(STYLES))
def test_parse_and_every_printer_style(softsign, style):
    g = gc.parse("softsign(x) * soft_sign(x + y)")
    a = g.outputs[0].args[0]
    assert a.op == "softsign" and g.outputs[0].args[1].op == "softsign"
    text = to_text(a, style)
    s = STYLES[style]
    if style == "source":
        assert text == "softsign(x)"
        assert gc.parse(to_text(g, "source")).outputs[0] is g.outputs[0]
    elif s.latex:
        assert r"\operatorname{softsign}" in text, text
    else:
        assert text == softsign.textbook.format("x"), text
        wide = to_text(g.outputs[0].args[1], style)
        assert wide.startswith("softsign(") and wide.endswith(")"), wide
    assert "softsign" in to_text(g, style)


def test_latex_and_graph_text(softsign):
    g = gc.parse("softsign(x)")
    assert r"\operatorname{softsign}" in gc.to_latex(g)
    assert "softsign(" in str(g)


def test_trace_tables_and_diagram(softsign):
    """The textbook trace tables print the record's textbook form, and the adjoint
    trace's gradient is the derivative (mpmath)."""
    x, y = 0.5, 2.0
    tr = gc.trace("softsign(x) * y", at={"x": x, "y": y}, mode="rev")
    table = tr.table()
    assert "softsign v" in table, table
    assert float(tr.gradient["x"]) == pytest.approx(_mp_derivative(x, 1) * y, rel=1e-12)
    assert "softsign" in tr.to_dot()


# ---------------------------------------------------------------------------------
# values: interpreter, LLVM, NumPy-style functions

@pytest.mark.parametrize("dtype", DTYPES)
def test_interpreter_and_llvm_kernel_match_numpy(softsign, dtype):
    x = np.concatenate([_points(dtype, 997), np.array(
        [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-40, 3e38], dtype=dtype)])
    with np.errstate(all="ignore"):
        want = x / (np.asarray(1.0, dtype) + np.abs(x))
    g = _graph(dtype)
    interp = np.asarray(gc.evaluate(g, x))
    kernel = np.asarray(gc.compile(g)(x))
    assert interp.dtype == kernel.dtype == np.dtype(dtype)
    for got in (interp, kernel):  # the same IEEE operations: NumPy's bits
        np.testing.assert_array_equal(got, want)
        assert np.array_equal(np.signbit(got), np.signbit(want))


def test_llvm_expands_the_decomposition_and_refuses_an_op_without_one(softsign):
    g = _graph("float64")
    assert gc.api.expand_unlowered(g, "numpy") is g
    ops_used = {n.op for n in gc.api.expand_unlowered(g, "llvm").operations}
    assert "softsign" not in ops_used and {"div", "abs", "add"} <= ops_used
    with pytest.raises(LoweringError, match="cannot lower softsign_t"):
        gc.compile(_graph("float64", "softsign_t(x)"))


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_style_functions_are_generated(softsign, dtype):
    x = _points(dtype, 16)
    want = x / (np.asarray(1.0, dtype) + np.abs(x))
    assert "softsign" in numpy_names(softsign) and "soft_sign" in numpy_names(softsign)
    for fn in (gnp.softsign, numpy_api.softsign, gc.softsign, gc.soft_sign,
               numpy_api.PRIMITIVE_FUNCTIONS["softsign"]):
        got = fn(x)
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, want)
    v = ops.variable("x", dtype)
    for fn in (gnp.softsign, gc.softsign):
        node = fn(v)
        assert node.op == "softsign" and node.dtype == dtype
    f = gc.function(lambda x: gc.softsign(x) * 2.0, dtype=dtype)
    assert f.graph.outputs[0].args[0].op == "softsign"
    np.testing.assert_allclose(f(x), 2 * want, rtol=1e-6 if dtype == "float32" else 0)


# ---------------------------------------------------------------------------------
# derivatives: both modes, second order, vs mpmath

def _mp_derivative(x: float, order: int) -> float:
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(40):
        return float(mpmath.diff(lambda t: t / (1 + abs(t)), mpmath.mpf(float(x)), order))


@pytest.mark.parametrize("mode", ["fwd", "rev"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_derivatives_to_second_order_both_modes(softsign, dtype, mode):
    g = _graph(dtype)
    d1 = jacobian(g, mode=mode)
    d2 = jacobian(d1, mode=mode)
    x = _points(dtype, 12, seed=1)
    want1 = np.array([_mp_derivative(v, 1) for v in x])
    want2 = np.array([_mp_derivative(v, 2) for v in x])
    for graph, want in ((d1, want1), (d2, want2)):
        for target in ("numpy", "llvm"):
            got = np.ravel(np.asarray(gc.compile(graph, target=target)(x), dtype=float))
            np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype],
                                       err_msg=f"{target} {mode} {dtype}")


def test_hessian_and_value_and_grad(softsign):
    g = gc.parse("softsign(x) * y")
    x, y = 0.75, -1.5
    H = np.asarray(gc.evaluate(gc.hessian(g), x, y), dtype=float).reshape(2, 2)
    want = np.array([[_mp_derivative(x, 2) * y, _mp_derivative(x, 1)],
                     [_mp_derivative(x, 1), 0.0]])
    np.testing.assert_allclose(H, want, rtol=1e-12, atol=1e-14)
    val, (dx, dy) = gc.compile(gc.value_and_grad(g))(x, y)
    assert val == pytest.approx(x / (1 + abs(x)) * y, rel=1e-15)
    assert dx == pytest.approx(_mp_derivative(x, 1) * y, rel=1e-12)


# ---------------------------------------------------------------------------------
# the record-derived sets

def test_corpus_perturbation_covers_a_new_op(softsign):
    """The corpus's perturbed reference moves every op that is not correctly rounded:
    read from ``ulp``, so the new op is moved (the hand list did not know it) and a
    correctly rounded one (``div``) is not."""
    g = gc.parse("softsign(x) / y")
    moved = corpus.perturbed(g, 1.0)
    top = moved.outputs[0]
    assert top.op == "div"  # div has ulp 0: not moved
    soft = top.args[0]
    assert soft.op == "mul" and {a.op for a in soft.args} == {"softsign", "const"}
    factor = next(a for a in soft.args if a.is_const).value
    assert abs(abs(factor - 1.0) - softsign.ulp * np.finfo(float).eps) < 1e-18


ELEMENTWISE = [p for p in PRIMITIVES.values() if p.elementwise and p.arity > 0
               and p.name not in ("input", "const")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("prim", ELEMENTWISE, ids=lambda p: p.name)
def test_record_ulp_bounds_numpy(prim, dtype):
    """Each record's ``ulp`` holds for its NumPy implementation: within ``ulp`` units in
    the last place of the exact value (within ½ for ``ulp = 0``: correctly rounded),
    the exact value from a wider type (long double for float64, float64 for float32)."""
    wide = np.longdouble if dtype == "float64" else np.float64
    rng = np.random.default_rng(7)
    args = [rng.uniform(lo, hi, 256).astype(dtype) for lo, hi in prim.domain]
    # static parameters as a graph of that dtype holds them (float32 alpha for float32)
    params = {k: float(np.asarray(v, dtype)) if isinstance(v, float) else v
              for k, v in prim.param_defaults.items()}
    with np.errstate(all="ignore"):
        got = np.asarray(prim.impl(*args, **params))
        exact = np.asarray(prim.impl(*[a.astype(wide) for a in args], **params))
    if exact.dtype != np.dtype(wide):
        pytest.skip(f"{prim.name}'s implementation computes in float64 only")
    assert got.dtype == np.dtype(dtype)
    spacing = np.spacing(np.abs(exact.astype(dtype))).astype(wide)
    spacing = np.where(spacing > 0, spacing, np.finfo(dtype).smallest_subnormal)
    err = float(np.max(np.abs(got.astype(wide) - exact) / spacing))
    bound = prim.ulp if prim.ulp > 0 else 0.5 + 1e-3
    assert err <= bound, f"{prim.name} {dtype}: {err:.3f} ulp > record's ulp {prim.ulp}"


def test_numpy_api_names_are_the_registry_names(softsign):
    """Every NumPy-style name of every elementwise primitive (the new one included) is
    a function of ``graphc.numpy_api`` and of ``graphc``, building that primitive; the
    functions of the other records stay the same objects across registrations."""
    x = ops.variable("x")
    assert numpy_api.PRIMITIVE_FUNCTIONS["softsign"] is numpy_api.softsign
    for prim in [p for p in PRIMITIVES.values() if p.elementwise and p.arity > 0]:
        names = numpy_names(prim)
        fn = numpy_api.PRIMITIVE_FUNCTIONS[prim.name]
        assert names and all(getattr(numpy_api, n) is fn for n in names), prim.name
        assert all(getattr(gc, n) is fn for n in names if n not in ("sum", "mean")), prim.name
        if isinstance(prim.impl, np.ufunc) and prim.impl.nin == prim.arity:
            assert prim.impl.__name__ in names
        node = fn(*[x] * prim.arity)
        assert node.op == prim.name


# ---------------------------------------------------------------------------------
# CUDA simulator (a child process: NUMBA_ENABLE_CUDASIM must be set before Numba loads)

def run_on_cuda_simulator() -> None:
    """Child-process body: register the records, compile value and first derivative
    of both for the CUDA simulator and compare with the NumPy interpreter."""
    for r in records():
        register(r)
    for dtype in DTYPES:
        x = _points(dtype, 12, seed=2)
        for name in ("softsign", "softsign_t"):
            g = gc.parse(f"{name}(x) * x", dtype=dtype)
            for graph in (g, gc.grad(g), jacobian(jacobian(g, mode="fwd"), mode="rev")):
                got = np.ravel(np.asarray(gc.compile(graph, target="cuda")(x), dtype=float))
                want = np.ravel(np.asarray(gc.evaluate(graph, x), dtype=float))
                np.testing.assert_allclose(got, want, rtol=TOL[dtype] / 10, atol=1e-12,
                                           err_msg=f"{name} {dtype}")
    print("cuda simulator ok")


def test_cuda_simulator(softsign):
    try:
        import numba  # noqa: F401
    except ImportError:
        pytest.skip("numba is not installed: pip install 'graphc[cuda]'")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=os.pathsep.join(
        [str(ROOT), str(HERE), str(ROOT / "tests")]
        + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", "-c",
         "import test_register_op as t; t.run_on_cuda_simulator()"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "cuda simulator ok" in proc.stdout, (
        proc.stdout + proc.stderr)[-4000:]
