"""A 2-layer MLP written as a Python function and trained by plain gradient descent.

The network is ordinary NumPy-style code traced by ``@gc.function``::

    @gc.function(shapes={"W1": ("H", "D"), "b1": ("H", 1), "W2": ("C", "H"),
                         "b2": ("C", 1), "X": ("D", "B"), "y": ("B",)})
    def loss(W1, b1, W2, b2, X, y):
        h = gnp.tanh(W1 @ X + b1)          # X: (D, B), one column per sample
        z = W2 @ h + b2                    # (C, B) logits
        return gnp.cross_entropy(z, y, axis=0)   # y: (B,) class indices; batch mean

and ``gc.value_and_grad(loss, argnums=(0, 1, 2, 3))`` gives the loss and the gradients
of the four weight arrays (a named tuple ``Gradient(W1=..., b1=..., W2=..., b2=...)``),
compiled once (``B`` is a symbolic dimension). Training is full-batch gradient descent
``p -= lr * g`` with NumPy, from seeded LeCun-normal weights.

Data: scikit-learn's 1797 handwritten 8x8 digits (``--data digits``, the default; no
download), split 80/20 as ``examples/mlp_digits.py`` does, or ``--data blobs``, a
seeded synthetic set of Gaussian clusters that needs only NumPy.

Before training, the gradient is checked once against two references that share no
code with the traced function: the gradient of the same network written as a
``gc.parse`` string (``examples/mlp_digits.py``'s ``LOSS``), and central finite
differences of the loss evaluated in NumPy (:func:`numpy_loss`) at randomly chosen
weights. (Tracing builds the very nodes the parse string gives, so the first check
finds them equal to the last bit; the finite differences are the independent one.)
The script exits with status 1 when a check fails or the test accuracy is
below ``--min-accuracy``.

Run::

    pip install '.[examples]'
    python examples/mlp_python.py                          # digits, 300 steps
    python examples/mlp_python.py --steps 50 --plot ''     # shorter, no figure
    python examples/mlp_python.py --data blobs             # NumPy only

``--plot PATH`` (default ``mlp_python_loss.png``; ``''`` for none) draws the training
loss against the step (``examples/training_curves.py``).
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
import graphc.numpy as gnp  # noqa: E402

PARAMS = ("W1", "b1", "W2", "b2")
SHAPES = {"W1": ("H", "D"), "b1": ("H", 1), "W2": ("C", "H"), "b2": ("C", 1),
          "X": ("D", "B"), "y": ("B",)}


@gc.function(shapes=SHAPES)
def loss(W1, b1, W2, b2, X, y):
    """Mean cross-entropy of a tanh network: ``X`` (D, B) samples as columns, ``y`` (B,)
    float class indices in [0, C), weights ``W1`` (H, D), ``b1`` (H, 1), ``W2`` (C, H),
    ``b2`` (C, 1); a scalar."""
    h = gnp.tanh(W1 @ X + b1)
    z = W2 @ h + b2
    return gnp.cross_entropy(z, y, axis=0)


@gc.function(shapes={k: SHAPES[k] for k in ("W1", "b1", "W2", "b2", "X")})
def logits(W1, b1, W2, b2, X):
    """The network's logits ``(C, B)`` for samples ``X`` (D, B)."""
    return W2 @ gnp.tanh(W1 @ X + b1) + b2


def numpy_loss(params: dict, X: np.ndarray, y: np.ndarray) -> float:
    """The same loss in plain NumPy (log-sum-exp with the column maximum subtracted),
    the finite-difference reference: ``mean_j(logsumexp(z[:, j]) - z[y_j, j])``."""
    z = params["W2"] @ np.tanh(params["W1"] @ X + params["b1"]) + params["b2"]
    m = z.max(axis=0)
    lse = m + np.log(np.exp(z - m).sum(axis=0))
    return float(np.mean(lse - z[y.astype(int), np.arange(z.shape[1])]))


