"""Layer (b) for array graphs: the kernels of array programs as PTX, checked by ptxas.

``numba.cuda.compile_ptx(..., cc=(9, 0))`` compiles every kernel of a program (map
kernels, both passes of shared-memory block reductions, the tiled matrix product) and
``ptxas -arch=sm_90`` must accept each; the negative control that ptxas rejects broken
PTX is in ``test_cuda_ptx.py``. Instruction checks follow the PTX ISA (NVIDIA, *Parallel
Thread Execution ISA*): ``bar.sync`` is ``__syncthreads()``, ``.shared`` declares
shared memory; a map kernel needs neither.

By default: the reverse mode of the first example of every array primitive, in
float64 with block reductions in two passes and the tiled product, an MLP's and
Rosenbrock's value and gradient at realistic sizes, and a float32 program. ``-m slow``
adds every example of every primitive under both reduction strategies.
Measured (2 cores): about 0.2-0.3 s of NVVM per kernel.
"""

from __future__ import annotations

import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import graphc as gc  # noqa: E402
from graphc.backends.cuda.arrays import Options, render_arrays  # noqa: E402
from _cuda_helpers import (ARRAY_CASES, ARRAY_OPS, array_case,  # noqa: E402
                           assemble, case_id, mlp_graph, ptxas_path,
                           ptx_compiler_or_skip, rosenbrock_graph, toolchain_unavailable)

BLOCKS = Options(serial_reduce=0, reduce_threads=64, reduce_blocks=2, tile=8)
SERIAL = Options(tile=4)


_unavailable = toolchain_unavailable


@pytest.fixture(scope="module")
def array_ptx():
    return ptx_compiler_or_skip("array_ptx", "sum(x)", x=(3,))


@pytest.fixture(scope="module")
def ptxas():
    path = ptxas_path()
    if path is None:
        _unavailable("ptxas not found: pip install nvidia-cuda-nvcc and put "
                     "site-packages/nvidia/cu13/bin on PATH")
    return path


def check_program(array_ptx, ptxas, graph, sizes=None, options=None, arch="sm_90"):
    """PTX of every kernel of the program; each assembles; instructions match the
    kernel kind. Returns the rendered program."""
    graph = gc.optimize(graph)
    src = render_arrays(graph, sizes, options)
    texts = array_ptx(graph, sizes, options=options)
    assert list(texts) == [k.source.name for k in src.kernels]
    for kern in src.kernels:
        text = texts[kern.source.name]
        assert re.search(rf"^\.target {arch}\b", text, re.M), text[:300]
        assert len(re.findall(r"^\.visible \.entry ", text, re.M)) == 1
        synced = "bar.sync" in text
        shared = re.search(r"^\.visible \.shared ", text, re.M) is not None
        if kern.kind == "map":
            assert not synced and not shared, kern.source.name
        else:
            assert synced and shared, f"{kern.kind} kernel without shared memory/barrier"
        if kern.kind == "matmul":
            assert len(re.findall(r"^\.visible \.shared ", text, re.M)) == 2
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(lambda t: assemble(ptxas, t, arch), texts.values()))
    for r in results:
        assert r.returncode == 0, f"ptxas rejected the PTX: {r.stderr[-2000:]}"
    return src


FIRST = [(p, 0) for p in ARRAY_OPS]


@pytest.mark.parametrize("case", FIRST, ids=[case_id(c) for c in FIRST])
def test_array_primitive_kernels_assemble_for_sm90(case, array_ptx, ptxas):
    g, _ = array_case(*case)
    check_program(array_ptx, ptxas, g, None, BLOCKS)


def test_rosenbrock_value_and_grad_assembles(array_ptx, ptxas):
    src = check_program(array_ptx, ptxas, rosenbrock_graph(), {"n": 1_000_000})
    kinds = [k.kind for k in src.kernels]
    assert kinds == ["reduce", "reduce2", "map"], kinds   # sum in two passes; gradient


def test_mlp_value_and_grad_assembles(array_ptx, ptxas):
    src = check_program(array_ptx, ptxas, mlp_graph(),
                        {"D": 64, "B": 256, "H": 32, "C": 10})
    kinds = [k.kind for k in src.kernels]
    assert kinds.count("matmul") == 5 and "reduce" in kinds   # 2 forward, 3 reverse


def test_float32_program_and_other_architecture(array_ptx, ptxas):
    g = gc.value_and_grad(gc.parse("sum(softmax(x) * w)", x=(64, 300), w=(300,),
                                   dtype="float32"), "x")
    src = check_program(array_ptx, ptxas, g)
    assert all("np.float32" in k.source.text for k in src.kernels if k.kind != "map")
    texts = array_ptx(gc.optimize(gc.parse("sum(x * x)", x=(5000,))), None, (8, 0))
    assert len(texts) == 2
    for t in texts.values():
        assert re.search(r"^\.target sm_80\b", t, re.M)
        assert assemble(ptxas, t, "sm_80").returncode == 0


def test_ptx_of_a_concrete_array_graph_lists_every_kernel(array_ptx):
    from graphc.backends.cuda import ptx
    g = gc.parse("sum(exp(x), axis=1) @ W", x=(4, 100), W=(4, 3))
    text = ptx(g)
    assert text.count("// ---- graphc kernel") == len(array_ptx(g)) >= 2
    with pytest.raises(gc.LoweringError, match="sizes for n"):
        ptx(gc.parse("sum(x)", x=("n",)))


@pytest.mark.slow
@pytest.mark.parametrize("options", [SERIAL, BLOCKS], ids=["serial", "blocks"])
@pytest.mark.parametrize("case", ARRAY_CASES, ids=[case_id(c) for c in ARRAY_CASES])
def test_every_array_example_assembles_for_sm90(case, options, array_ptx, ptxas):
    g, _ = array_case(*case)
    check_program(array_ptx, ptxas, g, None, options)
