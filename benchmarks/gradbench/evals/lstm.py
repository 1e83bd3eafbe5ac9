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

The ``c - 1`` time steps are one :func:`graphc.scan` over the rows of ``sequence``
(carry: every layer's hidden and cell state, one ``(l, 2, b)`` array, and the running
sum of the loss terms); its body is a scan over the ``l`` layers (per-layer input: that
layer's ``(2, 4b)`` parameters and ``(2, b)`` state), so both bodies are traced and
compiled once and compile time depends on neither ``c`` nor ``l``. Few, whole arrays
as loop operands (not one slice per gate) keep the packing of the loops' operands
small: 1.3 s of compile CPU for the gradient against 2.0 s with per-gate slices and
3.0 s with the layers unrolled in the step (l=6, c=8192). Reverse mode runs the reverse
scan of the step's VJP over every stored carry (``checkpoint="all"``: the carry is
``2lb + 1`` floats, 5.6 MB at l=6, b=7, c=8192, while the default's ``"sqrt"`` segments
above 1,024 steps would compile a further nested loop: 2.8 s of compile CPU). Kernels
are compiled per ``(l, b, c)``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

import graphc as gc
import graphc.numpy as gnp
from graphc.frontend.tracer import trace


def loss(MP, EP, S, SEQ, l: int, b: int):  # noqa: E741 - GradBench's name
    """The LSTM loss of graph values ``MP`` (2l, 4b), ``EP`` (3, b), ``S`` (2l, b) and
    ``SEQ`` (c, b), c >= 2 (traced: a scan over the ``c - 1`` steps whose body is a
    scan over the ``l`` layers)."""
    c = SEQ.shape[0]
    P = gnp.reshape(MP, (l, 2, 4 * b))      # per layer: weights, biases (f, i, o, c gates)
    HC0 = gnp.reshape(S, (l, 2, b))         # per layer: hidden, cell

    def layer(x, row):
        p, hc = row
        w, bias, h, cell = p[0], p[1], hc[0], hc[1]
        cell = (cell * gc.sigmoid(x * w[0:b] + bias[0:b])
                + gc.sigmoid(h * w[b:2 * b] + bias[b:2 * b])
                * gc.tanh(h * w[3 * b:] + bias[3 * b:]))
        h = gc.sigmoid(x * w[2 * b:3 * b] + bias[2 * b:3 * b]) * gc.tanh(cell)
        return h, gnp.stack([h, cell])

    def step(carry, row):
        HC, total = carry
        seq_t, seq_next = row
        x, HC = gc.scan(layer, seq_t * EP[0], xs=(P, HC))
        y = x * EP[1] + EP[2]
        total = total + gnp.sum(seq_next * (y - gc.log(gnp.sum(gc.exp(y)) + 2)))
        return (HC, total), None

    (_, total), _ = gc.scan(step, (HC0, 0.0), xs=(SEQ[:c - 1], SEQ[1:]), checkpoint="all")
    return -total / ((c - 1) * b)


def graphs(l: int, b: int, c: int):  # noqa: E741
    """``(objective, gradient)`` graphs for ``l`` layers, ``b`` bits, ``c`` characters,
    inputs ``MP``, ``EP``, ``S``, ``SEQ``; the gradient's outputs are ``∂/∂MP`` and
    ``∂/∂EP`` (graphc's reverse mode).

    Raises:
        InputError: fewer than 2 characters or no layer.
    """
    if c < 2:
        raise gc.InputError(f"lstm: the sequence needs at least 2 characters, got {c}")
    if l < 1:
        raise gc.InputError(f"lstm: the model needs at least one layer, got {l}")
    f = trace(lambda MP, EP, S, SEQ: loss(MP, EP, S, SEQ, l, b),
              shapes={"MP": (2 * l, 4 * b), "EP": (3, b), "S": (2 * l, b), "SEQ": (c, b)})
    return f, gc.grad(f, wrt=["MP", "EP"])


@lru_cache(maxsize=None)
def kernels(l: int, b: int, c: int):  # noqa: E741
    """``(objective, gradient)`` LLVM kernels of :func:`graphs` (each compiled on its
    first call)."""
    return tuple(gc.compile(g) for g in graphs(l, b, c))


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