def load_digits(seed: int = 0, test_fraction: float = 0.2):
    """scikit-learn's digits as ``(X_train (64, n), y_train (n,), X_test, y_test)``,
    pixels scaled to [0, 1], labels as float class indices, a seeded split."""
    from sklearn.datasets import load_digits as load
    data = load()
    X = data.data.astype(np.float64) / 16.0
    y = data.target.astype(np.float64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return (np.ascontiguousarray(X[train].T), y[train],
            np.ascontiguousarray(X[test].T), y[test])


def make_blobs(seed: int = 0, n: int = 600, dim: int = 8, classes: int = 4,
               spread: float = 1.0, test_fraction: float = 0.25):
    """A seeded synthetic set: ``classes`` Gaussian clusters (std ``spread``) around
    centres drawn from N(0, 3²) in ``dim`` dimensions; same layout as
    :func:`load_digits`."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, (classes, dim))
    y = rng.integers(0, classes, n)
    X = centres[y] + rng.normal(0.0, spread, (n, dim))
    n_test = int(round(test_fraction * n))
    return (np.ascontiguousarray(X[n_test:].T), y[n_test:].astype(np.float64),
            np.ascontiguousarray(X[:n_test].T), y[:n_test].astype(np.float64))


def init_params(sizes: tuple[int, int, int], seed: int = 0) -> dict[str, np.ndarray]:
    """LeCun-normal weights (std 1/sqrt(fan_in)) and zero biases for sizes (D, H, C)."""
    d, h, c = sizes
    rng = np.random.default_rng(seed)
    return {"W1": rng.normal(0.0, 1.0 / np.sqrt(d), (h, d)), "b1": np.zeros((h, 1)),
            "W2": rng.normal(0.0, 1.0 / np.sqrt(h), (c, h)), "b2": np.zeros((c, 1))}


_VALUE_AND_GRAD = gc.value_and_grad(loss, argnums=(0, 1, 2, 3))


def value_and_grad(params: dict, X: np.ndarray, y: np.ndarray):
    """``(loss, {name: gradient})`` from the compiled ``gc.value_and_grad`` of
    :func:`loss` (each gradient has its weight's shape)."""
    value, grads = _VALUE_AND_GRAD(*(params[k] for k in PARAMS), X, y)
    return float(value), {k: np.asarray(getattr(grads, k)) for k in PARAMS}


def accuracy(params: dict, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of samples whose largest logit is the true class."""
    z = np.asarray(logits(*(params[k] for k in PARAMS), X))
    return float(np.mean(np.argmax(z, axis=0) == y))


def check_gradient(sizes=(6, 5, 3), batch: int = 7, seed: int = 1, probes: int = 12,
                   h: float = 1e-6) -> dict[str, float]:
    """Check :func:`value_and_grad` once at random weights and data of ``sizes``
    (D, H, C) and ``batch`` samples against (1) the gradient of the same network as the
    ``gc.parse`` string ``examples/mlp_digits.py`` uses and (2) central differences
    ``(L(p + h e) - L(p - h e)) / 2h`` of :func:`numpy_loss` on ``probes`` random
    entries of each weight. Returns the largest relative differences
    ``{"parse": ..., "finite_differences": ...}`` (about 1e-16 and 1e-9)."""
    import mlp_digits
    rng = np.random.default_rng(seed)
    d, _, c = sizes
    params = {k: v + rng.normal(0.0, 0.3, v.shape) for k, v in init_params(sizes, seed).items()}
    X = rng.normal(size=(d, batch))
    y = rng.integers(0, c, batch).astype(np.float64)
    value, grads = value_and_grad(params, X, y)

    parsed = gc.compile(gc.value_and_grad(mlp_digits.loss_graph(), wrt=list(PARAMS)))
    values = dict(params, X=X, y=y)
    pvalue, pgrads = parsed(*(values[n] for n in parsed.graph.input_names))
    scale = max(np.max(np.abs(grads[k])) for k in PARAMS)
    parse_err = max(abs(float(pvalue) - value) / abs(value),
                    *(np.max(np.abs(np.asarray(g) - grads[k])) / scale
                      for k, g in zip(PARAMS, pgrads)))

    fd_err = abs(numpy_loss(params, X, y) - value) / abs(value)
    for k in PARAMS:
        for _ in range(probes):
            idx = tuple(rng.integers(0, n) for n in params[k].shape)
            plus = {**params, k: params[k].copy()}
            minus = {**params, k: params[k].copy()}
            plus[k][idx] += h
            minus[k][idx] -= h
            fd = (numpy_loss(plus, X, y) - numpy_loss(minus, X, y)) / (2 * h)
            fd_err = max(fd_err, abs(fd - grads[k][idx]) / scale)
    return {"parse": float(parse_err), "finite_differences": float(fd_err)}


def train(data, hidden: int = 32, steps: int = 300, lr: float = 1.0, seed: int = 0):
    """Full-batch gradient descent ``p -= lr * g`` from :func:`init_params`; returns
    ``(params, losses)``, the training loss before each step."""
    Xtr, ytr, _, _ = data
    classes = int(max(ytr.max(), data[3].max())) + 1
    params = init_params((Xtr.shape[0], hidden, classes), seed)
    losses = []
    for _ in range(steps):
        value, grads = value_and_grad(params, Xtr, ytr)
        losses.append(value)
        for k in PARAMS:
            params[k] = params[k] - lr * grads[k]
    return params, losses


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", choices=("digits", "blobs"), default="digits")
    ap.add_argument("--steps", type=int, default=300, help="gradient-descent steps")
    ap.add_argument("--hidden", type=int, default=32, help="hidden units")
    ap.add_argument("--lr", type=float, default=1.0, help="learning rate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-accuracy", type=float, default=0.0,
                    help="exit with status 1 below this test accuracy")
    ap.add_argument("--plot", metavar="PATH", default="mlp_python_loss.png",
                    help="PNG of the loss curve (default mlp_python_loss.png; '' for none)")
    args = ap.parse_args(argv)

    errs = check_gradient()
    ok = errs["parse"] < 1e-12 and errs["finite_differences"] < 1e-6
    print(f"gradient check: vs gc.parse {errs['parse']:.1e}, vs central differences "
          f"{errs['finite_differences']:.1e} ({'ok' if ok else 'FAILED'})")

    data = load_digits(args.seed) if args.data == "digits" else make_blobs(args.seed)
    Xtr, ytr, Xte, yte = data
    t0 = time.perf_counter()
    params, losses = train(data, args.hidden, args.steps, args.lr, args.seed)
    dt = time.perf_counter() - t0
    final = value_and_grad(params, Xtr, ytr)[0]
    acc = accuracy(params, Xte, yte)
    print(f"{args.data}: {Xtr.shape[1]} training / {Xte.shape[1]} test samples, network "
          f"{Xtr.shape[0]}-{args.hidden}-{int(ytr.max()) + 1} (tanh), {args.steps} steps "
          f"of gradient descent (lr {args.lr}) in {dt:.2f} s")
    print(f"final loss {final:.4f} (from {losses[0]:.4f}), train accuracy "
          f"{accuracy(params, Xtr, ytr):.4f}, test accuracy {acc:.4f}")
    if args.plot:
        from training_curves import save_or_explain
        save_or_explain({"gradient descent": losses}, args.plot,
                        f"MLP as a Python function ({args.data}): training loss")
    return 0 if ok and acc >= args.min_accuracy else 1


if __name__ == "__main__":
    raise SystemExit(main())
