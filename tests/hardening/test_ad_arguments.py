"""Bad ``wrt`` and ``seed`` arguments of every AD entry point raise a GraphcError
subclass that names the argument, the offending entry and what would be accepted
(``jvp(seed={'x1': 'abc'})``, a seed given as an array and ``grad(f, wrt=0)`` raised
raw ValueError/TypeError)."""

from __future__ import annotations

import numpy as np
import pytest

import graphc as gc
from graphc.ir import DomainError, GraphcError

F = gc.parse("x1*x2 + sin(x1)")
WRT_FUNCTIONS = {"grad": gc.grad, "value_and_grad": gc.value_and_grad,
                 "jacobian": gc.jacobian, "hessian": gc.hessian, "jvp": gc.jvp,
                 "vjp": gc.vjp}
BAD_WRT = [0, 1.5, True, {"x1": 1}, b"x1", [0], ["x1", 2], ("x1", None)]


@pytest.mark.parametrize("wrt", BAD_WRT, ids=repr)
@pytest.mark.parametrize("fn", list(WRT_FUNCTIONS), ids=str)
def test_bad_wrt(fn, wrt):
    with pytest.raises(DomainError) as info:
        WRT_FUNCTIONS[fn](F, wrt=wrt)
    msg = str(info.value)
    assert "wrt" in msg and "x1, x2" in msg and "name" in msg, msg


BAD_SEED_VALUES = ["abc", np.array([1.0, 2.0]), np.zeros((2, 2)), True, [1.0], None,
                   {"a": 1}, 1 + 2j]


@pytest.mark.parametrize("value", BAD_SEED_VALUES, ids=repr)
@pytest.mark.parametrize("fn, name", [("jvp", "x1"), ("vjp", F.output_names[0])])
def test_bad_seed_value(fn, name, value):
    with pytest.raises(DomainError) as info:
        WRT_FUNCTIONS[fn](F, seed={name: value})
    msg = str(info.value)
    assert fn in msg and f"seed[{name!r}]" in msg and "real number" in msg, msg


@pytest.mark.parametrize("seed", [1.0, "x1", ["x1"], np.array([1.0])], ids=repr)
@pytest.mark.parametrize("fn", ["jvp", "vjp"])
def test_seed_must_be_a_mapping(fn, seed):
    with pytest.raises(DomainError, match="mapping"):
        WRT_FUNCTIONS[fn](F, seed=seed)


@pytest.mark.parametrize("fn", ["jvp", "vjp"])
def test_unknown_seed_name(fn):
    with pytest.raises(GraphcError, match="not among"):
        WRT_FUNCTIONS[fn](F, seed={"zz": 1.0})


@pytest.mark.parametrize("value", [2, 2.5, np.float32(2.5), np.int64(2), np.array(2.5)],
                         ids=repr)
def test_good_seed_values_are_accepted(value):
    x1, x2 = 0.7, 1.3
    got = gc.evaluate(gc.jvp(F, seed={"x1": value}), x1, x2)
    want = float(value) * (x2 + np.cos(x1))
    assert np.isclose(float(np.asarray(got[1])), want)
