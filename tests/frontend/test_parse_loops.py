"""Loops in parse programs (``for i in range(N): ...``, docs/loops.md "In parse
programs"): each loop is one ``scan`` node whatever its trip count; values and
gradients agree with NumPy loops (ground truth: the same arithmetic in NumPy, central
differences) and with the same computation traced with ``gc.fori_loop``; errors name
the line and column."""

import numpy as np
import pytest

import graphc as gc
from graphc.cli import main
from graphc.frontend.tracer import trace
from graphc.ir import control_flow as cf

PENDULUM = """x = 1.0; v = 0.0
for i in range(N): x, v = x + h*v, v - h*sin(x)
E = 0.5*v^2 + 1 - cos(x)"""


def pendulum_np(h, n=1000, x=1.0, v=0.0):
    for _ in range(n):
        x, v = x + h * v, v - h * np.sin(x)
    return 0.5 * v ** 2 + 1 - np.cos(x)


def central(f, at: dict, name: str, eps=1e-6) -> np.ndarray:
    """Central differences of the scalar ``f(**at)`` in ``at[name]`` (any shape)."""
    x = np.asarray(at[name], dtype=float)
    out = np.zeros(x.shape)
    for idx in np.ndindex(*x.shape):
        up, dn = x.copy(), x.copy()
        up[idx] += eps
        dn[idx] -= eps
        out[idx] = (f(**{**at, name: up}) - f(**{**at, name: dn})) / (2 * eps)
    return out


def loops(graph) -> list:
    return [n for n in graph.operations if cf.is_control(n)]


def test_pendulum_value_and_gradient_against_numpy_and_differences():
    g = gc.parse(PENDULUM.replace("N", "1000"))
    assert [n.prim.name for n in loops(g)] == ["scan"]
    assert dict(loops(g)[0].params)["length"] == 1000
    for h in (0.01, 0.003):
        assert np.isclose(gc.evaluate(g, h=h), pendulum_np(h), rtol=1e-13, atol=0)
        (dh,) = gc.evaluate(gc.grad(g), h=h)
        fd = (pendulum_np(h + 1e-7) - pendulum_np(h - 1e-7)) / 2e-7
        assert np.isclose(dh, fd, rtol=1e-6)
    # forward mode agrees with reverse mode
    assert np.allclose(gc.evaluate(gc.jacobian(g, mode="fwd"), h=0.01),
                       gc.evaluate(gc.grad(g), h=0.01), rtol=1e-12)


def test_parsed_loop_equals_the_loop_traced_with_fori_loop():
    g = gc.parse("x = x0; v = 0.0\nfor i in range(200): x, v = x + h*v, v - h*sin(x)\n"
                 "E = 0.5*v^2 + 1 - cos(x)")

    def f(x0, h):
        def body(i, s):
            x, v = s
            return (x + h * v, v - h * gc.sin(x))
        x, v = gc.fori_loop(0, 200, body, (x0, 0.0))
        return 0.5 * v ** 2 + 1 - gc.cos(x)

    t = trace(f)
    for x0, h in ((1.0, 0.01), (-0.4, 0.05)):
        assert gc.evaluate(g, x0=x0, h=h) == pytest.approx(gc.evaluate(t, x0=x0, h=h),
                                                           rel=1e-14)
        gp = dict(zip([x.name for x in g.inputs], gc.evaluate(gc.grad(g), x0=x0, h=h)))
        gt = dict(zip([x.name for x in t.inputs], gc.evaluate(gc.grad(t), x0=x0, h=h)))
        for name in ("x0", "h"):
            assert gp[name] == pytest.approx(gt[name], rel=1e-12)
            assert gp[name] == pytest.approx(
                central(lambda x0, h: pendulum_np(h, 200, x0), {"x0": x0, "h": h}, name),
                rel=1e-6)


BLOCK = """
    s = 0.0
    x = a
    for i in range(1, 6):
        t = x * i          # a name local to the body
        s = s + t
        x = x * c
        for j in range(3):
            s = s + j * x
    out = s + x
"""


def block_np(a, c):
    s, x = 0.0, a
    for i in range(1, 6):
        t = x * i
        s = s + t
        x = x * c
        for j in range(3):
            s = s + j * x
    return s + x


def test_indented_block_with_counter_local_and_nested_loop():
    g = gc.parse(BLOCK)
    outer = loops(g)
    assert len(outer) == 1 and dict(outer[0].params)["length"] == 5
    inner = loops(dict(outer[0].params)["body"].graph)
    assert len(inner) == 1 and dict(inner[0].params)["length"] == 3
    for a, c in ((2.0, 0.5), (-1.3, 1.7)):
        at = {"a": a, "c": c}
        assert gc.evaluate(g, **at) == pytest.approx(block_np(a, c), rel=1e-14)
        grads = dict(zip([x.name for x in g.inputs], gc.evaluate(gc.grad(g), **at)))
        for name in at:
            assert grads[name] == pytest.approx(central(block_np, at, name), rel=1e-7)


