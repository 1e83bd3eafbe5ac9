"""The digits MLP of ``mlp_digits.py`` in PyTorch, step by step against graphc.

Both train the same 64-32-10 tanh network in float64 from the same initial weights on
the same minibatches (SGD and Adam; ``torch.optim`` on the PyTorch side, the NumPy
optimizers of ``mlp_digits.py`` on graphc's gradients). The loss curves must agree to
1e-9 relative over the first 100 steps: PyTorch's autograd is ground truth graphc did
not write. ``tests/tensors/test_torch_agreement.py`` runs this comparison in CI.

Run::

    pip install '.[examples]'      # brings torch==2.13.0 (CPU wheel)
    python examples/mlp_torch_compare.py [--plot mlp_torch_loss.png]

``--plot`` (default ``mlp_torch_loss.png``, ``--plot ''`` for none) draws both loss
curves of each optimizer, graphc solid and PyTorch dashed, against the step.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mlp_digits as mlp  # noqa: E402


def torch_losses(optimizer: str, steps: int, batch: int = 32, seed: int = 0, lr=None,
                 form: str = "cross_entropy", data=None) -> list[float]:
    """The loss of each of the first ``steps`` minibatches in PyTorch (float64)."""
    import torch
    import torch.nn.functional as F
    Xtr, ytr, _, _ = data if data is not None else mlp.load_data(seed)
    init = mlp.init_params(seed)
    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
              for k, v in init.items()}
    ordered = [params[k] for k in mlp.PARAMS]
    if optimizer == "sgd":
        opt = torch.optim.SGD(ordered, lr=lr or 0.5)
    else:
        opt = torch.optim.Adam(ordered, lr=lr or 0.01)
    losses = []
    for idx in mlp.batches(Xtr.shape[1], batch, epochs=10 ** 6, seed=seed):
        X = torch.tensor(np.ascontiguousarray(Xtr[:, idx]))
        y = torch.tensor(ytr[idx].astype(np.int64))
        h = torch.tanh(params["W1"] @ X + params["b1"])
        z = params["W2"] @ h + params["b2"]
        if form == "cross_entropy":
            loss = F.cross_entropy(z.T, y)
        else:
            p = torch.softmax(z, dim=0)
            Y = torch.tensor(mlp.one_hot(ytr[idx]))
            loss = -torch.mean(torch.sum(Y * torch.log(p), dim=0))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if len(losses) >= steps:
            break
    return losses


def graphc_losses(optimizer: str, steps: int, batch: int = 32, seed: int = 0, lr=None,
                  form: str = "cross_entropy", data=None) -> list[float]:
    """The loss of each of the first ``steps`` minibatches with graphc's gradients."""
    opt = mlp.SGD(lr or 0.5) if optimizer == "sgd" else mlp.Adam(lr or 0.01)
    _, losses = mlp.train(opt, epochs=10 ** 6, batch=batch, seed=seed, form=form, data=data,
                          max_steps=steps)
    return losses


def max_relative_difference(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--plot", metavar="PATH", default="mlp_torch_loss.png",
                    help="PNG of the loss curves (default mlp_torch_loss.png; '' for none)")
    args = ap.parse_args(argv)
    curves, styles = {}, {}
    data = mlp.load_data(0)
    worst = 0.0
    for form in ("cross_entropy", "softmax"):
        for optimizer in ("sgd", "adam"):
            g = graphc_losses(optimizer, args.steps, form=form, data=data)
            t = torch_losses(optimizer, args.steps, form=form, data=data)
            d = max_relative_difference(g, t)
            worst = max(worst, d)
            if form == "cross_entropy":
                curves[f"{optimizer} graphc"], curves[f"{optimizer} PyTorch"] = g, t
                styles[f"{optimizer} PyTorch"] = {"linestyle": "--", "linewidth": 2.5,
                                                  "alpha": 0.6}
            print(f"{form:13s} {optimizer:4s}: loss {g[0]:.6f} -> {g[-1]:.6f} (graphc), "
                  f"{t[0]:.6f} -> {t[-1]:.6f} (PyTorch); max relative difference over "
                  f"{len(g)} steps {d:.2e}")
    print("agree to 1e-9" if worst <= 1e-9 else "DISAGREE")
    if args.plot:
        from training_curves import save_or_explain
        save_or_explain(curves, args.plot, "digits MLP: graphc and PyTorch, the same "
                        "minibatches", styles=styles)
    return 0 if worst <= 1e-9 else 1


if __name__ == "__main__":
    raise SystemExit(main())
