"""A one-layer LSTM language model over characters, written with ``gc.scan``; its
gradient checked against PyTorch and a short training run.

For a text of characters ``s_0 .. s_T`` (the opening of *Alice's Adventures in
Wonderland*, Lewis Carroll, 1865: public domain, embedded below), one-hot inputs
``x_t = onehot(s_t)`` and targets ``s_{t+1}``, the model is PyTorch's ``nn.LSTM``
(gate order i, f, g, o) followed by a linear read-out::

    z_t = W_ih x_t + W_hh h_{t-1} + b                 # (4H,)
    i, f, g, o = sigmoid(z[:H]), sigmoid(z[H:2H]), tanh(z[2H:3H]), sigmoid(z[3H:])
    c_t = f * c_{t-1} + i * g;   h_t = o * tanh(c_t)   # h_0 = c_0 = 0
    loss = (1/T) sum_t cross_entropy(W_out h_t + b_out, s_{t+1})

The recurrence is one ``gc.scan`` over the rows of the one-hot inputs and targets
(``(T, V)`` each), the body traced once; ``gc.value_and_grad`` w.r.t. all five weights
is reverse mode through the loop, run by default by the NumPy interpreter
(``target="numpy"``, which runs loops as loops); ``--target llvm`` compiles the loop as
a loop (docs/loops.md): measured at H = 24 and 400 characters on the loaded 2-core test
machine, 0.35 s a gradient in the interpreter, 28 ms with LLVM after a 5 s compile.

Check (``check_against_torch``): the same weights copied into ``torch.nn.LSTM``
(``weight_ih_l0 = W_ih``, ``weight_hh_l0 = W_hh``, ``bias_ih_l0 = b``,
``bias_hh_l0 = 0``) and ``torch.nn.Linear``, float64, loss by
``F.cross_entropy``, gradients by ``backward()``: loss and every gradient entry agree
to 1e-10 relative (measured ~1e-15). Training: Adam (lr 0.02) on the whole sequence.

Run::

    python examples/lstm_chars.py                        # H = 24, 400 characters
    python examples/lstm_chars.py --hidden 16 --chars 60 --steps 20
    python examples/lstm_chars.py --target llvm          # the loop compiled by LLVM
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import graphc as gc  # noqa: E402
import graphc.numpy as gnp  # noqa: E402

TEXT = (
    "Alice was beginning to get very tired of sitting by her sister on the bank, and "
    "of having nothing to do: once or twice she had peeped into the book her sister "
    "was reading, but it had no pictures or conversations in it, 'and what is the use "
    "of a book,' thought Alice 'without pictures or conversations?' So she was "
    "considering in her own mind (as well as she could, for the hot day made her feel "
    "very sleepy and stupid), whether the pleasure of making a daisy-chain would be "
    "worth the trouble of getting up and picking the daisies, when suddenly a White "
    "Rabbit with pink eyes ran close by her."
)
"""Lewis Carroll, *Alice's Adventures in Wonderland* (1865), chapter 1: public domain."""

PARAMS = ("W_ih", "W_hh", "b", "W_out", "b_out")


def encode(text: str, chars: int):
    """``(X, Y, vocabulary)``: one-hot inputs of ``text[:chars]`` and one-hot next
    characters, both ``(chars, V)`` float64 (needs ``chars + 1`` characters); the
    vocabulary is the sorted set of characters of the whole ``text``."""
    if chars + 1 > len(text):
        raise ValueError(f"chars must be at most {len(text) - 1}, got {chars}")
    vocab = sorted(set(text))
    idx = np.array([vocab.index(ch) for ch in text[:chars + 1]])
    eye = np.eye(len(vocab))
    return eye[idx[:-1]], eye[idx[1:]], vocab


def shapes(hidden: int, vocab: int) -> dict:
    """The weight shapes (PyTorch's layout)."""
    H, V = hidden, vocab
    return {"W_ih": (4 * H, V), "W_hh": (4 * H, H), "b": (4 * H,), "W_out": (V, H),
            "b_out": (V,)}


