"""Golden files for the LLVM lowering: the unoptimised IR that graphc's code generator
emits for the textbook kernels, so a change to code generation shows as a diff.

Kernels (float64, ``value_and_grad`` after the default :func:`graphc.optimize`):
Baydin et al. (2018) ``ln(x1) + x1*x2 - sin(x2)``, Deisenroth et al. (2020)
``sqrt(x^2 + exp(x^2)) + cos(x^2 + exp(x^2))`` (elementwise kernels), and the MLP
training step of tests/viz/test_slide_quality.py (an array kernel, H=3, D=2, BLAS off).
All at ``simd="none"``, the one level every host has, so the text does not depend on
the CPU (and no libmvec symbols appear). Host lines (``target triple``,
``target datalayout``) are masked, and the array kernel's CPython fast-call trampoline
(:func:`graphc.backends.llvm.jit.trampoline_ir`, whose data offset depends on the
Python build) is cut off.

Regenerate after an intended change with

    GRAPHC_REGEN_GOLDEN=1 python -m pytest -q -p no:randomly tests/llvm/test_llvm_golden_ir.py

and review the diff of tests/llvm/golden/*.ll.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import graphc as gc
from graphc.backends.llvm.jit import LLVMKernel
from helpers import check_golden

GOLDEN = Path(__file__).parent / "golden"
SIMD = "none"

BAYDIN = "ln(x1) + x1*x2 - sin(x2)"
DEISENROTH = "sqrt(x^2 + exp(x^2)) + cos(x^2 + exp(x^2))"
MLP = "z = W1 @ x + b1; h = tanh(z); y = W2 @ h + b2; l = sum((y - t)^2)"
MLP_SHAPES = dict(W1=("H", "D"), x=("D", 1), b1=("H", 1), W2=(1, "H"), b2=(1, 1),
                  t=(1, 1))
MLP_SIZES = {"H": 3, "D": 2}

_HOST_LINE = re.compile(r'^target (triple|datalayout) = ".*"$', re.M)
_TRAMPOLINE = "declare i64 @PyLong_AsSsize_t(ptr)\n"


def normalise(text: str) -> str:
    """The IR with host lines masked and the CPython trampoline cut off."""
    text = _HOST_LINE.sub(lambda m: f'target {m.group(1)} = "<host>"', text)
    cut = text.find(_TRAMPOLINE)
    return text if cut < 0 else text[:cut]


def kernel_irs() -> dict[str, str]:
    """``{golden file name: normalised IR}`` for the three textbook kernels, each built
    from scratch (fresh graphs and kernels, no disk cache)."""
    out = {}
    for name, src in (("baydin_value_and_grad.ll", BAYDIN),
                      ("deisenroth_value_and_grad.ll", DEISENROTH)):
        g = gc.optimize(gc.value_and_grad(gc.parse(src)))
        out[name] = normalise(LLVMKernel(g, simd=SIMD, cache=False).llvm_ir())
    m = gc.parse(MLP, **MLP_SHAPES)
    g = gc.optimize(gc.value_and_grad(m, wrt=["W1", "b1", "W2", "b2"]))
    k = LLVMKernel(g, simd=SIMD, cache=False, blas=False)
    out["mlp_step_value_and_grad.ll"] = normalise(k.llvm_ir(**MLP_SIZES))
    # a second binding: the program of run-time sizes (read from the sizes buffer)
    out["mlp_step_runtime_sizes.ll"] = normalise(k.llvm_ir(H=5, D=2))
    return out


@pytest.fixture(scope="module")
def irs():
    return kernel_irs()


@pytest.mark.parametrize("name", ["baydin_value_and_grad.ll", "deisenroth_value_and_grad.ll",
                                  "mlp_step_value_and_grad.ll", "mlp_step_runtime_sizes.ll"])
def test_lowering_matches_golden(irs, name):
    text = irs[name]
    assert 'define void @"kernel"' in text and "double" in text
    assert "PyLong" not in text and "<host>" in text
    check_golden(GOLDEN / name, text)


def test_lowering_is_deterministic_in_process(irs):
    """Regenerating from new graphs and kernels gives the same text."""
    assert kernel_irs() == irs


def test_lowering_is_deterministic_across_processes(irs):
    """Another interpreter with another hash seed emits the same text (no addresses,
    no dependence on set or dict order of ids)."""
    here = Path(__file__).parent
    code = ("import json, sys; sys.path[:0] = sys.argv[1:3]; "
            "from test_llvm_golden_ir import kernel_irs; print(json.dumps(kernel_irs()))")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    res = subprocess.run([sys.executable, "-c", code, str(here), str(here.parent)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(res.stdout.strip().splitlines()[-1]) == irs
