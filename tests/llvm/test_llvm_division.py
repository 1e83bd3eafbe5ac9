"""Division by a constant without a divide instruction must stay bit-identical to IEEE
division (NumPy's ``np.divide``), including the quotients that sit closest to a
rounding midpoint, zeros, infinities, NaN, subnormals and overflow."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import jit
from graphc.ir import Graph, ops, variable

CONSTANTS = [3.0, 0.1, 1.37, 7.0, 0.59, -2.5, 1.0000001, 0.9999999, np.pi, 1 / 3, 0.75,
             1e-9, 1e9, 4.0, 0.125]
BITS = {"float64": np.uint64, "float32": np.uint32}


def _kernel(dtype):
    ft = np.dtype(dtype).type
    cs = [float(ft(c)) for c in CONSTANTS]
    x = variable("x", dtype)
    return cs, gc.compile(Graph([x], [ops.div(x, ops.const(c, dtype)) for c in cs]),
                          optimize_graph=False)


def _assert_bitwise(got, ref, dtype, what):
    it = BITS[dtype]
    bad = (got.view(it) != ref.view(it)) & ~(np.isnan(got) & np.isnan(ref))
    assert not bad.any(), \
        f"{what}: {np.flatnonzero(bad)[:5]} {got[bad][:3]} vs {ref[bad][:3]}"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_division_by_constants_is_correctly_rounded(dtype):
    ft = np.dtype(dtype).type
    wide = np.longdouble
    rng = np.random.default_rng(11)
    cs, k = _kernel(dtype)
    if k.width > 1 and jit.host().features.get("fma"):
        # the FMA sequence is emitted, fdiv only in the out-of-range fallback blocks
        text = k.llvm_ir()
        slow_blocks = sum(1 for line in text.splitlines()
                          if line.lstrip('"').startswith("div_slow"))
        assert "llvm.fma." in text and slow_blocks > len(cs) // 2
    # numerators spread over many binades
    a = (rng.uniform(-1, 1, 200_000) * 2.0 ** rng.integers(-60, 60, 200_000)).astype(ft)
    with np.errstate(all="ignore"):
        for c, got in zip(cs, k(a)):
            _assert_bitwise(got, np.divide(a, ft(c)), dtype, f"random / {c}")
    # quotients next to rounding midpoints: a = RN((q + ulp(q)/2) * c) and neighbours
    for j, c in enumerate(cs):
        q = (rng.uniform(1, 2, 20_000) * 2.0 ** rng.integers(-30, 30, 20_000)).astype(ft)
        mid = q.astype(wide) + np.spacing(q).astype(wide) / 2
        a = (mid * wide(c)).astype(ft)
        a = np.concatenate([a, np.nextafter(a, ft(np.inf)), np.nextafter(a, ft(-np.inf)),
                            (q.astype(wide) * wide(c)).astype(ft)])
        _assert_bitwise(k(a)[j], np.divide(a, ft(c)), dtype, f"midpoints / {c}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_division_by_constants_special_values(dtype):
    ft = np.dtype(dtype).type
    info = np.finfo(ft)
    sp = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, info.max, -info.max, info.tiny,
                   info.tiny / 8, -info.tiny * 3, info.smallest_subnormal, 1.0, 3.0, -7.0,
                   info.max / 2, info.tiny * 2 ** 20], dtype=ft)
    sp = np.concatenate([sp, sp[::-1], sp[3:]])
    cs, k = _kernel(dtype)
    with np.errstate(all="ignore"):
        for c, got in zip(cs, k(sp)):
            _assert_bitwise(got, np.divide(sp, ft(c)), dtype, f"specials / {c}")