def init_params(hidden: int, vocab: int, seed: int = 0) -> dict[str, np.ndarray]:
    """PyTorch's default initialisation, uniform in ±1/sqrt(H), from a seeded NumPy RNG."""
    rng = np.random.default_rng(seed)
    bound = 1.0 / np.sqrt(hidden)
    return {k: rng.uniform(-bound, bound, s) for k, s in shapes(hidden, vocab).items()}


def make_loss(hidden: int, vocab: int, chars: int, checkpoint="auto"):
    """The mean next-character cross-entropy as a ``gc.function`` of
    ``(W_ih, W_hh, b, W_out, b_out, X, Y)`` with concrete shapes (loops need them):
    ``X``, ``Y`` one-hot ``(chars, vocab)``."""
    H = hidden
    sh = dict(shapes(hidden, vocab), X=(chars, vocab), Y=(chars, vocab))

    def loss(W_ih, W_hh, b, W_out, b_out, X, Y):
        def step(carry, xy):
            h, c, acc = carry
            x, y = xy
            z = W_ih @ x + W_hh @ h + b
            i = gc.sigmoid(z[0:H])
            f = gc.sigmoid(z[H:2 * H])
            g = gc.tanh(z[2 * H:3 * H])
            o = gc.sigmoid(z[3 * H:4 * H])
            c = f * c + i * g
            h = o * gc.tanh(c)
            logits = W_out @ h + b_out
            return (h, c, acc - gnp.sum(y * gnp.log_softmax(logits))), None

        zero = np.zeros(H)
        (_, _, acc), _ = gc.scan(step, (zero, zero, 0.0), (X, Y), checkpoint=checkpoint)
        return acc / chars

    loss.__name__ = "lstm_loss"
    return gc.function(loss, shapes=sh)


def make_value_and_grad(hidden: int, vocab: int, chars: int, checkpoint="auto",
                        target: str = "numpy"):
    """``vg(params, X, Y) -> (loss, {name: gradient})``, compiled for ``target``
    (``"numpy"``: the NumPy interpreter, or ``"llvm"``)."""
    f = gc.value_and_grad(make_loss(hidden, vocab, chars, checkpoint),
                          argnums=(0, 1, 2, 3, 4), target=target)

    def vg(params, X, Y):
        value, grads = f(*[params[k] for k in PARAMS], X, Y)
        return float(value), {k: np.asarray(g) for k, g in zip(PARAMS, grads)}
    return vg


def torch_value_and_grad(params: dict, X: np.ndarray, Y: np.ndarray):
    """The same model in PyTorch (float64): ``torch.nn.LSTM`` and ``torch.nn.Linear``
    with the weights copied in (``bias_hh_l0 = 0``), ``F.cross_entropy``; returns
    ``(loss, {name: gradient})``."""
    import torch
    import torch.nn.functional as F
    V = X.shape[1]
    H = params["W_hh"].shape[1]
    lstm = torch.nn.LSTM(V, H, dtype=torch.float64)
    lin = torch.nn.Linear(H, V, dtype=torch.float64)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(params["W_ih"]))
        lstm.weight_hh_l0.copy_(torch.from_numpy(params["W_hh"]))
        lstm.bias_ih_l0.copy_(torch.from_numpy(params["b"]))
        lstm.bias_hh_l0.zero_()
        lin.weight.copy_(torch.from_numpy(params["W_out"]))
        lin.bias.copy_(torch.from_numpy(params["b_out"]))
    out, _ = lstm(torch.from_numpy(X)[:, None, :])          # (T, 1, H)
    logits = lin(out[:, 0, :])
    loss = F.cross_entropy(logits, torch.from_numpy(Y.argmax(axis=1)))
    loss.backward()
    grads = {"W_ih": lstm.weight_ih_l0.grad, "W_hh": lstm.weight_hh_l0.grad,
             "b": lstm.bias_ih_l0.grad, "W_out": lin.weight.grad, "b_out": lin.bias.grad}
    return loss.item(), {k: v.numpy().copy() for k, v in grads.items()}


