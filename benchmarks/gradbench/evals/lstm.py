"""GradBench ``lstm``: the loss of an ``l``-layer LSTM predicting a character sequence
(ADBench's "LSTM"), ``objective`` and ``jacobian`` (the gradient with respect to
``main_params`` then ``extra_params``, flattened; graphc's reverse mode).

Input (GradBench's ``LSTMInput``): ``main_params`` (``2l × 4b``: per layer a weight row
and a bias row, each the forget, input, output and change gates' ``b`` entries),
``extra_params`` (``3 × b``: input weight, output weight, output bias), ``state``
(``2l × b``: per layer hidden then cell) and ``sequence`` (``c × b``: one bit vector per
character). The formula is GradBench's PyTorch tool's (``lstm_objective.py``), quirks
included: the gates take ``(x, h, x, h)`` elementwise, and the normaliser is
``log(2 + Σ exp ypred)``; the state carries over time and the input at step ``t`` is
``sequence[t]`` (teacher forcing), predicting ``sequence[t + 1]``.

graphc has no loop primitive, so the ``c - 1`` time steps × ``l`` layers are unrolled
into the program (compile time grows as ``c·l``: small ``c`` only). Kernels are
compiled per ``(l, b, c)``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

import graphc as gc


def program(l: int, b: int, c: int) -> str:  # noqa: E741 - GradBench's name
    """The unrolled LSTM loss over ``MP`` (2l, 4b), ``EP`` (3, b), ``S`` (2l, b) and
    ``SEQ`` (c, b), ending in ``loss``."""
    L = []
    for i in range(l):
        for g, name in enumerate(("f", "i", "o", "c")):
            L.append(f"w{name}{i} = MP[{2 * i}:{2 * i + 1}, {g * b}:{(g + 1) * b}]")
            L.append(f"b{name}{i} = MP[{2 * i + 1}:{2 * i + 2}, {g * b}:{(g + 1) * b}]")
        L.append(f"h{i}_0 = S[{2 * i}:{2 * i + 1}, :]")
        L.append(f"c{i}_0 = S[{2 * i + 1}:{2 * i + 2}, :]")
    terms = []
    for t in range(c - 1):
        L.append(f"x{t} = SEQ[{t}:{t + 1}, :] * EP[0:1, :]")
        x = f"x{t}"
        for i in range(l):
            h, cc = f"h{i}_{t}", f"c{i}_{t}"
            L += [f"c{i}_{t + 1} = {cc} * sigmoid({x} * wf{i} + bf{i}) "
                  f"+ sigmoid({h} * wi{i} + bi{i}) * tanh({h} * wc{i} + bc{i})",
                  f"h{i}_{t + 1} = sigmoid({x} * wo{i} + bo{i}) * tanh(c{i}_{t + 1})"]
            x = f"h{i}_{t + 1}"
        L += [f"y{t} = {x} * EP[1:2, :] + EP[2:3, :]",
              f"term{t} = sum(SEQ[{t + 1}:{t + 2}, :] * (y{t} - log(sum(exp(y{t})) + 2)))"]
        terms.append(f"term{t}")
    L.append(f"loss = -({' + '.join(terms) if terms else '0'}) / {max(c - 1, 1) * b}")
    return "\n".join(L)


@lru_cache(maxsize=None)
def kernels(l: int, b: int, c: int):  # noqa: E741
    """``(objective, gradient)`` kernels for ``l`` layers, ``b`` bits, ``c`` characters."""
    if c < 2:
        raise gc.InputError(f"lstm: the sequence needs at least 2 characters, got {c}")
    f = gc.parse(program(l, b, c), MP=(2 * l, 4 * b), EP=(3, b), S=(2 * l, b),
                 SEQ=(c, b))
    return gc.compile(f), gc.compile(gc.grad(f, wrt=["MP", "EP"]))


def _inputs(input):
    args = {k: np.asarray(input[v], dtype=np.float64) for k, v in
            (("MP", "main_params"), ("EP", "extra_params"), ("S", "state"),
             ("SEQ", "sequence"))}
    l, b, c = args["MP"].shape[0] // 2, args["EP"].shape[1], args["SEQ"].shape[0]
    return (l, b, c), args


def objective(input):
    """The loss (a float)."""
    key, args = _inputs(input)
    k = kernels(*key)[0]
    return (lambda: k(**args)), float


def jacobian(input):
    """The gradient: ``main_params`` then ``extra_params``, each flattened row-major."""
    key, args = _inputs(input)
    k = kernels(*key)[1]
    return (lambda: k(**args)), lambda g: np.concatenate(
        [np.asarray(v).reshape(-1) for v in g]).tolist()


FUNCTIONS = {"objective": objective, "jacobian": jacobian}
