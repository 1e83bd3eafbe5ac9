"""Powers and quotients with constant operands in the CUDA backend
(graphc/backends/lowering_rules.py, used by graphc/backends/cuda/arrays.py).

* the rules themselves against NumPy (no Numba needed);
* the simulator cases (``cuda_sim_const_cases.py``, its own process): division by
  constants bit-identical to NumPy on 10^5 quotients per dtype, powers, derivatives in
  both AD modes, outputs allocated by the inputs' library, the gpu tests' round-off
  bound catching mutated kernels;
* PTX (no GPU, not under the simulator): integer powers are multiplications, the
  division sequence keeps ``div.rn`` off the path of ordinary data, and the mixture
  benchmark's value-and-gradient kernel shrinks.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import graphc as gc  # noqa: E402
from graphc.backends.lowering_rules import (MAX_POWI, divide_rule,  # noqa: E402
                                            numpy_half_power_is_sqrt, pow_rule)
from graphc.ir import Graph, ops  # noqa: E402
from _cuda_helpers import ROOT, ptx_compiler_or_skip, \
    run_simulator_cases  # noqa: E402

DTYPES = ["float64", "float32"]
INT_EXPONENTS = [float(n) for n in range(-MAX_POWI, MAX_POWI + 1)]
EDGES = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-3, -7.5, 3.25]


def _run_chain(rule, x):
    vals = [x]
    for i, j in rule.steps:
        vals.append(vals[i] * vals[j])
    r = vals[-1]
    return (r.dtype.type(1.0) / r) if rule.reciprocal else r


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", INT_EXPONENTS)
def test_pow_rule_chains_match_numpy_power(n, dtype):
    """Every integer exponent the rule rewrites: at most two multiplications, NumPy's
    ``power`` within ``|n|`` ulp on random values, and its signs, zeros, infinities
    and NaN on the edge values."""
    rule = pow_rule(n, dtype)
    if n == 0:
        assert rule.kind == "one"
        return
    assert rule.kind == "chain" and len(rule.steps) <= 2 and rule.reciprocal == (n < 0)
    rng = np.random.default_rng(int(n) + 10)
    x = np.concatenate([rng.uniform(-10, 10, 2000), EDGES]).astype(dtype)
    with np.errstate(all="ignore"):
        got = _run_chain(rule, x)
        want = np.power(x, np.asarray(n, dtype=dtype))
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(got, want, rtol=(abs(n) + 1) * eps, atol=0, equal_nan=True)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    if n in (1.0, 2.0, -1.0):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_pow_rule_other_exponents(dtype):
    with np.errstate(all="ignore"):
        r = np.power(np.array([-0.0, -np.inf], dtype=dtype), np.array(0.5, dtype=dtype))
    assert numpy_half_power_is_sqrt(dtype) == bool(np.signbit(r[0]) and np.isnan(r[1]))
    assert pow_rule(0.5, dtype).kind in ("sqrt", "sqrt_c99")
    for c in (1.5, -0.5, 5.0, -5.0, 0.25, np.inf, np.nan):
        assert pow_rule(c, dtype).kind == "pow", c


@pytest.mark.parametrize("dtype", DTYPES)
def test_divide_rule_constants(dtype):
    """Constants are rounded to the dtype; powers of two multiply by their exact
    reciprocal (checked bit for bit against NumPy's division)."""
    t = np.dtype(dtype).type
    x = np.random.default_rng(0).normal(size=1000).astype(dtype)
    for c in (0.25, 2.0, 8.0, -0.5, 2.0 ** 20):
        r = divide_rule(c, dtype)
        assert r.kind == "mul"
        np.testing.assert_array_equal(x * t(r.recip), x / t(c))
    for c in (0.1, 1.37, -3.0):
        r = divide_rule(c, dtype)
        assert r.kind == "fma" and r.c == float(t(c)) and r.recip == float(t(1) / t(c))
    for c in (0.0, np.inf, np.nan, 1e-300 if dtype == "float64" else 1e-30, 1e300):
        assert divide_rule(c, dtype).kind == "div", c


@pytest.mark.parametrize("dtype", DTYPES)
def test_rendered_kernels_use_the_rules(dtype):
    x = ops.variable("x", dtype)
    g = Graph([x], [ops.pow(x, ops.const(c, dtype)) for c in INT_EXPONENTS + [0.5]]
              + [ops.div(x, ops.const(c, dtype)) for c in (1.37, 4.0)])
    from graphc.backends.cuda import render
    text = render(g).text
    assert "math.pow(" not in text
    assert text.count("fma(") == 4 and text.count(" / ") == 1 + sum(n < 0 for n in
                                                                      INT_EXPONENTS)


def test_simulator_cases_pass():
    run_simulator_cases("cuda_sim_const_cases.py", ignore=("RuntimeWarning",))


# -- PTX ---------------------------------------------------------------------------------

def _instructions(text: str) -> list[str]:
    """The instruction lines of a PTX module (no directives, labels, braces, comments)."""
    out = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith(("//", ".", "{", "}")) or s.endswith(":"):
            continue
        out.append(s)
    return out


@pytest.fixture(scope="module")
def ptx():
    return ptx_compiler_or_skip("ptx", "x * 2")


@pytest.mark.parametrize("n", [2.0, 3.0, -2.0, 4.0])
def test_ptx_integer_powers_are_multiplications(ptx, n):
    x = ops.variable("x")
    power = _instructions(ptx(Graph([x], [ops.pow(x, ops.const(n))])))
    product = _instructions(ptx(Graph([x], [ops.mul(x, x)])))
    general = _instructions(ptx(Graph([x], [ops.pow(x, ops.const(2.5))])))
    muls = sum(s.startswith("mul.f64") for s in power)
    stores = sum(s.startswith("st.global.f64") for s in power)   # the loop is unrolled
    assert muls == len(pow_rule(n, "float64").steps) * stores, "\n".join(power)
    assert len(power) < len(product) + 30 < len(general), (len(power), len(product),
                                                            len(general))


def _main_ptx(ptx, name: str, rules: bool, monkeypatch) -> str:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from workloads import MAIN
    from graphc.backends.cuda import arrays
    w = next(w for w in MAIN if w.name == name)
    with monkeypatch.context() as m:
        if not rules:
            m.setattr(arrays._Writer, "_pow_const", lambda self, n, x, e: None)
            m.setattr(arrays._Writer, "_div_const", lambda self, n, a, c: None)
        g = gc.optimize(gc.value_and_grad(gc.parse(w.source, inputs=list(w.variables))))
        return ptx(g)


def test_ptx_of_the_mixture_gradient(ptx, monkeypatch):
    """The mixture benchmark's value and gradient (28 squares, 28 quotients by
    constants): the kernel's instructions fall by more than half; every remaining
    ``div.rn.f64`` sits on the branch for quotients outside the FMA sequence's proven
    range (right after the ``@%p bra`` that skips it), none on the path of ordinary
    data, which uses 4 ``fma.rn.f64`` per quotient instead."""
    before = _main_ptx(ptx, "mixture", False, monkeypatch)
    after = _main_ptx(ptx, "mixture", True, monkeypatch)
    ib, ia = _instructions(before), _instructions(after)
    assert len(ia) < 0.5 * len(ib), (len(ib), len(ia))
    divs = [k for k, s in enumerate(ia) if s.startswith("div.rn.f64")]
    assert len(divs) == 28
    for k in divs:
        assert re.match(r"@%p\d+ bra", ia[k - 1]), ia[k - 3:k + 1]
    assert sum(s.startswith("fma.rn.f64") for s in ia) >= 4 * 28
