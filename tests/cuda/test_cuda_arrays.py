"""The CUDA lowering of array graphs as text (graphc/backends/cuda/arrays.py): golden
programs, what is fused into one kernel, where shared memory and barriers appear, and
what the renderer must never do. None of these tests needs Numba; the simulator
(``cuda_sim_array_cases.py``) and PTX (``test_cuda_arrays_ptx.py``) files run the
kernels.

Regenerate the golden files after an intended change with
``GRAPHC_REGEN_GOLDEN=1 python3 -m pytest tests/cuda/test_cuda_arrays.py`` and review
the diff.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import graphc as gc  # noqa: E402
from graphc.backends.cuda.arrays import (MatmulStep, Options, render_arrays,  # noqa: E402
                                         supports)
from graphc.ir import Graph, LoweringError, ShapeError, ops  # noqa: E402
from graphc.ir import array_ops as A  # noqa: E402
from _cuda_helpers import (ARRAY_CASES, ARRAY_OPS, ROOT, array_case, case_id,  # noqa: E402
                           mlp_graph, rosenbrock_graph)

GOLDEN = Path(__file__).resolve().parent / "golden"
BLOCKS = Options(serial_reduce=0, reduce_threads=64, reduce_blocks=2, tile=8)

GOLDEN_CASES = {
    "arrays_rosenbrock_value_and_grad_n1000":
        lambda: render_arrays(gc.optimize(rosenbrock_graph()), {"n": 1000}),
    "arrays_softmax_of_matmul_float32":
        lambda: render_arrays(gc.optimize(gc.parse(
            "softmax(x @ W, axis=1)", ["x", "W"], x=(8, 5), W=(5, 40), dtype="float32")), None,
            Options(serial_reduce=16, tile=4)),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_array_program(name):
    text = GOLDEN_CASES[name]().text
    path = GOLDEN / f"{name}.py.txt"
    if os.environ.get("GRAPHC_REGEN_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; regenerate with GRAPHC_REGEN_GOLDEN=1"
    assert text == path.read_text()


def kernels(graph, sizes=None, options=None):
    return render_arrays(gc.optimize(graph), sizes, options).kernels


# -- the registry and every example -------------------------------------------------------

def test_every_array_primitive_has_a_cuda_lowering_key():
    for prim in ARRAY_OPS:
        assert prim.cuda, f"{prim.name}: cuda is empty"
        assert supports(prim), f"{prim.name}: cuda={prim.cuda!r} is not lowered"


@pytest.mark.parametrize("case", ARRAY_CASES, ids=[case_id(c) for c in ARRAY_CASES])
def test_every_example_renders_valid_kernels(case):
    g, _ = array_case(*case)
    for options in (None, BLOCKS):
        src = render_arrays(g, None, options)
        assert src.kernels
        for k in src.kernels:
            tree = ast.parse(k.source.text)
            (fn,) = tree.body
            assert fn.name == k.source.name
            assert [a.arg for a in fn.args.args] == list(k.source.params)
            assert all(re.fullmatch(r"in\d+|out\d+|ws64|ws32", p) for p in k.source.params)


# -- fusion -----------------------------------------------------------------------------

def test_an_elementwise_chain_with_broadcasting_is_one_kernel():
    g = gc.parse("exp(sin(x) * y + 1) - x / 3", x=(3, 4), y=(4,))
    (k,) = kernels(g)
    assert k.kind == "map" and k.source.params == ("in0", "in1", "out0")
    assert "in1[j1]" in k.source.text and "in0[j0, j1]" in k.source.text


def test_a_reduction_reads_its_producer_expression():
    """``sum(exp(x - 1), axis=1)``: exp is computed inside the reduction loop, never
    stored (no workspace)."""
    (k,) = kernels(gc.parse("sum(exp(x - 1), axis=1)", x=(4, 100)))
    assert k.kind == "reduce" and k.source.params == ("in0", "out0")
    body = k.source.text.split("while rr <", 1)[1]
    assert "math.exp" in body.split("sm[tid] = racc")[0]


def test_views_are_index_arithmetic():
    g = gc.parse("transpose(x)[1:] * 2 + reshape(x, (4, 3))[1:, ::-1]", x=(3, 4))
    (k,) = kernels(g)
    text = k.source.text
    assert k.kind == "map" and "ws" not in text
    assert "in0[j1, k" in text or "in0[j1," in text    # transposed read, shifted row


def test_block_reduction_uses_shared_memory_and_barriers():
    ks = kernels(gc.parse("max(x)", x=(1000,)))
    assert [k.kind for k in ks] == ["reduce", "reduce2"]
    first, second = (k.source.text for k in ks)
    for text in (first, second):
        assert "cuda.shared.array(" in text and text.count("cuda.syncthreads()") == 2
        assert "while rs > 0:" in text and "if tid == 0:" in text
        assert "!=" in text   # NaN-propagating max
    grid, block = ks[0].grid, ks[0].block
    assert block == (256,) and grid == (4,)      # 1000 entries: 4 blocks of 256 threads
    assert ks[1].grid == (1,) and ks[1].block == (4,)


def test_many_short_rows_take_one_thread_each():
    (k,) = kernels(gc.parse("sum(x, axis=1)", x=(10_000, 8)))
    assert k.kind == "map" and "for k" in k.source.text and "shared" not in k.source.text
    (k,) = kernels(gc.parse("sum(x, axis=1)", x=(10_000, 8)), None, BLOCKS)
    assert k.kind == "reduce" and k.grid == (10_000,)    # one block per row


def test_softmax_and_mlp_kernel_counts():
    # max (block), exp stored (used by sum and div), sum (block), divide
    assert [k.kind for k in kernels(gc.parse("softmax(x, axis=1)", x=(4, 100)))] == \
        ["reduce", "map", "reduce", "map"]
    ks = kernels(mlp_graph(), {"D": 64, "B": 256, "H": 32, "C": 10})
    assert sum(k.kind == "matmul" for k in ks) == 5


def test_values_used_at_the_same_index_share_a_kernel():
    x = ops.variable("x", shape=(5,))
    t = ops.tanh(x)
    (k,) = kernels(Graph([x], [t, ops.mul(t, 2.0), ops.mul(ops.exp(x), 3.0)]))
    assert k.source.params == ("in0", "out0", "out1", "out2")
    assert "math.tanh" in k.source.text and "out0[i]" in k.source.text
    assert "= out0[" not in k.source.text                  # t reused from a register


def test_a_value_read_at_another_index_is_not_merged():
    x = ops.variable("x", shape=(4, 4))
    t = ops.tanh(x)
    ks = kernels(Graph([x], [t, A.transpose(t)]))
    assert len(ks) == 2 and "out0[" in ks[1].source.text


def test_values_only_reused_from_registers_are_not_stored():
    x = ops.variable("x", shape=(6,))
    e = ops.exp(x)                                        # two consumers: materialised
    (k,) = kernels(Graph([x], [ops.mul(e, 2.0), ops.sin(e)]))
    assert "ws64" not in k.source.params and k.source.text.count("math.exp") == 1


def test_a_reshaped_reduction_output_is_written_in_place():
    """The bias gradient ``reshape(sum(g, axis=0, keepdims=True), (5,))`` writes the
    output directly; no copy kernel."""
    g = gc.parse("reshape(sum(x * x, axis=0, keepdims=True), (5,))", x=(3, 5))
    (k,) = kernels(g)
    assert "out0[i]" in k.source.text


def test_guarded_reads_for_padding_and_concatenation():
    x = ops.variable("x", shape=(6,))
    g = Graph([x], [ops.add(A.unslice(ops.sin(A.getitem(x, "1:")), (6,), "1:"),
                            A.concatenate(A.getitem(x, ":2"), ops.cos(A.getitem(x, "2:"))))])
    (k,) = kernels(g)
    assert "if j0 >= 1:" in k.source.text and "if j0 < 2:" in k.source.text


def test_matmul_operands_as_view_chains_for_a_library():
    g = gc.parse("transpose(x) @ W[1:]", x=(3, 4), W=(4, 2))
    src = render_arrays(gc.optimize(g))
    (st,) = [s for s in src.plan.steps if isinstance(s, MatmulStep)]
    assert (st.m, st.n, st.k) == (4, 2, 3)
    # inputs in natural order: in0 = W, in1 = x
    assert st.a == (("in", 1), (3, 4), (("transpose", {"axes": (1, 0)}),))
    assert st.b == (("in", 0), (4, 2), (("getitem", {"index": "1:"}),))
    assert src.kernels[0].kind == "matmul" and src.kernels[0].block == (16, 16)


# -- errors and safety ------------------------------------------------------------------

def test_sizes_options_and_unsupported_ops():
    g = gc.parse("sum(x)", x=("n",))
    with pytest.raises(LoweringError, match="sizes for n"):
        render_arrays(g)
    assert render_arrays(g, {"n": 3}).sizes == (("n", 3),)
    with pytest.raises(ShapeError):
        render_arrays(gc.parse("x[2:]", x=("n",)), {"n": 1})
    for bad in (dict(reduce_threads=48), dict(tile=33), dict(threads_per_block=0),
                dict(serial_reduce=-1), dict(max_blocks=True)):
        with pytest.raises(LoweringError):
            Options(**bad)
    from graphc.ir import Primitive
    from graphc.ir.node import make_node
    fake = Primitive("fake_reduction", 1, lambda x: x, "fake({0})", elementwise=False,
                     cuda=None)
    x = ops.variable("x", shape=(3,))
    with pytest.raises(LoweringError, match="fake_reduction"):
        render_arrays(Graph([x], [make_node(fake, (x,), (), "float64", ())]))


def test_user_text_never_reaches_the_source():
    evil = 'x"); import os; os.system("echo pwned"); ("\nprint(1)'
    x = ops.variable(evil, shape=(3, 4))
    g = Graph([x], [A.sum(ops.sin(x), axis=1)], output_names=["y\nimport os"])
    for options in (None, BLOCKS):
        text = render_arrays(g, None, options).text
        assert "pwned" not in text and "print" not in text and "import" not in text
        ast.parse(text)


def test_render_arrays_does_not_import_numba():
    code = ("import sys, graphc as gc; from graphc.backends.cuda import render_arrays; "
            "render_arrays(gc.parse('sum(x @ x)', x=(3, 3))); "
            "print(any(m.split('.')[0] == 'numba' for m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stdout + r.stderr