def check_against_torch(hidden: int = 24, chars: int = 400, seed: int = 0,
                        target: str = "numpy") -> dict:
    """Loss and gradients of graphc and PyTorch at random weights (scaled up ×3 so that
    the gates are not all near 1/2). Returns ``{"loss": relative difference, "grads":
    worst over the weights of max |difference| / max |torch gradient|, "per_weight":
    {name: that}, "seconds": graphc's compile + first call}``."""
    X, Y, vocab = encode(TEXT, chars)
    params = {k: 3.0 * v for k, v in init_params(hidden, len(vocab), seed).items()}
    t0 = time.perf_counter()
    value, grads = make_value_and_grad(hidden, len(vocab), chars, target=target)(
        params, X, Y)
    seconds = time.perf_counter() - t0
    tv, tg = torch_value_and_grad(params, X, Y)
    per = {k: float(np.max(np.abs(grads[k] - tg[k])) / np.max(np.abs(tg[k])))
           for k in PARAMS}
    return {"loss": abs(value - tv) / abs(tv), "grads": max(per.values()),
            "per_weight": per, "seconds": seconds}


class Adam:
    """Adam as ``torch.optim.Adam`` computes it (bias-corrected moments)."""

    def __init__(self, lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0
        self.m: dict = {}
        self.v: dict = {}

    def update(self, params: dict, grads: dict) -> None:
        self.t += 1
        for k, g in grads.items():
            m = self.m[k] = self.b1 * self.m.get(k, 0.0) + (1 - self.b1) * g
            v = self.v[k] = self.b2 * self.v.get(k, 0.0) + (1 - self.b2) * g * g
            mhat, vhat = m / (1 - self.b1 ** self.t), v / (1 - self.b2 ** self.t)
            params[k] = params[k] - self.lr * mhat / (np.sqrt(vhat) + self.eps)


def train(hidden: int = 24, chars: int = 400, steps: int = 150, lr: float = 0.02,
          seed: int = 0, target: str = "numpy"):
    """``(params, losses, seconds)``: Adam on the whole sequence from
    :func:`init_params`; ``losses[k]`` is the loss before update ``k``."""
    X, Y, vocab = encode(TEXT, chars)
    params = init_params(hidden, len(vocab), seed)
    vg = make_value_and_grad(hidden, len(vocab), chars, target=target)
    opt = Adam(lr)
    losses = []
    t0 = time.perf_counter()
    for _ in range(steps):
        value, grads = vg(params, X, Y)
        losses.append(value)
        opt.update(params, grads)
    return params, losses, time.perf_counter() - t0


def sample(params: dict, vocab: list, start: str, n: int) -> str:
    """Greedy continuation of ``start`` by ``n`` characters (NumPy forward pass)."""
    H = params["W_hh"].shape[1]
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    h, c = np.zeros(H), np.zeros(H)
    out = start
    ch = None
    for k in range(len(start) + n):
        ch = start[k] if k < len(start) else ch
        x = np.eye(len(vocab))[vocab.index(ch)]
        z = params["W_ih"] @ x + params["W_hh"] @ h + params["b"]
        i, f, g, o = sig(z[:H]), sig(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), sig(z[3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        ch = vocab[int(np.argmax(params["W_out"] @ h + params["b_out"]))]
        if k >= len(start) - 1 and k < len(start) + n - 1:
            out += ch
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hidden", type=int, default=24)
    p.add_argument("--chars", type=int, default=400)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--target", choices=("numpy", "llvm"), default="numpy")
    args = p.parse_args(argv)
    r = check_against_torch(args.hidden, args.chars, target=args.target)
    print(f"LSTM H={args.hidden}, {args.chars} characters, target {args.target}: vs PyTorch "
          f"loss {r['loss']:.1e}, gradients {r['grads']:.1e} relative "
          f"(compile + first gradient {r['seconds']:.2f} s)")
    params, losses, secs = train(args.hidden, args.chars, args.steps, args.lr,
                                 target=args.target)
    print(f"Adam, {args.steps} steps: loss {losses[0]:.3f} -> {losses[-1]:.3f} "
          f"({secs / max(1, args.steps) * 1e3:.0f} ms a step)")
    vocab = encode(TEXT, args.chars)[2]
    print("greedy sample:", repr(sample(params, vocab, "Alice was ", 40)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
