"""Layer (b): code generation without a GPU.

``numba.cuda.compile_ptx(..., cc=(9, 0))`` (NVVM from the ``nvidia-nvvm`` wheel, with
NVRTC) must produce PTX for every primitive and for the value and gradient of every
Feynman formula, and NVIDIA's assembler ``ptxas -arch=sm_90`` must accept it. A
negative control shows that ptxas does reject broken PTX, so acceptance means something.
Instruction names are checked against the PTX ISA (NVIDIA, *Parallel Thread Execution
ISA*, sections "Floating-Point Instructions": ``div.rn``, ``sqrt.rn`` are the IEEE
round-to-nearest forms; ``.approx`` would mean fast math).

Measured on the development machine (2 cores): all 74 primitive kernels (float64 and
float32) 8 s, the 100 Feynman value-and-gradient kernels 14 s, ptxas on all 174 8 s.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import graphc as gc  # noqa: E402
from _cuda_helpers import (OPS, feynman_graph, feynman_rows,  # noqa: E402
                           primitive_graph, ptx_compiler_or_skip,
                           ptxas_path, toolchain_unavailable)


_unavailable = toolchain_unavailable


@pytest.fixture(scope="module")
def ptx_of():
    """``ptx_of(graph, **kw) -> str`` once the toolchain is known to work."""
    return ptx_compiler_or_skip("ptx", "x + 1")


@pytest.fixture(scope="module")
def ptxas():
    path = ptxas_path()
    if path is None:
        _unavailable("ptxas not found: pip install nvidia-cuda-nvcc and put "
                     "site-packages/nvidia/cu13/bin on PATH")
    return path


def assemble(ptxas: str, text: str, arch: str = "sm_90") -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "k.ptx"
        src.write_text(text)
        return subprocess.run([ptxas, f"-arch={arch}", str(src), "-o", str(Path(d) / "k.cubin")],
                              capture_output=True, text=True, timeout=120)


def assert_assembles(ptxas: str, texts: list[str], arch: str = "sm_90") -> None:
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(lambda t: assemble(ptxas, t, arch), texts))
    for r in results:
        assert r.returncode == 0, f"ptxas rejected the PTX: {r.stderr[-2000:]}"


def check_kernel_ptx(text: str, arch: str = "sm_90") -> None:
    assert re.search(rf"^\.target {arch}\b", text, re.M), text[:400]
    assert len(re.findall(r"^\.visible \.entry ", text, re.M)) == 1, "expected one kernel"


EXPECTED = {  # primitive -> PTX instruction it must lower to (float64 / float32)
    "div": ("div.rn.f64", "div.rn.f32"),
    "sqrt": ("sqrt.rn.f64", "sqrt.rn.f32"),
    "abs": ("abs.f64", "abs.f32"),
    "neg": ("neg.f64", "neg.f32"),
}


@pytest.mark.parametrize("prim", OPS, ids=[p.name for p in OPS])
def test_every_primitive_assembles_for_sm90(prim, ptx_of, ptxas):
    texts = []
    for dtype in ("float64", "float32"):
        text = ptx_of(primitive_graph(prim, dtype), (9, 0))
        check_kernel_ptx(text)
        if prim.name in EXPECTED:
            want = EXPECTED[prim.name][dtype == "float32"]
            assert want in text, f"{prim.name} {dtype}: no {want} in the PTX"
        texts.append(text)
    assert_assembles(ptxas, texts)


ROWS = feynman_rows()


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_feynman_value_and_grad_assembles_for_sm90(row, ptx_of, ptxas):
    text = ptx_of(feynman_graph(row), (9, 0))
    check_kernel_ptx(text)
    assert_assembles(ptxas, [text])


def test_layouts_assemble(ptx_of, ptxas):
    """Scalar (hoisted) and strided N-D inputs, as the kernel call specialises them."""
    g = gc.optimize(gc.value_and_grad(gc.parse("ln(x1) + x1*x2 - sin(x2)")))
    texts = [ptx_of(g, (9, 0), layout=["scalar", "flat"]),
             ptx_of(g, (9, 0), layout=[(True, False), (True,)], ndim=2)]
    for t in texts:
        check_kernel_ptx(t)
    assert_assembles(ptxas, texts)


def test_ptxas_rejects_broken_ptx(ptx_of, ptxas):
    """Negative control: the same PTX, corrupted, is rejected."""
    good = ptx_of(gc.optimize(gc.value_and_grad(gc.parse("x1*x2 + sqrt(x1)"))), (9, 0))
    assert assemble(ptxas, good).returncode == 0
    # the first double-precision arithmetic instruction, e.g. "mul.f64 %fd3, %fd1, %fd2;"
    m = re.search(r"^\t((?:add|sub|mul|fma|div)(?:\.rn)?)\.f64(\s+)(%fd\d+)", good, re.M)
    assert m, "no f64 arithmetic in the PTX"
    line_start = m.start()
    bad_type = good[:line_start] + good[line_start:].replace(".f64", ".f65", 1)
    truncated = good[: good.rindex("}")]
    bad_register = good[:m.start(3)] + "%fd99999" + good[m.end(3):]
    for broken in (bad_type, truncated, bad_register):
        assert broken != good
        r = assemble(ptxas, broken)
        assert r.returncode != 0, "ptxas accepted corrupted PTX"
        assert "error" in (r.stderr + r.stdout).lower()


def test_other_compute_capability(ptx_of, ptxas):
    text = ptx_of(gc.parse("exp(x) * y"), (8, 0))
    check_kernel_ptx(text, "sm_80")
    assert_assembles(ptxas, [text], "sm_80")


def test_kernel_ptx_method_and_fastmath(ptx_of):
    from graphc.backends.cuda import compile as cuda_compile
    g = gc.parse("x / y + sqrt(x)", dtype="float32")
    k = cuda_compile(g)
    def unversioned(text):  # Numba numbers each compilation in the mangled name
        return re.sub(r"B\d+v\d+B", "BvB", text)
    assert unversioned(k.ptx()) == unversioned(ptx_of(g, (9, 0)))
    assert "div.rn.f32" in k.ptx()
    fast = ptx_of(g, (9, 0), fastmath=True)
    assert "div.approx" in fast and "sqrt.approx" in fast


@pytest.mark.slow
@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_feynman_hessian_assembles_for_sm90(row, ptx_of, ptxas):
    names = [v for v in row["variables"].split(";") if v]
    g = gc.optimize(gc.hessian(gc.parse(row["formula"], inputs=names)))
    text = ptx_of(g, (9, 0), layout=["scalar"] + ["flat"] * (len(names) - 1))
    check_kernel_ptx(text)
    assert_assembles(ptxas, [text])
