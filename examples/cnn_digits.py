"""Train a small CNN on scikit-learn's 8x8 digits with graphc, step by step against PyTorch.

The network (PyTorch layout, images ``(B, 1, 8, 8)``)::

    h1 = relu(conv2d(X, W1, b1, padding=1))     # (B, 8, 8, 8)    3x3 kernels
    p1 = max_pool2d(h1, 2)                      # (B, 8, 4, 4)
    h2 = relu(conv2d(p1, W2, b2, padding=1))    # (B, 16, 4, 4)
    p2 = max_pool2d(h2, 2)                      # (B, 16, 2, 2)
    z  = reshape(p2, (B, 64)) @ W3.T + b3       # (B, 10) logits
    loss = cross_entropy(z, y)                  # y: (B,) class indices; batch mean

is one graph; ``gc.value_and_grad(loss, wrt=[W1, b1, W2, b2, W3, b3])`` is compiled
once per batch size (``B`` is symbolic) with the LLVM backend (convolutions lowered as
im2col + BLAS matmul), and Adam (``examples/mlp_digits.py``, written as
``torch.optim.Adam`` computes it) or plain SGD updates the weights in NumPy. The same
model in PyTorch (float64, same initial weights, same minibatches, ``torch.optim``)
gives the reference loss curve: the first ``--compare`` steps must agree to 1e-9
relative.

Run::

    pip install '.[examples]'
    python examples/cnn_digits.py                 # 1500 Adam steps, compare 100 steps
    python examples/cnn_digits.py --steps 20 --compare 20 --optimizer sgd
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
from graphc.ir import array_ops, ops  # noqa: E402
from mlp_digits import SGD, Adam, batches  # noqa: E402

PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")
SHAPES = {"W1": (8, 1, 3, 3), "b1": (8,), "W2": (16, 8, 3, 3), "b2": (16,),
          "W3": (10, 64), "b3": (10,)}
LR = {"adam": 0.005, "sgd": 0.1}


def load_data(seed: int = 0, test_fraction: float = 0.2):
    """The digits as ``(X_train (n, 1, 8, 8), y_train (n,), X_test, y_test)``: pixels
    scaled to [0, 1], labels as float class indices; a seeded 80/20 split."""
    from sklearn.datasets import load_digits
    data = load_digits()
    X = (data.images.astype(np.float64) / 16.0)[:, None, :, :]
    y = data.target.astype(np.float64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return (np.ascontiguousarray(X[train]), y[train], np.ascontiguousarray(X[test]),
            y[test])


def init_params(seed: int = 0) -> dict[str, np.ndarray]:
    """PyTorch's default initialisation (uniform in ±1/sqrt(fan_in), weights and
    biases) from a seeded NumPy RNG; nonzero biases also keep pre-activations of blank
    image regions away from relu's kink."""
    rng = np.random.default_rng(seed)
    out = {}
    for w, b in (("W1", "b1"), ("W2", "b2"), ("W3", "b3")):
        fan_in = int(np.prod(SHAPES[w][1:]))
        bound = 1.0 / np.sqrt(fan_in)
        out[w] = rng.uniform(-bound, bound, SHAPES[w])
        out[b] = rng.uniform(-bound, bound, SHAPES[b])
    return out


def logits(X, p):
    """The network's logits ``(B, 10)`` for images ``X`` ``(B, 1, 8, 8)``; ``p`` maps
    the names of :data:`PARAMS` to graph values (or arrays)."""
    h1 = gc.relu(gc.conv2d(X, p["W1"], p["b1"], padding=1))
    h2 = gc.relu(gc.conv2d(gc.max_pool2d(h1, 2), p["W2"], p["b2"], padding=1))
    p2 = gc.max_pool2d(h2, 2)
    flat = array_ops.reshape(p2, (p2.shape[0], 64))
    return ops.add(array_ops.matmul(flat, array_ops.transpose(p["W3"])), p["b3"])


def graphs(dtype: str = "float64"):
    """``(loss graph over X, y and the parameters, logits graph over X and the
    parameters)``, batch size symbolic ``B``."""
    X = ops.variable("X", dtype, ("B", 1, 8, 8))
    y = ops.variable("y", dtype, ("B",))
    p = {k: ops.variable(k, dtype, SHAPES[k]) for k in PARAMS}
    z = logits(X, p)
    loss = array_ops.cross_entropy(z, y)
    return (gc.Graph([X, y] + [p[k] for k in PARAMS], [loss]),
            gc.Graph([X] + [p[k] for k in PARAMS], [z]))


