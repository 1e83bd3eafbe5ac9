"""Loss-against-step figures for the examples that train (``mlp_digits.py``,
``mlp_torch_compare.py``, ``polyfit.py``).

matplotlib with the non-interactive Agg backend (no display needed); the figure is a PNG
written where ``--plot PATH`` says. ``pip install '.[examples]'`` brings matplotlib.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping, Sequence

DPI = 120
"""Pixels per inch of the PNGs (a 6.4 x 4 inch figure: 768 x 480 pixels)."""


def plot_losses(curves: Mapping[str, Sequence[float]], path: str | os.PathLike,
                title: str, *, log: bool = True, xlabel: str = "step",
                ylabel: str = "loss", styles: Mapping[str, dict] | None = None) -> Path:
    """Plot each curve of ``curves`` (label -> the loss at steps 1, 2, ...) against its
    step and save the figure as a PNG at ``path``.

    Args:
        curves: label -> sequence of finite floats (one per step; lengths may differ).
        path: the PNG to write; its directory must exist.
        title: the figure's title.
        log: a logarithmic loss axis (losses that fall by orders of magnitude).
        xlabel, ylabel: axis labels.
        styles: label -> extra keyword arguments of ``Axes.plot`` (e.g. a dashed line).

    Returns:
        ``Path(path)``.

    Raises:
        ModuleNotFoundError: matplotlib is not installed (``pip install '.[examples]'``).
        ValueError: a curve is empty.
    """
    try:
        import matplotlib
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError("plotting needs matplotlib: pip install "
                                  "'.[examples]' (or pip install matplotlib)") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=DPI)
    try:
        for label, ys in curves.items():
            if len(ys) == 0:
                raise ValueError(f"the curve {label!r} has no steps")
            style = {"linewidth": 1.2, **(styles or {}).get(label, {})}
            ax.plot(range(1, len(ys) + 1), list(ys), label=label, **style)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        # no software version or date in the file: the same run gives the same bytes
        fig.savefig(path, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
    return Path(path)


def save_or_explain(curves, path, title, **kwargs) -> bool:
    """:func:`plot_losses`, or a one-line note on stderr when matplotlib is missing;
    returns whether the figure was written. Prints where it went."""
    if path is None:
        return False
    try:
        plot_losses(curves, path, title, **kwargs)
    except ModuleNotFoundError as exc:
        print(f"note: no figure: {exc}", file=sys.stderr)
        return False
    print(f"loss curve: {os.fspath(path)}")
    return True
