"""The CUDA renderer: golden kernel sources, the registry walk, and what the renderer
must never do (import Numba, print user text). None of these tests needs Numba.

Regenerate the golden files after an intended change with
``GRAPHC_REGEN_GOLDEN=1 python3 -m pytest tests/cuda/test_cuda_render.py`` and review
the diff.
"""

from __future__ import annotations

import ast
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import graphc as gc  # noqa: E402
from graphc.backends.cuda.render import (format_float, missing_lowerings,  # noqa: E402
                                         normalize_layout, render)
from graphc.ir import Graph, LoweringError, PRIMITIVES, ops  # noqa: E402
from _cuda_helpers import OPS, ROOT, feynman_graph, feynman_rows, primitive_graph  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "golden"
BAYDIN = "ln(x1) + x1*x2 - sin(x2)"


def baydin_vg():
    return gc.optimize(gc.value_and_grad(gc.parse(BAYDIN)))


GOLDEN_CASES = {
    "baydin_value_and_grad_flat": lambda: render(baydin_vg()),
    "baydin_value_and_grad_scalar_x1": lambda: render(baydin_vg(), ["scalar", "flat"]),
    "baydin_value_and_grad_strided": lambda: render(baydin_vg(), [(True, False), (True,)]),
    "nn_float32": lambda: render(gc.optimize(gc.parse(
        "elu(x, 0.5) + 3 * relu(-x) - pi * where(x > y, x, y)", dtype="float32"))),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_kernel_source(name):
    text = GOLDEN_CASES[name]().text
    path = GOLDEN / f"{name}.py.txt"
    if os.environ.get("GRAPHC_REGEN_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; regenerate with GRAPHC_REGEN_GOLDEN=1"
    assert text == path.read_text()


def test_baydin_kernel_structure():
    """The trace of Baydin et al. 2018 (Table 2) appears as one assignment per
    operation, each input loaded once, and all three outputs are stored in the same
    loop iteration."""
    src = render(baydin_vg())
    assert src.params == ("in0", "in1", "out0", "out1", "out2", "n")
    lines = [ln.strip() for ln in src.text.splitlines()]
    loop = lines.index("while i < n:")
    body = lines[loop + 1:]
    assert body[:2] == ["t1 = np.float64(in0[i])", "t2 = np.float64(in1[i])"]
    assert sum("in0" in ln for ln in body) == 1 and sum("in1" in ln for ln in body) == 1
    assert "math.log(t1)" in src.text and "(t1 * t2)" in src.text
    assert "math.sin(t2)" in src.text
    stores = sorted(ln.split(" = ")[0] for ln in body if ln.startswith("out"))
    assert stores == ["out0[i]", "out1[i]", "out2[i]"]
    assert body[-1] == "i += stride"


def test_scalar_inputs_are_hoisted_out_of_the_loop():
    text = render(baydin_vg(), ["scalar", "flat"]).text
    head, loop = text.split("while i < n:")
    assert "t1 = np.float64(in0)" in head
    # invariant ops hoisted: log x1 and its partial 1/(x1 + 0) (+0: log'(-0) = +inf)
    assert "math.log(t1)" in head and "(t1 + 0.0)" in head and "(1.0 / t" in head
    assert "math.sin(t2)" in loop and "in0" not in loop


def test_every_primitive_has_a_cuda_lowering():
    """Walks the registry: fails when a primitive lacks a usable CUDA lowering: an
    elementwise template, or for array ops a ``cuda`` key that the array lowering
    (graphc/backends/cuda/arrays.py) implements, and kernels rendered for each of its
    examples (value and reverse mode; tests/cuda/test_cuda_arrays.py checks them)."""
    from graphc.backends.cuda.arrays import supports
    assert missing_lowerings() == []
    for name, prim in PRIMITIVES.items():
        if name in ("input", "const"):
            continue
        assert prim.cuda, f"{name} has no cuda lowering"
        if not prim.elementwise:
            assert supports(prim), f"{name}: cuda={prim.cuda!r} is not lowered"
            assert prim.examples, f"{name} has no examples to render"
            continue
        for dtype in ("float64", "float32"):
            text = render(primitive_graph(prim, dtype)).text
            ast.parse(text)  # valid Python, as numba.cuda.jit needs


def test_missing_lowering_is_reported():
    from graphc.ir import Primitive
    fake = Primitive("fake_op_without_cuda", 1, lambda x: x, "fake({0})")
    x = ops.variable("x")
    from graphc.ir.node import make_node
    node = make_node(fake, (x,), (), "float64", ())
    with pytest.raises(LoweringError, match="fake_op_without_cuda"):
        render(Graph([x], [node]))


def test_feynman_corpus_renders_valid_python():
    for row in feynman_rows():
        ast.parse(render(feynman_graph(row)).text)


def test_user_text_never_reaches_the_source():
    evil = 'x"); import os; os.system("echo pwned"); ("\nprint(1)'
    x = ops.variable(evil)
    g = Graph([x], [ops.sin(x)], output_names=["y\nimport os"])
    text = render(g).text
    assert "os" not in text.replace("cos", "") and "pwned" not in text and "print" not in text
    ast.parse(text)


@pytest.mark.parametrize("value, text", [
    (1.0, "1.0"), (-2.5, "(-2.5)"), (1e-300, "1e-300"), (float("inf"), "math.inf"),
    (float("-inf"), "(-math.inf)"), (float("nan"), "math.nan"),
    (0.1, "0.1"), (3.141592653589793, "3.141592653589793")])
def test_float_literals_round_trip(value, text):
    assert format_float(value) == text
    import math
    names = {"math.inf": math.inf, "(-math.inf)": -math.inf, "math.nan": math.nan}
    back = names[text] if text in names else float(text.strip("()"))
    assert back == value or (math.isnan(back) and math.isnan(value))


def test_array_graphs_are_refused_by_the_scalar_renderer():
    x = ops.variable("x", shape=(3,))
    with pytest.raises(LoweringError, match="shape.*render_arrays"):
        render(Graph([x], [ops.sin(x)]))


def test_layout_errors():
    g = baydin_vg()
    with pytest.raises(LoweringError):
        normalize_layout(g, ["flat"])
    with pytest.raises(LoweringError):
        normalize_layout(g, ["flat", "bogus"])
    with pytest.raises(LoweringError):
        normalize_layout(g, [(True, True, True), "flat"], ndim=2)
    assert normalize_layout(g, None) == (("flat", "flat"), 0)
    assert normalize_layout(g, [(True, False), "scalar"]) == (((True, False), "scalar"), 2)


def test_renderer_and_package_import_without_numba():
    """``import graphc`` and the renderer work with Numba hidden; the CUDA target then
    says how to install it."""
    code = r"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "numba" or name.startswith("numba."):
            raise ImportError("numba is hidden for this test")
        return None
sys.meta_path.insert(0, Block())
import graphc as gc
from graphc.backends.cuda import render
f = gc.parse("ln(x1) + x1*x2 - sin(x2)")
assert "math.log" in render(gc.value_and_grad(f)).text
try:
    gc.compile(f, target="cuda")
except gc.BackendUnavailableError as exc:
    assert "pip install 'graphc[cuda]'" in str(exc), exc
else:
    raise SystemExit("no BackendUnavailableError")
from graphc.backends.cuda import ptx
try:
    ptx(f)
except gc.BackendUnavailableError as exc:
    assert "graphc[cuda]" in str(exc)
else:
    raise SystemExit("ptx worked without numba")
assert not any(m == "numba" or m.startswith("numba.") for m in sys.modules)
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr


def test_render_does_not_import_numba():
    code = ("import sys, graphc as gc; from graphc.backends.cuda import render; "
            "render(gc.parse('sin(x)')); "
            "print(any(m.split('.')[0] == 'numba' for m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stdout + r.stderr


def test_all_ops_are_listed():
    assert {p.name for p in OPS} == {n for n, p in PRIMITIVES.items() if p.elementwise} - {
        "input", "const"}


# -- template semantics at IEEE special values, without a GPU --------------------------

def _ufunc1(f):
    # through 1-element arrays: NumPy's scalar path differs from its array loops on
    # some special values (np.power(np.float64(-inf), 0.5) is nan, on arrays inf as
    # C99 says), and the array loops are what graphc.evaluate uses
    return lambda *xs: f(*(np.array([x]) for x in xs))[0]


class _NumpyMath:
    """``math`` as the kernel source uses it, backed by NumPy ufuncs: C99/IEEE results
    (NaN, ±inf) instead of Python's exceptions, as libdevice gives on the GPU."""
    inf, nan = np.inf, np.nan
    exp, log, sqrt, sin, cos, tan = map(_ufunc1, (np.exp, np.log, np.sqrt, np.sin, np.cos,
                                                  np.tan))
    asin, acos, atan, sinh, cosh, tanh = map(_ufunc1, (np.arcsin, np.arccos, np.arctan,
                                                       np.sinh, np.cosh, np.tanh))
    log1p, expm1, fabs, pow = map(_ufunc1, (np.log1p, np.expm1, np.fabs, np.power))
    floor, ceil, fmod, copysign = map(_ufunc1, (np.floor, np.ceil, np.fmod, np.copysign))
    log2, log10, hypot, atan2 = map(_ufunc1, (np.log2, np.log10, np.hypot, np.arctan2))
    asinh, acosh, atanh = map(_ufunc1, (np.arcsinh, np.arccosh, np.arctanh))
    erf, erfc = staticmethod(math.erf), staticmethod(math.erfc)  # C99 at inf and NaN


class _OneThread:
    """``cuda`` for a single thread covering the whole grid-stride loop."""
    @staticmethod
    def grid(_):
        return 0

    @staticmethod
    def gridsize(_):
        return 1


SPECIAL = np.array([0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.0, 1e-300, -1e-300, 1e300, -1e300,
                    np.inf, -np.inf, np.nan])


NOT_BITWISE = {"cbrt": 4 * np.finfo(np.float64).eps}
"""Templates that cannot match NumPy's bits: numba-cuda has no ``cbrt``, so the
template computes it (pow and a Newton step; glibc's cbrt is not correctly rounded
either); relative tolerance."""


@pytest.mark.parametrize("prim", OPS, ids=[p.name for p in OPS])
def test_templates_follow_numpy_on_special_values(prim):
    """Each CUDA template, run line by line on NumPy scalars, gives NumPy's result on
    NaN, ±inf, ±0 and huge/tiny arguments (every pair of them for binary ops): this
    checks the template logic (selects, comparisons, NaN propagation of min/max/relu)
    that the simulator cannot, since it raises on math-domain errors."""
    import itertools
    g = primitive_graph(prim)
    src = render(g)
    namespace = {"math": _NumpyMath, "np": np, "cuda": _OneThread}
    exec(compile(src.text, "<kernel>", "exec"), namespace)  # noqa: S102 - our rendering
    grid = np.array(list(itertools.product(SPECIAL, repeat=prim.arity))).T
    n = grid.shape[1]
    out = np.empty(n)
    with np.errstate(all="ignore"):
        namespace[src.name](*grid, out, n)
    want = gc.evaluate(g, **{f"a{k}": grid[k] for k in range(prim.arity)})
    np.testing.assert_array_equal(np.isnan(out), np.isnan(want), err_msg=prim.name)
    if prim.name in NOT_BITWISE:
        np.testing.assert_array_equal(np.isinf(out), np.isinf(want), err_msg=prim.name)
        np.testing.assert_allclose(out[~np.isnan(want)], want[~np.isnan(want)],
                                   rtol=NOT_BITWISE[prim.name], atol=0, err_msg=prim.name)
        return
    np.testing.assert_array_equal(out[~np.isnan(want)], want[~np.isnan(want)],
                                  err_msg=prim.name)