def test_array_carry_and_declared_inputs():
    src = "x = x0\nfor k in range(25):\n    x = x + h*sin(W*x)\nL = sum(x*x)"
    g = gc.parse(src, ["x0", "W", "h"], x0=(3,), W=(3,))
    at = {"x0": np.array([0.3, -0.2, 1.0]), "W": np.array([0.5, 1.0, -2.0]), "h": 0.1}

    def ref(x0, W, h):
        x = np.array(x0, dtype=float)
        for _ in range(25):
            x = x + h * np.sin(W * x)
        return float(np.sum(x * x))

    assert gc.evaluate(g, **at) == pytest.approx(ref(**at), rel=1e-14)
    grads = gc.evaluate(gc.grad(g), **at)
    for name, gr in zip(["x0", "W", "h"], grads):
        assert np.allclose(gr, central(ref, at, name), rtol=1e-6, atol=1e-9)
    # an input carried from its own value
    g2 = gc.parse("for i in range(4): x = 2*x + 1\ny = x", ["x"])
    assert gc.evaluate(g2, x=0.5) == 2 ** 4 * 0.5 + 15


def test_trip_count_from_a_name_and_program_ending_with_a_loop():
    g = gc.parse("n = 7; p = 1.0\nfor i in range(n): p = p * (x + i)")
    assert g.output_names == ("p",) or list(g.output_names) == ["p"]
    x = 0.3
    assert gc.evaluate(g, x=x) == pytest.approx(np.prod([x + i for i in range(7)]),
                                                rel=1e-14)
    # the counter is carried only when the body reads it
    body = dict(loops(g)[0].params)["body"].graph
    assert list(body.output_names) == ["i", "p"]
    g2 = gc.parse("p = 1.0\nfor i in range(3): p = p * x\nq = p")
    assert list(dict(loops(g2)[0].params)["body"].graph.output_names) == ["p"]
    # range(0) leaves the variables as they were: no loop node
    g3 = gc.parse("p = x\nfor i in range(0): p = p * 2\nq = p + 1")
    assert not loops(g3) and gc.evaluate(g3, x=2.0) == 3.0


def test_node_count_does_not_grow_with_the_trip_count():
    sizes, grad_sizes, keys = [], [], []
    for n in (10, 1000, 2000, 10 ** 9):
        g = gc.parse(PENDULUM.replace("N", str(n)))
        sizes.append(len(g.nodes))
        (loop,) = loops(g)
        assert dict(loop.params)["length"] == n
        keys.append(dict(loop.params)["body"])
        # the gradient graph is built without unrolling too (its size depends only on
        # the checkpoint policy: store every carry up to 1,024 steps, else sqrt)
        grad_sizes.append(len(gc.grad(g).nodes))
    assert sizes == [sizes[0]] * 4
    assert grad_sizes[0] == grad_sizes[1] and grad_sizes[2] == grad_sizes[3]
    assert len(set(keys)) == 1       # one body, whatever the trip count


def test_tuple_assignment_is_simultaneous():
    g = gc.parse("a, b = x, y\na, b = b, a\nd = a - b")
    assert gc.evaluate(g, x=1.0, y=5.0) == 4.0