def make_step(target: str = "llvm"):
    """``step(params, X, y) -> (loss, {name: gradient})`` through the compiled
    value-and-gradient graph."""
    loss, _ = graphs()
    kernel = gc.compile(gc.value_and_grad(loss, wrt=list(PARAMS)), target=target)

    def step(params, X, y):
        value, grads = kernel(X, y, *[params[k] for k in PARAMS])
        return float(value), dict(zip(PARAMS, grads))
    return step


def make_predict(target: str = "llvm"):
    """``predict(params, X) -> class indices`` through the compiled logits graph."""
    _, g = graphs()
    kernel = gc.compile(g, target=target)
    return lambda params, X: np.argmax(kernel(X, *[params[k] for k in PARAMS]), axis=1)


def make_optimizer(name: str, lr=None):
    return SGD(lr or LR["sgd"]) if name == "sgd" else Adam(lr or LR["adam"])


def train(optimizer: str, steps: int, batch: int = 32, seed: int = 0, lr=None, data=None,
          target: str = "llvm"):
    """``(params, losses, seconds)``: ``steps`` minibatch updates from
    :func:`init_params`; ``losses`` holds each minibatch's loss before its update."""
    Xtr, ytr, _, _ = data if data is not None else load_data(seed)
    params = init_params(seed)
    opt = make_optimizer(optimizer, lr)
    step = make_step(target)
    losses = []
    t0 = time.perf_counter()
    for idx in batches(len(ytr), batch, epochs=10 ** 6, seed=seed):
        if len(losses) >= steps:
            break
        loss, grads = step(params, np.ascontiguousarray(Xtr[idx]), ytr[idx])
        losses.append(loss)
        opt.update(params, grads)
    return params, losses, time.perf_counter() - t0


def torch_losses(optimizer: str, steps: int, batch: int = 32, seed: int = 0, lr=None,
                 data=None):
    """``(losses, seconds)``: the same model, weights and minibatches in PyTorch
    (float64, ``torch.optim``), one thread."""
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(1)
    Xtr, ytr, _, _ = data if data is not None else load_data(seed)
    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
         for k, v in init_params(seed).items()}
    ordered = [p[k] for k in PARAMS]
    opt = (torch.optim.SGD(ordered, lr=lr or LR["sgd"]) if optimizer == "sgd"
           else torch.optim.Adam(ordered, lr=lr or LR["adam"]))
    losses = []
    t0 = time.perf_counter()
    for idx in batches(len(ytr), batch, epochs=10 ** 6, seed=seed):
        if len(losses) >= steps:
            break
        X = torch.tensor(np.ascontiguousarray(Xtr[idx]))
        y = torch.tensor(ytr[idx].astype(np.int64))
        h1 = F.relu(F.conv2d(X, p["W1"], p["b1"], padding=1))
        h2 = F.relu(F.conv2d(F.max_pool2d(h1, 2), p["W2"], p["b2"], padding=1))
        z = F.max_pool2d(h2, 2).reshape(-1, 64) @ p["W3"].T + p["b3"]
        loss = F.cross_entropy(z, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, time.perf_counter() - t0


def max_relative_difference(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=1500, help="minibatch updates")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compare", type=int, default=100,
                    help="steps compared with PyTorch (0: none)")
    ap.add_argument("--target", default="llvm", help="graphc backend (llvm, numpy...)")
    args = ap.parse_args(argv)
    data = load_data(args.seed)
    Xtr, ytr, Xte, yte = data
    print(f"digits: {len(ytr)} training and {len(yte)} test images; CNN conv(1->8, 3x3) "
          f"relu maxpool2 conv(8->16, 3x3) relu maxpool2 dense(64->10), "
          f"{args.optimizer}, batch {args.batch}")
    params, losses, dt = train(args.optimizer, args.steps, args.batch, args.seed, args.lr,
                               data, args.target)
    predict = make_predict(args.target)
    acc = float(np.mean(predict(params, Xte) == yte))
    print(f"graphc: {len(losses)} steps in {dt:.2f} s ({dt / max(len(losses), 1) * 1e3:.2f} "
          f"ms/step incl. the update; the first step compiles), final batch loss "
          f"{losses[-1]:.4f}, test accuracy {acc:.4f}")
    ok = True
    if args.compare:
        n = min(args.compare, args.steps)
        _, _, dt_g = train(args.optimizer, n, args.batch, args.seed, args.lr, data,
                           args.target)
        t, dt_t = torch_losses(args.optimizer, n, args.batch, args.seed, args.lr, data)
        diff = max_relative_difference(losses[:n], t)
        ok = diff <= 1e-9
        print(f"PyTorch: first {n} losses agree to {diff:.2e} relative "
              f"({'ok' if ok else 'FAILS'} at 1e-9); {n} steps take "
              f"{dt_g / n * 1e3:.2f} ms/step in graphc (compiled kernel cached) and "
              f"{dt_t / n * 1e3:.2f} ms/step in PyTorch eager")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
