"""Accuracy-vs-epoch curves of several runs on one plot."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Mapping, Sequence

from nasiam._io import atomic_write_bytes


def plot_curves(curves: Mapping[str, Sequence[tuple[float, float]]], path: str | Path, ylabel: str = "kNN top-1 (%)",
                title: str | None = None) -> Path:
    """`curves[label] = [(epoch, value), ...]`; a shaded band where a label has several runs
    per epoch (seeds): mean line, min-max band."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no backend choice in library code

    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    for label, points in curves.items():
        by_epoch: dict[float, list[float]] = {}
        for epoch, value in points:
            by_epoch.setdefault(epoch, []).append(value)
        epochs = sorted(by_epoch)
        means = [sum(by_epoch[e]) / len(by_epoch[e]) for e in epochs]
        line, = ax.plot(epochs, means, marker="o", markersize=3, label=label)
        if any(len(by_epoch[e]) > 1 for e in epochs):
            ax.fill_between(epochs, [min(by_epoch[e]) for e in epochs], [max(by_epoch[e]) for e in epochs],
                            color=line.get_color(), alpha=0.15)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path