@pytest.mark.parametrize("src, line, column, message", [
    # the trip count is not static
    ("x = 1.0\nfor i in range(n): x = x + 1", 2, 16, "must be static.*'n' is an input"),
    ("x = 1.0; n = 2*y\nfor i in range(n): x = x + 1", 2, 16, "computed by the program"),
    ("x = 1.0\nfor i in range(2.5): x = x + 1", 2, 16, "not an integer literal"),
    ("x = 1.0; n = 2.5\nfor i in range(n): x = x + 1", 2, 16, "not an integer"),
    ("x = 1.0\nfor i in range(2*3): x = x + 1", 2, 17, "not an expression"),
    ("x = 1.0\nfor i in range(0, 9, 2): x = x + 1", 2, 22, "step is not supported"),
    ("x = 1.0\nfor i in y: x = x + 1", 2, 10, r"range\(\.\.\.\)"),
    ("x = 1.0\nfor i in range(3) x = x + 1", 2, 19, "expected ':'"),
    # names the body cannot use
    ("x = 1.0\nfor i in range(3):\n    x = x + t\n    t = 2", 3, 13,
     "'t' is used in the loop before it is assigned"),
    ("x = 1.0\nfor i in range(3): t = x; x = t\ny = t", 3, 5,
     "'t' is assigned only inside a loop"),
    ("x = 1.0\nfor i in range(3): x = x + i\ny = i", 3, 5, "'i' is assigned only inside"),
    ("x = 1.0\nfor i in range(3): i = x", 2, 20, "loop variable 'i' cannot be assigned"),
    ("i = 1.0\nfor i in range(3): x = i", 2, 5, "'i' is already a variable"),
    # nested loops must be on their own lines
    ("x = 1.0\nfor i in range(3): x = x + 1; for j in range(2): x = x * 2", 2, 31,
     "a loop inside a one-line loop body"),
    # body shapes and forms
    ("x = 1.0\nfor i in range(3): x = [1, 2] * x", 2, 20, "keeps its shape"),
    ("x = 1.0\nfor i in range(3):\ny = x", 3, 1, "the loop body is empty"),
    ("x = 1.0\nfor i in range(3): x + 1", 2, 20, "must assign a variable"),
    ("x = 1.0\nfor i in range(3): t = 2*x", 2, 1, "changes no variable"),
    ("a, b = 1, 2, 3", 1, 12, "more values"),
    ("a, b = 1", 1, 9, "1 value"),
])
def test_errors_carry_line_and_column(src, line, column, message):
    with pytest.raises(gc.ParseError, match=message) as info:
        gc.parse(src)
    assert (info.value.line, info.value.column) == (line, column), str(info.value)
    assert "^" in str(info.value)


def test_undefined_name_in_body_with_declared_inputs():
    with pytest.raises(gc.ParseError, match="unknown variable 'hh'") as info:
        gc.parse("x = x0\nfor i in range(3):\n    x = x + hh*x", ["x0", "h"])
    assert (info.value.line, info.value.column) == (3, 13)


def test_huge_trip_count_parses_without_unrolling_and_evaluates_small_ones():
    g = gc.parse(PENDULUM.replace("N", "1000000000000"))
    assert dict(loops(g)[0].params)["length"] == 10 ** 12
    assert len(g.nodes) < 40


def test_cli_grad_graph_and_trace_through_a_loop(capsys, tmp_path):
    src = PENDULUM.replace("N", "1000")
    assert main(["grad", src, "--at", "h=0.01"]) == 0
    out = capsys.readouterr().out
    fd = (pendulum_np(0.01 + 1e-7) - pendulum_np(0.01 - 1e-7)) / 2e-7
    shown = float(out.split("dE/dh =")[1].split()[0])
    assert shown == pytest.approx(fd, rel=1e-5)
    assert main(["graph", src, "--grad", "-o", str(tmp_path / "g.dot")]) == 0
    assert "scan body (drawn once) × 1000 steps" in (tmp_path / "g.dot").read_text()
    assert main(["trace", src, "--at", "h=0.01", "--mode", "rev",
                 "-o", str(tmp_path / "t.dot")]) == 0
    assert "× 1000 steps" in (tmp_path / "t.dot").read_text()
    assert main(["grad", src.replace("1000", "n"), "--at", "h=0.01", "n=3"]) == 2
    assert "column 16" in capsys.readouterr().err


def test_float32_blank_lines_comments_and_llvm_kernel():
    g = gc.parse("x = 1.0; v = 0.0\nfor i in range(100): x, v = x + h*v*i/100, v - h*sin(x)"
                 "\nE = x", dtype="float32")
    h = np.float32(0.01)
    x, v = np.float32(1), np.float32(0)
    for i in range(100):
        x, v = x + h * v * np.float32(i) / np.float32(100), v - h * np.sin(x)
    got = gc.evaluate(g, h=h)
    assert np.asarray(got).dtype == np.float32 and got == pytest.approx(x, rel=1e-6)
    g2 = gc.parse("\nx = 0.0\nfor k in range(3):\n\n    # a comment line\n"
                  "    x = x + k   # add k\n\ny = x * 2\n")
    assert gc.evaluate(g2) == 6.0
    # a block loop after other statements on its line; the body ends at the dedent
    g4 = gc.parse("x = 1.0; for k in range(3):\n  x = x * 2\n  x = x + 1\ny = x")
    assert gc.evaluate(g4) == 15.0
    # the LLVM kernel runs the loop as a loop and agrees with the interpreter
    g3 = gc.parse(PENDULUM.replace("N", "1000"))
    value, (dh,) = gc.compile(gc.value_and_grad(g3))(h=np.array(0.01))
    assert value == pytest.approx(pendulum_np(0.01), rel=1e-13)
    assert dh == pytest.approx(gc.evaluate(gc.grad(g3), h=0.01)[0], rel=1e-12)
