"""Train a 64-32-10 tanh network on scikit-learn's handwritten digits with graphc.

The loss and its gradient are one graphc graph, compiled to machine code::

    h = tanh(W1 @ X + b1)               # X: (64, B), one column per image
    z = W2 @ h + b2                     # (10, B) logits
    loss = cross_entropy(z, y, axis=0)  # y: (B,) class indices; mean over the batch

``gc.value_and_grad(loss, wrt=[W1, b1, W2, b2])`` is compiled once per batch size (``B``
is a symbolic dimension), then minibatch SGD and Adam update the weights with NumPy
from those gradients only. The data are the 1797 real 8x8 images bundled with
scikit-learn (``sklearn.datasets.load_digits``, no download), scaled to [0, 1] and split
80/20 into training and test sets.

Run::

    pip install '.[examples]'
    python examples/mlp_digits.py            # SGD and Adam, prints test accuracy
    python examples/mlp_digits.py --plot loss.png   # and the loss curves (matplotlib)

``--plot`` (default ``mlp_digits_loss.png`` in the current directory, ``--plot ''`` for
none) saves the loss of every minibatch against the step for both optimizers
(``examples/training_curves.py``).

The same network, initial weights and batches in PyTorch: ``examples/mlp_torch_compare.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import graphc as gc  # noqa: E402

SIZES = (64, 32, 10)
PARAMS = ("W1", "b1", "W2", "b2")

LOSS = """
h = tanh(W1 @ X + b1)
z = W2 @ h + b2
loss = cross_entropy(z, y, axis=0)
"""
"""The loss from logits and integer class labels (the stable form)."""

LOSS_SOFTMAX = """
h = tanh(W1 @ X + b1)
p = softmax(W2 @ h + b2, axis=0)
loss = -mean(sum(Y * log(p), axis=0))
"""
"""The same loss written with softmax and one-hot labels ``Y`` (issue 5's example)."""

SHAPES = dict(X=("D", "B"), y=("B",), Y=("C", "B"), W1=("H", "D"), b1=("H", 1),
              W2=("C", "H"), b2=("C", 1))


def load_data(seed: int = 0, test_fraction: float = 0.2):
    """The digits as ``(X_train (64, n), y_train (n,), X_test, y_test)``: pixels scaled
    to [0, 1], one column per image, labels as float class indices; a seeded split."""
    from sklearn.datasets import load_digits
    data = load_digits()
    X = data.data.astype(np.float64) / 16.0
    y = data.target.astype(np.float64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return (np.ascontiguousarray(X[train].T), y[train],
            np.ascontiguousarray(X[test].T), y[test])


def init_params(seed: int = 0, sizes=SIZES) -> dict[str, np.ndarray]:
    """LeCun-normal weights (std 1/sqrt(fan_in)) and zero biases, from a seeded RNG."""
    d, h, c = sizes
    rng = np.random.default_rng(seed)
    return {"W1": rng.normal(0.0, 1.0 / np.sqrt(d), (h, d)), "b1": np.zeros((h, 1)),
            "W2": rng.normal(0.0, 1.0 / np.sqrt(h), (c, h)), "b2": np.zeros((c, 1))}


def loss_graph(form: str = "cross_entropy") -> gc.Graph:
    """The loss graph: ``"cross_entropy"`` (labels ``y``) or ``"softmax"`` (one-hot ``Y``)."""
    src = LOSS if form == "cross_entropy" else LOSS_SOFTMAX
    return gc.parse(src, **SHAPES)  # shapes of names the source does not use are ignored


def make_step(form: str = "cross_entropy", target: str = "llvm"):
    """A function ``step(params, X, labels) -> (loss, {name: gradient})`` running the
    compiled value-and-gradient graph (``labels``: class indices, or one-hot for the
    softmax form)."""
    kernel = gc.compile(gc.value_and_grad(loss_graph(form), wrt=list(PARAMS)), target=target)
    names = kernel.graph.input_names
    label = "y" if form == "cross_entropy" else "Y"

    def step(params, X, labels):
        values = dict(params, X=X)
        values[label] = labels
        loss, grads = kernel(*[values[n] for n in names])
        return float(loss), dict(zip(PARAMS, grads))
    step.kernel = kernel
    return step


def make_predict(target: str = "llvm"):
    """``predict(params, X) -> class indices`` through a compiled graph of the logits."""
    g = gc.parse("W2 @ tanh(W1 @ X + b1) + b2", **SHAPES)
    kernel = gc.compile(g, target=target)
    names = kernel.graph.input_names

    def predict(params, X):
        values = dict(params, X=X)
        return np.argmax(kernel(*[values[n] for n in names]), axis=0)
    return predict


def batches(n: int, batch: int, epochs: int, seed: int = 0):
    """Index arrays of the minibatches: a fresh seeded permutation per epoch, the last
    batch of an epoch smaller when ``batch`` does not divide ``n``."""
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(n)
        for s in range(0, n, batch):
            yield order[s:s + batch]


class SGD:
    """Plain gradient descent ``p -= lr * g``."""

    def __init__(self, lr: float):
        self.lr = lr

    def update(self, params: dict, grads: dict) -> None:
        for k in params:
            params[k] = params[k] - self.lr * grads[k]


class Adam:
    """Adam (Kingma & Ba 2015, Algorithm 1) written as ``torch.optim.Adam`` computes it,
    so the two agree to rounding: ``p -= lr/(1-β1ᵗ) · m / (sqrt(v)/sqrt(1-β2ᵗ) + eps)``."""

    def __init__(self, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        self.lr, (self.b1, self.b2), self.eps = lr, betas, eps
        self.m: dict = {}
        self.v: dict = {}
        self.t = 0

    def update(self, params: dict, grads: dict) -> None:
        self.t += 1
        bc1 = 1.0 - self.b1 ** self.t
        bc2 = 1.0 - self.b2 ** self.t
        for k, g in grads.items():
            m = self.m.get(k, np.zeros_like(g))
            v = self.v.get(k, np.zeros_like(g))
            m = m + (g - m) * (1.0 - self.b1)
            v = v * self.b2 + g * g * (1.0 - self.b2)
            self.m[k], self.v[k] = m, v
            denom = np.sqrt(v) / np.sqrt(bc2) + self.eps
            params[k] = params[k] - (self.lr / bc1) * (m / denom)


def one_hot(y: np.ndarray, classes: int = SIZES[-1]) -> np.ndarray:
    """Class indices ``(B,)`` as a one-hot ``(classes, B)`` array."""
    return (np.arange(classes)[:, None] == y[None, :]).astype(np.float64)


def train(optimizer, epochs: int, batch: int, seed: int = 0, form: str = "cross_entropy",
          data=None, max_steps: int | None = None, target: str = "llvm"):
    """Train from :func:`init_params` (``seed``) with ``optimizer``; returns
    ``(params, losses)``, the loss of every minibatch before its update."""
    Xtr, ytr, _, _ = data if data is not None else load_data()
    params = init_params(seed)
    step = make_step(form, target)
    losses = []
    for idx in batches(Xtr.shape[1], batch, epochs, seed):
        X = np.ascontiguousarray(Xtr[:, idx])
        labels = ytr[idx] if form == "cross_entropy" else one_hot(ytr[idx])
        loss, grads = step(params, X, labels)
        losses.append(loss)
        optimizer.update(params, grads)
        if max_steps is not None and len(losses) >= max_steps:
            break
    return params, losses


def accuracy(params, X, y, predict=None) -> float:
    """Fraction of images whose largest logit is the true class."""
    predict = predict or make_predict()
    return float(np.mean(predict(params, X) == y))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0, help="random seed (split, weights, "
                    "batches)")
    ap.add_argument("--plot", metavar="PATH", default="mlp_digits_loss.png",
                    help="PNG of the loss curves (default mlp_digits_loss.png; '' for none)")
    args = ap.parse_args(argv)
    data = load_data(args.seed)
    Xtr, ytr, Xte, yte = data
    print(f"digits: {Xtr.shape[1]} training and {Xte.shape[1]} test images, "
          f"network {'-'.join(map(str, SIZES))} (tanh), batch {args.batch}")
    predict = make_predict()
    results, curves = {}, {}
    for name, opt in (("SGD (lr 0.5)", SGD(0.5)), ("Adam (lr 0.01)", Adam(0.01))):
        t0 = time.perf_counter()
        params, losses = train(opt, args.epochs, args.batch, args.seed, data=data)
        dt = time.perf_counter() - t0
        acc = accuracy(params, Xte, yte, predict)
        results[name] = acc
        curves[name] = losses
        print(f"{name:15s} {len(losses)} steps in {dt:.2f} s ({dt / len(losses) * 1e6:.0f} "
              f"us/step incl. batching and the update): final batch loss {losses[-1]:.4f}, "
              f"train accuracy {accuracy(params, Xtr, ytr, predict):.4f}, "
              f"test accuracy {acc:.4f}")
    if args.plot:
        from training_curves import save_or_explain
        save_or_explain(curves, args.plot, f"digits MLP {'-'.join(map(str, SIZES))}: "
                        f"minibatch loss (batch {args.batch})")
    return 0 if all(a >= 0.95 for a in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
